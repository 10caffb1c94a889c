import json

import pytest

from tnas_pipeline.errors import UserError
from tnas_pipeline.networks import Architecture, Cell, Layer, baseline_architecture


def test_json_round_trip(tmp_path, tiny_arch):
    tiny_arch.save(tmp_path / "a.json")
    assert Architecture.load(tmp_path / "a.json") == tiny_arch
    d = json.loads((tmp_path / "a.json").read_text())
    assert d["format"] == "tnas-pipeline/arch" and d["version"] == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=99), "version 99 is not supported"),
        (lambda d: d.update(format="x"), "'format' must be"),
        (lambda d: d["head"].update(op="conv7x7"), "unknown op 'conv7x7'; known: "),
        (lambda d: d["head"].update(act="gelu"), "unknown activation 'gelu'"),
        (lambda d: d.update(scale=5), "scale 5 is not supported"),
        (lambda d: d["cells"][0]["ops"][0].pop("width"), "needs a positive integer 'width'"),
        (lambda d: d["cells"][0]["ops"][0].update(out=4), "residual but maps 8 to 4"),
        (lambda d: d.pop("head"), "not a valid architecture"),
    ],
)
def test_invalid_artifacts_name_the_problem(tmp_path, tiny_arch, mutate, message):
    d = tiny_arch.to_dict()
    d["cells"][0]["residual"] = True
    mutate(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        Architecture.load(path)


def test_not_json_is_a_user_error(tmp_path):
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(UserError, match="not valid JSON"):
        Architecture.load(tmp_path / "x.json")


def test_unknown_baseline_lists_known():
    with pytest.raises(UserError, match=r"known: .*espcn.*fsrcnn.*plain_cnn"):
        baseline_architecture("srgan", 2)


def test_plain_layer_refuses_width():
    with pytest.raises(UserError, match="takes no 'width'"):
        Architecture("x", 2, Layer("conv3x3", 8, width=4), cells=(Cell((Layer("conv3x3", 8),)),))
