"""README.md's Python examples run verbatim, each in its own interpreter.

Every ```python block of the README is run in a fresh subprocess whose working folder holds
``photo.png`` and ``photo.jpg`` (a small synthetic photo), with ``TFJPEG_KODAK_DIR`` pointing at a
folder of two such PNGs. A block right after an HTML comment ``<!-- no-test -->`` is skipped: keep
that for blocks that need what a test machine cannot have (a TF Serving server, say).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, pillow_jpeg, synthetic_photo
from PIL import Image

README = REPO / "README.md"
NO_TEST = "<!-- no-test -->"
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(line, code, skipped)`` for each ```python block; ``skipped`` when ``<!-- no-test -->``
    is the last non-blank text before it."""
    blocks = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip()
        blocks.append((line, match.group(1), before.endswith(NO_TEST)))
    return blocks


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_examples_and_few_skips():
    assert len(BLOCKS) >= 5
    assert sum(skipped for _, _, skipped in BLOCKS) <= 1


def test_block_extraction_honours_no_test_markers():
    text = (
        "x\n```python\na = 1\n```\n<!-- no-test -->\n\n```python\nserver()\n```\n```bash\nls\n```\n"
    )
    assert python_blocks(text) == [(2, "a = 1\n", False), (7, "server()\n", True)]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder with photo.png / photo.jpg and a two-image "Kodak" folder."""
    image = synthetic_photo(64, 96, seed=1)
    Image.fromarray(image).save(tmp_path / "photo.png")
    (tmp_path / "photo.jpg").write_bytes(pillow_jpeg(image, 50))
    kodak = tmp_path / "kodak"
    kodak.mkdir()
    for i in (1, 2):
        Image.fromarray(synthetic_photo(32, 48, seed=i)).save(kodak / f"kodim{i:02d}.png")
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("line", "code", "skipped"), BLOCKS, ids=[f"README.md:{line}" for line, _, _ in BLOCKS]
)
def test_readme_python_block_runs(line: int, code: str, skipped: bool, workdir: Path) -> None:
    if skipped:
        pytest.skip(f"README.md:{line} is marked {NO_TEST}")
    script = workdir / f"readme_{line}.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "TFJPEG_KODAK_DIR": str(workdir / "kodak")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("PYTHONSAFEPATH", None)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"README.md:{line} failed:\n{code}\n{proc.stderr[-4000:]}"
