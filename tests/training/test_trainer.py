import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from tnas_pipeline.errors import UserError
from tnas_pipeline.run_dir import RunDir
from tnas_pipeline.training.config import TrainConfig
from tnas_pipeline.training.schedule import cosine_lr
from tnas_pipeline.training.trainer import Trainer, TrainingInterrupted, train


def _cfg(folder, **kw):
    base = dict(arch_source="tiny", scale=2, train_data=[str(folder)], val_data=[str(folder)],
                iters=12, batch_size=4, patch_size=16, val_every=6, seed=1, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_run_directory_is_complete(tmp_path, image_folder, tiny_arch):
    metrics = train(tiny_arch, _cfg(image_folder), tmp_path / "run", progress=False, argv=["x"])
    run = RunDir(tmp_path / "run")
    for f in (run.arch, run.weights, run.metrics, run.config, run.command, run.checkpoint):
        assert f.is_file(), f
    assert metrics["iterations"] == 12 and len(metrics["history"]) == 2
    assert metrics["val"]["imgs"]["images"] == 4 and metrics["params"] > 0
    command = json.loads(run.command.read_text())
    assert command["argv"] == ["x"] and command["versions"]["torch"]
    arch, model = run.load_model()
    assert arch == tiny_arch and not model.training


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, image_folder, tiny_arch,
                                                     monkeypatch):
    train(tiny_arch, _cfg(image_folder, iters=12), tmp_path / "one", progress=False)
    step = Trainer._step

    def interrupted_step(self):
        if self.iteration == 4:  # a real SIGINT in the middle of the fifth step
            os.kill(os.getpid(), signal.SIGINT)
        return step(self)

    monkeypatch.setattr(Trainer, "_step", interrupted_step)
    with pytest.raises(TrainingInterrupted, match="iteration 5; checkpoint saved"):
        train(tiny_arch, _cfg(image_folder, iters=12), tmp_path / "two", progress=False)
    assert torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)["iteration"] == 5
    monkeypatch.setattr(Trainer, "_step", step)
    cfg = TrainConfig.from_dict(json.loads((tmp_path / "two" / "config.json").read_text()))
    metrics = train(tiny_arch, cfg, tmp_path / "two", resume=True, progress=False)
    assert metrics["iterations"] == 12
    a = load_file(str(tmp_path / "one" / "weights.safetensors"))
    b = load_file(str(tmp_path / "two" / "weights.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_existing_run_needs_resume_and_corrupt_checkpoint_is_reported(
        tmp_path, image_folder, tiny_arch):
    train(tiny_arch, _cfg(image_folder, iters=2, val_every=1), tmp_path / "r", progress=False)
    with pytest.raises(UserError, match="pass --resume"):
        train(tiny_arch, _cfg(image_folder), tmp_path / "r", progress=False)
    (tmp_path / "r" / "checkpoint.pt").write_bytes(b"truncated")
    with pytest.raises(UserError, match="corrupt checkpoint"):
        train(tiny_arch, _cfg(image_folder), tmp_path / "r", resume=True, progress=False)


def test_minutes_budget_stops(tmp_path, image_folder, tiny_arch):
    metrics = train(tiny_arch, _cfg(image_folder, iters=None, minutes=0.02), tmp_path / "m",
                    progress=False)
    assert 1.2 <= metrics["train_seconds"] < 10 and metrics["iterations"] > 1


def test_budget_and_schedule_checks():
    with pytest.raises(UserError, match="exactly one budget"):
        TrainConfig(arch_source="x", iters=5, minutes=1)
    assert cosine_lr(0, 1.0, 0.0) == pytest.approx(1.0)
    assert cosine_lr(0.5, 1.0, 0.0) == pytest.approx(0.5)
    assert cosine_lr(1.0, 1.0, 0.1) == pytest.approx(0.1)
