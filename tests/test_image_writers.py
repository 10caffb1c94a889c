"""The band-by-band writers upscale saves through: the same image as Pillow's one-shot save."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tnas_pipeline.errors import UserError
from tnas_pipeline.image_writers import check_output_size, open_writer
from tnas_pipeline.png_writer import filter_rows

SHAPES = [(37, 53, 3), (40, 41), (1, 1, 3), (70, 3)]


def write_in_bands(suffix, pixels, band=11):
    buf = io.BytesIO()
    h, w = pixels.shape[:2]
    writer = open_writer(buf, Path("x" + suffix), w, h, 1 if pixels.ndim == 2 else 3)
    for y in range(0, h, band):
        writer.write(pixels[y : y + band])
    writer.close()
    return buf.getvalue()


def pillow_bytes(fmt, pixels):
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("shape", SHAPES)
def test_png_decodes_to_the_same_pixels(shape):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    with Image.open(io.BytesIO(write_in_bands(".png", pixels))) as im:
        assert im.mode == ("L" if len(shape) == 2 else "RGB")
        np.testing.assert_array_equal(np.asarray(im), pixels)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("suffix", "fmt"), [(".bmp", "BMP"), (".jpg", "JPEG")])
def test_bmp_and_jpeg_are_byte_for_byte_pillows(shape, suffix, fmt):
    pixels = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    assert write_in_bands(suffix, pixels) == pillow_bytes(fmt, pixels)


def test_png_filters_are_chosen_per_row_and_compress_like_pillow():
    small = np.random.default_rng(2).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize((400, 300), Image.Resampling.BICUBIC))
    ours, pillows = write_in_bands(".png", smooth, band=64), pillow_bytes("PNG", smooth)
    assert len(ours) < 1.1 * len(pillows)
    rows = smooth.reshape(300, -1)
    filtered = filter_rows(rows, np.zeros(rows.shape[1], np.uint8), 3)
    assert filtered.shape == (300, rows.shape[1] + 1)
    assert len(set(filtered[:, 0].tolist())) > 1  # not one filter for every row


def test_a_writer_refuses_rows_beyond_the_image_or_missing_ones():
    pixels = np.zeros((4, 5, 3), np.uint8)
    for suffix in (".png", ".bmp", ".jpg"):
        writer = open_writer(io.BytesIO(), Path("x" + suffix), 5, 4, 3)
        writer.write(pixels[:2])
        with pytest.raises(ValueError, match="never written"):
            writer.close()
    with pytest.raises(ValueError, match="does not fit"):
        open_writer(io.BytesIO(), Path("x.png"), 5, 4, 3).write(np.zeros((5, 5, 3), np.uint8))


def test_format_limits_are_checked_before_writing():
    check_output_size(Path("a.jpg"), 65500, 10, 3)
    with pytest.raises(UserError, match=r"larger than JPEG allows .* write a \.png"):
        check_output_size(Path("a.jpg"), 65501, 10, 3)
    check_output_size(Path("a.bmp"), 37000, 37000, 3)  # 4.107e9 bytes, under 2**32 - 1
    with pytest.raises(UserError, match="over the 4 GiB that BMP allows"):
        check_output_size(Path("a.bmp"), 40000, 40000, 3)
    check_output_size(Path("a.bmp"), 40000, 40000, 1)
    check_output_size(Path("a.png"), 200000, 200000, 3)
