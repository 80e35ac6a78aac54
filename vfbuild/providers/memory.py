"""An in-memory provider, for testing a film, a plugin step or a script without a network or
ffmpeg: what httpx's `MockTransport` is to HTTP.

    from vfbuild.providers import memory

    def handler(job: memory.MemoryJob) -> bytes:  # a still of the recipe's size
        return memory.png(job.settings["width"], job.settings["height"], seed=job.key)

    mem = memory.register(memory.MemoryProvider(handler))  # keyframe: {use: memory}
    report = vfbuild.open(film).build(shots=["s010"], tier="draft")
    assert report.ok and [c.label for c in mem.calls] == ["s010 keyframe t01", ...]
    memory.unregister()

A `MemoryProvider` is built with a handler that is given each take as a `MemoryJob` (step,
recipe, input files, label, recipe key) and returns the take's bytes (or an `Awaiting`, or
raises a `ProviderError`); without one it makes small valid media of the recipe's size
(`media`). Its capabilities are set per instance. A `paid=True` one goes down the roads a paid
remote provider does: the budget is asked before the take is made, the job is journalled
before the handler runs and marked submitted after, so the build ledgers it at the price
`prices.yaml` (shipped, or the film's) gives its model; a job it failed waits for
`--retry-failed`, and a journalled take is fetched again, not made (nor paid) twice.

Every call is recorded in `.calls`; `fail(label)` and `wait(label)` make a take fail or wait
for the user, as a provider that refuses a prompt or a manual request would.

One module though long: the provider and the media helpers its handlers use travel together.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import threading
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfbuild import catalog
from vfbuild.catalog import ProviderInfo
from vfbuild.errors import ProviderError, VfError
from vfbuild.providers.base import Awaiting, InputFiles, MakeContext, default_units
from vfbuild.store.journal import FAILED, LEDGERED, STORED, SUBMITTED, SUBMITTING

__all__ = [
    "SLOTS",
    "Handler",
    "MemoryJob",
    "MemoryProvider",
    "clip",
    "media",
    "png",
    "register",
    "unregister",
    "wav",
]

# The `providers:` slots of shots.yaml a registered memory provider serves (all of them).
SLOTS = frozenset({"keyframe", "video", "upscale", "lipsync"})

# Sizes used when neither the recipe nor an input clip gives one.
_DEFAULT_SIZE = (64, 36)
_DEFAULT_SECONDS = 1.0
_DEFAULT_FPS = 24.0


@dataclass(frozen=True)
class MemoryJob:
    """One take the build asks for: what a handler is given."""

    step: str
    recipe: dict[str, Any]
    inputs: InputFiles
    label: str  # "s010 keyframe t02", "s010 final"
    key: str  # the recipe key

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.recipe.get("settings") or {})

    @property
    def take(self) -> int:
        return int(self.recipe.get("take") or 1)


Handler = Callable[[MemoryJob], "bytes | Awaiting"]


class MemoryProvider:
    """A provider whose takes are what `handler` returns (see the module's text)."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        name: str = "memory",
        paid: bool = False,
        deterministic: bool = True,
        holds_slot: bool = False,
        labels: bool = False,
        ledgered: bool | None = None,
        declares_cost: bool = False,
        versions_early: bool = False,
        by_hand: bool = False,
        model: str = "memory",
        version: str = "1",
        units: Callable[[str, float | None], tuple[str, float]] | None = None,
        exts: Mapping[str, str] | None = None,
    ) -> None:
        self.handler: Handler = handler or media
        self.name = name
        self.paid = paid
        self.deterministic = deterministic
        self.holds_slot = holds_slot
        self.labels = labels
        # Paid work is ledgered, as a remote provider's is; free work with a declared cost
        # (`declares_cost`, like `manual`) may be too.
        self.ledgered = paid if ledgered is None else ledgered
        self.declares_cost = declares_cost
        self.versions_early = versions_early
        self.by_hand = by_hand
        self.default_model = model
        self.version = version  # in every recipe: change it when the handler's bytes change
        self._units = units
        self._exts = dict(exts or {})
        self._lock = threading.Lock()
        self._calls: list[MemoryJob] = []
        self._fail: dict[str, str] = {}
        self._wait: dict[str, str] = {}
        # A paid job's bytes by job id, as a remote provider keeps its results: a journalled
        # job whose take did not reach the store is fetched again, not made again.
        self._results: dict[str, bytes] = {}

    # -- what a test sets and reads -----------------------------------------------------------

    @property
    def calls(self) -> tuple[MemoryJob, ...]:
        """Every take the provider was asked to make, in the order asked (a paid take the
        budget refused was never asked; a journalled take fetched again is not asked again)."""
        with self._lock:
            return tuple(self._calls)

    def fail(self, label: str, message: str = "the provider refused the job") -> None:
        """Make the take named `label` ("s010 keyframe t02") fail with a ProviderError."""
        with self._lock:
            self._fail[label] = message

    def wait(self, label: str, message: str | None = None) -> None:
        """Make the take named `label` answer `Awaiting` (a to-do for the user, not an error)."""
        with self._lock:
            self._wait[label] = message or f"{label}: waiting for you"

    def clear(self, label: str | None = None) -> None:
        """Forget what `fail` and `wait` said of `label` (of every take, without one)."""
        with self._lock:
            for rules in (self._fail, self._wait):
                if label is None:
                    rules.clear()
                else:
                    rules.pop(label, None)

    def signature(self) -> str:
        """What the no-op stamp sees of this provider: its capabilities, handler and version
        (another handler or capability is another world, so a stamp is not replayed)."""
        h = self.handler
        caps = (
            self.paid,
            self.deterministic,
            self.holds_slot,
            self.labels,
            self.ledgered,
            self.declares_cost,
            self.versions_early,
            self.by_hand,
        )
        handler = f"{getattr(h, '__module__', '?')}.{getattr(h, '__qualname__', repr(h))}"
        return f"{''.join('1' if c else '0' for c in caps)} {handler} v{self.version}"

    # -- the provider protocol ----------------------------------------------------------------

    def model(self, step: str, configured: str | None) -> str:
        return configured or self.default_model

    def engine(self, step: str) -> dict[str, Any]:
        return {"memory": self.version}

    def ext(self, step: str) -> str:
        if step in self._exts:
            return self._exts[step]
        return {"image": ".png", "audio": ".wav"}.get(_kind(step), ".mp4")

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        if self._units is not None:
            return self._units(step, seconds)
        if _kind(step) == "image":
            return ("image", 1.0)
        return default_units(step, seconds)

    def make(
        self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext
    ) -> Awaiting | None:
        job = MemoryJob(str(recipe["step"]), recipe, inputs, ctx.label, ctx.key)
        if not self.holds_slot:
            return self._make(job, out, ctx)
        with ctx.slot:  # held, as a remote provider holds it, while the job is "at" us
            ctx.started()
            return self._make(job, out, ctx)

    # -- inside -------------------------------------------------------------------------------

    def _make(self, job: MemoryJob, out: Path, ctx: MakeContext) -> Awaiting | None:
        if not self.paid:
            self._record(job)
            data = self._answer(job)
            if isinstance(data, Awaiting):
                return data
            _write(out, data, job)
            return None
        return self._make_paid(job, out, ctx)

    def _make_paid(self, job: MemoryJob, out: Path, ctx: MakeContext) -> Awaiting | None:
        """The order of `remote.RemoteProvider._make`: a failed job waits for --retry-failed,
        a journalled one is fetched, not sent again; else the budget, the journal, the job."""
        journal = ctx.journal
        entry = journal.get(ctx.key) if journal is not None else None
        if entry is not None and entry.state == FAILED and not ctx.retry_failed:
            raise ProviderError(
                f"{ctx.label}: {self.name} failed this job before: {entry.error}",
                hint="fix the cause, or try the same recipe again with "
                "`vf build --retry-failed` (a new attempt may be charged)",
            )
        if entry is not None and entry.state in (SUBMITTING, SUBMITTED, STORED):
            with self._lock:
                kept = self._results.get(entry.job_id or "")
            if kept is not None:
                _write(out, kept, job)
                return None
            if not ctx.resubmit:
                raise ProviderError(
                    f"{ctx.label}: a {self.name} job for this recipe (key {ctx.key[:12]}…) is "
                    f"in the journal ({entry.state}), but this {self.name} provider did not "
                    "make it (another process's, or its reply was lost)",
                    hint="to make it again (and maybe pay twice), run `vf build --resubmit`",
                )
            ctx.lost(entry)  # probably paid: the build ledgers it as lost
        elif entry is not None and entry.state not in (FAILED, LEDGERED):
            raise ProviderError(f"{ctx.label}: unknown journal state {entry.state!r}")
        if ctx.budget is not None:
            ctx.budget.reserve(ctx.label, ctx.cost)
        if journal is not None:
            model = str(job.recipe["model"])
            entry = journal.begin(
                ctx.key, provider=self.name, model=model, label=ctx.label, cost=ctx.cost
            )
        self._record(job)
        try:
            data = self._answer(job)
        except VfError as e:
            # The provider failed the job: it stays reserved, as a remote failure does, and
            # waits for --retry-failed.
            if journal is not None and entry is not None:
                journal.update(entry, state=FAILED, error=e.message)
            raise
        except BaseException:
            # A bug in the handler: nothing was made, nothing is owed.
            if journal is not None:
                journal.remove(ctx.key)
            if ctx.budget is not None:
                ctx.budget.release(ctx.cost)
            raise
        if isinstance(data, Awaiting):
            if journal is not None:
                journal.remove(ctx.key)
            if ctx.budget is not None:
                ctx.budget.release(ctx.cost)
            return data
        with self._lock:
            job_id = f"{self.name}-{len(self._results) + 1}"
            self._results[job_id] = data
        if journal is not None and entry is not None:
            # `submitted`: the runner stores the take, then ledgers it from this entry.
            journal.update(entry, state=SUBMITTED, job_id=job_id)
        _write(out, data, job)
        return None

    def _record(self, job: MemoryJob) -> None:
        with self._lock:
            self._calls.append(job)

    def _answer(self, job: MemoryJob) -> bytes | Awaiting:
        with self._lock:
            failure = self._fail.get(job.label)
            waiting = self._wait.get(job.label)
        if failure is not None:
            raise ProviderError(
                f"{job.label}: {self.name} failed the job: {failure}",
                hint="fix the cause, then build again",
            )
        if waiting is not None:
            return Awaiting(waiting)
        return self.handler(job)


def _kind(step: str) -> str:
    # As every provider tells a still from a clip (`ext`): a keyframe is a still.
    return "image" if step == "keyframe" else "video"


def _write(out: Path, data: bytes | Awaiting, job: MemoryJob) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{job.label}: the memory provider's handler returned {type(data)!r}")
    Path(out).write_bytes(bytes(data))


# -- registration -------------------------------------------------------------------------------

_replaced: dict[str, ProviderInfo | None] = {}  # what a registration stands in for
_registry_lock = threading.Lock()


def register(
    provider: MemoryProvider, name: str | None = None, *, slots: frozenset[str] = SLOTS
) -> MemoryProvider:
    """Put `provider` in the catalog for this process under `name` (its own name without
    one; it answers to that name from now on), serving `slots`: a film's `providers:` may then
    say `{use: <name>}`, and every film this process opens gets this one instance. Call it
    before the film is opened (the spec checks `use:` against the catalog)."""
    name = name or provider.name
    provider.name = name

    def factory(*args: object, **kwargs: object) -> MemoryProvider:
        return provider

    # The stamp names a registered factory by its module and qualified name.
    factory.__qualname__ = f"register.<{name} {provider.signature()}>"
    with _registry_lock:
        _replaced.setdefault(name, catalog.REGISTRY.get(name))
        catalog.register(ProviderInfo(name, slots, factory, remote=False))
    return provider


def unregister(name: str = "memory") -> None:
    """Take a registered memory provider out of the catalog (restoring what it replaced)."""
    with _registry_lock:
        if name not in _replaced:
            return
        before = _replaced.pop(name)
        if before is None:
            catalog.REGISTRY.pop(name, None)
        else:
            catalog.register(before)


# -- media for handlers: small, valid, and the same bytes for the same arguments ----------------


def _rgb(seed: object) -> tuple[int, int, int]:
    d = hashlib.sha256(str(seed).encode()).digest()
    return (d[0], d[1], d[2])


def png(width: int, height: int, seed: object = 0) -> bytes:
    """A `width`x`height` RGB PNG drawn with Pillow: a colour and a bar that `seed` decides,
    and the seed in a text chunk, so two seeds never give the same bytes."""
    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    if width <= 0 or height <= 0:
        raise ValueError(f"png: size {width}x{height} is not positive")
    r, g, b = _rgb(seed)
    im = Image.new("RGB", (width, height), (r, g, b))
    x = r * width // 256
    ImageDraw.Draw(im).rectangle((x, 0, x + max(1, width // 8), height), fill=(b, r, g))
    info = PngInfo()
    info.add_text("vf-seed", str(seed))
    buf = io.BytesIO()
    im.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def clip(
    width: int, height: int, seconds: float = 1.0, fps: float = 24.0, seed: object = 0
) -> bytes:
    """An H.264 MP4 clip of `seconds` at `fps`, encoded in this process with PyAV (no ffmpeg
    executable): solid frames of a colour that `seed` decides. Its size must be even
    (yuv420p); the same arguments give the same bytes with the same PyAV."""
    from fractions import Fraction

    import av

    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError(f"clip: size {width}x{height} must be positive and even")
    rate = Fraction(fps).limit_denominator(1001)
    frames = max(1, round(seconds * fps))
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream(
            "libx264", rate=rate, options={"preset": "ultrafast", "threads": "1"}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        out.metadata["comment"] = f"vf-seed {seed}"
        rgba = bytes((*_rgb(seed), 255)) * (width * height)
        frame = av.VideoFrame.from_bytes(rgba, width, height).reformat(format="yuv420p")
        for i in range(frames):
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def wav(seconds: float = 1.0, seed: object = 0, rate: int = 48000) -> bytes:
    """A mono 16-bit WAV of `seconds`: a sine whose pitch `seed` decides."""
    freq = 220 + _rgb(seed)[0] * 2
    n = max(1, round(seconds * rate))
    samples = b"".join(
        struct.pack("<h", round(12000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n)
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples)
    return buf.getvalue()


def media(job: MemoryJob) -> bytes:
    """The default handler: a take of the step's kind at the recipe's size and length (or
    its input clip's, or 64x36, 1 s, 24 fps), seeded by the recipe key, so each recipe gets
    its own bytes and the same recipe the same bytes."""
    s = job.settings
    kind = _kind(job.step)
    width, height, seconds, fps = s.get("width"), s.get("height"), s.get("duration"), s.get("fps")
    src = job.inputs.get("clip")
    if src is not None and None in (width, height, seconds, fps):
        from vfbuild.media.probe import probe

        info = probe(src[0] if isinstance(src, list) else src)
        width, height = width or info.width, height or info.height
        seconds, fps = seconds or info.duration, fps or info.fps
    w, h = int(width or _DEFAULT_SIZE[0]), int(height or _DEFAULT_SIZE[1])
    if kind == "image":
        return png(w, h, job.key)
    if kind == "audio":
        return wav(float(seconds or _DEFAULT_SECONDS), job.key)
    return clip(w, h, float(seconds or _DEFAULT_SECONDS), float(fps or _DEFAULT_FPS), job.key)
