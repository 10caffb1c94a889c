"""Every command's --help, one real run of each, and the bad-input cases.

Bad input gets one line naming the problem and the fix, a non-zero exit, and no traceback.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tnas_pipeline.cli.main import cli

COMMANDS = ["train", "evaluate", "upscale", "baselines"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_user_error(res, *fragments):
    """Exit code 2, one line on stderr naming the problem, and no traceback."""
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_examples(command):
    res = invoke(command, "--help")
    assert res.exit_code == 0 and "Examples:" in res.output


@pytest.fixture
def trained_run(tmp_path, image_folder, tiny_arch):
    tiny_arch.save(tmp_path / "tiny.json")
    run = tmp_path / "run"
    res = invoke("train", tmp_path / "tiny.json", "--data", image_folder, "--val-data",
                 image_folder, "--iters", 4, "--val-every", 2, "--batch-size", 2,
                 "--patch-size", 16, "--no-progress", "-o", run, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["run"] == str(run) and out["iterations"] == 4
    return run


def test_train_resume_extends_the_budget(trained_run):
    res = invoke("train", "--resume", "-o", trained_run, "--iters", 6, "--no-progress", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["iterations"] == 6


def test_evaluate_run_json(trained_run, image_folder):
    res = invoke("evaluate", trained_run, "--data", image_folder, "--json", "--per-image")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    s = out["sets"]["imgs"]
    assert s["images"] == 4 and 10 < s["psnr_y"] < 100 and 0 < s["ssim_y"] <= 1
    assert len(s["per_image"]) == 4


def test_evaluate_table(image_folder):
    res = invoke("evaluate", "--bicubic", "--data", image_folder)
    assert res.exit_code == 0 and "imgs" in res.output and "PSNR-Y" in res.output


def test_upscale_file_and_folder(tmp_path, trained_run, image_folder):
    res = invoke("upscale", image_folder / "im0.png", "-o", tmp_path / "one.png",
                 "--model", trained_run)
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "one.png").size == (128, 96)
    res = invoke("upscale", image_folder, "-o", tmp_path / "out", "--model", trained_run,
                 "--tile", 16, "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["outputs"]) == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"im{i}_png_x2.png" for i in range(4)]  # NAME_EXT_x2.png (tnas_pipeline.upscaling)


def test_baselines_json():
    res = invoke("baselines", "--json")
    assert {r["name"] for r in json.loads(res.stdout)} >= {"fsrcnn", "espcn", "plain_cnn"}


# -- bad input: one line, exit 2, no traceback, nothing written --------------------------------

def _bad_folder(tmp_path, kind):
    folder = tmp_path / kind
    folder.mkdir()
    if kind == "corrupt":
        (folder / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    elif kind == "rgba":
        Image.fromarray(np.zeros((40, 40, 4), np.uint8), "RGBA").save(folder / "x.png")
    elif kind == "deep":
        Image.fromarray(np.full((40, 40), 999, np.uint16)).save(folder / "x.png")
    elif kind == "small":
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "x.png")
    return folder


@pytest.mark.parametrize(("kind", "fragment"), [
    ("corrupt", "cannot decode"), ("rgba", "transparency"), ("deep", "16-bit"),
    ("empty", "no images found"), ("small", "smaller than the 72x72 training patch"),
])
def test_train_bad_data(tmp_path, kind, fragment):
    folder = _bad_folder(tmp_path, kind)
    res = invoke("train", "plain_cnn", "--data", folder, "--iters", 1, "-o", tmp_path / "run")
    assert_user_error(res, fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("args", "fragment"), [
    (["train", "srgan", "--iters", 1], "known baselines: fsrcnn, espcn, plain_cnn"),
    (["train", "plain_cnn"], "exactly one budget"),
    (["train", "--resume", "--iters", 1], "--resume needs -o"),
    (["evaluate", "--bicubic", "--data", "/nonexistent/x"], "no such folder"),
    (["evaluate"], "no model given"),
    (["upscale", "/nonexistent.png", "-o", "x.png", "--bicubic"], "no such image or folder"),
])
def test_bad_arguments(args, fragment):
    assert_user_error(invoke(*args), fragment)


def test_train_scale_mismatch_and_bad_arch(tmp_path, tiny_arch):
    tiny_arch.save(tmp_path / "a.json")
    assert_user_error(invoke("train", tmp_path / "a.json", "--scale", 4, "--iters", 1),
                      "x2 architecture but --scale 4")
    (tmp_path / "b.json").write_text('{"format": "tnas-pipeline/arch", "version": 7}')
    assert_user_error(invoke("train", tmp_path / "b.json", "--iters", 1), "version 7")


def test_run_with_missing_files(trained_run, image_folder, tmp_path):
    (trained_run / "weights.safetensors").unlink()
    assert_user_error(invoke("evaluate", trained_run, "--data", image_folder),
                      "missing weights.safetensors")
    assert_user_error(invoke("evaluate", trained_run, "--scale", 3), "missing")


def test_scale_mismatch_on_evaluate(trained_run, image_folder):
    assert_user_error(invoke("evaluate", trained_run, "--scale", 3, "--data", image_folder),
                      "x2 model but --scale 3")


def test_upscale_bad_image_writes_nothing(tmp_path, image_folder):
    _bad_folder(tmp_path, "corrupt")
    (tmp_path / "corrupt" / "a.png").write_bytes((image_folder / "im0.png").read_bytes())
    res = invoke("upscale", tmp_path / "corrupt", "-o", tmp_path / "out", "--bicubic")
    assert_user_error(res, "cannot decode")
    assert not (tmp_path / "out").exists()


def test_cuda_without_gpu(image_folder):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert_user_error(invoke("evaluate", "--bicubic", "--device", "cuda"), "no CUDA GPU")
