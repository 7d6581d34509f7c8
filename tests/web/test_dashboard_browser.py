"""The dashboard in real headless Chromium over a real server: log in, open every page at both
laptop sizes (nothing overflows, no JavaScript error, nothing fetched from another host, every
chart drawn), build a funnel and check the page shows what the API answers, open the map,
look a customer up. Screenshots go to a temporary folder (or ``PARCOURS_SHOTS``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.console import Console

from ..render.render_support import LAPTOPS, browser  # noqa: F401  (a fixture)

from parcours.web.keys import add_key  # noqa: E402
from parcours.web.users import add_user  # noqa: E402
from parcours.workspace import Workspace  # noqa: E402

from .conftest import Live  # noqa: E402

PW = "correct-horse-battery"
PAGES = ["overview", "map", "funnel", "paths", "timeline", "painpoints", "feedback", "segments", "attribution",
         "value", "data", "surveys", "users"]

LAYOUT_JS = r"""
() => {
  const de = document.documentElement;
  const wide = [...document.querySelectorAll('section, .card, table, .chart, header, form')]
      .filter(e => e.getBoundingClientRect().right > de.clientWidth + 1)
      .map(e => e.tagName + '.' + e.className);
  return {scrollWidth: de.scrollWidth, clientWidth: de.clientWidth, wide: wide.slice(0, 5),
          blocks: [...document.querySelectorAll('section.block')].map(b => b.dataset.done || 'pending'),
          charts: [...document.querySelectorAll('.chart, .js-plotly-plot')].map(c => !!c.querySelector('svg.main-svg')),
          errors: [...document.querySelectorAll('.error')].map(e => e.textContent)};
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The demo workspace (600 customers) served, with a viewer, an analyst and an admin."""
    from parcours.demo import run_demo

    path = tmp_path_factory.mktemp("dash") / "demo"
    run_demo(path, customers=600, seed=3, lang="fr", console=Console(quiet=True))
    with Workspace.open(path) as ws:
        write, _ = add_key(ws.store, "write")
        read, _ = add_key(ws.store, "read")
        for name, role in (("ana", "analyst"), ("vic", "viewer"), ("root", "admin")):
            add_user(ws.store, name, role, PW)
    live = Live(path, write, read, "--refresh-every", "0").start()
    yield live
    live.kill()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    target = os.environ.get("PARCOURS_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        return Path(target)
    return tmp_path_factory.mktemp("dashboard-shots")


def open_page(browser, server, path: str, size=(1440, 900)):
    """A new tab on ``path``: JS errors and requests to other hosts are collected."""
    page = browser.new_page()
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.errors, page.foreign = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server.url)
               else (page.foreign.append(route.request.url), route.abort()))
    page.goto(server.url + path)
    return page


def settle(page, timeout=90_000) -> dict:
    """Wait until every block has drawn (or failed), then measure the layout."""
    page.wait_for_function("() => [...document.querySelectorAll('section.block')].every(b => b.dataset.done)",
                           timeout=timeout)
    page.wait_for_timeout(200)
    return page.evaluate(LAYOUT_JS)


def check(page, layout: dict) -> None:
    assert page.errors == [], page.errors
    assert page.foreign == [], page.foreign
    assert layout["errors"] == [], layout["errors"]
    assert all(b == "1" for b in layout["blocks"]), layout["blocks"]
    assert layout["scrollWidth"] <= layout["clientWidth"], layout
    assert layout["wide"] == [], layout["wide"]
    assert all(layout["charts"]), layout["charts"]


@pytest.fixture(scope="module")
def logged_in(browser, server):
    """Log in through the form, as the analyst; the browser keeps the session cookie."""
    page = open_page(browser, server, "/app/funnel")
    assert "/login" in page.url
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", "wrong-password!")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Nom ou mot de passe incorrect."
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", PW)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/app/funnel")
    page.close()
    return browser


@pytest.mark.parametrize("name", PAGES)
def test_every_page_fits_a_laptop(logged_in, server, shots, name):
    if name == "users":  # the analyst may not: 403, the admin's view is tested below
        page = open_page(logged_in, server, "/app/users")
        assert "403" in page.evaluate("() => document.body.innerText") or "admin role" in page.content()
        page.close()
        return
    extra = "?customer=C00000001" if name == "timeline" else ""
    page = open_page(logged_in, server, f"/app/{name}{extra}", LAPTOPS[0])
    settle(page)
    for width, height in LAPTOPS:  # drawn once, measured at each size (Plotly follows the window)
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        layout = page.evaluate(LAYOUT_JS)
        page.screenshot(path=str(shots / f"{name}-{width}x{height}.png"), full_page=True)
        check(page, layout)
    page.close()


def test_build_a_funnel(logged_in, server, shots):
    page = open_page(logged_in, server, "/app/funnel")
    settle(page)
    page.fill("textarea[name=steps]", "product_view\nadd_to_cart\npurchase")
    page.fill("input[name=window]", "7d")
    page.select_option("select[name=by]", "channel")
    page.click("#funnel-form button[type=submit]")
    page.wait_for_url("**/app/funnel?*")
    layout = settle(page)
    page.screenshot(path=str(shots / "funnel-built.png"), full_page=True)
    check(page, layout)
    shown = page.evaluate("() => [...document.querySelectorAll('section.block table')[0].querySelectorAll('tbody tr')]"
                          ".map(r => [r.cells[0].innerText, r.cells[1].innerText])")
    with server.reader() as api:
        expected = api.get("/api/v1/funnel", params=[("step", "product_view"), ("step", "add_to_cart"),
                                                     ("step", "purchase"), ("window", "7d"), ("by", "channel")]).json()
    assert [name for name, _ in shown] == ["product_view", "add_to_cart", "purchase"]
    assert [int(n.replace("\u202f", "").replace("\xa0", "").replace(" ", "")) for _, n in shown] == \
        [s["count"] for s in expected["steps"]]
    assert expected["steps"][0]["count"] > expected["steps"][2]["count"] > 0
    charts = page.locator(".chart")
    assert charts.nth(0).locator("g.point").count() == 3  # one bar per step
    assert charts.nth(1).locator("g.point").count() == 3 * len(expected["breakdown"]) > 0  # per channel
    page.close()


def test_open_the_map_in_english(logged_in, server, shots):
    page = open_page(logged_in, server, "/app/map?lang=en")
    layout = settle(page)
    page.screenshot(path=str(shots / "map-en-1440x900.png"), full_page=True)
    check(page, layout)
    assert page.locator(".jm-grid .jm-head").count() == 5  # the demo model's stages
    assert "Journey map" in page.locator("h1").inner_text()
    page.close()
    page = open_page(logged_in, server, "/app/map?lang=fr")  # the language is remembered
    assert "Carte du parcours" in page.locator("h1").inner_text()
    page.close()


def test_timeline_search(logged_in, server):
    page = open_page(logged_in, server, "/app/timeline")
    page.fill("input[name=customer]", "C00000005")
    page.click("form.builder button[type=submit]")
    page.wait_for_url("**customer=C00000005*")
    check(page, settle(page))
    assert "C00000005" in page.locator("section.block").inner_text()
    page.close()
    page = open_page(logged_in, server, "/app/timeline?customer=nobody-at-all")
    settle(page)
    assert "nobody-at-all" in page.locator("section.block .error").inner_text()
    page.close()


def test_answer_a_survey(logged_in, server, shots, tmp_path):
    """An analyst creates an NPS survey; a customer answers on the hosted page (English) and
    through the widget embedded in another site's page (French); both rows land in feedback."""
    page = open_page(logged_in, server, "/app/surveys")
    page.select_option("select[name=kind]", "nps")
    page.fill("input[name=touchpoint]", "checkout")
    page.fill("input[name=channel]", "web")
    page.check("input[name=free_text]")
    page.click("#survey-form button[type=submit]")
    page.wait_for_url("**/app/surveys")
    survey_id = page.locator("tr[data-survey]").first.get_attribute("data-survey")
    page.close()

    page = open_page(logged_in, server, f"/s/{survey_id}?customer=C00000005&lang=en")
    assert "recommend" in page.locator(".parcours-survey").inner_text()
    page.click(".parcours-survey button[data-score='9']")
    page.fill(".parcours-survey textarea", "Quick checkout, thanks")
    page.click(".parcours-survey button.send")
    page.wait_for_selector(".parcours-survey .thanks")
    assert page.locator(".thanks").inner_text() == "Thank you for your answer!"
    page.screenshot(path=str(shots / "survey-hosted-en.png"))
    assert page.errors == [] and page.foreign == []
    page.close()

    site = tmp_path / "shop.html"  # another origin (file://): the widget posts across origins
    site.write_text(f'<!DOCTYPE html><html lang="fr"><body><h1>Boutique</h1><script src="{server.url}/s/{survey_id}/'
                    'widget.js" data-customer="C00000008" data-touchpoint="order_page"></script></body></html>')
    page = logged_in.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.as_uri())
    page.wait_for_selector(".parcours-survey button[data-score='3']")
    assert "recommandiez" in page.locator(".parcours-survey").inner_text()
    page.click(".parcours-survey button[data-score='3']")
    page.click(".parcours-survey button.send")
    page.wait_for_selector(".parcours-survey .thanks")
    assert page.locator(".thanks").inner_text() == "Merci pour votre réponse !"
    page.screenshot(path=str(shots / "survey-widget-fr.png"))
    assert errors == []
    page.close()

    rows = server.rows("SELECT customer_id, kind, score, text, language, channel, touchpoint FROM feedback "
                       "WHERE feedback_id LIKE ? ORDER BY score DESC", [f"s-{survey_id}-%"])
    server.start()  # the rest of the module keeps its server
    assert rows == [("C00000005", "nps", 9.0, "Quick checkout, thanks", "en", "web", "checkout"),
                    ("C00000008", "nps", 3.0, None, "fr", "web", "order_page")]


def test_save_segments_and_compare(logged_in, server, shots):
    page = open_page(logged_in, server, "/app/segments")
    settle(page)
    for name, rule in (("b2b", "segment = b2b"), ("b2c", "segment = b2c")):
        page.fill("input[name=name]", name)
        page.fill("input[name=definition]", rule)
        page.click("form.builder button[type=submit]")
        page.wait_for_url("**/app/segments")
        settle(page)
    layout = settle(page)
    page.screenshot(path=str(shots / "segments-compare.png"), full_page=True)
    check(page, layout)
    listed = page.locator("section.block").first.inner_text()
    assert "b2b" in listed and "b2c" in listed
    funnels = page.locator("#compare section.block")
    assert funnels.count() == 2
    with server.reader() as api:
        sizes = {s["name"]: s for s in api.get("/api/v1/segments").json()["segments"]}
        first = {n: api.get("/api/v1/funnel", params={"stages": "true", "segment": n}).json()["steps"][0]["count"]
                 for n in ("b2b", "b2c")}
    assert set(sizes) == {"b2b", "b2c"} and all(first.values())
    shown = [int(funnels.nth(i).locator("tbody tr").first.locator("td").nth(1).inner_text()
                 .replace("\u202f", "").replace("\xa0", "").replace(" ", "")) for i in range(2)]
    assert shown == [first["b2b"], first["b2c"]]
    page.close()
