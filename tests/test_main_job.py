"""``tnas-pipeline run``: the main job end to end on the bundled data, on a CPU it has never
seen, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.test_cli import assert_user_error
from tnas_pipeline.cli.main import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def unseen_cpu(tiny_shipped, monkeypatch, tmp_path):
    """The shipped tables (tiny, 128×72) were measured on another CPU, and this CPU has no
    cached table: the job must bring it up itself."""
    from tnas_pipeline.latency import bringup
    from tnas_pipeline.latency.interleaved import RatioProtocol
    from tnas_pipeline.latency.shipped import SHIPPED_ENV

    monkeypatch.setenv(SHIPPED_ENV, str(tiny_shipped))
    monkeypatch.setenv(bringup.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(bringup, "BRINGUP_PROTOCOL",
                        RatioProtocol(warmup=1, min_pairs=3, max_pairs=4, runs=3))
    return tmp_path / "cache"


def test_run_on_an_unseen_cpu_brings_it_up_searches_exports_and_validates(tmp_path, unseen_cpu):
    out = tmp_path / "main"
    res = invoke("run", "--latency-budget", "5ms", "--iters", 6, "--threads", 1, "-o", out,
                 "--json")
    assert res.exit_code in (0, 1), res.output  # 1: a FAIL verdict is still a result
    s = json.loads(res.stdout)
    assert s["run"] == str(out) and s["budget_ms"] == 5.0
    # The foreign table was not used: this CPU was profiled, cached, and searched against.
    assert "no latency table of this CPU" in res.stderr and "TestCPU" in res.stderr
    assert Path(s["lut"]).is_relative_to(unseen_cpu)
    record = json.loads((out / "search.json").read_text())["lut"]
    assert record["cpu_mismatch"] is None
    # The fitted network was timed here and refitted by what it measured; the one kept was
    # measured.
    check = json.loads((out / "search.json").read_text())["device_check"]
    assert s["predicted_ms"] in [r["predicted_ms"] for r in check["rounds"]]
    assert set(s["psnr_y"]) == {"Set5", "Set14"} and s["max_abs_diff"] <= 1e-5
    lat = s["latency_ms"]
    assert lat["median"] > 0 and lat["input_shape"] == [1, 3, 36, 64]  # the table's size
    assert "profiled" in lat["basis"]  # this CPU's table: drift since profiling cancels
    for path in (*s["onnx"], s["validation_report"], s["trajectories"]):
        assert Path(path).is_file(), path
    report = json.loads((out / "validation" / "model-fp32.onnx.json").read_text())
    assert report["pass"] == s["validate_pass"] and report["budget_ms"] == 5.0
    # PASS means within the budget and using at least 85 % of it.
    assert s["pass"] == (report["pass"] and s["budget_use"] >= 0.85)
    assert json.loads((out / "run.json").read_text()) == s
    assert set(s["phase_seconds"]) == {"table", "search", "export", "validate"}
    assert sum(s["phase_seconds"].values()) <= s["wall_seconds"] + 0.5

    # A finished run is not redone by --resume, and not overwritten unasked; the cached table
    # is reused by the next job.
    res = invoke("run", "-o", out, "--resume", "--json")
    assert res.exit_code in (0, 1), res.output
    assert json.loads(res.stdout)["arch"] == s["arch"]
    assert_user_error(invoke("run", "-o", out, "--iters", 6), "--resume", "--overwrite")
    res = invoke("run", "--latency-budget", "5ms", "--iters", 4, "--threads", 1,
                 "--no-device-check", "-o", tmp_path / "second", "--json")
    assert res.exit_code in (0, 1) and "no latency table of this CPU" not in res.stderr


def test_the_default_budget_moves_inside_this_devices_range(tmp_path, unseen_cpu):
    """250 ms is far beyond what the tiny table's networks take: the job picks the middle of
    the range and says why."""
    res = invoke("run", "--iters", 4, "--threads", 1, "--no-device-check",
                 "-o", tmp_path / "r", "--json")
    assert res.exit_code in (0, 1), res.output
    s = json.loads(res.stdout)
    assert s["budget_ms"] < 250 and "the default budget of 250 ms is outside" in res.stderr
    assert f"searching at {s['budget_ms']:g} ms" in res.stderr


def test_the_verdict_fails_a_network_that_leaves_budget_unused():
    from tnas_pipeline.main_job import main_job_verdict

    ok = {"pass": True, "checks": [], "budget_use": 0.95}
    assert main_job_verdict(ok) == (True, "validated, 95% of the budget used")
    passed, why = main_job_verdict({**ok, "budget_use": 0.40})
    assert not passed and "40% of the budget" in why and "unused" in why
    passed, why = main_job_verdict({"pass": False, "budget_use": 1.2, "checks": [
        {"name": "within_budget", "ok": False}, {"name": "prediction", "ok": False,
                                                 "advisory": True}]})
    assert not passed and why == "validation failed (within_budget)"


def test_run_refuses_bad_budgets_before_work(tmp_path, unseen_cpu):
    assert_user_error(invoke("run", "--latency-budget", "0.001ms", "-o", tmp_path / "r"),
                      "below")
    assert_user_error(invoke("run", "--latency-budget", "fast", "-o", tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_run_help_has_examples():
    res = invoke("run", "--help")
    assert res.exit_code == 0 and "Examples:" in res.output
