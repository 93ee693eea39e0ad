"""tfjpeg.io.atomic: save_bytes_atomic never leaves half a file nor overwrites the input."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading

import pytest

from tfjpeg.io import atomic as atomic_module
from tfjpeg.io import (
    save_bytes_atomic,
)


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


# A child that writes 64 MiB through a slow file object (1 MiB per 50 ms), printing WRITING once
# the temporary file holds data. argv: destination, "default" or "exit" (a Python handler that
# raises SystemExit, as many programs install).
_SLOW_WRITER = r"""
import os, signal, sys, time
from tfjpeg.io import atomic

if sys.argv[2] == "exit":
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))
else:  # the default action, whatever this child inherited (nohup and some CI runners ignore HUP)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
real_fdopen = os.fdopen


class Slow:
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def write(self, data):
        for i in range(0, len(data), 1 << 20):
            self.f.write(data[i : i + (1 << 20)])
            self.f.flush()
            if i == 0:
                print("WRITING", flush=True)
            time.sleep(0.05)

    def flush(self):
        self.f.flush()

    def fileno(self):
        return self.f.fileno()


os.fdopen = lambda fd, mode: Slow(real_fdopen(fd, mode))
atomic.save_bytes_atomic(sys.argv[1], b"x" * (64 << 20))
print("DONE", flush=True)
"""


@pytest.mark.parametrize(
    ("signum", "handler", "returncode"),
    [
        (signal.SIGTERM, "default", -signal.SIGTERM),
        (signal.SIGHUP, "default", -signal.SIGHUP),
        (signal.SIGTERM, "exit", 3),
    ],
)
def test_termination_during_a_write_leaves_no_temporary_file(tmp_path, signum, handler, returncode):
    dest = tmp_path / "out.jpg"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(dest), handler],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline().strip() == "WRITING"
        temporary = [p.name for p in tmp_path.iterdir()]
        assert len(temporary) == 1 and temporary[0].startswith(".out.jpg.")
        assert temporary[0].endswith(".tmp")
        child.send_signal(signum)
        assert child.wait(timeout=60) == returncode  # killed by the signal, as without tfjpeg
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "DONE" not in child.stdout.read()
    assert list(tmp_path.iterdir()) == []  # neither the temporary file nor the output


def test_signal_handlers_are_restored_and_only_installed_in_the_main_thread(tmp_path):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    seen = {}
    real_write = atomic_module._write_and_publish

    def spy(*args):
        seen.update({s: signal.getsignal(s) for s in before})
        return real_write(*args)

    atomic_module._write_and_publish = spy
    try:
        save_bytes_atomic(tmp_path / "a.bin", b"data")
        for s, h in before.items():
            assert (seen[s] is not h) == (h == signal.SIG_DFL)  # ours only over the default
        seen.clear()
        worker = threading.Thread(target=save_bytes_atomic, args=(tmp_path / "b.bin", b"data"))
        worker.start()
        worker.join()
        assert seen == before  # a non-main thread cannot (and does not) touch the handlers
    finally:
        atomic_module._write_and_publish = real_write
    assert {s: signal.getsignal(s) for s in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.bin"]
