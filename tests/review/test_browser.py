"""The review page in a real headless browser: Debian's chromium, driven by Playwright (the
browser of the system: nothing is downloaded at run time). `.ci/run` installs chromium; where
none can be found these tests skip, saying so."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.film import vf
from tests.review.conftest import take_file
from vfbuild import api
from vfbuild.fsutil import sha256_file
from vfbuild.review.server import ReviewServer
from vfbuild.review.static import write_static
from vfbuild.store.locks import LockBook

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.set_default_timeout(15000)
    pg.errors = errors
    try:
        yield pg
    finally:
        context.close()


def _loaded(img: Any) -> int:
    """The image's width once it has loaded (it is asked for as it comes near the window)."""
    img.scroll_into_view_if_needed()
    img.evaluate(
        """img => new Promise((done) => {
          const ok = () => img.getAttribute('src') && img.complete;
          if (ok()) return done();
          const t = setInterval(() => { if (ok()) { clearInterval(t); done(); } }, 20);
        })"""
    )
    return int(img.evaluate("img => img.naturalWidth"))


def _card(page: Any, take: int) -> Any:
    return page.locator(
        f'#shot-s010 section[data-step="keyframe"] figure.card[data-take="{take}"]'
    ).first


def test_pick_take_3_in_the_browser(page: Any, server: ReviewServer, film: Path) -> None:
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    cards = page.locator('#shot-s010 section[data-step="keyframe"] figure.card')
    assert cards.count() == 4
    for take in (1, 2, 3, 4):  # each card shows its still, through the thumbnail cache
        assert _loaded(_card(page, take).locator("img")) > 0
    assert "no pick yet" in page.locator("#shot-s010").inner_text()
    page.evaluate("window.__notReloaded = true")

    _card(page, 3).get_by_role("button", name="Pick").click()
    page.wait_for_selector(
        '#shot-s010 section[data-step="keyframe"] figure.card.picked[data-take="3"]'
    )

    pick = LockBook(film).pick("s010", "keyframe")
    assert pick is not None and (pick.take, pick.version) == (3, 1)
    assert pick.sha256 == sha256_file(take_file(film, 3))
    # Shown picked, without a reload: the same page, redrawn from the answer.
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#shot-s010 figure.card.picked").count() == 1
    assert "Picked" in _card(page, 3).inner_text()
    assert "picked t03" in page.locator('#shot-s010 section[data-step="keyframe"]').inner_text()
    assert page.locator("#toast").inner_text().startswith("s010 keyframe: picked take 3")
    # The plan was asked again: the draft takes that follow from the pick are to make.
    page.wait_for_function("document.querySelector('#plan').innerText.includes('draft')")
    assert page.errors == []


def test_the_static_page_is_read_only_with_commands(page: Any, film: Path, tmp_path: Path) -> None:
    api.open(film).pick("s010", "keyframe", 2)
    out = write_static(api.open(film), tmp_path / "share")
    page.goto(out.index.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("button.pick").count() == 0
    assert page.locator("#build-controls").is_hidden()
    codes = page.locator('#shot-s010 section[data-step="keyframe"] code').all_inner_texts()
    assert codes == [f"vf pick s010 keyframe {t}" for t in (1, 2, 3, 4)]
    assert page.locator("#shot-s010 figure.card.picked").get_attribute("data-take") == "2"
    assert _loaded(_card(page, 1).locator("img")) > 0  # its thumbnail was copied beside it
    assert page.errors == []


def test_an_out_of_date_pick_compared_then_a_build_followed_live(
    page: Any, server: ReviewServer, film: Path
) -> None:
    api.open(film).pick("s010", "keyframe", 2)
    shots = film / "shots.yaml"
    shots.write_text(shots.read_text().replace("subject: yellow car", "subject: red car"))
    vf(film, "build", "--tier", "draft", "s010")
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    step = page.locator('#shot-s010 section[data-step="keyframe"]')
    assert "pick out of date: t02 of v001" in step.inner_text()
    assert step.locator(".col-head.in-force + .cards figure.card.picked").count() == 1

    step.locator(".versions button", has_text="v001").click()
    step = page.locator('#shot-s010 section[data-step="keyframe"].comparing')
    columns = step.locator(".compare > div")
    assert columns.count() == 2  # v002 beside v001
    assert columns.nth(0).locator("figure.card").count() == 4
    assert columns.nth(1).locator("figure.card.older").count() == 4
    assert columns.nth(1).locator("figure.card.picked").get_attribute("data-take") == "2"

    page.select_option("#tier", "draft")
    page.wait_for_function("document.querySelector('#plan').innerText.includes('s020')")
    page.click("#build")
    page.wait_for_selector("#progress.ok", timeout=120_000)
    log = page.locator("#log").inner_text()
    assert "made s020 keyframe t01" in log and "made edit" in log
    # The sheet was read again after the build: s020's takes are there, not to be made.
    page.wait_for_selector('#shot-s020 section[data-step="keyframe"] figure.card img')
    assert page.errors == []  # nothing the page's own policy (CSP) refused, no script error
