"""The kill -9 loop on the new request shapes, each with a last frame taken from another shot
(`motion.last: s020.keyframe`): Kling v3 with the single API key and `image_tail`, and Luma's
current API (Agents, ray-3.2) with `video.end_frame`.

Kling: a task whose reply was lost is found by our `external_task_id`, so paid = planned.

Luma publishes no list of generations and no idempotency key, so a kill that falls inside a
create's round trip (the job taken, its id not yet journalled) cannot be resolved by asking:
the next build stops on that job and `--resubmit` sends it again, ledgering the first as lost.
Every job Luma took is then in the ledger: paid = planned + lost, and with no kill in a create
(the usual case, the window being one local round trip) paid = planned."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ruamel.yaml import YAML

from tests.e2e.remote import assert_store_and_layout_whole, fake_module, remote_film
from vfbuild.store.journal import Journal
from vfbuild.store.ledger import Ledger


def _kill_loop(film: object, rng: random.Random, kills: int = 8) -> None:
    cmd = [sys.executable, "-m", "vfbuild", "-C", str(film.root), "build", "-j", "3",  # type: ignore[attr-defined]
           "--tier", "draft"]  # fmt: skip
    for _ in range(kills):
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **film.env},  # type: ignore[attr-defined]
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 1.6))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_sigkill_loop_on_kling_v3_with_image_tail_pays_planned_once(tmp_path: Path) -> None:
    rng = random.Random(11)
    with remote_film(tmp_path, "kling", latency=0.4, slots=("video",)) as film:
        doc = YAML().load(film.root / "shots.yaml")
        doc["providers"]["video"]["model"] = "kling-v3"  # takes image_tail in std mode too
        doc["shots"][0]["motion"]["last"] = "s020.keyframe"
        YAML().dump(doc, film.root / "shots.yaml")
        for pair in ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"):
            film.env.pop(pair)
        film.env["KLING_API_KEY"] = fake_module("kling").API_KEY
        film.vf("build", "--tier", "draft")
        film.pick_all("keyframe")
        film.vf("build", "--tier", "draft", "--budget", "0", check=False)  # s010's last frame
        planned, _ = film.planned("--tier", "draft")
        assert planned == 6
        _kill_loop(film, rng)
        film.vf("build", "-j", "3", "--tier", "draft")
        assert film.fake.paid_jobs == planned
        tails = {j.extra["image_tail_sha256"] for j in film.fake.jobs.values()}  # type: ignore[attr-defined]
        s020 = film.root / "01_Source_Images"
        assert len(tails - {None}) == 1 and list(s020.glob("s010_last_v*.png"))
        assert {e.state for e in Journal(film.root / ".vf" / "journal").entries()} == {"ledgered"}
        rows = Ledger(film.root).rows()
        assert len(rows) == 6 and len({r.recipe_key for r in rows}) == 6
        assert_store_and_layout_whole(film.root)


def test_sigkill_loop_on_luma_agents_pays_each_planned_take_once(tmp_path: Path) -> None:
    rng = random.Random(5)
    with remote_film(tmp_path, "luma-agents", latency=0.4, slots=("video",)) as film:
        doc = YAML().load(film.root / "shots.yaml")
        doc["shots"][0]["motion"]["last"] = "s020.keyframe"
        YAML().dump(doc, film.root / "shots.yaml")
        film.vf("build", "--tier", "draft")  # local keyframes
        film.pick_all("keyframe")
        film.vf("build", "--tier", "draft", "--budget", "0", check=False)  # s010's last frame
        planned, _ = film.planned("--tier", "draft")
        assert planned == 6
        _kill_loop(film, rng)
        last = film.vf("build", "-j", "3", "--tier", "draft", check=False)
        if last.returncode != 0:  # a kill fell in a create: only --resubmit goes on
            assert "--resubmit" in last.stderr + last.stdout, last.stderr
            film.vf("build", "-j", "3", "--tier", "draft", "--resubmit")
        rows = Ledger(film.root).rows()
        lost = [r for r in rows if r.lost]
        assert len({r.recipe_key for r in rows if not r.lost}) == planned
        # every job Luma took is ledgered: made, or lost (a lost row may also be a job a kill
        # stopped between journalling and sending, which vf can only call probably paid)
        assert planned <= film.fake.paid_jobs <= planned + len(lost) == len(rows)
        if not lost:
            assert film.fake.paid_jobs == planned
        # s010's takes went with Luma's end_frame; the others with a start frame only
        ends = [b for b in film.fake.requests if "end_frame" in b["video"]]  # type: ignore[attr-defined]
        assert len({b["prompt"] for b in ends}) == 1 and len(ends) >= 2
        assert all(b["video"]["duration"] == "5s" for b in film.fake.requests)  # type: ignore[attr-defined]
        assert {e.state for e in Journal(film.root / ".vf" / "journal").entries()} == {"ledgered"}
        assert_store_and_layout_whole(film.root)
        assert "  made " not in film.vf("build", "--tier", "draft").stdout
