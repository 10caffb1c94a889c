"""Data-parallel training under torchrun (gloo on CPU), two processes on this machine."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path, image_folder, tiny_arch):
    tiny_arch.save(tmp_path / "arch.json")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "tnas_pipeline.cli.main", "train", str(tmp_path / "arch.json"), "--data",
           str(image_folder), "--val-data", str(image_folder), "--iters", "6", "--val-every", "3",
           "--batch-size", "2", "--patch-size", "16", "--threads", "1", "--no-progress",
           "-o", str(tmp_path / "run")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["iterations"] == 6
    ck = __import__("torch").load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert len(ck["sampler_states"]) == 2
    assert ck["sampler_states"][0] != ck["sampler_states"][1]  # each rank draws its own batches
