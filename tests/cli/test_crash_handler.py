"""The top-level handler: a bug is one line and a crash log, never a raw traceback.

A command is forced to raise (monkeypatched) and run through click's CliRunner and, as a user
runs it, in a subprocess. ``TNAS_PIPELINE_DEBUG=1`` re-raises.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cli import invoke

DEBUG_ENV, LOG_DIR_ENV = "TNAS_PIPELINE_DEBUG", "TNAS_PIPELINE_LOG_DIR"  # the documented names

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def broken_baselines(monkeypatch, tmp_path):
    """``baselines`` with a bug in it; crash logs go to ``tmp_path/logs``."""
    from tnas_pipeline.training import trainer

    def boom(*args, **kwargs):
        raise ZeroDivisionError("a bug in the cost model")

    monkeypatch.setattr(trainer, "complexity_record", boom)
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "logs"))
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    return tmp_path / "logs"


def _one_crash_line(stderr: str, logs: Path) -> Path:
    """The stderr of a crash: one line naming the error and its log, which holds the
    traceback, the command and the versions."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: internal error (ZeroDivisionError: a bug in the cost "
                               "model); the traceback is in "), lines[0]
    assert "Traceback" not in stderr
    [log] = logs.glob("tnas-pipeline-crash-*.log")
    assert str(log) in lines[0]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text
    assert "baselines" in text.splitlines()[2]  # the command
    assert "tnas-pipeline 0.1.0 crash report" in text and "torch: " in text
    return log


def test_a_bug_is_one_line_and_a_crash_log(broken_baselines):
    res = invoke("baselines")
    assert res.exit_code == 1
    _one_crash_line(res.stderr, broken_baselines)


def test_debug_re_raises(broken_baselines, monkeypatch):
    monkeypatch.setenv(DEBUG_ENV, "1")
    res = invoke("baselines")
    assert isinstance(res.exception, ZeroDivisionError)
    assert not broken_baselines.exists()


def test_user_errors_and_clean_exits_are_not_crashes(broken_baselines):
    assert invoke("baselines", "--help").exit_code == 0
    assert invoke("train", "srgan", "--iters", 1).exit_code == 2
    assert not broken_baselines.exists()


def test_the_log_falls_back_to_the_temporary_folder_then_to_advice(tmp_path, broken_baselines,
                                                                   monkeypatch):
    import tempfile

    (tmp_path / "afile").write_text("")
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "afile" / "logs"))  # cannot be created
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    res = invoke("baselines")
    assert res.exit_code == 1
    _one_crash_line(res.stderr, tmp_path / "tmp")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "afile" / "tmp"))
    res = invoke("baselines")
    assert res.exit_code == 1
    [line] = res.stderr.strip().splitlines()
    assert line.endswith(f"no crash log could be written; rerun with {DEBUG_ENV}=1 for the "
                         "traceback")


_FORCE_A_BUG = """
import sys
import tnas_pipeline.training.trainer as trainer

def boom(*args, **kwargs):
    raise ZeroDivisionError("a bug in the cost model")

trainer.complexity_record = boom
from tnas_pipeline.cli.main import cli
sys.argv = ["tnas-pipeline", "baselines"]
cli()
"""


@pytest.mark.parametrize("debug", [False, True])
def test_in_a_subprocess(tmp_path, debug):
    env = {**os.environ, LOG_DIR_ENV: str(tmp_path / "logs")}
    env.pop(DEBUG_ENV, None)
    if debug:
        env[DEBUG_ENV] = "1"
    proc = subprocess.run([sys.executable, "-c", _FORCE_A_BUG], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    if debug:
        assert proc.returncode == 1 and "Traceback (most recent call last)" in proc.stderr
        assert not (tmp_path / "logs").exists()
    else:
        assert proc.returncode == 1 and proc.stdout == ""
        _one_crash_line(proc.stderr, tmp_path / "logs")
