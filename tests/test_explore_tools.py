"""Exploration tools without a decoder: regions, windows, parameter checks, period finding."""

from __future__ import annotations

import numpy as np
import pytest

from tfjpeg.errors import InvalidArgumentError
from tfjpeg.explore.tools import PARAM_KINDS, TOOLS, dominant_period, resolve_params
from tfjpeg.explore.window import Span, edit_windows, region_mask


def test_region_mask_accepts_rectangles_masks_and_none_and_names_bad_regions():
    assert region_mask(None, 4, 5).all()
    mask = region_mask((1, 2, 3, 5), 4, 5)
    assert mask.sum() == 6 and mask[1:3, 2:5].all()
    own = np.zeros((4, 5), bool)
    own[0, 0] = True
    assert (region_mask(own, 4, 5) == own).all()
    for bad in [
        (0, 0, 0, 3),
        (0, 0, 5, 3),
        (1, 2, 3),
        "abc",
        (0.5, 0, 2, 2),
        np.zeros((4, 5), bool),
        np.ones((3, 5), bool),
        np.ones((4, 5), np.uint8),
        (True, 0, 2, 2),
    ]:
        with pytest.raises(InvalidArgumentError, match="region"):
            region_mask(bad, 4, 5)


def test_edit_windows_nest_align_to_mcus_and_clip_to_the_grid():
    mask = region_mask((40, 40, 56, 48), 200, 200)  # blocks rows 5..6, cols 5
    w = edit_windows(mask, (25, 25), (2, 2), z_margin=2, out_margin=2, context=4)
    assert w.zone == Span(2, 10, 2, 8)
    for outer, inner in ((w.written, w.zone), (w.net, w.written), (w.render, w.written)):
        assert outer.r0 <= inner.r0 and outer.c0 <= inner.c0
        assert outer.r1 >= inner.r1 and outer.c1 >= inner.c1
    for span in (w.zone, w.written, w.net, w.render):
        assert span.r0 % 2 == 0 and span.c0 % 2 == 0
        assert span.r1 % 2 == 0 or span.r1 == 25
    edge = edit_windows(region_mask((190, 190, 200, 200), 200, 200), (25, 25), (2, 2), 2, 2, 4)
    assert edge.net.r1 == 25 and edge.net.c1 == 25
    assert Span(2, 10, 2, 8).pixels(60, 200) == (16, 60, 16, 64)
    # chroma rows/cols under a span of a 4:2:0 grid
    assert Span(2, 9, 0, 4).component((2, 2), (5, 13)) == (slice(1, 5), slice(0, 2))


def test_every_tool_spec_is_renderable_and_its_defaults_resolve():
    for name, tool in TOOLS.items():
        spec = tool.spec
        assert spec.name == name and spec.description
        names = [p.name for p in spec.params]
        assert len(names) == len(set(names)) and {"steps", "learning_rate"} <= set(names)
        for p in spec.params:
            assert p.kind in PARAM_KINDS
            if p.kind == "choice":
                assert p.default in p.choices
    resolved = resolve_params(TOOLS["variance"].spec, {"direction": -1})
    assert resolved["direction"] == -1 and resolved["steps"] == 10


@pytest.mark.parametrize(
    ("tool", "params", "named"),
    [
        ("variance", {"direction": 2}, "direction"),
        ("variance", {"amout": 1.0}, "amout"),
        ("brightness", {"amount": "a lot"}, "amount"),
        ("brightness", {"amount": float("nan")}, "amount"),
        ("brightness", {"steps": 0}, "steps"),
        ("brightness", {"steps": 2.5}, "steps"),
        ("imprint", {}, "content"),
        ("imprint", {"content": np.zeros((4, 4, 3), np.float32)}, "content"),
        ("imprint", {"content": np.zeros((4, 4, 3), np.uint8), "shift_search": 1}, "shift_search"),
        ("classifier", {}, "target"),
        ("periodicity", {"axis": "diagonal"}, "axis"),
    ],
)
def test_bad_parameters_are_refused_by_name(tool, params, named):
    with pytest.raises(InvalidArgumentError, match=named):
        resolve_params(TOOLS[tool].spec, params)


def test_dominant_period_finds_the_period_of_stripes():
    yy, xx = np.mgrid[0:48, 0:64]
    stripes = np.sin(2 * np.pi * xx / 7.0) + 0.1 * np.cos(2 * np.pi * yy / 40.0)
    assert dominant_period(stripes, 1) == 7
    assert dominant_period(np.sin(2 * np.pi * yy / 9.0), 0) == 9
    assert dominant_period(np.zeros((16, 16)), 0) == 0


def test_windows_are_python_ints_whatever_the_mask_indices_are():
    w = edit_windows(region_mask((64, 64, 80, 80), 400, 400), (50, 50), (2, 2), 2, 2, 4)
    for span in (w.zone, w.written, w.net, w.render):
        assert all(type(v) is int for v in (span.r0, span.r1, span.c0, span.c1))
