"""The public Python API: the names at the package top, and the README's example, run as written."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tnas_pipeline as tnas

REPO = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_api_is_at_the_package_top_and_typed():
    for name in ("profile", "search", "export", "validate", "run", "load_run", "LatencyTable",
                 "SearchResult", "ExportResult", "ValidationResult", "RunResult", "Run"):
        assert name in tnas.__all__ and getattr(tnas, name) is not None
    assert tnas.SearchResult.__dataclass_fields__["predicted_ms"].type == "float"
    with pytest.raises(AttributeError):
        tnas.no_such_name  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    code = "import sys, tnas_pipeline; print('torch' in sys.modules, tnas_pipeline.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", tnas.__version__]


def test_bad_input_is_a_user_error():
    with pytest.raises(tnas.UserError, match="no unit"):
        tnas.search("200")


def test_the_api_functions_survive_importing_the_package_modules():
    """No subpackage shares a name with an API function: importing one would replace it."""
    import tnas_pipeline.deploy.exporter
    import tnas_pipeline.nas.run

    assert callable(tnas.search) and callable(tnas.export) and callable(tnas.profile)
    assert not isinstance(tnas.search, type(tnas_pipeline.deploy))


@pytest.fixture
def this_cpu_has_a_table(monkeypatch):
    """The shipped ×2 table stands in for this CPU's own, in the test's cache: the example runs
    the API's flow on any CPU without a 3-minute bring-up. (Latency truth is not what this test
    checks; bench/ and tests/latency do.)"""
    from tnas_pipeline.latency.bringup import cached_path
    from tnas_pipeline.latency.devices import device_info
    from tnas_pipeline.latency.lut import LatencyTable
    from tnas_pipeline.latency.shipped import shipped_table

    shipped = shipped_table("cpu", 2, "default")
    data = copy.deepcopy(shipped.data)
    data["device"] = {**data["device"], **device_info("cpu")}
    path = cached_path(shipped, "default")
    path.parent.mkdir(parents=True, exist_ok=True)
    LatencyTable(data).save(path)


@pytest.mark.slow
def test_the_readme_example_runs(tmp_path, monkeypatch, this_cpu_has_a_table, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md (Python API)", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and "ms predicted" in printed[0] and "parameters" in printed[2]
    run = tmp_path / "runs" / "api-demo"
    assert (run / "arch.json").is_file() and list((run / "export").glob("*.onnx"))
    result = tnas.load_run(run)
    assert result.arch.name.startswith("searched") and result.metrics["iterations"] > 0
