"""``export``: parity on real images, the files and manifest, and every refusal leaves no files."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from click.testing import CliRunner

from tests.cli.test_cli import assert_user_error
from tests.export.conftest import make_run, small_arch
from tnas_pipeline.cli.main import cli
from tnas_pipeline.deploy.tolerances import MAX_ABS_DIFF, PSNR_DELTA_DB
from tnas_pipeline.run_dir import RunDir


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_late_user_error(res, *fragments):
    """A refusal after some steps were announced: exit 2, one error line and it is the last,
    no traceback."""
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert [ln for ln in lines if ln.startswith("error: ")] == lines[-1:], res.stderr
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in lines[-1], lines[-1]


def test_onnx_runtime_matches_pytorch_on_set5(exported):
    """The export issue's targets, on the bundled Set5: FP32 max |diff| ≤ 1e-5 and PSNR within
    0.01 dB; FP16 within 0.05 dB."""
    for precision in ("fp32", "fp16"):
        manifest = json.loads((exported / "export" / f"export-{precision}.json").read_text())
        set5 = manifest["parity"]["onnxruntime"]["Set5"]
        assert set5["pytorch"]["images"] == 5
        ort = set5["onnxruntime"]
        assert ort["nonfinite_images"] == 0
        assert abs(ort["psnr_delta_db"]) <= PSNR_DELTA_DB[precision]
        assert all(c["ok"] for c in manifest["parity"]["checks"]), manifest["parity"]["checks"]
        if precision == "fp32":
            assert ort["max_abs_diff"] <= MAX_ABS_DIFF[("onnxruntime", "fp32")] == 1e-5
            assert manifest["parity"]["static_onnx"]["max_abs_diff"] <= 1e-5
        else:
            assert ort["max_abs_diff"] > 1e-5  # FP16 really ran: not bit-identical to FP32


def test_export_cli_json_and_custom_folder(tmp_path, image_folder):
    run = make_run(tmp_path / "run")
    res = invoke("export", "--run", run, "--output-size", "320x240", "-o", tmp_path / "out",
                 "--parity-data", image_folder, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["out_dir"] == str(tmp_path / "out") and out["output_size"] == [320, 240]
    assert {a["file"] for a in out["artifacts"]} == {"model-fp32.onnx", "model-fp32-320x240.onnx"}
    assert set(out["parity"]["onnxruntime"]) == {image_folder.name}
    for a in out["artifacts"]:
        assert (tmp_path / "out" / a["file"]).is_file()
    assert (tmp_path / "out" / "export-fp32.json").is_file()


def test_export_help_has_examples():
    res = invoke("export", "--help")
    assert res.exit_code == 0 and "Examples:" in res.output and "--format trt" in res.output


def test_a_run_with_files_missing(tmp_path):
    run = make_run(tmp_path / "run")
    RunDir(run).weights.unlink()
    assert_user_error(invoke("export", "--run", run), "weights.safetensors")
    assert_user_error(invoke("export", "--run", tmp_path / "nowhere"), "no such run directory")


def test_trt_without_tensorrt_says_how_to_get_it_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    run = make_run(tmp_path / "run")
    res = invoke("export", "--run", run, "--format", "trt")
    assert_user_error(res, "pip install tensorrt", "JetPack")
    assert not (run / "export").exists()


def test_fp16_overflow_is_reported_and_nothing_is_written(tmp_path):
    """A bias beyond the FP16 range (±65504) becomes Inf: the export must refuse, not write."""
    arch = small_arch()
    run = make_run(tmp_path / "run", arch)
    _, model = RunDir(run).load_model()
    with torch.no_grad():
        next(b for n, b in model.named_parameters() if n.endswith("bias")).fill_(1e6)
    RunDir(run).save_weights(model)
    res = invoke("export", "--run", run, "--precision", "fp16", "--no-progress")
    assert_late_user_error(res, "NaN or Inf", "--precision fp32", "nothing was written")
    assert not (run / "export").exists()


@pytest.mark.parametrize("args,fragment", [
    (["--output-size", "1281x720"], "not divisible by scale 2"),
    (["--output-size", "big"], "WIDTHxHEIGHT"),
])
def test_bad_sizes(tmp_path, args, fragment):
    run = make_run(tmp_path / "run")
    assert_user_error(invoke("export", "--run", run, *args), fragment)
    assert not (run / "export").exists()


def test_output_folder_that_is_a_file(tmp_path):
    run = make_run(tmp_path / "run")
    (tmp_path / "file").write_text("x")
    assert_user_error(invoke("export", "--run", run, "-o", tmp_path / "file"), "is a file")


def test_export_into_a_run_another_command_is_writing_is_refused(tmp_path):
    """export claims the run directory like train and search: a second writer gets exit 2."""
    import subprocess
    import sys
    import time

    from tests.export.conftest import make_run

    run = make_run(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from tnas_pipeline.run_lock import claim_run\n"
         f"with claim_run({str(run)!r}, 'train', resume=True):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        res = invoke("export", "--run", run)
        assert res.exit_code == 2 and "in use by another tnas-pipeline process" in res.output
        assert f"PID {holder.pid}" in res.output
        assert not (run / "export").exists()
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert invoke("export", "--run", run).exit_code == 0  # the kernel dropped the dead lock
