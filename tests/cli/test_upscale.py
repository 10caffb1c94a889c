"""``upscale`` loses nothing and corrupts nothing (issue 18): no overwrite without --overwrite and
never of an input, one output name per input, memory bounded by the tile, one line for images too
large or too deep, no image from a NaN network, and no overlap below the receptive field."""

import json
import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from tests.cli.test_cli import assert_user_error, invoke
from tests.conftest import smooth_image
from tnas_pipeline.networks import Architecture, Cell, Layer, Upsampler, build_network
from tnas_pipeline.run_dir import RunDir


def shift_weights(model, head_gain):
    """Every conv reads only its kernel's top-left tap, channel o from channel o mod cin: a
    chain of such convs copies pixels from as far as the receptive field reaches, so a tile
    without enough context shows it at once."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
                m.bias.zero_()
                cout, cin = m.weight.shape[:2]
                for o in range(cout):
                    m.weight[o, o % cin, 0, 0] = head_gain if cin == 3 else 1.0


def make_run(path, arch, seed=0, fill=None, shift_gain=None):
    """A run directory with freshly initialised, ``fill``-valued or shift weights."""
    torch.manual_seed(seed)
    model = build_network(arch)
    if fill is not None:
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(fill)
    if shift_gain is not None:
        shift_weights(model, shift_gain)
    path.mkdir(parents=True)
    arch.save(path / "arch.json")
    RunDir(path).save_weights(model)
    return path


def pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


def files(folder):
    return sorted(p.name for p in folder.iterdir())


# -- 1. nothing lost ---------------------------------------------------------------------------

def test_a_folder_upscaled_into_itself_keeps_its_inputs(image_folder):
    before = {p.name: p.read_bytes() for p in image_folder.iterdir()}
    res = invoke("upscale", image_folder, "-o", image_folder, "--bicubic", "--json")
    assert res.exit_code == 0, res.output
    for name, data in before.items():
        assert (image_folder / name).read_bytes() == data, name
    assert files(image_folder) == sorted([*before, *(f"im{i}_png_x2.png" for i in range(4))])
    assert pixels(image_folder / "im0_png_x2.png").shape == (96, 128, 3)
    # Again: the outputs of the first run are now inputs too; they are never written over.
    first = {p.name: p.read_bytes() for p in image_folder.iterdir()}
    for overwrite in ([], ["--overwrite"]):
        assert_user_error(invoke("upscale", image_folder, "-o", image_folder, "--bicubic",
                                 *overwrite),
                          "im0_png_x2.png: is an input of this run", "not even with --overwrite")
    assert {p.name: p.read_bytes() for p in image_folder.iterdir()} == first


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_image_is_never_written_over_itself(image_folder, overwrite):
    src = image_folder / "im0.png"
    data = src.read_bytes()
    assert_user_error(invoke("upscale", src, "-o", src, "--bicubic", *overwrite),
                      "is an input of this run")
    assert src.read_bytes() == data


def test_a_hard_link_to_the_input_is_the_input(image_folder, tmp_path):
    src = image_folder / "im0.png"
    (tmp_path / "link.png").hardlink_to(src)
    assert_user_error(invoke("upscale", src, "-o", tmp_path / "link.png", "--bicubic",
                             "--overwrite"), "is an input of this run")
    assert pixels(src).shape == (48, 64, 3)


def test_names_that_differ_by_extension_get_their_own_outputs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    images = {name: smooth_image(rng, 20 + i, 30) for i, name in
              enumerate(["a.png", "a.jpg", "a.JPEG", "a.bmp"])}
    for name, im in images.items():
        Image.fromarray(im).save(src / name)
    res = invoke("upscale", src, "-o", tmp_path / "out", "--bicubic")
    assert res.exit_code == 0, res.output
    assert "wrote 4 image(s)" in res.output
    expected = {"a.png": "a_png_x2.png", "a.jpg": "a_jpg_x2.png", "a.JPEG": "a_JPEG_x2.png",
                "a.bmp": "a_bmp_x2.png"}
    assert files(tmp_path / "out") == sorted(expected.values())
    for name, out in expected.items():  # each output is its own input upscaled
        assert pixels(tmp_path / "out" / out).shape[0] == 2 * images[name].shape[0]


def test_existing_outputs_are_all_checked_before_any_is_written(image_folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "im3_png_x2.png").write_bytes(b"keep me")
    res = invoke("upscale", image_folder, "-o", out, "--bicubic")
    assert_user_error(res, "1 output file(s) exist", "im3_png_x2.png", "--overwrite")
    assert files(out) == ["im3_png_x2.png"]  # none of the other three was written
    assert (out / "im3_png_x2.png").read_bytes() == b"keep me"
    single = tmp_path / "one.png"
    single.write_bytes(b"keep me too")
    assert_user_error(invoke("upscale", image_folder / "im0.png", "-o", single, "--bicubic"),
                      "one.png", "--overwrite")
    assert single.read_bytes() == b"keep me too"
    res = invoke("upscale", image_folder, "-o", out, "--bicubic", "--overwrite", "--json")
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["outputs"]) == 4
    assert pixels(out / "im3_png_x2.png").shape == (96, 128, 3)


def test_a_bad_image_late_in_a_folder_leaves_nothing(image_folder, tmp_path):
    """Its header is fine, its data is not: found only when decoded, after other outputs were
    made; they are temporary files until the end, and go."""
    data = (image_folder / "im0.png").read_bytes()
    (image_folder / "z.png").write_bytes(data[: len(data) // 2])
    res = invoke("upscale", image_folder, "-o", tmp_path / "out" / "deeper", "--bicubic",
                 "--json")  # no progress bar on stderr: the error is its only line
    assert_user_error(res, "z.png", "cannot decode")
    assert not (tmp_path / "out").exists()


# -- 2. memory follows the tile, not the image -------------------------------------------------

def _peak_bytes(*args):
    tracemalloc.start()
    try:
        res = invoke(*args)
        return res, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_no_float_copy_of_the_output_is_made(tmp_path):
    """A 1500² input upscaled x2: the old path held the output as float32 (108 MB) and float64
    (216 MB); now the peak is the input plus a band."""
    h = w = 1500
    Image.fromarray(smooth_image(np.random.default_rng(0), h, w)).save(tmp_path / "big.png")
    res, peak = _peak_bytes("upscale", tmp_path / "big.png", "-o", tmp_path / "out.png",
                            "--bicubic", "--tile", 64)
    assert res.exit_code == 0, res.output
    float32_output = (2 * h) * (2 * w) * 3 * 4
    assert peak < h * w * 3 + float32_output / 10, peak
    assert pixels(tmp_path / "out.png").shape == (2 * h, 2 * w, 3)


def test_a_folder_is_upscaled_one_image_at_a_time(tmp_path, tiny_arch):
    """The peak with five images is the peak with one: no image waits decoded for the others."""
    run = make_run(tmp_path / "run", tiny_arch)
    rng = np.random.default_rng(0)
    for n in (1, 5):
        folder = tmp_path / f"in{n}"
        folder.mkdir()
        for i in range(n):
            Image.fromarray(smooth_image(rng, 300, 300)).save(folder / f"im{i}.png")
    peaks = {}
    for n in (1, 5):
        res, peaks[n] = _peak_bytes("upscale", tmp_path / f"in{n}", "-o", tmp_path / f"out{n}",
                                    "--model", run, "--tile", 64)
        assert res.exit_code == 0, res.output
    assert peaks[5] < peaks[1] + 300 * 300 * 3, peaks


# -- 3. and 4. images too large or too deep ----------------------------------------------------

def test_an_image_over_the_pixel_limit_is_one_line(tmp_path):
    from tests.data.test_images import huge_header_png

    huge_header_png(tmp_path / "big.png")
    res = invoke("upscale", tmp_path / "big.png", "-o", tmp_path / "out.png", "--bicubic")
    assert_user_error(res, "20000x20000 is 400,000,000 pixels", "limit of 100,000,000",
                      "--max-pixels")
    assert not (tmp_path / "out.png").exists()


def test_max_pixels_sets_the_limit(image_folder, tmp_path):
    assert_user_error(invoke("upscale", image_folder, "-o", tmp_path / "out", "--bicubic",
                             "--max-pixels", 3000), "im0.png", "limit of 3,000")
    assert not (tmp_path / "out").exists()
    res = invoke("upscale", image_folder, "-o", tmp_path / "out", "--bicubic",
                 "--max-pixels", 3072)
    assert res.exit_code == 0, res.output


def test_a_48_bit_png_is_refused_not_cut_to_8_bits(image_folder, tmp_path):
    from tests.data.test_images import deep_png

    deep_png(image_folder / "deep.png")
    res = invoke("upscale", image_folder, "-o", tmp_path / "out", "--bicubic")
    assert_user_error(res, "deep.png", "16-bit", "16 bits per channel")
    assert not (tmp_path / "out").exists()


# -- 5. a NaN network writes nothing -----------------------------------------------------------

@pytest.mark.parametrize("fill", [float("nan"), float("inf")])
def test_nan_or_inf_output_is_refused(image_folder, tmp_path, tiny_arch, fill):
    run = make_run(tmp_path / "run", tiny_arch, fill=fill)
    res = invoke("upscale", image_folder, "-o", tmp_path / "out", "--model", run, "--json")
    assert_user_error(res, "NaN or Inf", "nothing was written")
    assert not (tmp_path / "out").exists()


# -- 6. overlap and the receptive field --------------------------------------------------------

DEEP = Architecture(  # receptive field 1 + 4·4 + 1 = 18 LR pixels, above the old default of 16
    name="deep", scale=2, head=Layer("conv3x3", 8, "relu"),
    cells=(Cell(tuple(Layer("resblock5x5", 8, "relu", width=8) for _ in range(4))),),
    upsampler=Upsampler("pixel_shuffle", 3), global_skip="none")


def test_default_overlap_is_the_receptive_field_so_tiles_show_no_seam(tmp_path):
    # Four residual blocks sum 2⁴ shifted copies: a head gain of 1/16 keeps the output in range.
    run = make_run(tmp_path / "run", DEEP, shift_gain=1 / 16)
    lr = smooth_image(np.random.default_rng(1), 61, 75)
    Image.fromarray(lr).save(tmp_path / "lr.png")
    outs = {}
    for tile in (0, 24):
        res = invoke("upscale", tmp_path / "lr.png", "-o", tmp_path / f"t{tile}.png",
                     "--model", run, "--tile", tile)
        assert res.exit_code == 0, res.output
        outs[tile] = pixels(tmp_path / f"t{tile}.png").astype(int)
    assert np.abs(outs[24] - outs[0]).max() == 0
    # One pixel of context less, as --overlap 17 would give, and the seams are there.
    from tnas_pipeline.inference import load_upscaler

    up = load_upscaler(run, tile=24)
    up.overlap = 17
    short = np.concatenate(list(up.upscale_bands(np.asarray(lr)))).astype(int)
    assert np.abs(short - outs[0]).max() > 8


@pytest.mark.parametrize(("overlap", "fragments"), [
    (17, ["--overlap 17 is below", "receptive field of 18", "--overlap 18 or more"]),
    (-5, ["--overlap -5 is negative"]),
])
def test_overlap_below_the_receptive_field_is_refused(tmp_path, image_folder, overlap, fragments):
    run = make_run(tmp_path / "run", DEEP)
    res = invoke("upscale", image_folder, "-o", tmp_path / "out", "--model", run,
                 "--overlap", overlap)
    assert_user_error(res, *fragments)
    assert not (tmp_path / "out").exists()


# -- the file system says no -------------------------------------------------------------------

def test_an_output_folder_that_cannot_be_made_is_one_line(image_folder, tmp_path):
    (tmp_path / "afile").write_text("x")
    res = invoke("upscale", image_folder / "im0.png", "-o", tmp_path / "afile" / "x.png",
                 "--bicubic")
    assert_user_error(res, "cannot create the output folder")


def test_a_full_disk_leaves_nothing(image_folder, tmp_path, monkeypatch):
    import tnas_pipeline.upscaling as upscaling

    calls = []

    def full_after_two(*args):
        calls.append(args)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return upscaling_open_writer(*args)

    upscaling_open_writer = upscaling.open_writer
    monkeypatch.setattr(upscaling, "open_writer", full_after_two)
    res = invoke("upscale", image_folder, "-o", tmp_path / "out", "--bicubic", "--json")
    assert_user_error(res, "im2_png_x2.png: cannot write (No space left on device)",
                      "no output was kept")
    assert not (tmp_path / "out").exists()
