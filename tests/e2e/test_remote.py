"""The film built through remote providers' fakes, as a user runs it: every planned take is one
paid job, the plan's estimate is what the ledger records, faults and crashes cost nothing
twice, failures are reported one per job, and no key is ever written down."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.e2e.film import share_s010s_keyframe, vf
from tests.e2e.remote import (
    FAKES,
    assert_no_secret,
    assert_store_and_layout_whole,
    fake_module,
    mixed_film,
    remote_film,
)
from tests.fakes.base import Faults
from vfbuild.store.journal import Journal
from vfbuild.store.ledger import Ledger


# ElevenLabs makes sound only (its own tests: tests/e2e/test_sound.py).
@pytest.mark.parametrize("provider", sorted(set(FAKES) - {"elevenlabs"}))
def test_the_film_builds_through_each_provider(tmp_path: Path, provider: str) -> None:
    with remote_film(tmp_path, provider) as film:
        outputs: list[str] = []
        expected_jobs = 0
        for stage in ("keyframe", "draft", "final"):
            args = ("--tier", "draft") if stage != "final" else ()
            takes, estimate = film.planned(*args)
            before_cost, before_jobs = film.ledger_total(), film.fake.paid_jobs
            run = film.vf("-v", "build", "-j", "4", *args)  # -v: the debug log too
            outputs += [run.stdout, run.stderr]
            expected_jobs += takes
            assert film.fake.paid_jobs - before_jobs == takes, run.stdout
            assert film.ledger_total() - before_cost == pytest.approx(estimate), run.stdout
            if stage != "final":
                film.pick_all(stage, 2)
        assert film.fake.paid_jobs == expected_jobs > 0
        assert len(Ledger(film.root).rows()) == expected_jobs
        again = film.vf("build")
        assert "nothing to do" in again.stdout and film.fake.paid_jobs == expected_jobs
        assert (film.root / "06_Edit" / "Tiny_Film_v003.mp4").exists() or list(
            (film.root / "06_Edit").glob("*.mp4")
        )
        assert film.fake.cdn_auth_seen == []
        assert_store_and_layout_whole(film.root)
        assert_no_secret(film.root, outputs + [again.stdout, again.stderr], film.keys)


def test_minus_j_bounds_the_jobs_in_flight(tmp_path: Path) -> None:
    """`-j 2`: never more than two jobs at the provider at once, and two side by side."""
    with remote_film(tmp_path, "fal", latency=0.4, slots=("keyframe",)) as film:
        film.vf("build", "--tier", "draft", "-j", "2")
        spans = [(j.created, j.created + j.latency) for j in film.fake.jobs.values()]
        assert len(spans) == 6  # three shots, two keyframe takes each
        in_flight = max(sum(a <= t < b for a, b in spans) for t, _ in spans)
        assert in_flight == 2


def test_two_shots_with_one_recipe_pay_for_it_once_when_built_side_by_side(
    tmp_path: Path,
) -> None:
    """s020's keyframe is written as s010's (framing, subject, seed): its two takes are the
    same recipes. Both steps start together with -j 4, and fal takes 0.3 s to answer a
    submit: each shared recipe is still one job, both shots get its take, and the plan
    priced it once."""
    with remote_film(tmp_path, "fal", latency=0.3, slots=("keyframe",)) as film:
        film.fake.create_delay = 0.3
        share_s010s_keyframe(film.root)
        plan = film.vf("plan", "--tier", "draft").stdout
        takes, estimate = film.planned("--tier", "draft")
        assert takes == 4, plan  # s010's two (s020's are the same recipes) and s030's two
        assert "the same recipes as s010 keyframe t01, s010 keyframe t02: made once" in plan
        run = film.vf("build", "--tier", "draft", "-j", "4")
        assert film.fake.paid_jobs == 4, run.stdout
        assert film.ledger_total() == pytest.approx(estimate)
        assert f"+${estimate:.2f} for this build's jobs" in run.stdout
        for take in ("t01", "t02"):
            gen = film.root / "03_Generations" / "v1_exploration"
            ours, theirs = (gen / f"{s}_keyframe_v001_{take}.png" for s in ("s020", "s010"))
            assert ours.read_bytes() == theirs.read_bytes()
        again = film.vf("build", "--tier", "draft")
        assert "  made " not in again.stdout and film.fake.paid_jobs == 4


def test_a_shared_recipe_the_provider_failed_is_not_tried_again_for_the_other_shot(
    tmp_path: Path,
) -> None:
    """Even with --retry-failed, a shared recipe that failed in this build is not sent again
    for the other shot: that shot names the one whose job failed."""
    with remote_film(tmp_path, "fal", faults=Faults(fail_jobs=True), slots=("keyframe",)) as film:
        film.fake.create_delay = 0.3
        share_s010s_keyframe(film.root)
        run = film.vf("build", "--tier", "draft", "-j", "4", "--retry-failed", check=False)
        assert run.returncode != 0 and film.fake.paid_jobs == 4, run.stderr
        for take in ("t01", "t02"):  # whichever shot reached the provider first made it
            a, b = f"s010 keyframe {take}", f"s020 keyframe {take}"
            said = [f"{x}: not made: it is the same recipe as {y}" in run.stderr
                    for x, y in ((a, b), (b, a))]  # fmt: skip
            assert sorted(said) == [False, True], run.stderr


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_a_build_with_jobs_to_submit_gets_the_provider_ready_while_it_plans(
    tmp_path: Path, jobs: str
) -> None:
    """The clients are made (httpx imported, CA bundle loaded) once, as soon as the build
    knows it will submit (before its first takes start with -j 4, in the background with
    -j 1); a build with nothing to submit makes none."""
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        run = film.vf("-v", "build", "--tier", "draft", "-j", jobs)
        assert run.stderr.count("fal: submit path warm") == 1, run.stderr
        assert film.fake.paid_jobs == 6
        again = film.vf("-v", "build", "--tier", "draft")
        assert "path warm" not in again.stderr and film.fake.paid_jobs == 6


def test_the_example_film_builds_with_providers_mixed_by_step(tmp_path: Path) -> None:
    """The real example (its shots, prompts, references and dialogue; picks made afresh):
    keyframes on fal, video on Kling, upscale on Replicate, lipsync on ComfyUI. Two shots, one
    with dialogue, so every step runs and the suite stays quick (a shot list skips the edit)."""
    slots = {"keyframe": "fal", "video": "kling", "upscale": "replicate", "lipsync": "comfyui"}
    with contextlib.ExitStack() as stack:
        mixed = mixed_film(stack, tmp_path / "film", slots)
        film, fakes = mixed.root, mixed.fakes
        total_planned, estimate = mixed.build_in_stages(("s010", "s050"))
        assert {n: f.paid_jobs for n, f in fakes.items()} == total_planned
        assert total_planned == {"fal": 8, "kling": 10, "replicate": 2, "comfyui": 1}
        assert sum(float(r.cost or 0) for r in Ledger(film).rows()) == pytest.approx(estimate)
        lipsynced = next((film / "05_Upscaled").glob("s050_lipsync_v001.mp4"))
        assert lipsynced.stat().st_size > 0
        assert_store_and_layout_whole(film)


def test_luma_and_kling_read_their_inputs_from_the_films_host(tmp_path: Path) -> None:
    """`hosting: {use: fal}`: Luma (keyframes, video) and Kling (lip-sync), whose fakes here
    fetch URLs and refuse `data:` URIs, get every input file as a URL on fal's CDN (its fake),
    each file uploaded once; a second build uploads nothing."""
    slots = {"keyframe": "luma", "video": "luma", "upscale": "replicate", "lipsync": "kling"}
    with contextlib.ExitStack() as stack:
        cdn = stack.enter_context(fake_module("fal").FalFake(latency=0.05))
        hosting = {"hosting": {"use": "fal", "expires_days": 3}}
        mixed = mixed_film(stack, tmp_path / "film", slots, hosting)
        film, fakes, shots = mixed.root, mixed.fakes, ("s010", "s050")
        fakes["luma"].data_uris = fakes["kling"].data_uris = False
        mixed.env |= {**fake_module("fal").KEYS, "VF_HOSTING_BASE_URL": cdn.url}
        total_planned, _ = mixed.build_in_stages(shots)
        assert {n: f.paid_jobs for n, f in fakes.items()} == total_planned
        assert total_planned["luma"] > 0 and total_planned["kling"] == 1
        # Every file went up once: the four drafts of a keyframe share its upload.
        hosted = json.loads((film / ".vf" / "hosted.json").read_text())
        assert cdn.uploads_received == len(hosted) > 0
        urls = {r["url"] for r in hosted.values()}
        frames = [j.input["keyframes"]["frame0"]["url"] for j in fakes["luma"].jobs.values()
                  if "keyframes" in j.input]  # fmt: skip
        assert frames and set(frames) <= urls
        (sync,) = fakes["kling"].jobs.values()
        assert sync.input["input"]["video_url"] in urls
        assert cdn.paid_jobs == 0 and cdn.cdn_auth_seen == []
        # The signed upload URLs (write access) stay out of the debug log, httpx's lines too.
        assert "upload/initiate" in "".join(mixed.logs)
        assert "X-Goog-Signature" not in "".join(mixed.logs)
        again = vf(film, "build", *shots, env=mixed.env)
        assert "nothing to do" in again.stdout and cdn.uploads_received == len(hosted)
        assert_store_and_layout_whole(film)
        keys = {k: v for k, v in mixed.env.items() if not k.startswith("VF_")}
        assert "FAL_KEY" in keys
        assert_no_secret(film, [*mixed.logs, again.stdout, again.stderr], keys)


def test_a_film_with_a_host_and_no_fal_key_stops_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    with remote_film(tmp_path, "luma", slots=("keyframe", "video")) as film:
        doc = YAML().load(film.root / "shots.yaml")
        doc["providers"]["hosting"] = {"use": "fal"}
        YAML().dump(doc, film.root / "shots.yaml")
        run = film.vf("build", "--tier", "draft", check=False)  # s010 has a reference image
        assert run.returncode != 0 and "FAL_KEY" in run.stderr, run.stderr
        assert "hosting" in run.stderr and "Traceback" not in run.stderr
        assert film.fake.paid_jobs == 0 and film.fake.log == []


def test_a_missing_key_stops_the_build_before_anything_is_sent(tmp_path: Path) -> None:
    with remote_film(tmp_path, "kling") as film:
        env = {k: v for k, v in film.env.items() if k != "KLING_SECRET_KEY"}
        run = subprocess.run(
            [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "--tier", "draft"],
            capture_output=True,
            text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("KLING")}, **env},
        )
        # Kling makes only video: keyframes are local and get built; drafts wait for picks.
        assert run.returncode == 0, run.stderr
        film.pick_all("keyframe")
        run = subprocess.run(
            [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "--tier", "draft"],
            capture_output=True,
            text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("KLING")}, **env},
        )
        assert run.returncode != 0
        assert "KLING_SECRET_KEY not set" in run.stderr and "Traceback" not in run.stderr
        assert film.fake.log == []


def test_faults_on_a_fifth_of_requests_still_build_everything_once(tmp_path: Path) -> None:
    faults = Faults(rate=0.2, seed=7, retry_after="0", stall_seconds=2.5)
    # Every kind fires at least once whatever the threads' timing; a fifth of the rest at random.
    forced = {
        "create": ["drop"],
        "api": ["429", "stall"],
        "download": ["500", "503", "truncate", "corrupt"],
    }
    for route_kind, kinds in forced.items():
        faults.force(route_kind, *kinds)
    with remote_film(tmp_path, "replicate", faults=faults, timeout=1.0) as film:
        takes, _ = film.planned("--tier", "draft")
        run = film.vf("build", "-j", "4", "--tier", "draft")
        assert film.fake.paid_jobs == takes == 6, run.stdout + run.stderr
        film.pick_all("keyframe")
        takes, _ = film.planned("--tier", "draft")
        film.vf("build", "-j", "4", "--tier", "draft")
        assert film.fake.paid_jobs == 6 + takes
        n_forced = sum(map(len, forced.values()))
        assert not any(faults.forced.values()), faults.forced
        assert {f for _, f in faults.injected} == set(faults.kinds), faults.injected
        assert len(faults.injected) > n_forced, faults.injected  # and random ones on top
        assert_store_and_layout_whole(film.root)


def test_a_provider_that_always_fails_gives_one_error_per_job(tmp_path: Path) -> None:
    with remote_film(tmp_path, "runway", faults=Faults(fail_jobs=True, retry_after="0")) as film:
        film.vf("build", "--tier", "draft")  # keyframes are local
        film.pick_all("keyframe")
        run = film.vf("build", "-j", "4", "--tier", "draft", check=False)
        assert run.returncode != 0 and "Traceback" not in run.stderr
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 6 == film.fake.paid_jobs, run.stderr
        assert all("failed the job" in e for e in errors)
        # Nothing is sent again without --retry-failed …
        again = film.vf("build", "--tier", "draft", check=False)
        assert again.returncode != 0 and film.fake.paid_jobs == 6
        assert "--retry-failed" in again.stderr
        # … and with it, each failed job is tried once more.
        film.vf("build", "-j", "4", "--tier", "draft", "--retry-failed", check=False)
        assert film.fake.paid_jobs == 12
        # The keyframes (other steps) were built all along.
        assert len(list((film.root / "01_Source_Images").glob("*.png"))) == 3


@pytest.mark.parametrize("jobs", ["1", "4"])  # -j 4: the steps start before doit, together
def test_budget_starts_only_what_it_covers_and_names_the_rest(tmp_path: Path, jobs: str) -> None:
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        takes, estimate = film.planned("--tier", "draft")
        assert takes == 6 and estimate == pytest.approx(0.24)
        run = film.vf("build", "--tier", "draft", "--budget", "0.10", "-j", jobs, check=False)
        assert run.returncode == 4, run.stdout + run.stderr
        assert film.fake.paid_jobs == 2 and film.ledger_total() <= 0.10
        assert run.stderr.count("not started") == 4
        film.vf("build", "--tier", "draft", "--budget", "1")
        assert film.fake.paid_jobs == 6


def test_a_lost_submit_reply_is_never_paid_twice(tmp_path: Path) -> None:
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        film.fake.faults.force("create", "drop")  # fal took the job; its reply was lost
        run = film.vf("build", "--tier", "draft", check=False)
        assert run.returncode != 0 and "reply was lost" in run.stderr
        assert film.fake.paid_jobs == 6
        # fal cannot be asked which jobs it has: the next build stops on that job…
        run = film.vf("build", "--tier", "draft", check=False)
        assert run.returncode != 0 and "--resubmit" in run.stderr
        assert film.fake.paid_jobs == 6
        listing = film.vf("jobs").stdout
        assert listing.count("submit reply lost") == 1, listing
        # … until the user says to send it again. fal probably billed the first: the ledger
        # has a row for it, marked lost, at the estimated cost.
        run = film.vf("build", "--tier", "draft", "--resubmit")
        assert film.fake.paid_jobs == 7
        assert "ledgered as lost ($0.04 estimated)" in run.stdout, run.stdout
        rows = Ledger(film.root).rows()
        assert len(rows) == 7 and [r.cost for r in rows if r.lost] == ["0.0400"]
        assert f"+${0.04 * 7:.2f} for this build's jobs" not in run.stdout  # 6 were before
        cost = film.vf("cost").stdout
        assert "total: $0.28 over 7 job(s)" in cost, cost
        assert "of which lost: $0.04 (estimated) over 1 job(s)" in cost, cost
        # Its take came back: `vf jobs` has nothing left to say about it.
        assert "no paid job in flight, lost or failed" in film.vf("jobs").stdout


def test_sigkill_as_fal_takes_a_job_ledgers_every_job_it_took(tmp_path: Path) -> None:
    """The kill -9 loop with lost replies: vf is killed right after fal took a job and before
    its reply (and some replies are dropped besides). fal cannot be asked for a job, so each
    build sends those again with --resubmit; in the end the ledger has one row per job fal
    accepted (the lost ones marked lost), and `vf cost` tells the same total. (-j 1: with
    more jobs in flight, a kill can also fall between journalling a job and sending it, and
    that job, which fal never saw, is ledgered as lost too: "probably paid" is all vf knows.)"""
    with remote_film(tmp_path, "fal", latency=0.1, slots=("keyframe",)) as film:
        film.fake.faults.force("create", "drop", "drop")
        victim: list[subprocess.Popen[bytes]] = []
        kills = [2, 4, 7]  # the creates (counted from 1) that vf does not live to hear of
        creates = [0]

        def kill_on_create() -> None:
            creates[0] += 1
            if creates[0] in kills and victim and victim[-1].poll() is None:
                os.kill(victim[-1].pid, signal.SIGKILL)

        film.fake.on_create = kill_on_create
        cmd = [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "--tier", "draft",
               "--resubmit"]  # fmt: skip
        for _ in range(12):
            proc = subprocess.Popen(
                cmd, env={**os.environ, **film.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            victim.append(proc)
            out, err = proc.communicate(timeout=120)
            if proc.returncode == 0:
                break
            assert proc.returncode in (1, -signal.SIGKILL), err
        assert proc.returncode == 0, err
        assert creates[0] > max(kills)
        rows = Ledger(film.root).rows()
        assert len(rows) == film.fake.paid_jobs == creates[0]
        lost = [r for r in rows if r.lost]
        assert len(lost) == creates[0] - 6 >= len(kills) and all(r.cost == "0.0400" for r in lost)
        assert len({r.recipe_key for r in rows if not r.lost}) == 6
        assert ("create", "drop") in film.fake.faults.injected
        assert f"over {creates[0]} job(s)" in film.vf("cost").stdout
        assert {e.state for e in Journal(film.root / ".vf" / "journal").entries()} == {"ledgered"}
        assert_store_and_layout_whole(film.root)


@pytest.mark.parametrize("case", ["kling", "luma", "kling-v3"])
def test_sigkill_at_many_points_never_pays_twice_or_leaves_debris(
    tmp_path: Path, case: str
) -> None:
    """Kling: a task whose reply was lost is found by our id. Luma, with its keyframes hosted:
    a kill can also fall in an upload, which is done again, never a job. kling-v3: Kling's
    newer request shapes (the single API key as Bearer, a model whose clip is the shot's
    length, 3 s here) under the same kills."""
    rng = random.Random(3)
    provider = case.split("-")[0]
    with (
        contextlib.ExitStack() as stack,
        remote_film(tmp_path, provider, latency=0.4, slots=("video",)) as film,
    ):
        if case == "kling-v3":
            doc = YAML().load(film.root / "shots.yaml")
            doc["providers"]["video"]["model"] = "kling-v3"
            YAML().dump(doc, film.root / "shots.yaml")
            for pair in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"):
                film.env.pop(pair)
            film.env["KLING_API_KEY"] = fake_module("kling").API_KEY
        if provider == "luma":
            cdn = stack.enter_context(fake_module("fal").FalFake(latency=0.05))
            film.env |= {**fake_module("fal").KEYS, "VF_HOSTING_BASE_URL": cdn.url}
            doc = YAML().load(film.root / "shots.yaml")
            doc["providers"]["hosting"] = {"use": "fal"}
            YAML().dump(doc, film.root / "shots.yaml")
            film.fake.data_uris = False
        film.vf("build", "--tier", "draft")  # local keyframes
        film.pick_all("keyframe")
        planned, _ = film.planned("--tier", "draft")
        cmd = [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "-j", "3",
               "--tier", "draft"]  # fmt: skip
        for _ in range(8):
            proc = subprocess.Popen(
                cmd,
                env={**os.environ, **film.env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            time.sleep(rng.uniform(0.3, 1.6))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        film.vf("build", "-j", "3", "--tier", "draft")
        assert film.fake.paid_jobs == planned == 6
        if case == "kling-v3":
            assert film.fake.tokens_seen == set() and film.fake.api_keys_seen > 0
            assert {j.extra["model"] for j in film.fake.jobs.values()} == {"kling-v3"}
            assert {j.seconds for j in film.fake.jobs.values()} == {3.0}
        assert {e.state for e in Journal(film.root / ".vf" / "journal").entries()} == {"ledgered"}
        rows = Ledger(film.root).rows()
        assert len(rows) == 6 and len({r.recipe_key for r in rows}) == 6
        assert_store_and_layout_whole(film.root)
        if provider == "luma":
            hosted = json.loads((film.root / ".vf" / "hosted.json").read_text())
            assert len(hosted) == 3  # one picked keyframe per shot
            assert cdn.uploads_received >= 3


def test_cancel_stops_the_jobs_a_killed_build_left_in_flight(tmp_path: Path) -> None:
    with remote_film(tmp_path, "fal", latency=60, slots=("keyframe",)) as film:
        journal = Journal(film.root / ".vf" / "journal")
        proc = subprocess.Popen(
            [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "-j", "6"],
            env={**os.environ, **film.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [e.state for e in journal.entries()]
            if len(states) == 6 and set(states) == {"submitted"}:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert film.fake.paid_jobs == 6
        listing = film.vf("jobs").stdout.splitlines()
        assert len(listing) == 6 and all("submitted" in line for line in listing)
        out = film.vf("cancel", "s010").stdout
        assert out.count(": canceled") == 2 and "2 of 2 job(s) canceled" in out
        out = film.vf("cancel").stdout
        assert out.count(": canceled") == 4
        assert all(job.canceled for job in film.fake.jobs.values())
        assert {e.error for e in journal.entries()} == {"canceled with `vf cancel`"}
        assert "no paid job in flight" in film.vf("cancel").stdout
        # No build waits for them, and none sends them again unless told to.
        again = film.vf("build", check=False)
        assert again.returncode != 0 and "--retry-failed" in again.stderr
        assert film.fake.paid_jobs == 6


def test_cancel_says_which_providers_cannot_stop_a_job(tmp_path: Path) -> None:
    with remote_film(tmp_path, "kling", latency=60) as film:
        film.vf("build", "--tier", "draft")  # local keyframes
        film.pick_all("keyframe")
        proc = subprocess.Popen(
            [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "s010",
             "--tier", "draft", "-j", "2"],
            env={**os.environ, **film.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        journal = Journal(film.root / ".vf" / "journal")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sorted(e.state for e in journal.entries()) != [
            "submitted",
            "submitted",
        ]:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        run = film.vf("cancel", check=False)
        assert run.returncode == 1
        assert run.stdout.count("kling cannot stop a job once sent") == 2
        assert {e.state for e in journal.entries()} == {"submitted"}  # the next build fetches


def test_a_take_stored_but_not_journalled_still_gets_its_ledger_row(tmp_path: Path) -> None:
    """A build killed between storing a take and journalling it: the next build ledgers it."""
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        film.vf("build", "--tier", "draft")
        journal = Journal(film.root / ".vf" / "journal")
        entry = next(e for e in journal.entries() if e.label == "s020 keyframe t01")
        journal.update(entry, state="submitted", sha256=None)  # as the killed build left it
        ledger = film.root / "ledger.csv"
        lines = ledger.read_text().splitlines(keepends=True)
        ledger.write_text("".join(line for line in lines if entry.key not in line))
        (film.root / "03_Generations/v1_exploration/s020_keyframe_v001_t01.png").unlink()
        film.vf("build", "--tier", "draft")
        assert film.fake.paid_jobs == 6
        assert journal.get(entry.key).state == "ledgered"
        rows = Ledger(film.root).rows()
        assert len(rows) == 6 and entry.key in {r.recipe_key for r in rows}


def test_a_take_stored_before_its_ledger_row_gets_one_row_on_the_next_build(
    tmp_path: Path,
) -> None:
    """A paid take's journal entry goes from `submitted` to `ledgered` with its row. Killed in
    between (the take stored, no row yet), the next build writes the row once and pays nothing."""
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        film.vf("build", "--tier", "draft", "-j", "2")
        journal = Journal(film.root / ".vf" / "journal")
        entries = journal.entries()
        assert len(entries) == 6 and {e.state for e in entries} == {"ledgered"}
        assert all(e.sha256 for e in entries)
        rows = Ledger(film.root).rows()
        assert sorted(r.recipe_key for r in rows) == sorted(e.key for e in entries)
        # As a build killed after storing s010's first take and before its ledger row leaves it:
        victim = next(e for e in entries if e.label == "s010 keyframe t01")
        journal.put(dataclasses.replace(victim, state="submitted"))
        ledger = film.root / "ledger.csv"
        ledger.write_text(
            "".join(ln for ln in ledger.read_text().splitlines(True) if victim.key not in ln)
        )
        for p in (film.root / "03_Generations").rglob("s010_keyframe_v001_t01.*"):
            p.unlink()
        paid = film.fake.paid_jobs
        film.vf("build", "--tier", "draft", "-j", "2")
        assert film.fake.paid_jobs == paid
        assert [r.recipe_key for r in Ledger(film.root).rows()].count(victim.key) == 1
        assert journal.get(victim.key).state == "ledgered"


def test_a_failed_take_beside_the_pick_holds_back_nothing_that_needs_only_the_pick(
    tmp_path: Path,
) -> None:
    """s010 asks for a third keyframe take after its pick; fal fails it. The drafts need only
    the keyframe pick: they are made (locally) as for the other shots, while the failure is
    still reported and the build ends non-zero."""
    with remote_film(tmp_path, "fal", slots=("keyframe",)) as film:
        film.vf("build", "--tier", "draft")
        film.pick_all("keyframe", 1)
        doc = YAML().load(film.root / "shots.yaml")
        doc["shots"][0]["keyframe"]["takes"] = 3  # the same version: the pick stays current
        YAML().dump(doc, film.root / "shots.yaml")
        film.fake.faults.fail_jobs = True
        run = film.vf("build", "--tier", "draft", check=False)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and "s010 keyframe t03" in errors[0], run.stderr
        gen = film.root / "03_Generations" / "v1_exploration"
        for sid in ("s010", "s020", "s030"):
            assert len(list(gen.glob(f"{sid}_draft_v001_t0*.mp4"))) == 2, run.stdout
