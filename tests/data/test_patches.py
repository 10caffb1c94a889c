import numpy as np
import pytest
import torch
from PIL import Image

from tnas_pipeline.data.patches import PatchSampler
from tnas_pipeline.errors import UserError


def test_patch_shapes_range_and_alignment(image_folder):
    s = PatchSampler([image_folder], scale=2, hr_patch=16, seed=0)
    lr, hr = s.sample(5)
    assert lr.shape == (5, 3, 8, 8) and hr.shape == (5, 3, 16, 16)
    assert lr.min() >= 0 and hr.max() <= 1
    # LR patches come from the antialiased LR image: the HR patch, average-pooled, is close.
    pooled = torch.nn.functional.avg_pool2d(hr, 2)
    assert (pooled - lr).abs().mean() < 0.05


def test_deterministic_for_a_seed_and_resumable(image_folder):
    a = PatchSampler([image_folder], 2, 16, seed=3)
    b = PatchSampler([image_folder], 2, 16, seed=3)
    torch.testing.assert_close(a.sample(4), b.sample(4))
    state = a.state()
    first = a.sample(4)
    c = PatchSampler([image_folder], 2, 16, seed=99)
    c.set_state(state)
    torch.testing.assert_close(c.sample(4), first)
    assert not torch.equal(PatchSampler([image_folder], 2, 16, seed=4).sample(4)[0], first[0])


def test_image_smaller_than_patch_is_refused(tmp_path):
    Image.fromarray(np.zeros((10, 40, 3), np.uint8)).save(tmp_path / "thin.png")
    with pytest.raises(UserError, match="smaller than the 16x16 training patch"):
        PatchSampler([tmp_path], 2, 16, seed=0)


def test_parts_split_the_images_disjointly(image_folder):
    from tnas_pipeline.data.patches import PatchSampler

    a = PatchSampler([image_folder], 2, 16, seed=0, part=(0, 2))
    b = PatchSampler([image_folder], 2, 16, seed=0, part=(1, 2))
    whole = PatchSampler([image_folder], 2, 16, seed=0)
    assert len(a) + len(b) == len(whole) == 4
    assert not any((x[1] == y[1]).all() for x in a.pairs for y in b.pairs)
