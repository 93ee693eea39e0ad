"""tfjpeg.io.atomic: save_bytes_atomic never leaves half a file nor overwrites the input."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from conftest import natural_image

from tfjpeg.io import atomic as atomic_module
from tfjpeg.io import (
    encode_pixels,
    save_bytes_atomic,
)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(37, 53, seed=3)  # odd size: partial blocks and partial MCUs


@pytest.fixture(scope="module")
def baseline(image) -> bytes:
    return encode_pixels(image, 75)


def test_save_bytes_atomic_writes_and_refuses_to_overwrite(tmp_path):
    dest = tmp_path / "out.jpg"
    assert save_bytes_atomic(dest, b"first") == dest and dest.read_bytes() == b"first"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_bytes_atomic(dest, b"second")
    assert dest.read_bytes() == b"first"
    save_bytes_atomic(dest, b"second", overwrite=True)
    assert dest.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"]  # no temporary files left
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~atomic_module._umask()
    with pytest.raises(TypeError):
        save_bytes_atomic(tmp_path / "x.jpg", "not bytes")


def test_save_bytes_atomic_never_writes_onto_the_source(tmp_path):
    source = tmp_path / "input.jpg"
    source.write_bytes(b"precious")
    os.symlink(source, tmp_path / "alias.jpg")
    os.link(source, tmp_path / "hardlink.jpg")
    for target in (source, tmp_path / "alias.jpg", tmp_path / "hardlink.jpg", str(source)):
        with pytest.raises(ValueError, match="input file"):
            save_bytes_atomic(target, b"edited", overwrite=True, source=source)
    assert source.read_bytes() == b"precious"
    save_bytes_atomic(tmp_path / "edited.jpg", b"edited", source=source)
    assert (tmp_path / "edited.jpg").read_bytes() == b"edited"
