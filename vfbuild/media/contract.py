"""What each step's result must be, checked before it enters the store.

A provider can answer "succeeded" with media that is not what was asked: an "upscale" at the
clip's own size, a lip-sync with no sound, a clip cut short. `check_result` holds every take,
whoever made it (a remote service, the local renderer, a file dropped in the inbox), to its
step's contract, which each step declares (`vfbuild.steps.Step.contract`) with these terms:

- kind: an image (keyframe) or a video (every other step);
- size: a take matches its tier's aspect ratio (within `ASPECT_TOLERANCE`; providers choose
  their own resolution, e.g. Kling's 720p for a 640x360 tier), or the ratio its provider says
  it makes for that tier (`made_aspect`: Luma's and Runway's fixed ratios); an upscale keeps
  its clip's aspect and fills the delivery frame (the recipe's width and height);
- length: a draft or final lasts what its recipe asks (`settings.duration`) as the provider
  documents it rounds (Kling makes 5 s or 10 s clips, Luma 5 s or 9 s), less one frame at
  most; an upscale lasts as long as the clip it was given;
- sound: a lip-sync carries an audio stream;
- audio (voice and music): sound only, decodable to its end, at a real sample rate (8 kHz at
  least) in one or more channels; a voice reading is audible (`audible`: its mean level above
  `SILENCE_DB`); a piece of music lasts what its recipe asks (`settings.seconds`) as its
  provider makes it (`made_seconds`: CassetteAI makes 10 s at least, Lyria 2 30 s), within
  `AUDIO_TOLERANCE`; a file made by hand may be longer (the mix trims it), never shorter.

A step with no contract (the edit, rendered by vfbuild's own ffmpeg) is not checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, Protocol

from vfbuild.errors import MediaError, ResultRejected
from vfbuild.media.probe import MediaInfo, probe


class Maker(Protocol):
    """What the check asks of the provider that made a take (a `providers.base.Provider`; it
    may also say `made_aspect(recipe)` and `made_seconds(recipe, asked)`, what it makes)."""

    name: str

    def units(self, step: str, seconds: float | None) -> tuple[str, float]: ...


ASPECT_TOLERANCE = 0.01  # 1%: 1920x1088 (a multiple of 16) passes for 1920x1080; 4:3 fails
DEFAULT_FPS = 24.0  # for a clip whose recipe and header both give no rate
# Mean level under which a reading is silence (dBFS, ffmpeg's volumedetect): speech sits near
# -20, a room's hiss near -60; digital silence reads -91 or -inf.
SILENCE_DB = -60.0
MIN_SAMPLE_RATE = 8000
AUDIO_TOLERANCE = 0.5  # seconds, or 5% of a long piece: encoders pad and round to a frame
_EPSILON = 1e-3  # container durations are rounded to the millisecond


@dataclass(frozen=True)
class Contract:
    kind: Literal["image", "video", "audio"]
    # "aspect": the recipe's width/height aspect at any resolution; "at_least": that size or
    # larger, at that aspect; None: not checked (the recipe gives no size).
    size: Literal["aspect", "at_least"] | None = None
    # "asked": the recipe's `settings.duration`, as the provider rounds it; "clip": as long as
    # the `clip` input; None: not checked.
    length: Literal["asked", "clip"] | None = None
    sound: bool = False
    audible: bool = False  # an audio take must not be silent (a voice reading)


def check_result(
    contract: Contract | None,
    recipe: Mapping[str, Any],
    path: Path,
    *,
    label: str,
    provider: Maker | None = None,
    clip: Path | None = None,
) -> None:
    """Raise `ResultRejected` (naming the take, what was expected and what came) unless the
    file at `path` meets its step's `contract` (None: nothing to check). `provider` made it
    (its billing tells how it rounds a clip's length; `made_aspect`/`made_seconds`, where it
    has them, what it makes); `clip` is the step's input clip (an upscale keeps its shape and
    length)."""
    if contract is None:
        return
    who = str(recipe.get("provider") or (provider.name if provider is not None else "?"))
    try:
        info = probe(path)
    except MediaError as e:
        _reject(label, who, f"a {contract.kind}", f"no readable media ({e.message})")

    if contract.kind == "audio":
        _check_audio(contract, recipe, path, info, label=label, who=who, provider=provider)
        return
    if contract.kind == "image" and not info.is_image:
        _reject(label, who, "an image", _describe(info))
    if contract.kind == "video" and (info.is_image or not info.has_video):
        _reject(label, who, "a video", _describe(info))

    settings = recipe.get("settings") or {}
    uses_clip = contract.length == "clip" or contract.size == "at_least"
    source = _input(clip) if uses_clip else None
    if contract.size is not None and info.width and info.height:
        w, h = info.width, info.height
        shape = _wanted_shape(contract, recipe, provider, source)
        if shape is not None:
            aw, ah, of = shape
            if not _same_aspect(w, h, aw, ah):
                _reject(label, who, f"the aspect of {of} ({aw / ah:.3f})", f"{w}x{h} ({w / h:.3f})")
        ww, wh = int(settings.get("width") or 0), int(settings.get("height") or 0)
        # Filling the delivery frame one way is enough: the shape was checked just above, and
        # a clip of another provider's aspect (Runway's 1584:672 for 2.39:1) cannot do both.
        if contract.size == "at_least" and ww and wh and w < ww and h < wh:
            _reject(label, who, f"at least the delivery size {ww}x{wh}", f"{w}x{h}")

    if contract.length is not None:
        want = _wanted_seconds(contract, recipe, provider, source)
        if want is not None:
            frame = 1.0 / float(settings.get("fps") or info.fps or DEFAULT_FPS)
            got = info.duration
            if got is None or got < want - frame - _EPSILON:
                asked = f"a clip of {want:.2f} s (one frame less at most)"
                _reject(label, who, asked, f"{got:.2f} s" if got is not None else "no duration")

    if contract.sound and not info.has_audio:
        _reject(label, who, "a video with sound (an audio stream)", "a video with no audio")


def _check_audio(
    contract: Contract,
    recipe: Mapping[str, Any],
    path: Path,
    info: MediaInfo,
    *,
    label: str,
    who: str,
    provider: Maker | None,
) -> None:
    if info.is_image or info.has_video or not info.has_audio:
        _reject(label, who, "audio (sound only)", _describe(info))
    rate, channels = info.sample_rate or 0, info.channels or 0
    if rate < MIN_SAMPLE_RATE or channels < 1:
        _reject(
            label,
            who,
            f"audio at {MIN_SAMPLE_RATE} Hz or more in one channel or more",
            f"{rate} Hz, {channels} channel(s)",
        )
    mean = _mean_level(path, label, who)  # decodes every sample: a damaged file stops here
    if contract.audible and mean < SILENCE_DB:
        _reject(label, who, f"an audible reading (mean level above {SILENCE_DB:g} dB)",
                f"silence ({mean:g} dB)")  # fmt: skip
    if contract.length != "asked":
        return
    asked = (recipe.get("settings") or {}).get("seconds")
    if asked is None:
        return
    want = provider_seconds(provider, str(recipe["step"]), recipe, float(asked))
    got = info.audio_duration if info.audio_duration is not None else info.duration
    slack = max(AUDIO_TOLERANCE, 0.05 * want)
    by_hand = bool(getattr(provider, "by_hand", False))
    if got is None or got < want - slack or (got > want + slack and not by_hand):
        within = f"{want:.2f} s (±{slack:.2f} s)" if not by_hand else f"{want:.2f} s at least"
        _reject(label, who, f"a piece of {within}", f"{got:.2f} s" if got else "no duration")


def _mean_level(path: Path, label: str, who: str) -> float:
    """The mean level of the whole file (dBFS), decoded by ffmpeg, which stops at the first
    error (`-xerror`): a file that cannot be decoded to its end is refused."""
    import re

    from vfbuild.media.ffmpeg import ffmpeg_report

    try:
        report = ffmpeg_report(
            ["-xerror", "-i", str(path), "-vn", "-af", "volumedetect", "-f", "null", "-"],
            what=f"decoding {path.name}",
        )
    except MediaError as e:
        _reject(label, who, "audio that decodes to its end", f"an error ({e.message})")
    found = re.findall(r"mean_volume:\s*(-?[0-9.]+|-inf) dB", report)
    if not found:
        _reject(label, who, "audio that decodes", "no samples")
    return float(found[-1])  # "-inf" reads as float("-inf")


def _input(clip: Path | None) -> MediaInfo | None:
    if clip is None:
        return None
    try:
        return probe(clip)
    except MediaError:
        return None  # the input was checked when it was stored; nothing to compare with


def _wanted_shape(
    contract: Contract,
    recipe: Mapping[str, Any],
    provider: Maker | None,
    source: MediaInfo | None,
) -> tuple[int, int, str] | None:
    """The aspect a result must have (as width, height, and how to say it): an upscale its
    clip's; a take the one its provider makes for the tier (`made_aspect`: Luma's and Runway's
    fixed ratios), else the tier's own."""
    if contract.size == "at_least" and source is not None and source.width and source.height:
        return source.width, source.height, f"its clip, {source.width}x{source.height}"
    settings = recipe.get("settings") or {}
    w, h = int(settings.get("width") or 0), int(settings.get("height") or 0)
    own = getattr(provider, "made_aspect", None)
    made = own(recipe) if callable(own) else None
    if (
        isinstance(made, tuple)
        and len(made) == 2
        and all(isinstance(x, int) and x > 0 for x in made)
    ):
        return made[0], made[1], f"{made[0]}:{made[1]}, the provider's ratio for {w}x{h}"
    return (w, h, f"{w}x{h}") if w and h else None


def _wanted_seconds(
    contract: Contract,
    recipe: Mapping[str, Any],
    provider: Maker | None,
    source: MediaInfo | None,
) -> float | None:
    if contract.length == "clip":
        return source.duration if source is not None else None
    asked = (recipe.get("settings") or {}).get("duration")
    if asked is None:
        return None
    asked = float(asked)
    return min(asked, provider_seconds(provider, str(recipe["step"]), recipe, asked))


def provider_seconds(
    provider: Maker | None, step: str, recipe: Mapping[str, Any], asked: float
) -> float:
    """How long a clip the provider makes for `asked` seconds: what it bills by the second
    (5 s or 10 s at Kling), or what it says itself (`made_seconds`: Wan's frame limit)."""
    if provider is None:
        return asked
    own = getattr(provider, "made_seconds", None)
    if callable(own):
        made = own(recipe)
        if isinstance(made, (int, float)):
            return float(made)
    unit, qty = provider.units(step, asked)
    return float(qty) if unit == "second" and qty > 0 else asked


def _same_aspect(w: int, h: int, want_w: int, want_h: int) -> bool:
    return abs((w / h) / (want_w / want_h) - 1.0) <= ASPECT_TOLERANCE


def _describe(info: MediaInfo) -> str:
    if info.is_image:
        return f"an image ({info.width}x{info.height})"
    if info.has_video:
        seconds = f", {info.duration:.2f} s" if info.duration is not None else ""
        return f"a video ({info.width}x{info.height}{seconds})"
    return "audio only, no picture"


def _reject(label: str, provider: str, expected: str, got: str) -> NoReturn:
    raise ResultRejected(
        f"{label}: {provider}'s result was refused: expected {expected}, got {got}",
        hint="nothing was stored",
    )
