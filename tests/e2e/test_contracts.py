"""A result that is not what was asked is refused, as a user meets it: fal's fake answers one
job with well-formed media of the wrong size, length or sound. The take is never stored, the
build names the take, what was expected and what came, the journal has the job as failed; a
plain build reports it without paying, and `--retry-failed` pays once more, for that take only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.remote import RemoteFilm, assert_store_and_layout_whole, remote_film
from tests.providers.kit import posts
from vfbuild.fsutil import sha256_file
from vfbuild.media.probe import probe
from vfbuild.store.journal import FAILED, Journal
from vfbuild.store.ledger import Ledger

# slot on fal, the fake's kind of job, its override, the step refused, what the error says.
CASES = {
    "upscale": (
        "upscale",
        "upscale",
        "small",
        "s030 upscale: fal's result was refused: expected at least the delivery size 640x360, "
        "got 320x180",
    ),
    "lipsync": (
        "lipsync",
        "lipsync",
        "silent",
        "s030 lipsync: fal's result was refused: expected a video with sound (an audio stream), "
        "got a video with no audio",
    ),
    "keyframe": (
        "keyframe",
        "t2i",
        "clip",
        "s030 keyframe t01: fal's result was refused: expected an image, got a video (640x360, "
        "1.00 s)",
    ),
    "draft": (
        "video",
        "i2v",
        "short",
        "s030 draft t01: fal's result was refused: expected a clip of 1.00 s (one frame less at "
        "most), got 0.50 s",
    ),
}


def build_to(film: RemoteFilm, step: str, *extra: str) -> tuple[str, ...]:
    """Build s030 (picking take 1 on the way) up to the build that makes `step`; returns that
    build's arguments, run once here."""
    if step == "keyframe":
        return ("build", "--tier", "draft", "s030")
    film.vf("build", "--tier", "draft", "s030")  # the keyframes (local)
    film.vf("pick", "s030", "keyframe", "1")
    if step == "draft":
        return ("build", "--tier", "draft", "s030")
    film.vf("build", "--tier", "draft", "s030")
    film.vf("pick", "s030", "draft", "1")
    return ("build", "s030")


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_result_not_as_asked_is_refused_then_remade_once(tmp_path: Path, case: str) -> None:
    slot, kind, mode, said = CASES[case]
    with remote_film(tmp_path, "fal", slots=(slot,)) as film:
        film.fake.override_result(kind, mode)
        args = build_to(film, case)
        run = film.vf(*args, check=False)
        assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
        assert f"error: {said}" in run.stderr, run.stderr
        takes = 2 if case in ("keyframe", "draft") else 1
        assert posts(film.fake) == film.fake.paid_jobs == takes

        # It was fetched once (whole media: fetching it again would not change it), and
        # nothing of it was stored, or put in the layout.
        (bad_id,) = film.fake.overridden
        assert sum(1 for _, path in film.fake.log if path.startswith(f"/files/{bad_id}")) == 1
        bad = sha256_file(film.fake.media(film.fake.jobs[bad_id]))
        objects = {p.name for p in (film.root / ".vf" / "objects").rglob("*") if p.is_file()}
        assert bad not in objects
        assert_store_and_layout_whole(film.root)
        failed = [e for e in Journal(film.root / ".vf" / "journal").entries() if e.state == FAILED]
        assert [(e.label, e.job_id) for e in failed] == [(said.split(":")[0], bad_id)]
        assert "expected" in (failed[0].error or "") and "got" in (failed[0].error or "")
        ledger = Ledger(film.root).rows()
        rows = len(ledger)
        # Every job fal billed is in the ledger, the refused one too (not kept, but paid).
        assert rows == takes and bad_id in {r.job_id for r in ledger}

        # A plain build says so again, without paying …
        again = film.vf(*args, check=False)
        assert again.returncode != 0 and "--retry-failed" in again.stderr, again.stderr
        assert "refused" in again.stderr
        assert posts(film.fake) == takes

        # … and --retry-failed pays once more, for that take only (the fake is honest now).
        film.vf(*args, "--retry-failed")
        assert posts(film.fake) == film.fake.paid_jobs == takes + 1
        ledger = Ledger(film.root).rows()
        assert len(ledger) == rows + 1
        assert ledger[-1].job_id != bad_id and ledger[-1].step == case
        assert_store_and_layout_whole(film.root)
        if case == "lipsync":
            (made,) = (film.root / "05_Upscaled").rglob("s030_lipsync_*.mp4")
            assert probe(made).has_audio
        if case == "upscale":
            (made,) = (film.root / "05_Upscaled").rglob("s030_upscale_*.mp4")
            assert (probe(made).width, probe(made).height) == (640, 360)
