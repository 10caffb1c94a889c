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


# -- bit depth from the header, and one documented pixel limit (issue 18) ----------------------

def png_bytes(width: int, height: int, bit_depth: int, color_type: int, raw: bytes) -> bytes:
    """A PNG written by hand: Pillow cannot write 48- or 64-bit colour PNGs."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def deep_png(path, channels: int = 3) -> None:
    """A 16-bit-per-channel PNG (48-bit RGB, 64-bit RGBA or 16-bit gray+alpha)."""
    pixels = np.random.default_rng(0).integers(0, 65536, (5, 6, channels), dtype=np.uint16)
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    path.write_bytes(png_bytes(6, 5, 16, {2: 4, 3: 2, 4: 6}[channels], raw))


@pytest.mark.parametrize("channels", [3, 4, 2])
def test_16_bit_colour_png_is_refused_not_cut_to_8_bits(tmp_path, channels):
    deep_png(tmp_path / "d.png", channels)
    with pytest.raises(UserError, match="16-bit or floating-point pixels"):
        load_image(tmp_path / "d.png")
    from tnas_pipeline.data.images import read_image

    with pytest.raises(UserError, match="16 bits per channel"):
        read_image(tmp_path / "d.png")


def huge_header_png(path, side: int = 20000) -> None:
    """A PNG whose header says ``side``² pixels (its data is cut short: only the header is read
    before the limit refuses it)."""
    path.write_bytes(png_bytes(side, side, 8, 2, b"\x00" * 64))


def test_pixel_limit_is_one_line_not_a_decompression_bomb_traceback(tmp_path):
    huge_header_png(tmp_path / "big.png")
    with pytest.raises(UserError, match="more than the limit"):
        load_image(tmp_path / "big.png")
    from tnas_pipeline.data.images import probe_image, read_image

    for load in (load_image, read_image, probe_image):
        with pytest.raises(UserError, match=r"20000x20000 is 400,000,000 pixels, more than the "
                                            r"limit of 100,000,000; .*--max-pixels"):
            load(tmp_path / "big.png")
    # A raised limit lets the header through; this file's cut-short data then fails to decode.
    assert probe_image(tmp_path / "big.png", max_pixels=400_000_000) == (20000, 20000, False)
    with pytest.raises(UserError, match="cannot decode"):
        read_image(tmp_path / "big.png", max_pixels=400_000_000)


def test_pixel_limit_applies_to_small_images_too(tmp_path, image_folder):
    from tnas_pipeline.data.images import read_image

    with pytest.raises(UserError, match="64x48 is 3,072 pixels, more than the limit of 3,000"):
        read_image(image_folder / "im0.png", max_pixels=3000)
    assert read_image(image_folder / "im0.png", max_pixels=3072).shape == (48, 64, 3)
