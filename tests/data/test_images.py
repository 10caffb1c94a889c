import numpy as np
import pytest
from PIL import Image

from tnas_pipeline.data.images import as_rgb, list_image_files, load_folder, load_image
from tnas_pipeline.errors import UserError


def test_rgb_and_gray_load_as_uint8(tmp_path):
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "g.bmp")
    a, g = load_image(tmp_path / "a.png"), load_image(tmp_path / "g.bmp")
    np.testing.assert_array_equal(a.pixels, rgb)
    assert g.is_gray and g.pixels.shape == (4, 5)
    assert as_rgb(g.pixels).shape == (4, 5, 3)


def test_opaque_rgba_and_palette_are_converted(tmp_path):
    rgba = np.full((6, 6, 4), 255, dtype=np.uint8)
    rgba[..., 0] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(rgba[..., :3]).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "a.png").pixels.shape == (6, 6, 3)
    assert load_image(tmp_path / "p.png").pixels.shape == (6, 6, 3)


def test_transparent_rgba_is_refused(tmp_path):
    rgba = np.zeros((6, 6, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    with pytest.raises(UserError, match="transparency"):
        load_image(tmp_path / "t.png")


def test_16_bit_is_refused(tmp_path):
    Image.fromarray(np.full((6, 6), 40000, dtype=np.uint16)).save(tmp_path / "d.png")
    with pytest.raises(UserError, match="16-bit"):
        load_image(tmp_path / "d.png")


def test_corrupt_image_is_refused(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(UserError, match="cannot decode"):
        load_image(tmp_path / "bad.png")


def test_folder_listing(tmp_path, image_folder):
    (image_folder / "notes.txt").write_text("x")
    assert [p.name for p in list_image_files(image_folder)] == [f"im{i}.png" for i in range(4)]
    assert len(load_folder(image_folder)) == 4
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        list_image_files(tmp_path / "empty")
    with pytest.raises(UserError, match="no such folder"):
        list_image_files(tmp_path / "missing")
