"""Architecture files: JSON types strictly, sane caps named, every violation in one error.

Issue 18: ``Infinity`` was a traceback (``OverflowError``), ``true`` was taken as one channel,
a million channels or 8000 cells were built until memory or patience ran out, ``colors: 1``
failed deep in training, and a deeply nested file exhausted the parser's recursion.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.cli.test_cli import assert_user_error, invoke
from tnas_pipeline.errors import UserError
from tnas_pipeline.networks import Architecture, baseline_architecture


@pytest.fixture
def arch_dict():
    return baseline_architecture("plain_cnn", 2).to_dict()


def _load_error(tmp_path, text: str) -> str:
    (tmp_path / "a.json").write_text(text)
    with pytest.raises(UserError) as err:
        Architecture.load(tmp_path / "a.json")
    return str(err.value)


@pytest.mark.parametrize(("mutate", "fragment"), [
    (lambda d: d["head"].update(out=float("inf")), "head.out: must be an integer, got inf"),
    (lambda d: d["head"].update(out=True), "head.out: must be an integer, got true"),
    (lambda d: d["cells"][0]["ops"][0].update(out=False),
     "cells[0].ops[0].out: must be an integer, got false"),
    (lambda d: d["cells"][0]["ops"][0].update(out=10**6),
     "cells[0].ops[0].out: must be between 1 and 1024, got 1000000"),
    (lambda d: d.update(colors=1), "colors: must be 3 (the pipeline reads, trains on and "
                                   "scores RGB images), got 1"),
    (lambda d: d.update(cells=[copy.deepcopy(d["cells"][0]) for _ in range(8000)]),
     "cells: has 8000 cells, more than the limit of 256"),
    (lambda d: d.update(cells=[{"ops": [copy.deepcopy(d["head"])] * 8} for _ in range(200)]),
     "cells: hold 1600 layers in all, more than the limit of 1024"),
    (lambda d: d.update(scale=2.0), "scale: must be an integer, got 2.0"),
    (lambda d: d.update(scale="2"), 'scale: must be an integer, got "2"'),
    (lambda d: d["cells"][0].update(residual="false"),
     'cells[0].residual: must be true or false, got "false"'),
    (lambda d: d["upsampler"].update(kernel=10**6),
     "upsampler.kernel: must be between 1 and 15, got 1000000"),
    (lambda d: d.update(cells={"ops": []}), 'cells: must be a list, got {"ops": []}'),
])
def test_a_violation_is_named(tmp_path, arch_dict, mutate, fragment):
    mutate(arch_dict)
    message = _load_error(tmp_path, json.dumps(arch_dict))
    assert message == (f"{tmp_path / 'a.json'}: not a valid architecture ({fragment}); "
                       "see the format in pipeline/networks/architecture.py")


def test_every_violation_is_listed_one_per_line(tmp_path, arch_dict):
    arch_dict.update(colors=1, scale="2")
    arch_dict["head"].update(out=True, act=5)
    arch_dict["cells"][1]["ops"][0]["width"] = 1.5
    message = _load_error(tmp_path, json.dumps(arch_dict))
    assert message.splitlines() == [
        f"{tmp_path / 'a.json'}: not a valid architecture, 5 problems; see the format in "
        "pipeline/networks/architecture.py:",
        '  - scale: must be an integer, got "2"',
        "  - colors: must be 3 (the pipeline reads, trains on and scores RGB images), got 1",
        "  - head.out: must be an integer, got true",
        "  - head.act: must be a string, got 5",
        "  - cells[1].ops[0].width: must be an integer, got 1.5"]


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deep_nesting_is_refused(tmp_path, depth):
    text = ('{"format": "tnas-pipeline/arch", "version": 1, "head": ' + "[" * depth +
            "]" * depth + "}")
    assert "nested deeper than the limit of 32 levels" in _load_error(tmp_path, text)


def test_the_cli_says_it_in_one_line_and_writes_nothing(tmp_path, arch_dict):
    arch_dict["head"]["out"] = float("inf")
    (tmp_path / "a.json").write_text(json.dumps(arch_dict))
    res = invoke("train", tmp_path / "a.json", "--iters", 1, "-o", tmp_path / "run")
    assert_user_error(res, "head.out: must be an integer, got inf")
    assert not (tmp_path / "run").exists()


def test_a_valid_file_still_loads(tmp_path, arch_dict):
    (tmp_path / "a.json").write_text(json.dumps(arch_dict))
    assert Architecture.load(tmp_path / "a.json") == baseline_architecture("plain_cnn", 2)
