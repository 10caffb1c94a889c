"""Run directories: names that stay inside runs/, hints that name the command that continues a
run, command.json's history, file modes, stale temp files, the clean-up of a failed run, and the
run lock as another process holds it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.cli.test_cli import assert_user_error
from tnas_pipeline.cli.main import cli
from tnas_pipeline.errors import UserError
from tnas_pipeline.networks import Architecture
from tnas_pipeline.run_dir import RunDir
from tnas_pipeline.training.trainer import Trainer


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def train_args(arch_file, folder, out, *extra):
    return ["train", arch_file, "--data", folder, "--val-data", folder, "--batch-size", 2,
            "--patch-size", 16, "--threads", 1, "--no-progress", "-o", out, *extra]


@pytest.fixture
def arch_file(tmp_path, tiny_arch):
    path = tmp_path / "tiny.json"
    tiny_arch.save(path)
    return path


@pytest.fixture
def trained(tmp_path, arch_file, image_folder):
    out = tmp_path / "run"
    res = invoke(*train_args(arch_file, image_folder, out, "--iters", 4, "--val-every", 2))
    assert res.exit_code == 0, res.output
    return out


# -- names ---------------------------------------------------------------------------------------

def test_an_architecture_name_that_is_a_path_is_refused_and_nothing_escapes(
        tmp_path, tiny_arch, image_folder, monkeypatch):
    """Without -o, the run directory is runs/<name>-x2-<time>: "../../escaped" wrote outside."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    d = tiny_arch.to_dict()
    d["name"] = "../../escaped"
    (tmp_path / "evil.json").write_text(json.dumps(d))
    res = invoke("train", tmp_path / "evil.json", "--data", image_folder, "--val-data",
                 image_folder, "--iters", 1, "--batch-size", 2, "--patch-size", 16,
                 "--no-progress")
    assert_user_error(res, "'name'", "../../escaped", "letters, digits")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["evil.json", "imgs", "work"])
    assert not any(work.iterdir())


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..", "a b", "x" * 65, "-x"])
def test_unsafe_architecture_names_are_refused(tiny_arch, name):
    d = tiny_arch.to_dict()
    d["name"] = name
    with pytest.raises(UserError, match="not a valid architecture name"):
        Architecture.from_dict(d)


def test_safe_names_load_and_the_default_run_dir_stays_in_runs(tiny_arch):
    from tnas_pipeline.run_dir import default_run_dir

    for name in ("plain_cnn", "searched-12.5ms", "ecbsr-m2c16", "A" * 64):
        d = tiny_arch.to_dict()
        d["name"] = name
        assert Architecture.from_dict(d).name == name
    for label in ("../../escaped", "/etc/x", "..", "a/../../b"):
        path = default_run_dir(label)
        assert path.parent == Path("runs") and ".." not in path.parts and "/" not in path.name
        assert not path.name.startswith(".")


# -- hints ---------------------------------------------------------------------------------------

def test_train_resume_without_a_checkpoint_says_there_is_nothing_to_resume(trained):
    (trained / "checkpoint.pt").unlink()
    res = invoke("train", "--resume", "-o", trained, "--no-progress")
    assert_user_error(res, "nothing to resume", f"tnas-pipeline train MODEL --overwrite -o "
                                                 f"{trained}")
    assert "--resume -o" not in res.stderr
    # A mistyped -o is not a run.
    assert_user_error(invoke("train", "--resume", "-o", trained.parent / "typo"),
                      "no such run directory to resume")
    assert not (trained.parent / "typo").exists()


def test_a_missing_file_names_the_command_that_made_the_run(trained):
    run = RunDir(trained)
    record = json.loads(run.command.read_text())
    (trained / "weights.safetensors").unlink()
    with pytest.raises(UserError, match=f"tnas-pipeline train --resume -o {trained}"):
        run.load_model()
    record["created_by"] = "search"
    run.command.write_text(json.dumps(record))
    with pytest.raises(UserError, match=f"tnas-pipeline search --resume -o {trained}"):
        run.load_model()
    (trained / "checkpoint.pt").unlink()
    with pytest.raises(UserError, match="no checkpoint to resume; start it afresh with "
                                        "`tnas-pipeline search --latency-budget BUDGET"):
        run.load_model()


# -- command.json, file modes, stale temp files -----------------------------------------------

def test_resume_keeps_the_history_of_invocations(trained):
    first = json.loads((trained / "command.json").read_text())
    assert first["created_by"] == "train" and len(first["invocations"]) == 1
    res = invoke("train", "--resume", "-o", trained, "--iters", 6, "--no-progress")
    assert res.exit_code == 0, res.output
    record = json.loads((trained / "command.json").read_text())
    assert record["created_by"] == "train"
    assert [i["resume"] for i in record["invocations"]] == [False, True]
    assert record["invocations"][0]["argv"] == first["argv"]
    assert record["argv"] == record["invocations"][1]["argv"]  # the latest, as before


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_get_the_mode_the_umask_gives(tmp_path, arch_file, image_folder, umask):
    old = os.umask(umask)
    try:
        res = invoke(*train_args(arch_file, image_folder, tmp_path / "m", "--iters", 2))
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "m").iterdir()}
    assert set(modes) == set(RunDir.FILES)
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_stale_temp_files_of_the_run_are_removed_on_resume(trained):
    stale = [trained / ".checkpoint.pt.k3j_x9q2.tmp", trained / ".weights.safetensors.a1b2c3d4.tmp"]
    kept = [trained / ".notes.txt.a1b2c3d4.tmp", trained / "mine.tmp", trained / "notes.txt"]
    for p in (*stale, *kept):
        p.write_bytes(b"x")
    res = invoke("train", "--resume", "-o", trained, "--iters", 5, "--no-progress")
    assert res.exit_code == 0, res.output
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)


# -- a failed run leaves nothing half-written --------------------------------------------------

def _crash_at(monkeypatch, iteration):
    step = Trainer._step

    def crashing(self):
        if self.iteration == iteration:
            raise RuntimeError("simulated crash")
        return step(self)

    monkeypatch.setattr(Trainer, "_step", crashing)


def test_a_new_run_that_crashes_before_its_first_checkpoint_is_removed(
        tmp_path, arch_file, image_folder, monkeypatch):
    _crash_at(monkeypatch, 2)
    res = invoke(*train_args(arch_file, image_folder, tmp_path / "a" / "b", "--iters", 9,
                             "--val-every", 5))
    assert res.exit_code != 0  # a crash (however the CLI reports it)
    assert not (tmp_path / "a").exists()  # the folders this run made, parents too
    # Into a folder that was there: the folder and its other files stay, the run's files go.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    res = invoke(*train_args(arch_file, image_folder, tmp_path / "mine", "--iters", 9,
                             "--val-every", 5))
    assert res.exit_code != 0
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_a_run_that_crashes_after_a_checkpoint_stays_resumable(
        tmp_path, arch_file, image_folder, monkeypatch):
    _crash_at(monkeypatch, 3)
    out = tmp_path / "r"
    res = invoke(*train_args(arch_file, image_folder, out, "--iters", 6, "--val-every", 2))
    assert res.exit_code != 0
    assert (out / "checkpoint.pt").is_file() and not (out / ".lock").exists()
    monkeypatch.undo()
    res = invoke("train", "--resume", "-o", out, "--no-progress", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["iterations"] == 6


def test_sigterm_in_training_checkpoints_and_exits_143(tmp_path, arch_file, image_folder,
                                                       monkeypatch):
    step = Trainer._step

    def terminated(self):
        if self.iteration == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return step(self)

    monkeypatch.setattr(Trainer, "_step", terminated)
    out = tmp_path / "t"
    res = invoke(*train_args(arch_file, image_folder, out, "--iters", 20, "--val-every", 50))
    assert res.exit_code == 143, res.output
    assert f"continue with `tnas-pipeline train --resume -o {out}`" in res.stderr
    import torch

    assert torch.load(out / "checkpoint.pt", weights_only=True)["iteration"] == 4


# -- the lock, as another process holds it ------------------------------------------------------

HOLD = """
import fcntl, os, sys, time
fd = os.open(os.path.join(sys.argv[1], ".lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()} train\\n".encode())
print("locked", flush=True)
time.sleep(120)
"""


def test_a_held_lock_refuses_a_second_writer_and_a_dead_holders_lock_is_taken_over(
        tmp_path, arch_file, image_folder):
    out = tmp_path / "held"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = invoke(*train_args(arch_file, image_folder, out, "--iters", 2))
        assert_user_error(res, f"{out} is in use by another tnas-pipeline process "
                               f"(PID {holder.pid}, `tnas-pipeline train`)")
        assert [p.name for p in out.iterdir()] == [".lock"]  # nothing written
        from tnas_pipeline.nas.run import check_output  # search's check, before its claim

        with pytest.raises(UserError, match=f"in use by another tnas-pipeline process "
                                            f"\\(PID {holder.pid},"):
            check_output(out, resume=False, overwrite=True)
    finally:
        holder.kill()  # SIGKILL: no clean-up; the kernel drops the flock
        holder.wait()
    assert (out / ".lock").read_text().startswith(f"{holder.pid} ")  # a stale lock file
    res = invoke(*train_args(arch_file, image_folder, out, "--iters", 2))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(RunDir.FILES)  # lock released
