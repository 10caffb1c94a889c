"""The README's two opening commands exist and CI runs the second one verbatim."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    main, tests = _readme_commands()
    assert "tnas-pipeline" in main and "pytest" in tests
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in ci


def test_readme_results_are_what_the_benchmarks_wrote():
    """Every marked results section is its bench/results file, verbatim (bench/update_readme)."""
    import sys

    sys.path.insert(0, str(REPO))
    from bench.update_readme import result_text, sections

    marked = sections((REPO / "README.md").read_text())
    assert {"main_job", "main_job_foreign", "lut_fidelity_cpu-x2", "lut_fidelity_cpu-x4",
            "lut_fidelity_cpu-mixed", "lut_fidelity_cpu-pool", "bringup", "budget_hits",
            "search_budgets", "search_budgets_x4", "mixed_path", "evolution",
            "export_validate", "arena"} <= set(marked)
    for name, body in marked.items():
        assert body == result_text(name), f"README section {name} differs from bench/results"
