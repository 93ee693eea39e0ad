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

    with pytest.raises(errors.ModelNotFoundError, match="not an exported decoder"):
        load_decoder(tmp_path)


def test_errors_raised_while_tracing_a_tf_function_keep_their_type():
    import tensorflow as tf

    @tf.function
    def traced(x):
        raise errors.InvalidArgumentError(f"bad x. Received: x={x.shape}")

    with pytest.raises(errors.InvalidArgumentError, match="bad x"):
        traced(tf.constant(1))
