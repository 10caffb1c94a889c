from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tnas_pipeline.data.defaults import bundled
from tnas_pipeline.data.images import list_image_files
from tnas_pipeline.data.split import carve_validation, split_files
from tnas_pipeline.errors import UserError


def test_split_is_disjoint_complete_and_fixed_by_name(tmp_path):
    t91 = bundled("T91")
    train, val = split_files(t91, 0.1, seed=0)
    names = {p.name for p in list_image_files(t91)}
    assert {p.name for p in train} | {p.name for p in val} == names
    assert not {p.name for p in train} & {p.name for p in val}
    assert 3 <= len(val) <= 18  # about 10 % of 91
    # The same file lands on the same side whatever else the folder holds.
    sub = tmp_path / "sub"
    sub.mkdir()
    for p in sorted(list_image_files(t91))[:40]:
        (sub / p.name).symlink_to(p)
    _, val_sub = split_files(sub, 0.1, seed=0)
    assert {p.name for p in val_sub} <= {p.name for p in val} or len(val_sub) == 1
    assert split_files(t91, 0.1, seed=1)[1] != val


def test_carve_validation_links_files_and_rebuilds_the_same_split(tmp_path):
    train_dirs, val_dirs = carve_validation([bundled("T91")], tmp_path / "split", 0.2)
    train = {p.name for p in list_image_files(train_dirs[0])}
    val = {p.name for p in list_image_files(val_dirs[0])}
    assert train and val and not train & val
    assert len(train) + len(val) == len(list_image_files(bundled("T91")))
    assert all(p.is_symlink() for p in val_dirs[0].iterdir())
    again = carve_validation([bundled("T91")], tmp_path / "split", 0.2)
    assert {p.name for p in list_image_files(again[1][0])} == val


def test_bad_fraction_and_too_few_images(tmp_path):
    with pytest.raises(UserError, match="between 0 and 1"):
        split_files(bundled("T91"), 1.0)
    one = tmp_path / "one"
    one.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(one / "a.png")
    with pytest.raises(UserError, match="at least 2"):
        split_files(Path(one), 0.5)
