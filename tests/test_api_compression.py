"""tfjpeg.compress / compress_image (api/compression.py) and the tiled editing it runs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.conftest import natural_image, trained_like
from tfjpeg.api import compression
from tfjpeg.editors import SpatialTransformerEditor
from tfjpeg.editors.inference import edit_and_encode, edit_image
from tfjpeg.errors import InvalidImageError, TfjpegError
from tfjpeg.io import decode_pixels, encode_pixels, read_jpeg
from tfjpeg.models import SAVED_MODELS_ENV
from tfjpeg.rdo.encoder import trellis_encode


def _compress_encoding(pixels: np.ndarray, quality: int) -> bytes:
    """What compress writes for given pixels: trellis quantization (1 loop), written by
    libjpeg-turbo, 4:2:0, optimized Huffman tables."""
    return trellis_encode(pixels, quality, subsampling="420", loops=1)


def _plain_encoding(pixels: np.ndarray, quality: int) -> bytes:
    """What compress writes with ``trellis=0``: libjpeg-turbo's own quantizer."""
    return encode_pixels(pixels, quality, subsampling="420", optimize=True)


def test_tiled_editing_equals_whole_image_editing():
    editor = trained_like(SpatialTransformerEditor(filters=8, context_layers=1), seed=1)
    image = natural_image(40, 72, seed=3)
    whole = edit_image(editor, image, 15, tile_size=1024)
    tiled = edit_image(editor, image, 15, tile_size=16, overlap=96)
    np.testing.assert_array_equal(tiled, whole)
    assert np.abs(whole.astype(int) - image).max() > 0


def test_compress_writes_a_standard_jpeg_with_the_edited_pixels(exported_smoothing, monkeypatch):
    root, editor = exported_smoothing
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    image = natural_image(48, 64)
    data = compression.compress(image, quality=30, editor="smoothing", tables="standard")
    coeffs = read_jpeg(data)
    assert (coeffs.height, coeffs.width) == (48, 64)
    # The conditioning quality is clamped into the training range; the file uses quality 30.
    edited = edit_image(editor, image, 25)
    assert data == _compress_encoding(edited, 30)
    untrellised = compression.compress(image, 30, editor="smoothing", tables="standard", trellis=0)
    assert untrellised == edit_and_encode(editor, image, 30, "libjpeg")
    assert untrellised == _plain_encoding(edited, 30)
    plain = compression.compress(image, quality=30, editor="none", tables="standard")
    assert plain == _compress_encoding(image, 30)
    assert plain != data
    moz = compression.compress(image, quality=30, editor="none", encoder="mozjpeg")
    assert decode_pixels(moz).shape == (48, 64, 3) and moz != plain


def test_compress_target_bpp_picks_the_largest_quality_that_fits():
    image = natural_image(64, 96, seed=2)
    result = compression.compress_image(image, target_bpp=1.0, editor="none")
    assert result.bpp <= 1.0
    above = compression.compress_image(image, quality=result.quality + 1, editor="none")
    assert above.bpp > 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tiny = compression.compress_image(image, target_bpp=0.001, editor="none")
    assert tiny.quality == 1 and any("quality 1" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"quality": 10, "target_bpp": 1.0}, ValueError),
        ({"quality": 0}, ValueError),
        ({"target_bpp": -1}, ValueError),
        ({"encoder": "webp"}, ValueError),
        ({"editor": "blur"}, TfjpegError),
    ],
)
def test_compress_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        compression.compress(natural_image(16, 16), **kwargs)


def test_compress_rejects_bad_images(tmp_path):
    with pytest.raises(InvalidImageError):
        compression.compress(np.zeros((8, 8, 3), np.float32), editor="none")
    with pytest.raises(InvalidImageError):
        compression.compress(b"garbage bytes", editor="none")
    with pytest.raises(InvalidImageError):
        compression.compress(tmp_path / "missing.png", editor="none")


def test_compress_keeps_grayscale_images_gray(exported_smoothing, monkeypatch):
    root, _ = exported_smoothing
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    gray = natural_image(24, 24)[..., :1]
    data = compression.compress(gray, quality=20, editor="smoothing", tables="standard")
    assert read_jpeg(data).num_components == 1


def test_compress_writes_the_requested_tables_learned_standard_or_explicit():
    from tfjpeg.models.presets import load

    image = natural_image(32, 48, seed=4)
    family = load("learned_tables")
    learned = compression.compress(image, quality=20, editor="none", tables="learned")
    np.testing.assert_array_equal(read_jpeg(learned).tables, family.tables(20))
    assert learned == trellis_encode(image, tables=family.tables(20))
    plain = compression.compress(image, quality=20, tables="learned", trellis=0)
    assert plain == encode_pixels(image, 20, optimize=True, tables=family.tables(20))
    standard = compression.compress(image, quality=20, editor="none", tables="standard")
    assert standard == _compress_encoding(image, 20)
    explicit = np.stack([np.full((8, 8), 7), np.full((8, 8), 9)])
    for encoder in ("libjpeg", "mozjpeg"):
        data = compression.compress(image, 20, editor="none", encoder=encoder, tables=explicit)
        np.testing.assert_array_equal(read_jpeg(data).tables, explicit)
    big = natural_image(64, 96, seed=4)
    fit = compression.compress_image(big, target_bpp=2.5, editor="none", tables="learned")
    lo, hi = family.quality_range
    assert fit.bpp <= 2.5 and lo <= fit.quality <= hi
    assert fit.jpeg == trellis_encode(big, tables=family.tables(fit.quality))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tables": "fancy"}, "tables"),
        ({"tables": np.zeros((2, 8, 8))}, "tables"),
        ({"tables": np.ones((2, 4, 4))}, "tables"),
        ({"tables": np.ones((2, 8, 8)), "target_bpp": 1.0}, "target_bpp"),
        ({"tables": "learned", "quality": 1}, "quality"),
        ({"tables": "learned", "quality": 95}, r"\[5, 90\]"),
        ({"tables": "Auto"}, "tables"),
        ({"tables": ""}, "tables"),
        ({"tables": 3}, "tables"),
    ],
)
def test_compress_refuses_bad_tables_and_qualities_the_tables_were_not_learned_for(kwargs, match):
    from tfjpeg.errors import InvalidArgumentError

    kwargs = {"quality": 20, **kwargs} if "target_bpp" not in kwargs else kwargs
    with pytest.raises(InvalidArgumentError, match=match):
        compression.compress(natural_image(16, 16), editor="none", **kwargs)


def test_default_is_no_editor_and_auto_tables_learned_inside_their_range():
    """compress(image, quality=q): learned tables (libjpeg-turbo or mozjpeg) where the family was
    learned; the standard tables elsewhere (other subsampling or quality), without a warning."""
    from tfjpeg.models.presets import load

    family = load("learned_tables")
    lo, hi = family.quality_range
    image = natural_image(32, 48, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for q in (lo, 30, hi):
            result = compression.compress_image(image, quality=q)
            assert result.tables == "learned"
            assert result.jpeg == trellis_encode(image, tables=family.tables(q))
            assert result.jpeg == compression.compress(image, q, editor="none", tables="learned")
        for q in (lo - 1, hi + 1):
            result = compression.compress_image(image, quality=q)
            assert result.tables == "standard" and result.jpeg == _compress_encoding(image, q)
        moz = compression.compress_image(image, quality=30, encoder="mozjpeg")
        assert moz.tables == "learned"  # mozjpeg's own trellis with the learned tables
        assert moz.jpeg == encode_pixels(
            image, 30, encoder="mozjpeg", optimize=True, tables=family.tables(30)
        )
        full = compression.compress_image(image, quality=30, subsampling="444")
        assert full.tables == "standard"
        # target_bpp with "auto" may use every quality; the chosen one says which tables it got
        fit = compression.compress_image(image, target_bpp=2.0)
    assert fit.bpp <= 2.0
    assert fit.tables == ("learned" if lo <= fit.quality <= hi else "standard")
    assert compression.DEFAULT_EDITOR == "none" and compression.DEFAULT_TABLES == "auto"


def test_auto_tables_fall_back_with_a_warning_when_the_family_is_not_installed(
    exported_smoothing, monkeypatch
):
    root, _ = exported_smoothing  # a models root holding only an editor
    monkeypatch.setenv(SAVED_MODELS_ENV, str(root))
    image = natural_image(16, 24)
    with pytest.warns(UserWarning, match="learned tables are not installed"):
        result = compression.compress_image(image, quality=30)
    assert result.tables == "standard" and result.jpeg == _compress_encoding(image, 30)
    with pytest.raises(TfjpegError):
        compression.compress(image, 30, tables="learned")


def test_the_default_trellis_saves_bits_and_stays_a_standard_file_of_the_chosen_tables():
    """trellis="auto" (1 loop with libjpeg-turbo): fewer bytes than libjpeg's own rounding, the
    same tables, and a file every decoder reads; the loops and writers it refuses."""
    from tfjpeg.errors import InvalidArgumentError

    image = natural_image(64, 96, seed=8)
    with_trellis = compression.compress_image(image, quality=30)
    without = compression.compress_image(image, quality=30, trellis=0)
    assert len(with_trellis.jpeg) < len(without.jpeg)
    a, b = read_jpeg(with_trellis.jpeg), read_jpeg(without.jpeg)
    np.testing.assert_array_equal(a.tables, b.tables)
    assert decode_pixels(with_trellis.jpeg).shape == (64, 96, 3)
    # the trellis moves an AC coefficient only toward zero, a DC by at most one step
    ac = np.ones((8, 8), bool)
    ac[0, 0] = False
    for chosen, rounded in zip(a.components, b.components, strict=True):
        assert np.all(np.abs(chosen[..., ac]) <= np.abs(rounded[..., ac]))
        assert np.all(np.abs(chosen[..., 0, 0].astype(int) - rounded[..., 0, 0]) <= 1)
    two = compression.compress(image, quality=30, trellis=2)
    assert two == trellis_encode(image, tables=read_jpeg(two).tables[:2], loops=2)
    for kwargs, match in [
        ({"trellis": -1}, "trellis"),
        ({"trellis": 11}, "trellis"),
        ({"trellis": "on"}, "trellis"),
        ({"trellis": 1.5}, "trellis"),
        ({"trellis": 1, "encoder": "mozjpeg"}, "mozjpeg"),
        ({"trellis": 1, "optimize": 1}, "optimize"),
    ]:
        with pytest.raises(InvalidArgumentError, match=match):
            compression.compress(image, quality=30, **kwargs)
