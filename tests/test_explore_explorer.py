"""The Explorer: edits move the image the way the tool says, and every result re-encodes (with
libjpeg-turbo, the file's own tables) to exactly the file's coefficients.

A tiny randomly initialised ConsistentDecoder, run eagerly (``compiled=False``), keeps these fast;
consistency does not depend on the weights (the network's output is consistent by construction,
the final image goes through the decoding core's projection and uint8 correction).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfjpeg.decoders import ConsistentDecoder
from tfjpeg.errors import InvalidArgumentError, OutputExistsError
from tfjpeg.explore import Explorer
from tfjpeg.io import encode_pixels, read_jpeg
from tfjpeg.models.saving import build_model

REGION = (16, 16, 40, 48)


def _decoder() -> ConsistentDecoder:
    model = ConsistentDecoder(luma_width=8, luma_depth=1, chroma_width=8, chroma_depth=1)
    build_model(model)
    rng = np.random.default_rng(0)
    for w in model.trainable_weights:  # the heads start at zero: z would change nothing
        if "head" in w.path:
            w.assign(rng.normal(0, 0.05, w.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def decoder() -> ConsistentDecoder:
    return _decoder()


def _image(gray: bool = False) -> np.ndarray:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:64]
    img = np.stack([120 + 50 * np.sin(xx / 4.0), 110 + 40 * np.cos(yy / 5.0), 90 + xx], -1)
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    return img[..., :1] if gray else img


def assert_reencodes_to_the_file(image: np.ndarray, data: bytes) -> None:
    """libjpeg-turbo, with the file's tables and layout, gives back the file's coefficients."""
    jpeg = read_jpeg(data)
    gray = jpeg.num_components == 1
    pixels = image[..., :1] if gray else image
    tables = np.repeat(jpeg.component_tables, 2, axis=0) if gray else jpeg.component_tables
    subsampling = "444" if gray else jpeg.subsampling
    again = read_jpeg(encode_pixels(pixels, None, subsampling=subsampling, tables=tables))
    for ours, theirs in zip(again.components, jpeg.components, strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.fixture(scope="module")
def colour(decoder):
    data = encode_pixels(_image(), 10)
    return data, Explorer(data, decoder, compiled=False)


def _luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _patch_variance(image: np.ndarray) -> float:
    """Mean variance of the 6×6 patches (stride 2) of the luma: the variance tool's measure."""
    y = _luma(image)
    windows = np.lib.stride_tricks.sliding_window_view(y, (6, 6))[::2, ::2]
    return float(windows.var(axis=(-2, -1)).mean())


def test_brightness_and_variance_move_the_region_and_stay_consistent(colour):
    data, ex = colour
    y0, x0, y1, x1 = REGION
    start = ex.image
    assert start.shape == (48, 64, 3) and start.dtype == np.uint8
    assert_reencodes_to_the_file(start, data)
    calls = []
    brighter = ex.apply(
        "brightness", REGION, amount=40.0, steps=4, learning_rate=0.3, progress=calls.append
    )
    assert calls == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert _luma(brighter[y0:y1, x0:x1]).mean() > _luma(start[y0:y1, x0:x1]).mean() + 0.5
    assert_reencodes_to_the_file(brighter, data)
    # far outside the written window nothing changes
    assert (brighter[:, 56:] == start[:, 56:]).all() or x1 + 8 * 4 >= 64
    before = _patch_variance(ex.image[y0:y1, x0:x1])
    rougher = ex.apply("variance", REGION, direction=1, amount=400.0, steps=4, learning_rate=0.3)
    assert _patch_variance(rougher[y0:y1, x0:x1]) > before
    assert_reencodes_to_the_file(rougher, data)
    report = ex.consistency()
    assert report.consistent and report.fraction_uint8 == 1.0

    assert ex.can_undo and not ex.can_redo
    np.testing.assert_array_equal(ex.undo(), brighter)
    np.testing.assert_array_equal(ex.undo(), start)
    assert not ex.can_undo and ex.can_redo
    np.testing.assert_array_equal(ex.undo(), start)  # no-op at the start
    np.testing.assert_array_equal(ex.redo(), brighter)
    np.testing.assert_array_equal(ex.redo(), rougher)
    assert not ex.can_redo


def test_standard_image_is_libjpeg_and_png_saving_is_atomic_and_guarded(colour, tmp_path):
    data, ex = colour
    from tfjpeg.io import decode_pixels

    np.testing.assert_array_equal(ex.standard_image, decode_pixels(data))
    out = tmp_path / "x.png"
    ex.save_png(out)
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(out)), ex.image)
    with pytest.raises(OutputExistsError):
        ex.save_png(out)
    ex.save_png(out, overwrite=True)


def test_bad_tools_regions_and_params_are_refused_by_name(colour):
    _, ex = colour
    with pytest.raises(InvalidArgumentError, match="tool"):
        ex.apply("sharpen")
    with pytest.raises(InvalidArgumentError, match="region"):
        ex.apply("brightness", (0, 0, 100, 10))
    with pytest.raises(InvalidArgumentError, match="amount"):
        ex.apply("brightness", amount=1e9)
    with pytest.raises(InvalidArgumentError, match="content"):
        ex.apply("scribble", REGION, content=np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(InvalidArgumentError, match="decoder"):
        Explorer(encode_pixels(_image(), 10), "smoothing")


def test_bad_files_raise_the_readers_errors(decoder):
    from tfjpeg.errors import ImageTooLargeError, InvalidJpegError

    with pytest.raises(InvalidJpegError):
        Explorer(b"not a jpeg", decoder)
    with pytest.raises(InvalidJpegError):
        Explorer(encode_pixels(_image(), 10)[:200], decoder)
    with pytest.raises(ImageTooLargeError):
        Explorer(encode_pixels(_image(), 10), decoder, max_pixels=100)


def test_gray_files_give_three_equal_channels_and_refuse_chroma_tools(decoder):
    data = encode_pixels(_image(gray=True), 10)
    ex = Explorer(data, decoder, compiled=False)
    image = ex.apply("tv", REGION, steps=2)
    assert image.shape == (48, 64, 3)
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 0] == image[..., 2]).all()
    assert_reencodes_to_the_file(image, data)
    with pytest.raises(InvalidArgumentError, match="gray"):
        ex.apply("hue", REGION)


def _tiny_classifier():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])


@pytest.mark.slow
def test_every_tool_gives_a_consistent_decoding(decoder):
    data = encode_pixels(_image(), 10)
    ex = Explorer(data, decoder, compiled=False)
    content = np.zeros((24, 32, 3), np.uint8)
    content[6:18, 8:24] = 250
    mask = np.zeros((48, 64), bool)
    mask[10:30, 20:50] = True
    runs = {
        "brightness": {"amount": -30.0},
        "variance": {"direction": -1},
        "tv": {"direction": -1},
        "hue": {"degrees": 90.0},
        "saturation": {"factor": 2.0},
        "scribble": {"content": content},
        "imprint": {"content": content[:, :, 0], "max_shift": 1},
        "patch": {"source_y0": 0, "source_x0": 0, "source_y1": 16, "source_x1": 16},
        "magnitude": {"direction": 1},
        "periodicity": {"axis": "horizontal", "period_x": 6},
        "diverse": {"count": 2},
        "classifier": {"model": _tiny_classifier(), "target": 2, "scale": "0-1", "refine_steps": 2},
    }
    assert set(runs) == set(ex.tools)
    for tool, params in runs.items():
        before = ex.image
        image = ex.apply(tool, mask if tool == "tv" else REGION, steps=2, **params)
        assert image.shape == (48, 64, 3), tool
        assert_reencodes_to_the_file(image, data)
        assert not np.array_equal(image, before) or tool in ("periodicity",), tool
    assert len(ex.alternatives) == 0  # the last edit was not "diverse"
    ex.undo()
    ex.undo()  # back to before classifier and diverse ... then diverse again for alternatives
    ex.apply("diverse", REGION, count=3, steps=2)
    assert len(ex.alternatives) == 2
    for alt in ex.alternatives:
        assert_reencodes_to_the_file(alt, data)
    chosen = ex.choose_alternative(1)
    np.testing.assert_array_equal(chosen, ex.alternatives[1])
    with pytest.raises(InvalidArgumentError, match="index"):
        ex.choose_alternative(5)
    tf.keras.backend.clear_session()


def test_imprint_finds_the_sub_block_shift_of_content_cut_from_the_image(colour):
    """Content cut from the current (consistent) image one row and two columns off the region
    is most consistent where it came from: the shift search puts it back there."""
    from tfjpeg.explore.tools import TOOLS, EditContext, resolve_params
    from tfjpeg.explore.window import Span

    _, ex = colour
    engine = ex._engine
    whole = Span(0, engine.grid[0], 0, engine.grid[1])
    current = ex.image
    mask = np.zeros(current.shape[:2], bool)
    mask[16:40, 16:48] = True
    ctx = EditContext(
        x0=current.astype(np.float32),
        mask=mask,
        origin=(0, 0),
        image=current,
        project=lambda img, **kw: engine.project(img, whole, **kw),
        gray=False,
    )
    params = resolve_params(
        TOOLS["imprint"].spec, {"content": current[17:41, 18:50], "max_shift": 2}
    )
    prepared = TOOLS["imprint"].prepare(ctx, params)
    expected = np.zeros_like(mask)
    expected[17:41, 18:50] = True
    np.testing.assert_array_equal(prepared.inputs["mask"], expected)
