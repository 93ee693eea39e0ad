"""The layer rule of docs/ARCHITECTURE.md: every module imports only the layers below its own.

Each module of the tfjpeg package is parsed with ``ast`` (imports inside functions count too) and
every ``tfjpeg`` import is checked against the layer order

    errors, _checks → jpeg → io → rate → editors | decoders → losses → metrics → rdo → data → models
    → serving → explore → api (compression, decoding, demo, the package root) → cli

A module may import its own unit (its subpackage, e.g. ``tfjpeg.jpeg.codec`` imports
``tfjpeg.jpeg.tables``) and any unit of a lower layer. ``editors`` and ``decoders`` are peers in
one layer and may not import each other. ``jpeg/`` therefore imports nothing of tfjpeg but
``errors`` and ``_checks``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tfjpeg

PACKAGE_DIR = Path(tfjpeg.__file__).resolve().parent

#: Layers, lowest first; each a tuple of units. A unit is a subpackage or a top-level module.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("tfjpeg.errors", "tfjpeg._checks"),
    ("tfjpeg.jpeg",),
    ("tfjpeg.io",),
    ("tfjpeg.rate",),
    ("tfjpeg.editors", "tfjpeg.decoders"),
    ("tfjpeg.losses",),
    ("tfjpeg.metrics",),
    ("tfjpeg.rdo",),  # per-image RD optimization: the codec, the rate model and the losses
    ("tfjpeg.data",),
    ("tfjpeg.models",),  # the registry, presets and the Keras save/load convention
    ("tfjpeg.explore",),  # the exploration engine and the control signal z (serving draws z)
    ("tfjpeg.serving",),
    ("tfjpeg.api", "tfjpeg"),
    ("tfjpeg.cli", "tfjpeg.__main__"),
)

#: Units of one layer that form one whole and may import each other (the api layer: the package
#: root re-exports ``compress``/``decode``; the CLI reads the version from the root).
SAME_UNIT_GROUPS: tuple[frozenset[str], ...] = (
    frozenset(LAYERS[-2]),
    frozenset(LAYERS[-1]),
    frozenset(LAYERS[0]),
)

#: (importing module, imported module) pairs that break the rule today and are owned by another
#: change; each with the reason. Keep this empty where possible.
#: The one kind allowed: a model class names its shipped presets (the keras-hub ``from_preset``
#: convention), so its ``from_preset`` (and the rate model's default parameters) import the
#: registry lazily, at call time, never at import.
ALLOWED_UPWARD_IMPORTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("tfjpeg.decoders.block_unet", "tfjpeg.models.presets"),
        ("tfjpeg.decoders.consistent", "tfjpeg.models.presets"),
        ("tfjpeg.decoders.one_to_many", "tfjpeg.models.presets"),
        ("tfjpeg.decoders.posterior", "tfjpeg.models.presets"),
        ("tfjpeg.editors.cascade", "tfjpeg.models.presets"),
        ("tfjpeg.editors.smoothing", "tfjpeg.models.presets"),
        ("tfjpeg.editors.spatial_transformer", "tfjpeg.models.presets"),
        ("tfjpeg.rate.predictor", "tfjpeg.models.presets"),
        ("tfjpeg.rate.predictor", "tfjpeg.models"),
    }
)

_LAYER_OF = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    base = PACKAGE_DIR.parent / rel
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _unit(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "tfjpeg"
    return ".".join(parts[:2])


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """Every tfjpeg module imported anywhere in the file, with its line number."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "tfjpeg"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "tfjpeg":
                continue
            for alias in node.names:  # ``from tfjpeg import demo`` imports tfjpeg.demo
                sub = f"{target}.{alias.name}"
                found.append((sub if _is_module(sub) else target, node.lineno))
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def _violations() -> list[str]:
    out = []
    for path in _modules():
        module = _module_name(path)
        unit = _unit(module)
        for imported, line in _imports(path, module):
            target_unit = _unit(imported)
            if target_unit == unit or (module, imported) in ALLOWED_UPWARD_IMPORTS:
                continue
            if any(unit in g and target_unit in g for g in SAME_UNIT_GROUPS):
                continue
            if _LAYER_OF[target_unit] >= _LAYER_OF[unit]:
                out.append(f"{module}:{line} imports {imported} (layer {target_unit})")
    return list(dict.fromkeys(out))


def test_every_unit_of_the_package_has_a_layer():
    units = {_unit(_module_name(p)) for p in _modules()}
    assert units - set(_LAYER_OF) == set()


def test_modules_import_only_lower_layers():
    assert _violations() == []


def test_jpeg_imports_nothing_of_tfjpeg_but_errors_and_checks():
    for path in (PACKAGE_DIR / "jpeg").rglob("*.py"):
        module = _module_name(path)
        for imported, line in _imports(path, module):
            assert _unit(imported) in ("tfjpeg.jpeg", "tfjpeg.errors", "tfjpeg._checks"), (
                f"{module}:{line} imports {imported}"
            )


def test_io_imports_only_jpeg_errors_and_checks():
    for path in (PACKAGE_DIR / "io").rglob("*.py"):
        module = _module_name(path)
        for imported, line in _imports(path, module):
            assert _unit(imported) in (
                "tfjpeg.io",
                "tfjpeg.jpeg",
                "tfjpeg.errors",
                "tfjpeg._checks",
            ), f"{module}:{line} imports {imported}"


def test_allow_list_holds_only_imports_that_exist():
    present = {
        (_module_name(p), imported)
        for p in _modules()
        for imported, _ in _imports(p, _module_name(p))
    }
    assert ALLOWED_UPWARD_IMPORTS.issubset(present)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from tfjpeg.io.limits import resolve_max_pixels", "tfjpeg.io.limits"),
        ("import tfjpeg.rate.huffman", "tfjpeg.rate.huffman"),
        ("from tfjpeg import errors", "tfjpeg.errors"),
        ("from tfjpeg import __version__", "tfjpeg"),
        ("def f():\n    from tfjpeg.serving import decoders", "tfjpeg.serving.decoders"),
    ],
)
def test_the_checker_sees_every_kind_of_import(tmp_path, source, expected):
    path = tmp_path / "probe.py"
    path.write_text(source, encoding="utf-8")
    assert [name for name, _ in _imports(path, "tfjpeg.jpeg.probe")] == [expected]


def test_an_upward_import_inside_a_function_is_reported(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from tfjpeg.io import read_jpeg\n", encoding="utf-8")
    assert _imports(probe, "tfjpeg.jpeg.probe") == [("tfjpeg.io", 2)]
    assert _LAYER_OF[_unit("tfjpeg.io")] > _LAYER_OF[_unit("tfjpeg.jpeg.probe")]
