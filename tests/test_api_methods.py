"""tfjpeg.api.methods: method specs → compress_image options, and their encode functions."""

from __future__ import annotations

import pytest
from conftest import natural_image

from tfjpeg.api.compression import compress_image
from tfjpeg.api.methods import encode_function, parse_method
from tfjpeg.errors import InvalidArgumentError


def test_specs_map_to_compress_image_options():
    # a spec's plain encoder keeps the standard tables and libjpeg's own rounding
    std = {"tables": "standard", "trellis": 0}
    assert parse_method("libjpeg").options == {"editor": "none", "encoder": "libjpeg", **std}
    assert parse_method("stn+mozjpeg").options == {
        "editor": "stn", "encoder": "mozjpeg", "tables": "standard"
    }  # fmt: skip
    assert parse_method("libjpeg:trellis=2").options["trellis"] == 2
    assert "trellis" not in parse_method("libjpeg:optimize=2").options
    method = parse_method(" smoothing+libjpeg:subsampling=444 ")
    assert method.label == "smoothing+libjpeg:subsampling=444"
    assert method.options == {
        "editor": "smoothing", "encoder": "libjpeg", "subsampling": "444", **std
    }  # fmt: skip
    folder = parse_method("libjpeg:editor=runs/x/export,subsampling=422").options
    assert folder == {"editor": "runs/x/export", "encoder": "libjpeg", "subsampling": "422", **std}
    assert parse_method("libjpeg:tables=learned").options["tables"] == "learned"
    assert parse_method("default").options == {
        "editor": "none", "encoder": "libjpeg", "tables": "auto"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("webp", "encoder must be one of"),
        ("vae+libjpeg", "editor must be one of"),
        ("libjpeg:quality=20", "'quality' is not a tfjpeg.compress_image keyword"),
        ("libjpeg:bogus=1", r"known: editor, encoder, subsampling"),
        ("libjpeg:subsampling", "KEY=VALUE"),
        ("", "non-empty"),
    ],
)
def test_bad_specs_are_clear_errors(spec, match):
    with pytest.raises(InvalidArgumentError, match=match):
        parse_method(spec)


def test_encode_functions_write_what_compress_image_writes():
    image = natural_image(40, 48, seed=2)
    plain = parse_method("mozjpeg:subsampling=444")
    assert (
        encode_function(plain)(image, 30)
        == compress_image(
            image, quality=30, editor="none", encoder="mozjpeg", subsampling="444"
        ).jpeg
    )
    edits: dict = {}
    edited = encode_function(parse_method("smoothing+libjpeg"), edits=edits)
    assert (
        edited(image, 12)
        == compress_image(
            image, quality=12, editor="smoothing", tables="standard", trellis=0
        ).jpeg
    )
    # "default" is what compress_image writes with no options; "libjpeg" the plain anchor
    assert encode_function(parse_method("default"))(image, 20) == compress_image(image, 20).jpeg
    assert (
        encode_function(parse_method("libjpeg"))(image, 20)
        == compress_image(image, 20, tables="standard", trellis=0).jpeg
    )
    assert list(edits) == [("smoothing", "420")] and list(edits[("smoothing", "420")]) == [12]
    # another encoder of the same image reuses the edit
    moz = encode_function(parse_method("smoothing+mozjpeg"), edits=edits)
    assert (
        moz(image, 12)
        == compress_image(
            image, quality=12, editor="smoothing", encoder="mozjpeg", tables="standard"
        ).jpeg
    )
    assert list(edits[("smoothing", "420")]) == [12]
