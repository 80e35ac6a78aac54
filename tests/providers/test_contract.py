"""The protocol every remote provider keeps, asserted once for all six against their fakes.

Each provider gets a row in `ADAPTERS`: its fake, its keys, a recipe for each step it serves
(with the size its take comes back at), what its job ids look like, whether it can find a job
whose submit reply was lost (and with which request), whether it can cancel. The tests then
hold every provider to the same promises: a take is journalled before it is submitted and its
job id right after; an interrupted make resumes by polling and never submits again; a refusal
that took nothing (429, 503) is sent again and paid once, and faults on polls and downloads
are retried; a failed job waits for `--retry-failed`; a lost submit reply is found where the
provider can look, and otherwise stops the build until `--resubmit`; a result is fetched, held
to its size and to being media, and fetched again until it is whole; the key never reaches the
journal, a log or an error; cancel stops a job where the provider can.

What is one provider's own (its request bodies, JWT, status stream, uploads, workflows) is
tested in its own file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.base import FakeServer
from tests.fakes.comfyui import ComfyFake
from tests.fakes.comfyui import film_providers as comfy_workflows
from tests.fakes.fal import KEYS as FAL_KEYS
from tests.fakes.fal import FalFake
from tests.fakes.kling import KEYS as KLING_KEYS
from tests.fakes.kling import KlingFake
from tests.fakes.luma import KEYS as LUMA_KEYS
from tests.fakes.luma import LumaFake
from tests.fakes.replicate import KEYS as REPLICATE_KEYS
from tests.fakes.replicate import ReplicateFake
from tests.fakes.runway import KEYS as RUNWAY_KEYS
from tests.fakes.runway import RunwayFake
from tests.fakes.syncso import KEYS as SYNC_KEYS
from tests.fakes.syncso import SyncFake
from tests.providers.kit import (
    Run,
    clip,
    creates,
    downloads,
    end_now,
    provider,
    quick,
    recipe,
    serving,
    still,
    tone,
)
from vfbuild import catalog
from vfbuild.errors import InputRefused, ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers import get_provider
from vfbuild.providers.remote import FAILED_STATE, FETCH_TRIES, RemoteJob, RemoteProvider
from vfbuild.store.journal import (
    FAILED,
    REFUSED,
    SUBMITTED,
    SUBMITTING,
    Journal,
    JournalEntry,
    client_id_for,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Step:
    """A step a provider serves: its recipe's settings, its input files (names in `media`),
    and the take it makes (size; length in seconds for a video, None for a still)."""

    settings: dict[str, Any]
    inputs: dict[str, str | list[str]]
    size: tuple[int, int]
    seconds: float | None = None


def frame(w: int, h: int) -> dict[str, Any]:
    return {"width": w, "height": h}


def video(w: int, h: int, seconds: float = 4) -> dict[str, Any]:
    return {"width": w, "height": h, "fps": 24, "duration": seconds, "move": "push-in"}


REFS = {"references": ["ref"]}
KF, KF640 = {"keyframe": "kf"}, {"keyframe": "kf_640"}
CLIP, LIP = {"clip": "clip"}, {"clip": "clip", "audio": "audio"}
LIP2S = {"clip": "clip_2s", "audio": "audio_2s"}


@dataclass(frozen=True)
class Adapter:
    name: str
    fake: Callable[[], FakeServer]
    keys: dict[str, str]  # env var → the value the fake accepts
    steps: dict[str, Step]
    main: str  # the step the protocol tests use: the cheapest to make
    job_id: str  # a regex every job id of this provider matches
    # What the errors say (regexes searched in the message): the provider's reason for a failed
    # job; its refusal of a wrong key; its refusal of a bad setting.
    fail_says: str
    # The request that looks for a job whose reply was lost (client id, step → method, path);
    # None: the provider cannot be asked.
    lookup: Callable[[str, str], tuple[str, str]] | None
    can_cancel: bool
    canceled_says: str = ""  # a poll's error after a cancel
    # The client ids (ours) the fake received, oldest first; None if the provider takes none.
    client_ids: Callable[[Any], list[str]] | None = None
    wrong_key: tuple[str, str, str] | None = None  # env var, a wrong value, says
    # A setting the provider refuses: step, provider settings, says.
    refused: tuple[str, dict[str, Any], str] | None = None
    secrets: Callable[[Any], list[str]] = lambda fake: []  # besides the keys (Kling's JWTs)
    workflows: bool = False  # ComfyUI: the film holds the workflows, named in the recipe
    # The create carries a key the service refuses a duplicate by (sync.so's Idempotency-Key):
    # a lost reply is sent again with it, and the service answers with the job it made.
    idempotent: bool = False

    @property
    def can_find(self) -> bool:
        return self.lookup is not None


def fake_with(cls: Callable[..., FakeServer], **kw: Any) -> Callable[[], FakeServer]:
    return lambda: quick(cls, **kw)


def comfy_workflow(step: str) -> str:
    return f"workflows/{'video_' + step if step in ('draft', 'final') else step}.json"


ADAPTERS = [
    Adapter(
        "fal",
        fake_with(FalFake),
        FAL_KEYS,
        {
            "keyframe": Step(frame(128, 72), REFS, (128, 72)),
            "draft": Step(video(128, 72), KF, (128, 72), 5.0),  # Kling on fal: 5 s
            "final": Step(video(128, 72), KF, (128, 72), 5.0),
            "upscale": Step(frame(384, 216), CLIP, (384, 216), 1.0),
            "lipsync": Step(frame(128, 72), LIP, (128, 72), 1.0),
        },
        main="keyframe",
        job_id=UUID,
        fail_says="content checker",
        lookup=None,
        can_cancel=True,
        canceled_says="cancelled",
        wrong_key=("FAL_KEY", "fal-wrong-0000aaaa-1111:ffffeeeedddd", "fal refused FAL_KEY"),
        refused=(
            "draft",
            {"cfg_scale": 5},
            "rejected the input.*cfg_scale: Input should be between 0 and 1",
        ),
        secrets=lambda fake: [FAL_KEYS["FAL_KEY"].split(":")[1]],  # the secret half alone
    ),
    Adapter(
        "replicate",
        fake_with(ReplicateFake),
        REPLICATE_KEYS,
        {
            "keyframe": Step(frame(128, 72), REFS, (128, 72)),
            "draft": Step(video(128, 72), KF, (128, 72), 81 / 16),  # Wan: 81 frames at 16 fps
            "final": Step(video(128, 72), KF, (128, 72), 81 / 16),
            "upscale": Step(frame(1280, 720), CLIP, (1280, 720), 1.0),
            "lipsync": Step(frame(128, 72), LIP, (128, 72), 1.0),
        },
        main="keyframe",
        job_id=r"[a-z2-7]{26}",
        fail_says="CUDA out of memory",
        lookup=lambda client_id, step: ("GET", "/v1/predictions"),  # among the recent ones
        can_cancel=True,
        canceled_says="canceled",
        wrong_key=(
            "REPLICATE_API_TOKEN",
            "r8_wrongWrong0123456789",
            "refused REPLICATE_API_TOKEN.*valid authentication",
        ),
        refused=(
            "upscale",
            {"target_resolution": "8k"},
            "rejected the input.*target_resolution: Must be one of 720p, 1080p, 4k",
        ),
    ),
    Adapter(
        "kling",
        fake_with(KlingFake, strict_media=True),  # with Kling's limits on sizes and lengths
        KLING_KEYS,
        {
            "draft": Step(video(640, 360), KF640, (1280, 720), 5.0),  # std: 720p
            "lipsync": Step(video(512, 512, 2), LIP2S, (512, 512), 2.0),  # Kling's 2-10 s
        },
        main="lipsync",
        job_id=r"\d+",
        fail_says="risk control",
        lookup=lambda client_id, step: (  # by the external_task_id we chose
            "GET",
            f"/v1/videos/{'lip-sync' if step == 'lipsync' else 'image2video'}/{client_id}",
        ),
        can_cancel=False,
        client_ids=lambda fake: [
            j.extra["external_task_id"] for j in sorted(fake.jobs.values(), key=lambda j: j.created)
        ],
        wrong_key=("KLING_SECRET_KEY", "kling-test-sk-WRONG-5e0c1d2b3a4f", "HTTP 401, code 1002"),
        refused=("draft", {"cfg_scale": 5}, r"code 1201\).*cfg_scale"),
        secrets=lambda fake: list(fake.tokens_seen),  # the JWTs signed with the secret
    ),
    Adapter(
        "luma",
        fake_with(LumaFake),
        LUMA_KEYS,
        {
            "keyframe": Step(frame(640, 360), REFS, (1920, 1080)),
            "draft": Step(video(640, 360), KF640, (960, 540), 5.0),  # 540p
            "final": Step(video(1280, 720), KF640, (1280, 720), 5.0),
        },
        main="keyframe",
        job_id=UUID,
        fail_says="could not complete",
        lookup=lambda client_id, step: ("GET", "/dream-machine/v1/generations"),  # the list
        can_cancel=False,
        wrong_key=("LUMAAI_API_KEY", "luma-not-the-right-key-0000", "HTTP 401.*Invalid API key"),
        refused=("draft", {"resolution": "8k"}, "HTTP 422.*resolution:"),
    ),
    Adapter(
        "runway",
        fake_with(RunwayFake, strict_media=True),
        RUNWAY_KEYS,
        {
            "draft": Step(video(640, 360), KF640, (1280, 720), 5.0),
            "upscale": Step(frame(1920, 1080), {"clip": "clip_160"}, (640, 360), 1.0),  # 4x
        },
        main="upscale",
        job_id=UUID,
        fail_says="INTERNAL.BAD_OUTPUT.CODE01",
        lookup=None,
        can_cancel=True,
        canceled_says="cancelled",
        wrong_key=("RUNWAYML_API_SECRET", "key_" + "0" * 128, "HTTP 401"),
        refused=("draft", {"ratio": "1:1"}, "HTTP 400.*ratio: Invalid enum value"),
    ),
    Adapter(
        "sync",
        fake_with(SyncFake),
        SYNC_KEYS,
        {"lipsync": Step(frame(128, 72), LIP, (128, 72), 1.0)},
        main="lipsync",
        job_id=UUID,
        fail_says="no face was tracked",
        lookup=None,
        can_cancel=False,
        client_ids=lambda fake: [k for k in dict.fromkeys(fake.keys_seen) if k],
        wrong_key=("SYNC_API_KEY", "sk-sync-wrong-0000", "refused SYNC_API_KEY"),
        refused=("lipsync", {"sync_mode": 5}, "rejected the input"),
        idempotent=True,
    ),
    Adapter(
        "comfyui",
        fake_with(ComfyFake),
        {},  # ComfyUI takes no key
        {
            "keyframe": Step(frame(128, 72), {"references": []}, (128, 72)),
            "draft": Step(video(96, 54, 1), {"keyframe": "bare_kf"}, (96, 54), 1.0),
            "final": Step(video(128, 72, 1), {"keyframe": "bare_kf"}, (128, 72), 1.0),
            "upscale": Step(frame(192, 108), {"clip": "clip_96"}, (192, 108), 1.0),
            "lipsync": Step({"fps": 24}, {"clip": "clip_96", "audio": "audio"}, (96, 54), 1.0),
        },
        main="keyframe",
        job_id=UUID,  # ours: the prompt id we chose
        fail_says=r"node 3 \(KSampler\): .*out of memory",
        lookup=lambda client_id, step: ("GET", f"/history/{client_id}"),  # by our prompt id
        can_cancel=True,
        canceled_says="no record of prompt",  # a queued prompt, deleted: ComfyUI forgets it
        client_ids=lambda fake: list(fake.prompts),
        workflows=True,
    ),
]
BY_NAME = {a.name: a for a in ADAPTERS}
KEYED = [a.name for a in ADAPTERS if a.keys]
STEPS = [f"{a.name}-{step}" for a in ADAPTERS for step in a.steps]
# A lost reply is looked for as each step's own request; one that cannot be looked for is
# refused the same way whatever the step.
LOST = [f"{a.name}-{step}" for a in ADAPTERS for step in (a.steps if a.can_find else [a.main])]


def sent_again_with_its_key(w: World, take: Take, *, made: bool) -> None:
    """An idempotent provider after a lost reply: the build sends the create again with the
    same key; the service answers with the job it made (`made`), or makes it now; paid once."""
    take.make(w.provider())
    entry = take.entry()
    assert entry is not None and entry.state == SUBMITTED and entry.job_id in w.fake.jobs
    assert w.fake.paid_jobs == 1 and list(w.fake.jobs) == [entry.job_id]
    assert w.fake.replays == (1 if made else 0)
    assert w.a.client_ids is not None and w.a.client_ids(w.fake) == [entry.client_id]
    take.check_media()


# -- the world of one test: a fake, a film folder, a journal ---------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("contract-media")
    files = {
        "kf": still(d / "kf.png", "128x72"),
        "ref": still(d / "ref.png", "64x64"),
        "clip": clip(d / "clip.mp4", "128x72", 1),
        "audio": tone(d / "line.wav", 1),
        "kf_640": still(d / "kf640.png", "640x360"),  # Kling, Luma, Runway want real sizes
        "clip_2s": clip(d / "clip2.mp4", "512x512", 2),  # Kling's lip-sync limits
        "audio_2s": tone(d / "line2.wav", 2),
        "clip_160": clip(d / "clip160.mp4", "160x90", 1),
        "clip_96": clip(d / "clip96.mp4", "96x54", 1),
    }
    bare = d / "store-kf"  # store files have no extension: ComfyUI must sniff the upload
    bare.write_bytes(files["kf"].read_bytes())
    return files | {"bare_kf": bare}


@dataclass
class World:
    a: Adapter
    fake: Any
    root: Path
    media: dict[str, Path]
    journal: Journal = field(init=False)

    def __post_init__(self) -> None:
        self.journal = Journal(self.root / ".vf" / "journal")

    def provider(self) -> RemoteProvider:
        """The provider as a new build (a new process) makes it."""
        prov = provider(self.a.name, self.root)
        assert isinstance(prov, RemoteProvider)
        return prov

    def take(self, step: str | None = None, *, seed: int = 7, **settings: Any) -> Take:
        return Take(self, step or self.a.main, seed, settings)


class Take(Run):
    """One take of a step the adapter lists, in the world's film folder."""

    def __init__(self, w: World, step: str, seed: int, provider_settings: dict[str, Any]) -> None:
        self.w, self.spec = w, w.a.steps[step]
        ps = dict(provider_settings)
        if w.a.workflows:
            wf = comfy_workflow(step)
            sha = hashlib.sha256((w.root / wf).read_bytes()).hexdigest()
            ps |= {"workflow": wf, "workflow_sha256": sha}
        inputs = {
            role: [w.media[n] for n in names] if isinstance(names, list) else w.media[names]
            for role, names in self.spec.inputs.items()
        }
        super().__init__(
            w.root, recipe(w.a.name, step, self.spec.settings, ps=ps, seed=seed), inputs
        )

    def entry(self) -> JournalEntry | None:
        return self.w.journal.get(self.key)

    def submit_only(self, *, post: bool) -> str | None:
        """What a build killed before the job id reached the journal leaves: the entry (state
        submitting), and with `post` the job at the provider."""
        entry = self.w.journal.begin(
            self.key, provider=self.w.a.name, model=self.recipe["model"], label=self.label, cost=0
        )
        return self.prov.submit(self.job(entry.client_id)) if post else None

    def check_media(self) -> None:
        info = probe(self.out)
        assert (info.width, info.height) == self.spec.size
        assert info.is_image == (self.spec.seconds is None)
        if self.spec.seconds is not None:
            assert info.duration == pytest.approx(self.spec.seconds, abs=0.2)
        assert info.has_audio == (self.step == "lipsync")


@contextlib.contextmanager
def world(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: dict[str, Path], name: str
) -> Iterator[World]:
    """A provider's fake, started, and a film folder whose environment points at it."""
    a = BY_NAME[name]
    with serving(a.fake(), monkeypatch, a.keys) as fake:
        root = tmp_path / "film"
        root.mkdir()
        if a.workflows:
            comfy_workflows(fake, root)
        yield World(a, fake, root, media)


@pytest.fixture(params=[a.name for a in ADAPTERS])
def w(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: Any
) -> Iterator[World]:
    with world(monkeypatch, tmp_path, media, request.param) as one:
        yield one


@pytest.fixture(params=KEYED)
def keyed(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: Any
) -> Iterator[World]:
    with world(monkeypatch, tmp_path, media, request.param) as one:
        yield one


def hold_until_journalled(w: World, take: Take) -> None:
    """Keep the fake's jobs running until the journal has the take's job id, then end them: a
    lost job is looked for while it runs, never as it ends (a job that ends while it is looked
    for is test_a_lost_job_that_ends_while_it_is_looked_for_is_found's)."""
    w.fake.latency = 60.0

    def end_once_journalled(req: Any) -> None:
        entry = take.entry()
        if entry is not None and entry.state == SUBMITTED:
            for job in list(w.fake.jobs.values()):
                end_now(job)

    w.fake.on_reply = end_once_journalled


def lookups(w: World, take: Take, client_id: str) -> int:
    assert w.a.lookup is not None
    return w.fake.log.count(w.a.lookup(client_id, take.step))


# -- the table itself ------------------------------------------------------------------------


def test_the_table_says_what_each_provider_does() -> None:
    for a in ADAPTERS:
        cls = type(get_provider(a.name, config=None, film_root=None))
        assert (cls.can_find, cls.can_cancel) == (a.can_find, a.can_cancel), a.name
        assert catalog.info(a.name).env_keys == tuple(a.keys), a.name
        for step in a.steps:
            assert catalog.can_serve(a.name, "video" if step in ("draft", "final") else step)


# -- a take: journalled, submitted once, fetched once ----------------------------------------


@pytest.mark.parametrize("case", STEPS)
def test_each_step_is_journalled_then_submitted_then_fetched_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: dict[str, Path], case: str
) -> None:
    name, step = case.split("-")
    with world(monkeypatch, tmp_path, media, name) as w:
        take = w.take(step)
        at_create: list[JournalEntry | None] = []
        # The fake has made the job and not yet answered: the journal must already hold it.
        w.fake.on_create = lambda: at_create.append(take.entry())
        take.make()
        (before,) = at_create
        assert before is not None and before.state == SUBMITTING and before.job_id is None
        assert before.client_id
        entry = take.entry()
        assert entry is not None and entry.state == SUBMITTED
        assert entry.job_id is not None and re.fullmatch(w.a.job_id, entry.job_id)
        assert entry.job_id in w.fake.jobs
        if w.a.client_ids is not None:
            assert w.a.client_ids(w.fake) == [entry.client_id]  # the id we chose, sent
        assert w.fake.paid_jobs == 1 and creates(w.fake) == 1
        assert downloads(w.fake) == 1
        assert w.fake.cdn_auth_seen == []  # the key goes to the API only, never to a CDN
        take.check_media()


def test_an_interrupted_make_resumes_by_polling(w: World) -> None:
    take = w.take()

    def interrupt() -> None:  # Ctrl-C the moment the job is at the provider
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        take.make(started=interrupt)
    entry = take.entry()
    assert entry is not None and entry.state == SUBMITTED and entry.job_id in w.fake.jobs
    take.make(w.provider())  # the next build
    assert take.entry() == entry  # the same job, polled
    assert w.fake.paid_jobs == 1 and creates(w.fake) == 1
    take.check_media()


def test_a_failed_job_waits_for_retry_failed(w: World) -> None:
    w.fake.faults.fail_jobs = True
    take = w.take()
    with pytest.raises(ProviderError, match=f"{take.label}: {w.a.name} failed the job") as e:
        take.make()
    assert re.search(w.a.fail_says, e.value.message)
    first = take.entry()
    assert first is not None and first.state == FAILED and w.fake.paid_jobs == 1

    seen = len(w.fake.log)
    with pytest.raises(ProviderError, match="failed this job before") as e:
        take.make(w.provider())
    assert "--retry-failed" in (e.value.hint or "")
    assert len(w.fake.log) == seen  # not a single request

    w.fake.faults.fail_jobs = False
    take.make(w.provider(), retry_failed=True)
    assert w.fake.paid_jobs == 2 and creates(w.fake) == 2
    again = take.entry()
    assert again is not None and again.state == SUBMITTED
    assert again.attempt == 2 and again.client_id != first.client_id  # a new job, a new id
    if w.a.client_ids is not None:  # which the provider sees (Kling refuses a reused one)
        assert w.a.client_ids(w.fake) == [first.client_id, again.client_id]
    take.check_media()


# -- a submit whose reply was lost -------------------------------------------------------------


def refused_until_resubmit(w: World, take: Take, lost_at: str) -> None:
    """A provider that cannot be asked which jobs it has: the build stops, naming the take,
    and sends nothing until `--resubmit`, which ledgers the first job as lost."""
    paid = w.fake.paid_jobs
    seen = len(w.fake.log)
    with pytest.raises(ProviderError, match=take.label) as e:
        take.make(w.provider())
    assert f"key {take.key[:12]}" in e.value.message and "cannot be asked" in e.value.message
    assert "--resubmit" in (e.value.hint or ""), lost_at
    assert len(w.fake.log) == seen  # nothing sent
    lost: list[JournalEntry] = []
    take.make(w.provider(), resubmit=True, lost=lost.append)
    assert [entry.key for entry in lost] == [take.key]
    assert w.fake.paid_jobs == paid + 1
    take.check_media()


@pytest.mark.parametrize("lost_at", ["before-the-post", "after-the-post"])
def test_a_job_journalled_without_its_id_is_found_or_refused(w: World, lost_at: str) -> None:
    """The build was killed after the journal entry was written: before the POST went out, or
    after it, before the reply came."""
    take = w.take()
    hold_until_journalled(w, take)
    job_id = take.submit_only(post=lost_at == "after-the-post")
    entry = take.entry()
    assert entry is not None and entry.state == SUBMITTING
    if w.a.idempotent:
        return sent_again_with_its_key(w, take, made=job_id is not None)
    if not w.a.can_find:
        return refused_until_resubmit(w, take, lost_at)
    take.make(w.provider())
    assert lookups(w, take, entry.client_id) >= 1
    assert w.fake.paid_jobs == 1 and creates(w.fake) == 1
    after = take.entry()
    assert after is not None and after.state == SUBMITTED and after.job_id in w.fake.jobs
    if job_id is not None:
        assert after.job_id == job_id  # found, not made again
    if w.a.client_ids is not None:
        assert w.a.client_ids(w.fake) == [entry.client_id]  # the same id, kept across the crash
    take.check_media()


@pytest.mark.parametrize("case", LOST)
def test_a_dropped_submit_reply_is_found_or_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: dict[str, Path], case: str
) -> None:
    """The provider made the job, then the connection dropped before its reply: each step's
    job is looked for as that step's request (Kling's two endpoints, Luma's and Replicate's
    request bodies)."""
    name, step = case.split("-")
    with world(monkeypatch, tmp_path, media, name) as w:
        take = w.take(step)
        hold_until_journalled(w, take)
        w.fake.faults.force("create", "drop")
        if w.a.idempotent:  # sent again at once, with its key: the service's own job comes back
            take.make()
            entry = take.entry()
            assert entry is not None and entry.state == SUBMITTED
            assert w.fake.paid_jobs == 1 and creates(w.fake) == 2 and w.fake.replays == 1
            assert list(w.fake.jobs) == [entry.job_id]
            return take.check_media()
        if not w.a.can_find:
            with pytest.raises(ProviderError, match=take.label) as e:
                take.make()
            assert "reply was lost" in e.value.message and "--resubmit" in (e.value.hint or "")
            assert w.fake.paid_jobs == 1  # it was taken; the build cannot know
            entry = take.entry()
            assert entry is not None and entry.state == SUBMITTING
            return refused_until_resubmit(w, take, "the reply")
        take.make()
        entry = take.entry()
        assert entry is not None and entry.state == SUBMITTED
        assert lookups(w, take, entry.client_id) >= 1
        assert w.fake.faults.injected == [("create", "drop")]
        assert w.fake.paid_jobs == 1 and creates(w.fake) == 1
        assert list(w.fake.jobs) == [entry.job_id]
        take.check_media()


@pytest.mark.parametrize(
    "name",
    [a.name for a in ADAPTERS if a.can_find],
)
def test_a_lost_job_that_ends_while_it_is_looked_for_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: dict[str, Path], name: str
) -> None:
    with world(monkeypatch, tmp_path, media, name) as w:
        take = w.take()
        assert w.a.lookup is not None
        first = w.a.lookup(client_id_for(take.key, 1), take.step)
        ended: list[str] = []

        def end_after_the_first_lookup(req: Any) -> None:
            if (req.method, req.path) == first and not ended:
                for job in list(w.fake.jobs.values()):
                    end_now(job)  # its answer said running; the job is done the moment after
                    ended.append(job.id)

        w.fake.on_reply = end_after_the_first_lookup
        w.fake.faults.force("create", "drop")
        take.make()
        assert ended and w.fake.paid_jobs == 1 and creates(w.fake) == 1
        take.check_media()


def test_a_500_on_the_submit_is_looked_up_then_sent_again_or_refused(w: World) -> None:
    """A 500 leaves it unknown whether the job was made (the fake's comes before it is)."""
    take = w.take()
    w.fake.faults.force("create", "500")
    if w.a.idempotent:  # sent again with its key: the 500 came before the job was made
        take.make()
        assert w.fake.paid_jobs == 1 and creates(w.fake) == 2 and w.fake.replays == 0
        return take.check_media()
    if not w.a.can_find:
        with pytest.raises(ProviderError, match=take.label) as e:
            take.make()
        assert "may or may not exist" in e.value.message
        assert w.fake.paid_jobs == 0
        return refused_until_resubmit(w, take, "a 500")
    take.make()
    entry = take.entry()
    assert entry is not None and lookups(w, take, entry.client_id) >= 1
    assert w.fake.paid_jobs == 1 and creates(w.fake) == 2
    take.check_media()


# -- faults that took nothing ------------------------------------------------------------------


def test_refusals_that_took_nothing_are_sent_again_after_retry_after(w: World) -> None:
    """429 and 503 on the submit: the job was not made, so it is sent again (after the wait
    Retry-After asks), and paid once; 5xx, 429 and dropped connections on polls, result reads
    and downloads are retried too."""
    w.fake.faults.retry_after = "0.25"
    w.fake.faults.force("create", "429", "503")
    w.fake.faults.force("api", "500", "503", "drop", "429")
    w.fake.faults.force("download", "503", "drop")
    take = w.take()
    start = time.monotonic()
    take.make()
    assert time.monotonic() - start >= 0.5  # two waits of Retry-After on the submit, at least
    assert w.fake.paid_jobs == 1 and creates(w.fake) == 3
    assert {k for k, _ in w.fake.faults.injected} == {"create", "api", "download"}
    assert len(w.fake.faults.injected) == 8
    take.check_media()


# -- the result: fetched until it is whole, never a take when it is not ----------------------


def test_a_result_cut_short_or_not_media_is_fetched_again_after_a_backoff(w: World) -> None:
    """A body shorter than its Content-Length is fetched again by the download itself; a body
    that is not media is fetched again after the backoff (longer each time)."""
    w.fake.faults.force("download", "truncate", "corrupt", "corrupt", "corrupt")
    take = w.take()
    waits: list[int] = []
    backoff = take.prov.http._sleep

    def spy(attempt: int, resp: Any) -> None:
        waits.append(attempt)
        backoff(attempt, resp)

    take.prov.http._sleep = spy  # type: ignore[method-assign]
    take.make()
    assert waits == [0, 0, 1, 2]  # the truncated body's retry, then one per corrupt body
    assert downloads(w.fake) == 5 and w.fake.paid_jobs == 1
    take.check_media()


def test_a_result_that_stays_corrupt_is_not_a_take(w: World) -> None:
    w.fake.faults.force("download", *["corrupt"] * FETCH_TRIES)
    take = w.take()
    with pytest.raises(ProviderError, match="not usable media") as e:
        take.make()
    assert "without paying" in (e.value.hint or "")
    entry = take.entry()
    assert entry is not None and entry.state == SUBMITTED  # the next build downloads again
    take.make(w.provider())
    assert w.fake.paid_jobs == 1 and creates(w.fake) == 1
    assert downloads(w.fake) == FETCH_TRIES + 1
    take.check_media()


@pytest.mark.parametrize("name", [a.name for a in ADAPTERS if a.refused])
def test_a_refused_input_is_journalled_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: dict[str, Path], name: str
) -> None:
    """(ComfyUI's refusals are of workflows: test_comfyui.py.)"""
    with world(monkeypatch, tmp_path, media, name) as w:
        assert w.a.refused is not None
        step, settings, says = w.a.refused
        take = w.take(step, **settings)
        with pytest.raises(ProviderError) as e:
            take.make()
        assert take.label in e.value.message and re.search(says, e.value.message)
        entry = take.entry()
        # waits for a fix, or --retry-failed; a 422 (fal, Replicate, Luma) refuses the input
        # for good: `refused`, which the slot's fallback may make instead
        assert entry is not None and entry.state in (FAILED, REFUSED)
        assert (entry.state == REFUSED) == isinstance(e.value, InputRefused)
        assert w.fake.paid_jobs == 0


# Providers whose published refusal of an input is an HTTP 422 (Kling's is a service code:
# test_kling.py; Runway's and ComfyUI's a 400).
REFUSES_WITH_422 = ["fal", "replicate", "luma", "sync"]


@pytest.mark.parametrize("name", REFUSES_WITH_422)
def test_a_422_is_an_input_refusal_and_is_never_sent_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: dict[str, Path], name: str
) -> None:
    """A refusal of the input (Seedance's recognisable face) is deterministic: raised as
    `InputRefused` (what a `fallback:` acts on), sent once, paid never, and not sent again by
    the next build unless `--retry-failed`."""
    with world(monkeypatch, tmp_path, media, name) as w:
        w.fake.faults.force("create", "422")
        take = w.take()
        with pytest.raises(InputRefused) as e:
            take.make()
        assert take.label in e.value.message and e.value.status == 422
        assert creates(w.fake) == 1 and w.fake.paid_jobs == 0  # not retried
        entry = take.entry()
        assert entry is not None and entry.state == REFUSED
        with pytest.raises(InputRefused, match="refused this input before"):
            take.make(w.provider())
        assert creates(w.fake) == 1


def test_a_5xx_is_retried_on_the_same_provider_not_refused(w: World) -> None:
    """A fault is not a refusal: a 503 on the submit is sent again, 500s on the status are
    asked again, and the take is made and paid once."""
    w.fake.faults.retry_after = "0"
    w.fake.faults.force("create", "503")
    w.fake.faults.force("api", "500", "500")
    take = w.take()
    take.make()
    assert creates(w.fake) == 2 and w.fake.paid_jobs == 1
    assert [f for _, f in w.fake.faults.injected] == ["503", "500", "500"]
    take.check_media()


# -- keys ---------------------------------------------------------------------------------------


def test_a_missing_key_stops_before_any_request(keyed: World, monkeypatch: Any) -> None:
    w, missing = keyed, list(keyed.a.keys)[-1]
    monkeypatch.delenv(missing)
    take = w.take()
    with pytest.raises(ProviderError, match=f"{missing} not set") as e:
        take.make()
    assert "nothing was submitted" in e.value.message
    assert w.fake.log == [] and take.entry() is None


def test_a_wrong_key_is_refused_clearly(
    keyed: World, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    w = keyed
    assert w.a.wrong_key is not None
    var, wrong, says = w.a.wrong_key
    monkeypatch.setenv(var, wrong)
    caplog.set_level(logging.DEBUG)
    take = w.take()
    with pytest.raises(ProviderError) as e:
        take.make()
    text = e.value.message + (e.value.hint or "")
    assert re.search(says, e.value.message) and var in (e.value.hint or "")  # what to fix
    assert wrong not in text and wrong not in caplog.text
    assert w.fake.paid_jobs == 0
    assert take.entry() is None  # fix the key and build again: nothing to resolve


def test_the_key_never_leaks(keyed: World, caplog: pytest.LogCaptureFixture) -> None:
    """Not into the journal, a log line (retries are logged) or an error; not to a CDN."""
    w = keyed
    caplog.set_level(logging.DEBUG)
    w.fake.faults.force("api", "503", "drop")
    w.take(seed=1).make()
    w.fake.faults.fail_jobs = True
    with pytest.raises(ProviderError) as e:
        w.take(seed=2).make()
    secrets = [*w.a.keys.values(), *w.a.secrets(w.fake)]
    assert len(w.journal.entries()) == 2
    texts = [p.read_text() for p in (w.root / ".vf").rglob("*") if p.is_file()]
    texts += [str(e.value), e.value.hint or "", caplog.text]
    texts += [str(r.args) for r in caplog.records]
    assert "retry" in caplog.text  # the faults were logged
    for secret in secrets:
        assert secret and not any(secret in t for t in texts)
    assert w.fake.cdn_auth_seen == []


# -- cancel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [a.name for a in ADAPTERS if a.can_cancel])
def test_cancel_stops_a_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, media: dict[str, Path], name: str
) -> None:
    with world(monkeypatch, tmp_path, media, name) as w:
        w.fake.latency = 60.0  # queued for 12 s: still waiting when the cancel comes
        take = w.take()
        client_id = client_id_for(take.key, 1)
        job_id = take.prov.submit(take.job(client_id))
        # What `vf cancel` knows of a job: its step and model from the journal, no files.
        step_and_model = {"step": take.step, "model": take.recipe["model"]}
        known = RemoteJob(take.key, step_and_model, {}, take.label, client_id)
        w.provider().cancel(job_id, known)
        assert w.fake.jobs[job_id].canceled
        poll = take.prov.poll(job_id, take.job())
        assert poll.state == FAILED_STATE and w.a.canceled_says in (poll.error or "")
        w.provider().cancel(job_id, known)  # twice is fine: nothing left to stop
