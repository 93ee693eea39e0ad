"""The suite tests the installed tfjpeg, not the checkout's tfjpeg/ (trainers/ comes from the
checkout, which is not installed). ``.ci/run`` sets ``TFJPEG_TEST_INSTALLED=1`` after a plain
(non-editable) ``pip install``; an editable install for development runs the checkout on purpose."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import REPO

import tfjpeg


def _inside(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


def test_trainers_come_from_the_checkout():
    import trainers

    assert all(_inside(Path(folder) / "x", REPO) for folder in trainers.__path__)


@pytest.mark.skipif(
    os.environ.get("TFJPEG_TEST_INSTALLED") != "1",
    reason="TFJPEG_TEST_INSTALLED=1 (set by .ci/run) says tfjpeg is installed, not editable",
)
def test_tfjpeg_is_imported_from_the_installed_package_not_the_checkout():
    assert not _inside(Path(tfjpeg.__file__), REPO), tfjpeg.__file__
    assert "-packages" in Path(tfjpeg.__file__).resolve().as_posix()
    # the checkout is on sys.path only after site-packages (for trainers/)
    checkout = [i for i, p in enumerate(sys.path) if p and Path(p).resolve() == REPO.resolve()]
    packages = [i for i, p in enumerate(sys.path) if p.endswith("-packages")]
    assert checkout and packages and min(checkout) > max(packages), sys.path
