"""``validate``: the report, the verdict, and refusing artifacts that are not the run's."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from click.testing import CliRunner

from tests.cli.test_cli import assert_user_error
from tests.export.conftest import make_run, small_arch
from tnas_pipeline.cli.main import cli
from tnas_pipeline.deploy.artifacts import check_engine_compatible
from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import write_json_atomic
from tnas_pipeline.run_dir import RunDir, run_identity


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_validate_reports_quality_latency_and_verdict(exported, image_folder):
    res = invoke("validate", "--run", exported, "--data", image_folder, "--rounds", 1,
                 "--threads", 1, "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    for key in ("psnr_y", "psnr_delta_db", "max_abs_diff", "latency_ms", "predicted_ms",
                "budget_ms", "pass"):
        assert key in r, key
    assert r["pass"] is True and r["budget_ms"] is None
    assert r["artifact"].endswith("model-fp32.onnx") and r["runtime"] == "onnxruntime"
    assert abs(r["psnr_delta_db"][image_folder.name]) <= 0.01 and r["max_abs_diff"] <= 1e-5
    lat = r["latency_ms"]
    assert lat["input_shape"] == [1, 3, 360, 640] and lat["threads"] == 1
    assert lat["file"] == "model-fp32-1280x720.onnx"  # the static file is what deploys
    # Timed as a ratio to the reference network, interleaved, in fresh sessions.
    assert lat["reference"] == "reference" and lat["rounds"] == 1 and lat["ratio"] > 0
    assert lat["now_ms"] == pytest.approx(lat["ratio"] * lat["reference_ms_now"])
    assert lat["median"] > 0 and lat["basis"]
    # The tiny network is outside the shipped table's space: no prediction, and a note says so.
    assert r["predicted_ms"] is None and any("no LUT prediction" in n for n in r["notes"])
    md = (exported / "validation" / "model-fp32.onnx.md").read_text()
    assert "PASS" in md and image_folder.name in md
    assert json.loads((exported / "validation" / "model-fp32.onnx.json").read_text())["pass"]


def test_fp16_artifact_and_a_failed_budget(tmp_path, exported, image_folder):
    run = tmp_path / "run"
    shutil.copytree(exported, run)
    write_json_atomic(run / "search.json", {"budget_ms": 0.001})  # no network is this fast
    res = invoke("validate", "--run", run, "--artifact", run / "export" / "model-fp16.onnx",
                 "--data", image_folder, "--rounds", 1, "--threads", 1, "--no-progress")
    assert res.exit_code == 1, res.output
    assert "FAIL" in res.stdout and "within_budget | FAIL" in res.stdout
    r = json.loads((run / "validation" / "model-fp16.onnx.json").read_text())
    assert r["precision"] == "fp16" and r["budget_ms"] == 0.001 and not r["pass"]
    assert [c["name"] for c in r["checks"] if not c["ok"]] == ["within_budget"]


def test_artifact_from_another_run_is_refused(tmp_path, exported):
    artifact = exported / "export" / "model-fp32.onnx"
    other_weights = make_run(tmp_path / "a", seed=1)
    assert_user_error(invoke("validate", "--run", other_weights, "--artifact", artifact),
                      "other weights", "re-export")
    wider = small_arch()
    wider = type(wider)(**{**wider.__dict__, "name": "other"})
    other_arch = make_run(tmp_path / "b", wider)
    assert_user_error(invoke("validate", "--run", other_arch, "--artifact", artifact),
                      "another run")


def test_missing_and_broken_inputs(tmp_path, exported):
    bare = make_run(tmp_path / "bare")
    assert_user_error(invoke("validate", "--run", bare), "tnas-pipeline export --run")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    assert_user_error(invoke("validate", "--run", bare, "--artifact", broken), "not a readable")
    assert_user_error(invoke("validate", "--run", bare, "--artifact", exported / "arch.json"),
                      "unknown artifact type")
    RunDir(bare).arch.unlink()
    assert_user_error(invoke("validate", "--run", bare), "arch.json")


def test_engine_needs_its_manifest_and_tensorrt(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run")
    engine = tmp_path / "model-fp16-dynamic.engine"
    engine.write_bytes(b"plan")
    assert_user_error(invoke("validate", "--run", run, "--artifact", engine), "manifest")
    write_json_atomic(tmp_path / "model-fp16-dynamic.engine.json",
                      {**run_identity(RunDir(run)), "variant": "dynamic", "precision": "fp16",
                       "tensorrt": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"})
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    assert_user_error(invoke("validate", "--run", run, "--artifact", engine, "--device", "cuda"),
                      "pip install tensorrt", "JetPack")


def test_engine_from_another_gpu_or_tensorrt_is_refused(tmp_path):
    built = {"tensorrt": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"}
    check_engine_compatible(built, dict(built), tmp_path / "e.engine")  # same: accepted
    for change in ({"gpu": "NVIDIA H100"}, {"tensorrt": "11.0.0"}, {"compute_capability": "9.0"}):
        with pytest.raises(UserError, match="rebuild it here") as err:
            check_engine_compatible(built, {**built, **change}, tmp_path / "e.engine")
        assert "Orin" in str(err.value) and "\n" not in str(err.value)


def test_validate_help_has_examples():
    res = invoke("validate", "--help")
    assert res.exit_code == 0 and "Examples:" in res.output


@pytest.fixture
def this_cpu_table(tmp_path, exported):
    """A run whose own table is this CPU's, measured at its resolution (tiny, quick)."""
    from tnas_pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend
    from tnas_pipeline.latency.interleaved import RatioProtocol
    from tnas_pipeline.latency.profiler import profile
    from tnas_pipeline.search_space import SearchSpace

    run = tmp_path / "run"
    shutil.copytree(exported, run)
    space = SearchSpace(ops=("resblock3x3",), widths=(8,), max_cells=1, channels=8)
    profile(OnnxRuntimeBackend(threads=1), "cpu", space, (1280, 720), run / "search" / "lut.json",
            protocol=RatioProtocol(warmup=1, min_pairs=2, max_pairs=3, runs=3), networks=2,
            progress=False)
    return run


def test_on_the_tables_cpu_drift_is_corrected_and_budget_use_reported(this_cpu_table,
                                                                      image_folder):
    run = this_cpu_table
    write_json_atomic(run / "search.json", {"budget_ms": 1e6})  # far more than it takes
    res = invoke("validate", "--run", run, "--data", image_folder, "--rounds", 1, "--json")
    assert res.exit_code == 0, res.output  # within budget: it passes, with a warning
    r = json.loads(res.stdout)
    lat, drift = r["latency_ms"], r["host_drift"]
    # The verdict's figure is the ratio at the reference's time when the table was measured;
    # the reading now and the drift are beside it.
    then = json.loads((run / "search" / "lut.json").read_text())["reference"]["ms"]
    assert lat["median"] == pytest.approx(lat["ratio"] * then) and "profiled" in lat["basis"]
    assert drift["ratio"] == pytest.approx(lat["reference_ms_now"] / then)
    assert r["budget_use"] == pytest.approx(lat["median"] / 1e6)
    use = next(c for c in r["checks"] if c["name"] == "budget_use")
    assert not use["ok"] and use["advisory"] and "leaves budget unused" in use["detail"]
    assert "leaves the rest unused" in res.stderr


def test_a_table_of_another_cpu_is_never_drift(this_cpu_table, image_folder):
    run = this_cpu_table
    lut = json.loads((run / "search" / "lut.json").read_text())
    lut["device"]["cpu_fingerprint"] = {"vendor": "TestCPU", "family": "1", "model": "1",
                                        "stepping": "1", "flags": []}
    (run / "search" / "lut.json").write_text(json.dumps(lut))
    res = invoke("validate", "--run", run, "--data", image_folder, "--rounds", 1, "--json")
    r = json.loads(res.stdout)
    assert r["host_drift"] is None and r["latency_ms"]["basis"] == "measured now"
    assert r["latency_ms"]["median"] == r["latency_ms"]["now_ms"]
    assert any("another CPU" in n and "TestCPU" in n for n in r["notes"])
