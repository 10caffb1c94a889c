"""Two real processes writing one -o: the second is refused with the first's PID and the first
finishes unharmed; a SIGTERM outside the training loop unwinds like Ctrl-C and exits 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler
from tnas_pipeline.run_dir import RunDir

REPO = Path(__file__).resolve().parents[2]


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "tnas_pipeline.cli.main", *map(str, args)]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def train(arch_file, folder, out, *budget):
    return cli("train", arch_file, "--data", folder, "--val-data", folder, *budget,
               "--batch-size", 2, "--patch-size", 16, "--threads", 1, "--no-progress", "-o", out)


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_writer_is_refused_and_the_first_finishes_unharmed(tmp_path, tiny_arch,
                                                                    image_folder):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    tiny_arch.save(first)
    Architecture(name="second", scale=2, head=Layer("conv3x3", 12, "relu"),
                 cells=(Cell((Layer("conv3x3", 12, "relu"),)),),
                 upsampler=Upsampler("pixel_shuffle", 3)).save(second)
    out = tmp_path / "c2"
    a = subprocess.Popen(train(first, image_folder, out, "--minutes", 0.3, "--val-every", 10**6),
                         env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(out / "config.json", a)  # the first is writing the run
        b = subprocess.run(train(second, image_folder, out, "--iters", 2), env=env(),
                           capture_output=True, text=True, timeout=120)
        assert a.poll() is None, "the first run ended before the second tried: no overlap"
    finally:
        _, a_err = a.communicate(timeout=300)
    assert b.returncode == 2, b.stderr
    assert b.stderr.strip().splitlines() == [
        f"error: {out} is in use by another tnas-pipeline process (PID {a.pid}, "
        f"`tnas-pipeline train`); wait for it to finish, or choose another -o directory"]
    assert a.returncode == 0, a_err
    run = RunDir(out)
    arch, _ = run.load_model()  # the weights fit the architecture: one run's files
    assert arch.name == "tiny"
    assert json.loads(run.config.read_text())["arch_source"] == str(first)
    record = json.loads(run.command.read_text())
    assert len(record["invocations"]) == 1 and str(first) in record["argv"]
    assert json.loads(run.metrics.read_text())["arch"] == "tiny"
    assert sorted(p.name for p in out.iterdir()) == sorted(RunDir.FILES)


TERMINATE_AFTER_SETUP = """
import os, signal, sys
from tnas_pipeline.cli.main import cli
from tnas_pipeline.training import trainer

init = trainer.Trainer.__init__

def terminated_init(self, *args, **kwargs):  # SIGTERM once the run is claimed, before the loop
    init(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)

trainer.Trainer.__init__ = terminated_init
cli(sys.argv[1:])
"""


def test_sigterm_outside_the_loop_cleans_up_and_exits_143(tmp_path, tiny_arch, image_folder):
    tiny_arch.save(tmp_path / "a.json")
    out = tmp_path / "t"
    args = train(tmp_path / "a.json", image_folder, out, "--iters", 5)[3:]
    proc = subprocess.run([sys.executable, "-c", TERMINATE_AFTER_SETUP, *args], env=env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 143, proc.stderr
    assert "terminated" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()  # made by the run, nothing resumable in it: removed


def test_sigterm_in_the_loop_of_a_real_process_exits_143_with_a_checkpoint(
        tmp_path, tiny_arch, image_folder):
    tiny_arch.save(tmp_path / "a.json")
    out = tmp_path / "t"
    proc = subprocess.Popen(train(tmp_path / "a.json", image_folder, out, "--minutes", 1,
                                  "--val-every", 1), env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(out / "checkpoint.pt", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert f"checkpoint saved, continue with `tnas-pipeline train --resume -o {out}`" in err
    assert (out / "checkpoint.pt").is_file() and not (out / ".lock").exists()
