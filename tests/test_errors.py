"""tfjpeg.errors: one hierarchy, and every error tfjpeg raises on purpose belongs to it."""

from __future__ import annotations

import inspect

import pytest

import tfjpeg
from tfjpeg import errors
from tfjpeg.io import save_bytes_atomic
from tfjpeg.metrics.bd_rate import BDRateError


def test_every_error_class_is_a_tfjpeg_error_and_exported_at_the_top_level():
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert {c.__name__ for c in classes} == set(errors.__all__)
    assert all(issubclass(c, errors.TfjpegError) for c in classes)
    for name in ("InvalidImageError", "InvalidJpegError", "ImageTooLargeError", "TfjpegError"):
        assert getattr(tfjpeg, name) is getattr(errors, name)


def test_errors_keep_the_builtin_class_callers_already_catch():
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.InvalidArgumentTypeError, TypeError)
    assert issubclass(errors.ModelNotFoundError, FileNotFoundError)
    assert issubclass(errors.OutputExistsError, FileExistsError)
    assert issubclass(BDRateError, errors.TfjpegError) and issubclass(BDRateError, ValueError)


def test_an_existing_output_raises_output_exists_error(tmp_path):
    save_bytes_atomic(tmp_path / "a.jpg", b"x")
    with pytest.raises(errors.OutputExistsError, match="overwrite=True"):
        save_bytes_atomic(tmp_path / "a.jpg", b"y")


def test_a_folder_without_a_decoder_raises_model_not_found_error(tmp_path):
    from tfjpeg.serving.decoders import load_decoder

    with pytest.raises(errors.ModelNotFoundError, match="not an exported tfjpeg model"):
        load_decoder(tmp_path)


def test_errors_raised_while_tracing_a_tf_function_keep_their_type():
    import tensorflow as tf

    @tf.function
    def traced(x):
        raise errors.InvalidArgumentError(f"bad x. Received: x={x.shape}")

    with pytest.raises(errors.InvalidArgumentError, match="bad x"):
        traced(tf.constant(1))


# ------------------------------------------------------------------ bad arguments, by name
def _bad_argument_cases():
    import numpy as np

    from tfjpeg.data import load_image
    from tfjpeg.io import (
        decode_pixels,
        encode_coefficients,
        encode_pixels,
        read_jpeg,
    )

    gray = np.zeros((8, 8), np.uint8)
    jpeg = encode_pixels(gray, 75)
    coeffs = read_jpeg(jpeg)
    cases = []
    for reader in (read_jpeg, decode_pixels):
        name = reader.__name__
        for bad in (None, 3, 2.5, True, ["a"]):
            cases.append((f"{name}-source={bad!r}", "source", lambda r=reader, b=bad: r(b)))
        for bad in ("100", True, float("nan"), -1, 0, 2.5, [5]):  # (None: the default limit)
            cases.append(
                (
                    f"{name}-max_pixels={bad!r}",
                    "max_pixels",
                    lambda r=reader, b=bad: r(jpeg, max_pixels=b),
                )
            )
    for bad in ("yes", None, 1):
        cases.append(
            (
                f"read_jpeg-allow_rgb={bad!r}",
                "allow_rgb",
                lambda b=bad: read_jpeg(jpeg, allow_rgb=b),
            )
        )
    for bad in (None, "75", True, float("nan"), -1, 0, 101, 2**70, 75.5):
        cases.append(
            (f"encode_pixels-quality={bad!r}", "quality", lambda b=bad: encode_pixels(gray, b))
        )
    for bad in (
        None,
        "x",
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((8, 8), np.float32),
        np.full((8, 8), np.nan),
        np.zeros((0, 8), np.uint8),
        np.zeros(8, np.uint8),
    ):
        cases.append(
            (
                f"encode_pixels-image={type(bad).__name__}",
                "image",
                lambda b=bad: encode_pixels(b, 75),
            )
        )
    for key, bad in (
        ("subsampling", "411"),
        ("subsampling", None),
        ("encoder", "turbo"),
        ("encoder", 1),
        ("optimize", "no"),
        ("optimize", None),
        ("progressive", 1),
    ):
        cases.append(
            (
                f"encode_pixels-{key}={bad!r}",
                key,
                lambda k=key, b=bad: encode_pixels(gray, 75, **{k: b}),
            )
        )
    for bad in (None, jpeg, "x", gray):
        cases.append(
            (
                f"encode_coefficients-coeffs={type(bad).__name__}",
                "coeffs",
                lambda b=bad: encode_coefficients(b),
            )
        )
    cases.append(
        (
            "encode_coefficients-optimize='yes'",
            "optimize",
            lambda: encode_coefficients(coeffs, optimize="yes"),
        )
    )
    for key, bad in (
        ("path", None),
        ("path", 3),
        ("path", ""),
        ("data", None),
        ("data", "text"),
        ("data", 3),
        ("overwrite", "yes"),
        ("overwrite", None),
        ("source", 3),
    ):

        def call(k=key, b=bad):
            kwargs = {"path": "unused.bin", "data": b"x", "overwrite": False, "source": None}
            kwargs[k] = b
            save_bytes_atomic(kwargs.pop("path"), kwargs.pop("data"), **kwargs)

        cases.append((f"save_bytes_atomic-{key}={bad!r}", key, call))
    for key, bad in (
        ("path", None),
        ("path", 3),
        ("mode", "CMYK"),
        ("mode", None),
        ("max_pixels", "1"),
        ("max_pixels", -5),
        ("max_pixels", True),
        ("max_pixels", float("nan")),
    ):

        def call(k=key, b=bad):
            kwargs = {"mode": "RGB", "max_pixels": None}
            path = b if k == "path" else "unused.png"
            if k != "path":
                kwargs[k] = b
            load_image(path, **kwargs)

        cases.append((f"load_image-{key}={bad!r}", key, call))
    return cases


_CASES = _bad_argument_cases()


@pytest.mark.parametrize(("argument", "call"), [c[1:] for c in _CASES], ids=[c[0] for c in _CASES])
def test_bad_arguments_raise_a_tfjpeg_error_naming_the_argument(
    argument, call, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # nothing may be written (save_bytes_atomic's "unused.bin")
    with pytest.raises(errors.TfjpegError) as info:
        call()
    assert argument in str(info.value)
    assert list(tmp_path.iterdir()) == []
