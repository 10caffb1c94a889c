"""A whole search run through the CLI: outputs, --json, reproducibility, resume, bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from tests.cli.test_cli import assert_user_error
from tests.conftest import stop_search_at_step
from tnas_pipeline.cli.main import cli
from tnas_pipeline.latency.resolve import resolve_profile
from tnas_pipeline.nas.config import SearchConfig
from tnas_pipeline.nas.run import run_search
from tnas_pipeline.networks import Architecture

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def unseen_cpu(tiny_shipped, monkeypatch):
    """Searches with --device cpu run on a CPU the shipped (tiny, 128×72) table was not measured
    on: the first brings this CPU up into the session's cache, the rest reuse it."""
    from tnas_pipeline.latency.shipped import SHIPPED_ENV

    monkeypatch.setenv(SHIPPED_ENV, str(tiny_shipped))


def search_args(image_folder, out, *extra):
    return ["search", "--latency-budget", "5ms", "--data", str(image_folder), "--val-data",
            str(image_folder), "--iters", "6", "--batch-size", "2", "--patch-size", "16",
            "--finetune-batch-size", "2", "--finetune-patch-size", "16",
            "--threads", "1", "--no-progress", "-o", str(out), *extra]


def invoke(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def searched(tmp_path, image_folder):
    out = tmp_path / "run"
    res = invoke(search_args(image_folder, out, "--json"))
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout)


def test_search_writes_a_complete_run(searched):
    out, summary = searched
    for key in ("run", "budget_ms", "predicted_ms", "psnr_y"):
        assert key in summary
    assert summary["budget_ms"] == 5.0
    # The fitted network was timed here (the table is this CPU's, brought up by the search)
    # and the network kept is one that was measured.
    check = summary["device_check"]
    assert summary["predicted_ms"] in [r["predicted_ms"] for r in check["rounds"]]
    assert summary["lut"]["cpu_mismatch"] is None
    for name in ("arch.json", "weights.safetensors", "metrics.json", "config.json",
                 "command.json", "search.json", "search/trajectories.json",
                 "search/trajectories.png", "search/result.json", "search/lut.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "search.json").read_text())
    assert len(record["lut"]["sha256"]) == 64 and record["lut"]["method"] == "measured"
    assert record["lut"]["model_sigma"] > 0 and record["lut"]["reference_ms"] > 0
    traj = json.loads((out / "search" / "trajectories.json").read_text())
    point = traj["points"][-1]
    assert {"depth", "ops", "widths", "upsampler", "latency_ms", "lam", "radius"} <= set(point)
    # The run's architecture is predicted by the LUT as the search says.
    from tnas_pipeline.latency.resolve import resolve_profile

    arch = Architecture.load(out / "arch.json")
    assert resolve_profile("cpu").predict_ms(arch) == pytest.approx(summary["predicted_ms"])


def test_run_directory_works_with_evaluate_train_and_upscale(searched, image_folder, tmp_path):
    out, _ = searched
    res = invoke(["evaluate", out, "--data", image_folder, "--json"])
    assert res.exit_code == 0, res.output
    res = invoke(["upscale", next(image_folder.iterdir()), "-o", tmp_path / "up.png",
                  "--model", out])
    assert res.exit_code == 0, res.output
    res = invoke(["train", out, "--data", image_folder, "--val-data", image_folder,
                  "--iters", 2, "--batch-size", 2, "--patch-size", 16, "--no-progress",
                  "-o", tmp_path / "retrain"])
    assert res.exit_code == 0, res.output


def test_same_seed_same_architecture(tmp_path, image_folder):
    """Reproducible at equal iterations; the on-device check, which refits by what this host
    measures, is off here (timings are not reproducible)."""
    archs = []
    for i in range(2):
        res = invoke(search_args(image_folder, tmp_path / f"r{i}", "--seed", "3",
                                 "--no-check-on-device"))
        assert res.exit_code == 0, res.output
        archs.append((tmp_path / f"r{i}" / "arch.json").read_text())
        archs.append((tmp_path / f"r{i}" / "search" / "result.json").read_text().split(
            '"search_seconds"')[0])
    assert archs[0] == archs[2] and archs[1] == archs[3]


def test_interrupted_search_resumes(tmp_path, image_folder, monkeypatch):
    from tnas_pipeline.nas import searcher as S

    out = tmp_path / "run"
    original = stop_search_at_step(monkeypatch)
    res = invoke(search_args(image_folder, out, "--iters", "12"))
    assert res.exit_code == 130 and f"tnas-pipeline search --resume -o {out}" in res.stderr
    ck = torch.load(out / "search" / "checkpoint.pt", weights_only=True)
    assert ck["iteration"] == 3
    monkeypatch.setattr(S.Searcher, "_weight_step", original)
    assert_user_error(invoke(["search", "--latency-budget", "100ms", "--resume", "-o", out]),
                      "searched under 5 ms")
    res = invoke(["search", "--resume", "-o", out, "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["search_iterations"] == 5  # 12 × 0.4, continued from 3
    # A finished run is not searched again.
    res = invoke(["search", "--latency-budget", "5ms", "--resume", "-o", out, "--no-progress",
                  "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["psnr_y"] == summary["psnr_y"]


@pytest.mark.parametrize("budget,fragment", [("30", "no unit"), ("-5ms", "negative"),
                                             ("fast", "not a time"),
                                             ("0.01ms", "below the fastest"),
                                             ("5s", "above")])
def test_bad_budgets_refused_before_anything_is_written(tmp_path, image_folder, budget, fragment):
    out = tmp_path / "run"
    args = search_args(image_folder, out)
    args[2] = budget
    assert_user_error(invoke(args), fragment)
    assert not out.exists()


def test_bad_devices_and_existing_runs(tmp_path, image_folder, searched):
    out, _ = searched
    assert_user_error(invoke(search_args(image_folder, out)), "already holds a run")
    assert_user_error(invoke(search_args(image_folder, tmp_path / "x", "--device", "cuda")),
                      "profile --device cuda")
    assert_user_error(invoke(search_args(image_folder, tmp_path / "x", "--device", "tpu")),
                      "neither cpu, cuda, jetson")
    lut = json.loads((REPO / "hardware_profiles" / "cpu-2core-ort-fp32-x2-1280x720.json")
                     .read_text())
    lut["search_space"]["fields"]["widths"] = [8, 16]  # edited without its hash: refused
    (tmp_path / "edited.json").write_text(json.dumps(lut))
    assert_user_error(invoke(search_args(image_folder, tmp_path / "y", "--device",
                                         tmp_path / "edited.json")), "corrupt latency table")
    # A table file is taken as it is, and refused at another scale; a shipped device picks the
    # table of the scale asked for, or names the command that makes one.
    x2_file = resolve_profile("cpu").path
    assert_user_error(invoke(search_args(image_folder, tmp_path / "z", "--device", x2_file,
                                         "--scale", "4")), "x2, not x4")
    assert_user_error(invoke(search_args(image_folder, tmp_path / "z", "--scale", "3")),
                      "no cpu latency table is shipped for x3",
                      "tnas-pipeline profile --device cpu --scale 3")
    assert not (tmp_path / "z").exists()
    assert_user_error(invoke(search_args(image_folder, tmp_path / "p", "--space", "plain",
                                         "--relaxation", "sparse-group-lasso")),
                      "--space plain is a single-path space")
    assert not (tmp_path / "p").exists()


def test_jetson_estimate_is_announced(tmp_path, image_folder):
    args = search_args(image_folder, tmp_path / "j", "--device", "jetson")
    args[2] = "8ms"
    res = invoke(args)
    assert res.exit_code == 0, res.output
    assert "roofline estimate" in res.stderr


def test_search_help_has_examples():
    res = invoke(["search", "--help"])
    assert res.exit_code == 0 and "Examples:" in res.output and "30ms" in res.output


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, image_folder):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "tnas_pipeline.cli.main", *search_args(image_folder, out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = torch.load(out / "search" / "checkpoint.pt", weights_only=True)
    assert len(ck["sampler_states"]) == 2
    assert json.loads((out / "metrics.json").read_text())["world_size"] == 2


def test_config_budget_split():
    cfg = SearchConfig(budget_ms=50, lut="x", iters=10, search_fraction=0.4)
    assert (cfg.search_iters, cfg.finetune_iters) == (4, 6)
    cfg = SearchConfig(budget_ms=50, lut="x", minutes=10)
    assert cfg.search_minutes == pytest.approx(4) and cfg.finetune_minutes == pytest.approx(6)
    assert callable(run_search)


def test_search_at_x4_uses_the_shipped_x4_table(tmp_path, image_folder):
    out = tmp_path / "x4"
    args = search_args(image_folder, out, "--scale", "4", "--json")
    args[2] = "2ms"  # the x4 cells run at a quarter of the pixels
    res = invoke(args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    x4 = resolve_profile("cpu", 4)
    arch = json.loads((out / "arch.json").read_text())
    assert arch["scale"] == 4
    assert json.loads((out / "search" / "lut.json").read_text())["scale"] == 4
    assert x4.reachable_range()[0] <= summary["predicted_ms"] <= x4.reachable_range()[1]
