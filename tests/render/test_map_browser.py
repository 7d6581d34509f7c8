"""The journey map opened in real headless Chromium at laptop sizes: nothing overflows, no two
labels of the grid overlap, every stage column is on screen, the charts rendered."""

from __future__ import annotations

import json

import pytest

from parcours.data.importer import import_file
from parcours.render.map_data import journey_map
from parcours.render.map_html import write_map
from parcours.workspace import Workspace

from .render_support import check_layout


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def maps(demo_ws):
    """The demo's map in each language, computed once for the module."""
    return {lang: journey_map(demo_ws.store, demo_ws.model, lang=lang) for lang in ("fr", "en")}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_map_fits_a_laptop_screen(demo_ws, maps, browser, shots, tmp_path, lang):
    jm = maps[lang]
    html = write_map(jm, tmp_path / "map.html")
    text = html.read_text(encoding="utf-8")
    assert "<script src=" not in text and "<link " not in text  # self-contained (the browser checks requests)
    layout = check_layout(browser, html, shots, f"map-{lang}", stages=len(demo_ws.model.stages))
    assert [s["stage"] for s in layout["stages"]] == demo_ws.model.path_order
    assert (shots / f"map-{lang}-1366x768.png").stat().st_size > 50_000


def test_eight_stage_map_fits_1366(demo_ws, browser, shots, tmp_path):
    """The widest built-in model (huit-etapes) on the smallest laptop."""
    ws = Workspace.init(tmp_path / "eight", template="huit-etapes")
    with ws:
        for kind in ("customers", "events", "feedback"):
            import_file(ws.store, demo_ws.path / "data" / f"{kind}.parquet", kind)
        ws.refresh()
        jm = journey_map(ws.store, ws.model, lang="fr")
        html = write_map(jm, tmp_path / "map8.html")
        check_layout(browser, html, shots, "map-8", stages=8)


def test_json_and_markdown_carry_the_same_map(maps, tmp_path):
    jm = maps["en"]
    data = json.loads(write_map(jm, tmp_path / "m.json").read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(jm.to_dict(), default=str))
    md = write_map(jm, tmp_path / "m.md").read_text(encoding="utf-8")
    for s in jm.stages:
        assert s["label"] in md
        assert s["actions"][0]["name"] in md
    assert "Designed vs lived" in md and "Empathy map" in md


def test_png_and_svg_exports(maps, tmp_path):
    pytest.importorskip("playwright")  # same condition as the browser tests: chromium is here
    from .render_support import CHROMIUM
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed")
    jm = maps["fr"]
    png = write_map(jm, tmp_path / "m.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 1440 and height > 1500  # the whole page, not only the first screen
    svg = write_map(jm, tmp_path / "m.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "data:image/png;base64," in svg


def test_unknown_extension_is_a_clear_error(maps, tmp_path):
    from parcours.errors import ConfigError

    jm = maps["en"]
    with pytest.raises(ConfigError, match=r"\.html, \.md, \.json, \.png, \.svg"):
        write_map(jm, tmp_path / "m.pdf")


def test_the_layout_checks_catch_a_broken_page(browser, tmp_path):
    """The measures the tests rely on do see an overflowing cell and two overlapping labels."""
    from parcours.render.html import page as html_page
    from .render_support import LAYOUT_JS

    cells = ('<div class="jm-corner"></div><div class="jm-head" data-stage="a">A</div>'
             '<div class="jm-head" data-stage="b">B</div><div class="jm-lane">lane</div>'
             '<div class="jm-cell"><span style="white-space:nowrap">' + "long_name_" * 60 + "</span></div>"
             '<div class="jm-cell" style="position:relative"><span>first label</span>'
             '<span style="position:absolute;left:6px;top:6px">second label</span></div>')
    f = tmp_path / "broken.html"
    f.write_text(html_page("broken", f'<div class="jm-grid" style="--n:2">{cells}</div>', "en", charts=False),
                 encoding="utf-8")
    page = browser.new_page()
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f.as_uri())
    layout = page.evaluate(LAYOUT_JS)
    page.close()
    assert any(o["cls"] == "jm-cell" for o in layout["overflowing"])
    assert ["first label", "second label"] in layout["overlaps"]
