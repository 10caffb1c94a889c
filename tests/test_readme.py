"""The README: its two opening commands (CI runs the second verbatim), its length, its results
(copied from bench/results by bench/update_readme.py) and its links."""

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
    from bench.update_readme import DOCUMENTS, result_text, sections

    found = set()
    for document in DOCUMENTS:
        for name, body in sections((REPO / document).read_text()).items():
            found.add(name)
            assert body == result_text(name, document=document), \
                f"{document}: section {name} differs from bench/results"
    assert {"summary", "main_job", "main_job_foreign", "lut_fidelity_cpu-x2",
            "lut_fidelity_cpu-x4", "lut_fidelity_cpu-mixed", "lut_fidelity_cpu-pool", "bringup",
            "budget_hits", "search_budgets", "search_budgets_x4", "mixed_path", "evolution",
            "export_validate", "arena"} <= found
    assert "summary" in sections((REPO / "README.md").read_text())


def test_readme_is_a_guide_of_at_most_300_lines():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines"
    headings = {line for line in lines if line.startswith("## ")}
    assert {"## Commands", "## Python API", "## Results", "## What ran where",
            "## Bad input"} <= headings


def test_documents_link_only_to_files_the_repository_holds():
    """Relative links in the README and docs/ resolve, and no file cites a document the repo
    does not contain."""
    import re
    import subprocess

    for document in ("README.md", "docs/how-it-works.md", "docs/benchmarks.md"):
        path = REPO / document
        for target in re.findall(r"\]\(([^)#]+)\)", path.read_text()):
            if "://" in target:
                continue
            assert (path.parent / target).exists(), f"{document} links to missing {target}"
        # Repository paths named in code spans (`pipeline/nas/searcher.py`) exist too.
        for named in re.findall(r"`((?:pipeline|export|bench|tests|hardware_profiles|docs)/"
                                r"[\w./-]+)`", path.read_text()):
            if "NAME" not in named and not named.startswith("bench/out"):  # run outputs
                assert (REPO / named).exists(), f"{document} names missing {named}"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    for name in tracked:
        if not name.endswith((".py", ".md", ".toml")) or name == "tests/test_readme.py":
            continue
        text = (REPO / name).read_text(errors="replace")
        for absent in ("MISSION.md", "REFERENCE.md", "STYLE.md"):
            assert absent not in text, f"{name} cites {absent}, which the repository lacks"
