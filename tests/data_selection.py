"""Which tests depend on the data folders (a pytest plugin of conftest.py, used by ``.ci/run``).

CI runs the suite twice: with the data folders, then as on a fresh machine (no ``TFJPEG_*``
variable, no ``../shared`` fallback). A test that never looks at those variables runs the same
way both times, so the second pass only needs the tests that do. This plugin finds them by
watching, not by guessing:

- ``CI_DATA_TESTS_OUT=FILE`` (pass 1): every read of a ``TFJPEG_*`` variable (``os.environ``,
  ``os.getenv``, ``in``) that can read something else in pass 2 (the value the session
  inherited; not a folder a test set itself) and every Python child process (``python``,
  ``tfjpeg``) started with an inherited data folder variable is charged to what was running:
  the test, the fixture being set up (then every test using that fixture definition depends on
  it), or the module being imported (then all its tests do). Other children (cjpeg, jpegqs,
  chromium) do not read ``TFJPEG_*`` variables. The record is
  written to FILE as JSON when the session ends. Under pytest-xdist each worker writes its own
  part (``FILE.gw0``, ...) and the controller, which ends after them, merges the parts into FILE.
- ``CI_DATA_TESTS_IN=FILE`` (pass 2): only the recorded tests are run; the others are
  deselected (pytest reports how many). A missing or unreadable FILE is an error.

The variable names start with ``CI_``, not ``TFJPEG_``, because pass 2 unsets every ``TFJPEG_*``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

OUT_ENV = "CI_DATA_TESTS_OUT"
IN_ENV = "CI_DATA_TESTS_IN"
#: Variables whose value changes what a test sees between the two passes.
WATCHED_PREFIX = "TFJPEG_"
IGNORED = frozenset({"TFJPEG_TEST_INSTALLED"})
#: Variables that make a child process see data (the child inherits them).
DATA_VARIABLES = ("TFJPEG_KODAK_DIR", "TFJPEG_TRAIN_DIR")
#: Set only in pass 2 (turns off conftest's ``../shared`` fallback).
NO_SHARED = "TFJPEG_NO_SHARED"
#: pytest-xdist's worker id (gw0, gw1, ...) in a worker process; unset in the controller.
XDIST_WORKER = "PYTEST_XDIST_WORKER"


class DataRecord:
    """What depends on the data: test node ids, fixture names, module (collector) node ids."""

    def __init__(self) -> None:
        self.tests: set[str] = set()
        self.fixtures: set[str] = set()
        self.modules: set[str] = set()
        self.current_item: str | None = None
        self.current_collector: str | None = None
        self.fixture_stack: list[str] = []

    def charge(self) -> None:
        """Charge one data-dependent event to whatever is running now."""
        if self.fixture_stack:
            self.fixtures.update(self.fixture_stack)
        if self.current_item is not None:
            self.tests.add(self.current_item)
        elif self.current_collector is not None:
            self.modules.add(self.current_collector)

    def to_json(self) -> dict[str, list[str]]:
        return {
            "tests": sorted(self.tests),
            "fixtures": sorted(self.fixtures),
            "modules": sorted(self.modules),
        }


def merge_records(records: Iterable[dict[str, list[str]]]) -> dict[str, list[str]]:
    """The union of several records (the parts of an xdist run)."""
    merged: dict[str, set[str]] = {"tests": set(), "fixtures": set(), "modules": set()}
    for record in records:
        for key, names in merged.items():
            names.update(record.get(key, ()))
    return {key: sorted(names) for key, names in merged.items()}


def fixture_key(baseid: str, argname: str) -> str:
    """A fixture definition's name in the record: where it is defined, and its name (two
    modules' fixtures of the same name are different fixtures)."""
    return f"{baseid}::{argname}"


def depends_on_data(nodeid: str, fixture_keys: Iterable[str], record: dict) -> bool:
    """Whether a test (its node id and the :func:`fixture_key` of each fixture definition it
    uses) is in a pass-1 record."""
    if nodeid in record["tests"] or set(fixture_keys) & set(record["fixtures"]):
        return True
    return any(nodeid == m or nodeid.startswith(m + "::") for m in record["modules"])


def _watched(key: object) -> bool:
    return isinstance(key, str) and key.startswith(WATCHED_PREFIX) and key not in IGNORED


def _differs_in_pass_2(key: str, value: str | None, inherited: dict[str, str]) -> bool:
    """Whether reading ``key`` (now ``value``, None when unset) can give something else in pass 2,
    which starts with every watched variable unset but ``TFJPEG_NO_SHARED=1``: only a value the
    session inherited, still unchanged. A value a test set itself (``monkeypatch.setenv`` to its
    own folder) or removed is set or removed the same way in pass 2."""
    if key == NO_SHARED:
        return True
    return value is not None and inherited.get(key) == value


def _install_recorder(record: DataRecord) -> None:
    """Wrap ``os.environ`` reads and ``subprocess.Popen`` so that data reads are charged."""
    base = os.environ
    inherited = {key: value for key, value in base.items() if _watched(key)}

    class RecordingEnviron(type(base)):  # os._Environ; shares the same underlying data
        def _charge_read(self, key) -> None:
            if _watched(key) and _differs_in_pass_2(key, base.get(key), inherited):
                record.charge()

        def __getitem__(self, key):
            self._charge_read(key)
            return super().__getitem__(key)

        def __contains__(self, key):
            self._charge_read(key)
            return super().__contains__(key)

    # Not a new environment: the same data, with its reads recorded.
    os.environ = RecordingEnviron(  # type: ignore[misc]  # noqa: B003
        base._data, base.encodekey, base.decodekey, base.encodevalue, base.decodevalue
    )

    original_init = subprocess.Popen.__init__

    def recording_init(self, args, *rest, **kwargs):
        env = kwargs.get("env")
        child_env = env if env is not None else base  # ``base``: reads not recorded
        inherits_data = any(
            child_env.get(name) is not None and child_env.get(name) == inherited.get(name)
            for name in DATA_VARIABLES
        )
        if inherits_data and _python_child(args, kwargs.get("executable")):
            record.charge()
        return original_init(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = recording_init  # type: ignore[method-assign]


def _python_child(args, executable) -> bool:
    """Whether a child process runs Python (which may read ``TFJPEG_*``): its program is this
    interpreter, a ``python*`` or ``tfjpeg``."""
    if executable is None:
        if isinstance(args, (str, bytes, os.PathLike)):
            text = os.fsdecode(args)
            executable = text.split()[0] if text.split() else text
        else:
            executable = os.fsdecode(args[0]) if len(args) else ""
    program = os.fsdecode(executable)
    name = os.path.basename(program)
    return program == sys.executable or name.startswith("python") or name == "tfjpeg"


_RECORD: DataRecord | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _RECORD
    if os.environ.get(OUT_ENV):
        _RECORD = DataRecord()
        _install_recorder(_RECORD)


@contextlib.contextmanager
def _running(attribute: str, value: str | None):
    """While a hook runs, charge the record's events to ``value`` (``attribute`` of the record:
    ``current_collector`` or ``current_item``); nothing without a record."""
    if _RECORD is None:
        yield
        return
    setattr(_RECORD, attribute, value)
    try:
        yield
    finally:
        setattr(_RECORD, attribute, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    with _running("current_collector", collector.nodeid or None):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with _running("current_item", item.nodeid):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    if _RECORD is None:
        yield
        return
    _RECORD.fixture_stack.append(fixture_key(fixturedef.baseid, fixturedef.argname))
    try:
        yield
    finally:
        _RECORD.fixture_stack.pop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RECORD is None:
        return
    out = Path(os.environ[OUT_ENV])
    worker = os.environ.get(XDIST_WORKER)
    if worker:  # an xdist worker: its part; the controller merges
        out.with_name(f"{out.name}.{worker}").write_text(json.dumps(_RECORD.to_json()) + "\n")
        return
    parts = sorted(out.parent.glob(f"{out.name}.gw*"))
    records = [_RECORD.to_json()] + [json.loads(part.read_text()) for part in parts]
    out.write_text(json.dumps(merge_records(records), indent=1) + "\n")
    for part in parts:
        part.unlink()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    source = os.environ.get(IN_ENV)
    if not source:
        return
    try:
        record = json.loads(Path(source).read_text())
    except (OSError, ValueError) as err:
        message = f"{IN_ENV}={source}: cannot read the pass-1 record ({err})"
        raise pytest.UsageError(message) from err
    keep, drop = [], []
    for item in items:
        definitions = getattr(item, "_fixtureinfo", None)
        keys = [
            fixture_key(d.baseid, d.argname)
            for defs in (definitions.name2fixturedefs.values() if definitions else ())
            for d in defs
        ]
        target = keep if depends_on_data(item.nodeid, keys, record) else drop
        target.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
