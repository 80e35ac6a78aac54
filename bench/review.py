"""Part 6, the review page: time to first byte and to a fully rendered page of `vf review`
on the generated 100-shot film, cold and warm (see DESCRIPTION)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.film import vf_argv, vf_env
from bench.util import REPO, secs, table

DESCRIPTION = """\
`vf review` of the generated 100-shot film, 8 takes a shot (4 keyframe takes and 4 draft takes,
each step picked; and each shot's final, upscale and, one shot in five, lipsync: 1,020 cards),
opened in headless chromium (Debian's, driven by Playwright) with a viewport of 1440×900.
Cold: the first time the film is opened, no thumbnail made yet and no sheet kept
(`.vf/cache/thumbs`, `.vf/cache/review-sheet.json` removed); warm: the next time, with the
thumbnails and the sheet the first opening kept (used while the world that `vf plan`'s stamp
watches is unchanged). Each run starts a new `vf review` process and a new browser
profile (no HTTP cache): warm is a second opening of the film, not a reload of the page.

Time to first byte is the browser's own Navigation and Resource Timing (`responseStart`, from
the start of the navigation) of the page and of its data (`/api/sheet`: `Film.status()` and
`Film.takes()`). The page draws the first three shots at once and each other shot as it
comes within 800 px of the window (a row of its height until then); sheet drawn is its
`performance.mark`. Fully rendered is the moment the last thumbnail inside the viewport
arrived (its Resource Timing): a thumbnail is asked for when its card comes within 600 px of
the window, a clip only to play under the pointer. The server's own start (Python, imports,
binding the port) is listed apart: the browser opens the page after it.
"""

SHOTS = 100
TARGET = 1.0  # s, a warm page fully rendered
VIEWPORT = {"width": 1440, "height": 900}

# In the page: wait until every thumbnail in the viewport has loaded, then say when it arrived.
_RENDERED = """async () => {
  const apart = (r, b) => r.bottom <= b.top || r.top >= b.bottom || r.right <= b.left
    || r.left >= b.right;
  const inView = (el) => {  // inside the window and inside every box that clips it
    const r = el.getBoundingClientRect();
    if (apart(r, { top: 0, left: 0, bottom: innerHeight, right: innerWidth })) return false;
    for (let a = el.parentElement; a; a = a.parentElement) {
      const st = getComputedStyle(a);
      if (st.overflowX !== 'visible' || st.overflowY !== 'visible') {
        if (apart(r, a.getBoundingClientRect())) return false;
      }
    }
    return true;
  };
  const imgs = [...document.querySelectorAll('img')].filter(inView);
  const loaded = async (i) => {
    while (!i.getAttribute('src')) await new Promise((r) => setTimeout(r, 10));  // asked later
    if (!i.complete) {
      await new Promise((r) => { i.addEventListener('load', r); i.addEventListener('error', r); });
    }
  };
  await Promise.all(imgs.map(loaded));
  const mark = (name) => {
    const m = performance.getEntriesByName(name)[0]; return m ? m.startTime : null; };
  const nav = performance.getEntriesByType('navigation')[0];
  const sheet = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/sheet'));
  // The moment the last of them arrived (its Resource Timing), not the moment this script
  // ran: Playwright's polling and this call's round trip are not the page's time.
  const arrived = imgs.map((i) => {
    const e = performance.getEntriesByName(i.currentSrc)[0]; return e ? e.responseEnd : 0; });
  const shown = mark('vf-sheet-shown');
  return { rendered: Math.max(shown, ...arrived), page_ttfb: nav.responseStart,
           shown: shown,
           sheet_ttfb: sheet ? sheet.responseStart : null,
           sheet_done: sheet ? sheet.responseEnd : null,
           media: imgs.length,
           cards: document.querySelectorAll('figure.card').length };
}"""


@dataclass
class ReviewRun:
    server_start: float  # s from spawning `vf review` to its URL on stdout
    page_ttfb: float
    sheet_ttfb: float
    sheet_done: float
    shown: float  # what the window shows is drawn
    rendered: float
    media: int  # thumbnails and posters in the viewport
    cards: int
    thumbs: int  # thumbnails in the cache after the run


@dataclass
class ReviewResult:
    shots: int
    cold: list[ReviewRun] = field(default_factory=list)
    warm: list[ReviewRun] = field(default_factory=list)

    def targets(self) -> list[tuple[str, str, str]]:
        if not self.warm:
            return []
        w = statistics.median(r.rendered for r in self.warm)
        return [
            (
                f"review page, {self.shots} shots × 8 takes, warm: rendered < {TARGET:.0f} s",
                secs(w),
                "met" if w < TARGET else "**missed**",
            )
        ]

    def section(self) -> str:
        def row(name: str, runs: list[ReviewRun]) -> tuple[str, ...]:
            def med(attr: str) -> str:
                vals = [getattr(r, attr) for r in runs]
                return f"{secs(statistics.median(vals))} ({secs(min(vals))}–{secs(max(vals))})"

            last = runs[-1]
            return (
                name,
                med("page_ttfb"),
                med("sheet_ttfb"),
                med("sheet_done"),
                med("shown"),
                med("rendered"),
                med("server_start"),
                f"{last.media} / {last.cards}",
                str(last.thumbs),
            )

        rows = [row(n, r) for n, r in (("cold", self.cold), ("warm", self.warm)) if r]
        return "\n".join(
            [
                "## 6. Review page: 100 shots × 8 takes",
                "",
                DESCRIPTION.strip(),
                "",
                table(
                    (
                        "opening",
                        "page: first byte",
                        "data: first byte",
                        "data: last byte",
                        "sheet drawn",
                        "fully rendered",
                        "server start (apart)",
                        "media in view / cards",
                        "thumbnails cached",
                    ),
                    rows,
                ),
                "",
                "Medians (ranges) of the runs, in seconds from the start of the navigation.",
            ]
        )


def _serve(root: Path) -> tuple[subprocess.Popen[str], str, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        vf_argv(root, "review"),
        cwd=REPO,
        env=vf_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    took = time.perf_counter() - start
    if not line.startswith("vf review: http://"):
        proc.kill()
        raise RuntimeError(f"vf review did not start: {line}{proc.communicate()[1][-2000:]}")
    return proc, line.split()[2], took


def _open(browser, root: Path) -> ReviewRun:  # type: ignore[no-untyped-def]
    proc, url, took = _serve(root)
    try:
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(600_000)
        page.goto(url, wait_until="commit")
        page.wait_for_selector("body[data-ready='1']")
        said = page.evaluate(_RENDERED)
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    thumbs = root / ".vf" / "cache" / "thumbs"
    return ReviewRun(
        server_start=took,
        page_ttfb=said["page_ttfb"] / 1000,
        sheet_ttfb=(said["sheet_ttfb"] or 0) / 1000,
        sheet_done=(said["sheet_done"] or 0) / 1000,
        shown=(said["shown"] or 0) / 1000,
        rendered=said["rendered"] / 1000,
        media=int(said["media"]),
        cards=int(said["cards"]),
        thumbs=sum(1 for _ in thumbs.rglob("*.jpg")) if thumbs.is_dir() else 0,
    )


def run(runs: int, *, fresh: bool = False, log=print) -> ReviewResult:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    from bench import noop
    from vfbuild.review.sheet import SHEET_STAMP

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("no chromium on PATH (apt-get install chromium)")
    root, _ = noop.film(SHOTS, fresh=fresh, log=log)
    thumbs = root / ".vf" / "cache" / "thumbs"
    result = ReviewResult(SHOTS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for i in range(runs):
                shutil.rmtree(thumbs, ignore_errors=True)
                (root / SHEET_STAMP).unlink(missing_ok=True)
                cold = _open(browser, root)
                result.cold.append(cold)
                warm = _open(browser, root)
                result.warm.append(warm)
                log(
                    f"  review {i + 1}/{runs}: cold {secs(cold.rendered)}, "
                    f"warm {secs(warm.rendered)} ({warm.media} media in view, {warm.cards} cards)"
                )
        finally:
            browser.close()
    return result
