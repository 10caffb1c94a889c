"""Bad numbers, paths, sizes, images and weights at the CLI: one line, exit 2, nothing written.

Issue 18's cases: each of them was a traceback (some after writing part of a run directory or a
table), or was silently accepted.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_cli import assert_user_error, invoke
from tests.cli.test_profile_cli import TINY
from tnas_pipeline.errors import UserError


def _tiny(*overrides):
    """The quick profile options of test_profile_cli, with some replaced (so that code which
    let a bad value through profiles for seconds, not an hour)."""
    args = list(TINY)
    for name, value in zip(overrides[::2], overrides[1::2], strict=True):
        args[args.index(name) + 1] = value
    return args


# -- numbers: finite and in range, refused before anything is written --------------------------


@pytest.mark.parametrize(("args", "fragment"), [
    (["--minutes", "inf"], "--minutes': inf is not a finite number"),
    (["--minutes", "nan"], "--minutes': nan is not a finite number"),
    (["--minutes", "-1"], "--minutes': -1 is not greater than 0"),
    (["--iters", "1", "--lr", "nan"], "--lr': nan is not a finite number"),
    (["--iters", "1", "--lr", "0"], "--lr': 0 is not greater than 0"),
    (["--iters", "1", "--threads", "-1"], "--threads': -1 is not in the range 1<=x<=1024"),
    (["--iters", "1", "--seed", "-1"], "--seed': -1 is not in the range"),
    (["--iters", "1", "--batch-size", "0"], "--batch-size': 0 is not in the range"),
    (["--iters", "1", "--patch-size", "100000"], "--patch-size': 100000 is not in the range"),
])
def test_train_numbers(tmp_path, args, fragment):
    res = invoke("train", "plain_cnn", *args, "-o", tmp_path / "run", "--no-progress")
    assert_user_error(res, fragment, "see `")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("command", "args", "fragment"), [
    ("search", ["--latency-budget", "100ms", "--minutes", "inf", "-o"], "--minutes': inf"),
    ("search", ["--latency-budget", "100ms", "--iters", "9", "--param-weight", "nan", "-o"],
     "--param-weight': nan is not a finite number"),
    ("search", ["--latency-budget", "100ms", "--iters", "9", "--threads", "0", "-o"],
     "--threads'"),
    ("run", ["--minutes", "inf", "-o"], "--minutes': inf is not a finite number"),
    ("validate", ["--rounds", "0", "--run"], "--rounds': 0 is not in the range"),
    ("profile", ["--device", "cpu", *_tiny("--threads", "-3"), "-o"],
     "--threads': -3 is not in the range"),
    ("profile", ["--device", "cpu", *_tiny("--networks", "-1"), "-o"],
     "--networks': -1 is not in the range"),
])
def test_other_commands_numbers(tmp_path, command, args, fragment):
    res = invoke(command, *args, tmp_path / "out")
    assert_user_error(res, fragment)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("size", ["100000x100000", "8193x2", "7680x4322"])
def test_output_sizes_beyond_8k_are_refused(tmp_path, size):
    assert_user_error(invoke("export", "--run", tmp_path, "--output-size", size, "-o",
                             tmp_path / "exp"), "larger than the limit of 8192 pixels a side")
    assert not (tmp_path / "exp").exists()
    assert_user_error(invoke("profile", "--device", "cpu", "--output-size", size, "-o",
                             tmp_path / "t.json"), "(8K, 7680x4320)")
    assert not (tmp_path / "t.json").exists()


def test_usage_errors_are_one_line_too():
    assert_user_error(invoke("train", "plain_cnn", "--bogus"), "No such option '--bogus'")


# -- output paths: checked before any work -------------------------------------------------------


def test_output_naming_a_file_or_a_path_through_one(tmp_path):
    (tmp_path / "afile").write_text("mine")
    assert_user_error(invoke("train", "plain_cnn", "--iters", 1, "-o", tmp_path / "afile"),
                      "afile is a file; pass a folder")
    assert_user_error(invoke("train", "plain_cnn", "--iters", 1, "-o",
                             tmp_path / "afile" / "run"), "cannot be created", "is a file")
    assert_user_error(invoke("export", "--run", tmp_path, "-o", tmp_path / "afile"),
                      "afile is a file")
    assert_user_error(invoke("profile", "--device", "cpu", "-o", tmp_path), "is a folder")
    assert (tmp_path / "afile").read_text() == "mine"


def test_output_in_an_unwritable_folder(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: stand in for a read-only folder
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
            False if pathlib.Path(p) == locked else real(p, mode, **kw)))
    try:
        res = invoke("train", "plain_cnn", "--iters", 1, "-o", locked / "run")
        assert_user_error(res, "cannot be written", "is not writable")
        assert not (locked / "run").exists()
    finally:
        locked.chmod(0o700)


# -- the machine refusing a write -----------------------------------------------------------------


@pytest.mark.parametrize(("code", "fragment"), [
    (errno.ENOSPC, "no space left on the device"),
    (errno.EACCES, "permission denied"),
])
def test_a_refused_write_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, code, fragment):
    """The disk fills up (or the folder refuses) while the table is being written: one line,
    and neither the table nor the temporary file of its atomic write is left."""
    real = pathlib.Path.write_text

    def refuse(self, *args, **kwargs):
        if self.name.startswith(".") and self.name.endswith(".tmp"):
            raise OSError(code, os.strerror(code), str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", refuse)
    out = tmp_path / "tables" / "nano.json"
    res = invoke("profile", "--estimate", "jetson-orin-nano", "--precision", "fp16", "-o", out)
    assert_user_error(res, "cannot write", fragment)
    assert not out.exists() and not list(out.parent.glob("*"))


# -- images and weights ----------------------------------------------------------------------------


def test_evaluating_an_image_smaller_than_the_ssim_window(tmp_path, image_folder):
    Image.fromarray(np.zeros((12, 40, 3), np.uint8)).save(image_folder / "zz-small.png")
    res = invoke("evaluate", "--bicubic", "--data", image_folder, "--scale", 2)
    assert_user_error(res, "zz-small.png: 40x12 is too small to score at x2",
                      "needs at least 16x16 pixels")
    assert invoke("evaluate", "--bicubic", "--data", image_folder, "--scale", 4).exit_code == 2


def test_weights_of_the_wrong_shape(tmp_path, image_folder):
    from tests.export.conftest import small_arch
    from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler, build_network
    from tnas_pipeline.run_dir import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    wider = Architecture(name="tiny", scale=2, head=Layer("conv3x3", 16, "relu"),
                         cells=(Cell((Layer("resblock3x3", 16, "relu", width=8),),
                                     residual=True),),
                         upsampler=Upsampler("pixel_shuffle", 3), global_skip="none")
    wider.save(run.arch)
    run.save_weights(build_network(small_arch()))  # same tensor names, 8 channels
    res = invoke("upscale", image_folder / "im0.png", "-o", tmp_path / "up.png", "--model",
                 run.path)
    assert_user_error(res, "have the wrong shape", "come from different runs")
    assert not (tmp_path / "up.png").exists()
    res = invoke("export", "--run", run.path, "-o", tmp_path / "exp", "--parity-data",
                 image_folder)
    assert_user_error(res, "have the wrong shape")
    assert not (tmp_path / "exp").exists()


# -- profile: enough networks for a model, and a failed start blocks no rerun ---------------------


@pytest.mark.parametrize(("networks", "fit"), [("0", "0"), ("2", "0"), ("0", "1")])
def test_a_model_needs_five_networks(tmp_path, networks, fit):
    out = tmp_path / "t.json"
    res = invoke("profile", "--device", "cpu",
                 *_tiny("--networks", networks, "--fit-networks", fit), "-o", out, "--json")
    assert_user_error(res, "--networks plus --fit-networks must be at least 5",
                      "says nothing")
    assert not out.exists()


def test_a_check_needs_two_networks(tiny_shipped):
    table = tiny_shipped / "cpu-2core-ort-fp32-x2-1280x720.json"
    assert_user_error(invoke("profile", "--check", table, "--networks", 1, "--fit-networks", 0),
                      "--check needs at least 2 networks")


def test_check_json_is_strict_json(tiny_shipped):
    """One network per source: Kendall's tau of one network does not exist; it is null, not
    NaN (which no strict JSON parser reads)."""
    table = tiny_shipped / "cpu-2core-ort-fp32-x2-1280x720.json"
    res = invoke("profile", "--check", table, "--networks", 1, "--fit-networks", 1, "--json")
    assert res.exit_code == 0, res.output

    def no_constants(name):
        raise AssertionError(f"{name} in --json output")

    out = json.loads(res.stdout, parse_constant=no_constants)
    assert all(s["kendall_tau"] is None for s in out["by_source"].values())


def test_a_profile_that_fails_before_measuring_leaves_no_table(tmp_path, monkeypatch):
    from tnas_pipeline.latency import profiler

    def broken(*args, **kwargs):
        raise RuntimeError("the runtime failed to start")

    monkeypatch.setattr(profiler, "measure_ratio", broken)
    monkeypatch.setenv("TNAS_PIPELINE_LOG_DIR", str(tmp_path / "logs"))
    out = tmp_path / "t.json"
    res = invoke("profile", "--device", "cpu", *TINY, "-o", out)
    assert res.exit_code == 1 and "the runtime failed to start" in res.stderr
    assert not out.exists()  # so the rerun is not refused with "exists; pass --resume"


def test_an_empty_table_left_behind_blocks_no_rerun(tmp_path, ort_backend_1):
    from tnas_pipeline.latency.interleaved import RatioProtocol
    from tnas_pipeline.latency.profiler import start_table
    from tnas_pipeline.search_space import DEFAULT_SPACE

    out = tmp_path / "t.json"
    quick = RatioProtocol(min_pairs=2, max_pairs=3, runs=1)
    start_table(ort_backend_1, "cpu", DEFAULT_SPACE, (64, 32), out, False, quick)
    assert out.exists()  # what an older version left when the backend failed to start
    table = start_table(ort_backend_1, "cpu", DEFAULT_SPACE, (64, 32), out, False, quick)
    # One measurement in it, and it is a profile to resume, not to replace.
    table.data["measurements"] = {"skip": [{"ratio": 0.1, "reference_ms": 1.0}]}
    table.save()
    with pytest.raises(UserError, match="exists; pass --resume"):
        start_table(ort_backend_1, "cpu", DEFAULT_SPACE, (64, 32), out, False, quick)


@pytest.fixture
def ort_backend_1():
    from tnas_pipeline.latency.backends.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(threads=1)
