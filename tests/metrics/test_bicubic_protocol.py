"""The metric protocol reproduces the published bicubic numbers within 0.02 dB.

Published: the Bicubic row of the standard SR tables, e.g. VDSR (Kim, Lee, Lee, CVPR 2016) and
CARN (Ahn, Kang, Sohn, ECCV 2018).
"""

import json

import pytest
from click.testing import CliRunner

from tests.conftest import SHARED_DATA, needs_shared_data
from tnas_pipeline.cli.main import cli
from tnas_pipeline.data.defaults import bundled

# Published bicubic PSNR (Y, crop = scale): Set5 / Set14 at ×2 and ×4 (VDSR, CVPR 2016; CARN).
PUBLISHED = {2: {"Set5": 33.66, "Set14": 30.24}, 4: {"Set5": 28.42, "Set14": 26.00}}


def _bicubic(folders, scale):
    args = ["evaluate", "--bicubic", "--scale", str(scale), "--json"]
    for f in folders:
        args += ["--data", str(f)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


@pytest.mark.parametrize("scale", [2, 4])
def test_bundled_sets_reproduce_published_bicubic(scale):
    out = _bicubic([bundled("Set5"), bundled("Set14")], scale)
    for name, want in PUBLISHED[scale].items():
        assert out["sets"][name]["psnr_y"] == pytest.approx(want, abs=0.02)
    assert out["sets"]["Set5"]["images"] == 5 and out["sets"]["Set14"]["images"] == 14


@needs_shared_data()
@pytest.mark.shared_data
@pytest.mark.parametrize("scale", [2, 4])
def test_shared_sets_reproduce_published_bicubic(scale):
    out = _bicubic([SHARED_DATA / "Set5", SHARED_DATA / "Set14"], scale)
    for name, want in PUBLISHED[scale].items():
        assert out["sets"][name]["psnr_y"] == pytest.approx(want, abs=0.02)
