"""``tnas-pipeline run --resume``: only a run that `run` made is continued; a mistyped -o or
another command's run is refused instead of starting a new job; Ctrl-C names `run --resume`."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from tests.cli.test_cli import assert_user_error
from tests.conftest import stop_search_at_step
from tnas_pipeline.cli.main import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def table(tmp_path, tiny_shipped):
    """A table file (tiny, 128×72; measured "on another CPU", so no on-device check)."""
    path = tmp_path / "table.json"
    shutil.copy(tiny_shipped / "cpu-2core-ort-fp32-x2-1280x720.json", path)
    return path


def job_args(table, out, *extra):
    return ["run", "--latency-budget", "5ms", "--device", table, "--iters", 12, "--threads", 1,
            "--no-device-check", "--no-progress", "-o", out, *extra]


def test_resume_of_a_mistyped_directory_is_refused_not_started(tmp_path, table):
    out = tmp_path / "typo"
    assert_user_error(invoke(*job_args(table, out, "--resume")),
                      f"{out}: no such run directory to resume")
    assert not out.exists()


def test_resume_of_a_train_run_is_refused(tmp_path, tiny_arch, image_folder, table):
    tiny_arch.save(tmp_path / "a.json")
    out = tmp_path / "trained"
    res = invoke("train", tmp_path / "a.json", "--data", image_folder, "--val-data",
                 image_folder, "--iters", 2, "--batch-size", 2, "--patch-size", 16,
                 "--no-progress", "-o", out)
    assert res.exit_code == 0, res.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert_user_error(invoke("run", "--resume", "-o", out),
                      f"{out} was made by `tnas-pipeline train`, not `run`",
                      f"tnas-pipeline train --resume -o {out}")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_an_interrupted_run_names_run_and_is_continued_by_it(tmp_path, table, monkeypatch):
    stop_search_at_step(monkeypatch)
    out = tmp_path / "main"
    res = invoke(*job_args(table, out))
    assert res.exit_code == 130, res.output
    assert f"continue with `tnas-pipeline run --resume -o {out}`" in res.stderr
    assert "train --resume" not in res.stderr
    assert_user_error(invoke("search", "--resume", "-o", out),
                      f"{out} was made by `tnas-pipeline run`, not `search`")
    monkeypatch.undo()
    res = invoke("run", "--resume", "-o", out, "--no-progress", "--json")
    assert res.exit_code in (0, 1), res.output  # 1: a FAIL verdict is still a result
    assert json.loads(res.stdout)["run"] == str(out)
    record = json.loads((out / "command.json").read_text())
    assert record["created_by"] == "run"
    assert [(i["command"], i["resume"]) for i in record["invocations"]] == [
        ("run", False), ("run", True)]
