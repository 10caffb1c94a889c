"""Resuming a search run: hints that name `search`, other commands refused, the saved copy of
the latency table, --overwrite that deletes only the search's own files, and a failed new search
that leaves nothing behind."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.cli.test_cli import assert_user_error
from tests.conftest import stop_search_at_step
from tests.nas.test_search_run import invoke, search_args, unseen_cpu  # noqa: F401 (fixture)
from tnas_pipeline.errors import UserError
from tnas_pipeline.io_utils import file_sha256
from tnas_pipeline.run_dir import RunDir


@pytest.fixture
def stop_at_third_step(monkeypatch):
    """The search stops (as after Ctrl-C) in its third weight step; undo() lets it run."""
    stop_search_at_step(monkeypatch)
    return monkeypatch


def test_an_interrupted_search_is_continued_only_by_search(tmp_path, image_folder,
                                                           stop_at_third_step):
    out = tmp_path / "run"
    res = invoke(search_args(image_folder, out, "--iters", 12))
    assert res.exit_code == 130 and f"tnas-pipeline search --resume -o {out}" in res.stderr
    with pytest.raises(UserError, match=f"finish it with `tnas-pipeline search --resume -o "
                                        f"{out}`"):
        RunDir(out).load_model()  # what evaluate, upscale and export say
    for other in ("train", "run"):
        assert_user_error(invoke([other, "--resume", "-o", out]),
                          f"{out} was made by `tnas-pipeline search`, not `{other}`",
                          f"tnas-pipeline search --resume -o {out}")
    assert not (out / "arch.json").exists()


def test_resume_uses_the_saved_table_after_the_original_moved(tmp_path, image_folder,
                                                              tiny_shipped, stop_at_third_step):
    table = tmp_path / "table.json"
    shutil.copy(tiny_shipped / "cpu-2core-ort-fp32-x2-1280x720.json", table)
    sha = file_sha256(table)
    out = tmp_path / "run"
    res = invoke(search_args(image_folder, out, "--iters", 12, "--device", table))
    assert res.exit_code == 130, res.output
    table.rename(tmp_path / "moved.json")
    stop_at_third_step.undo()
    res = invoke(["search", "--resume", "-o", out, "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    lut = json.loads(res.stdout)["lut"]
    assert lut["path"] == str(table) and lut["sha256"] == sha  # the table the run started with
    record = json.loads((out / "command.json").read_text())
    assert record["created_by"] == "search"
    assert [i["resume"] for i in record["invocations"]] == [False, True]

    # --overwrite starts afresh, deleting the search's files and nothing else.
    (out / "search" / "notes.txt").write_text("mine")
    (out / "search" / "rounds").mkdir()
    (out / "search" / "rounds" / "plan.txt").write_text("mine")
    (out / ".checkpoint.pt.abcd1234.tmp").write_bytes(b"stale")
    (tmp_path / "moved.json").rename(table)
    res = invoke(search_args(image_folder, out, "--device", table, "--overwrite", "--json"))
    assert res.exit_code == 0, res.output
    assert (out / "search" / "notes.txt").read_text() == "mine"
    assert (out / "search" / "rounds" / "plan.txt").read_text() == "mine"
    assert not (out / ".checkpoint.pt.abcd1234.tmp").exists()
    assert len(json.loads((out / "command.json").read_text())["invocations"]) == 1


def test_a_new_search_that_fails_before_its_first_checkpoint_leaves_nothing(
        tmp_path, image_folder, monkeypatch):
    from tnas_pipeline.nas import searcher as S

    def crash(self):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(S.Searcher, "_weight_step", crash)
    out = tmp_path / "run"
    res = invoke(search_args(image_folder, out))
    assert res.exit_code != 0
    assert not out.exists()


def test_a_run_older_than_the_source_record_hashes_its_copy(tmp_path):
    from types import SimpleNamespace

    from tnas_pipeline.nas.run import saved_lut_source

    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "lut.json").write_text("{}")
    cfg = SimpleNamespace(lut="/dev/zero")  # never read: it would hang
    assert saved_lut_source(tmp_path, cfg) == {
        "path": "/dev/zero", "sha256": file_sha256(tmp_path / "search" / "lut.json")}
