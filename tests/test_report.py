"""``tnas-pipeline report``: plots and a table from run directories and arena results."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.export.conftest import make_run
from tnas_pipeline.cli.main import cli
from tnas_pipeline.plots import Point, pareto_front


def fake_run(path: Path, latency_ms: float | None, psnr: float) -> Path:
    make_run(path)
    history = [{"iteration": i, "loss": 0.1 / i, "val": {"val": {"psnr_y": psnr - 1 / i}}}
               for i in (1, 2, 3)]
    (path / "metrics.json").write_text(json.dumps(
        {"arch": "tiny", "params": 1234, "iterations": 3, "history": history}))
    if latency_ms is not None:
        (path / "validation").mkdir()
        (path / "validation" / "model.json").write_text(json.dumps(
            {"artifact": "model.onnx", "pass": True, "budget_ms": 100.0,
             "latency_ms": {"median": latency_ms},
             "psnr_y": {"Set5": psnr, "Set14": psnr - 3}}))
    return path


def test_the_pareto_front_keeps_only_undominated_points():
    pts = [Point("g", "slow-bad", 10, 30), Point("g", "fast", 1, 31), Point("g", "best", 5, 33),
           Point("g", "tie", 5, 32)]
    assert [p.label for p in pareto_front(pts)] == ["fast", "best"]


def test_report_plots_validated_runs_lists_the_rest_and_reads_the_arena(tmp_path):
    fake_run(tmp_path / "runs" / "a", 80.0, 35.0)
    fake_run(tmp_path / "runs" / "b", 95.0, 35.5)
    fake_run(tmp_path / "runs" / "never-validated", None, 34.0)
    arena = tmp_path / "arena.json"
    arena.write_text(json.dumps({"device": {"machine": "test CPU", "fingerprint": "abc"},
                                 "budgets": [{"budget_ms": 100.0, "models": [
                                     {"family": "abpn", "name": "abpn-d3c16", "measured_ms": 70.0,
                                      "psnr_y": {"Set5": 35.2, "Set14": 31.5}}]}]}))
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "runs"), "--arena", str(arena),
                                   "-o", str(tmp_path / "rep"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["runs"] == 3
    names = sorted(Path(p).name for p in out["plots"])
    assert names == ["pareto-Set14.png", "pareto-Set5.png", "training.png"]
    for p in out["plots"]:
        assert Path(p).read_bytes()[:4] == b"\x89PNG"
    table = (tmp_path / "rep" / "report.md").read_text()
    assert "| 80.0 |" in table and "not validated" in table and "35.50" in table


def test_report_of_nothing_or_of_a_non_run_is_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["report", "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "nothing to report" in res.output
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "neither a run directory" in res.output
