"""Measurements for QC, read from ffmpeg's own filters: `blackdetect`, `freezedetect` and
`ebur128` (EBU R128 integrated loudness, true peak, and the peak of each 100 ms frame).

One ffmpeg pass per file: a clip's picture is scaled down first (detection needs no detail,
and decoding is the cost), a film's sound is measured whole. The filters print what they find
on stderr; this module reads those lines.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media import ffmpeg as ff

# A frame is black when 98% of its pixels are below 10% luma (blackdetect's defaults), for
# at least BLACK_SECONDS; frozen when it differs from the last by less than -60 dB for
# FROZEN_SECONDS.
BLACK_SECONDS = 0.2
FROZEN_SECONDS = 1.0
DETECT_WIDTH = 160

_BLACK = re.compile(r"black_start:\s*(?P<s>[-0-9.]+)\s+black_end:\s*(?P<e>[-0-9.]+)")
_FREEZE_START = re.compile(r"lavfi\.freezedetect\.freeze_start:\s*(?P<t>[-0-9.]+)")
_FREEZE_END = re.compile(r"lavfi\.freezedetect\.freeze_end:\s*(?P<t>[-0-9.]+)")
_FRAME = re.compile(
    r"\bt:\s*(?P<t>[0-9.]+)\s.*?FTPK:\s*(?P<l>-?inf|-?[0-9.]+)\s+(?P<r>-?inf|-?[0-9.]+)"
)
_INTEGRATED = re.compile(r"^\s*I:\s*(?P<v>-?inf|-?[0-9.]+)\s*LUFS", re.M)
_PEAK = re.compile(r"True peak:\s*\n\s*Peak:\s*(?P<v>-?inf|-?[0-9.]+)\s*dBFS")


@dataclass(frozen=True)
class Span:
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Picture:
    """What a clip's picture holds over the part the film shows."""

    black: tuple[Span, ...]
    frozen: tuple[Span, ...]


@dataclass(frozen=True)
class Sound:
    """A film's sound: integrated loudness (LUFS), true peak (dBTP), and the true peak of
    each 100 ms frame (end time, dBFS) for where the sound is."""

    integrated: float
    true_peak: float
    frames: tuple[tuple[float, float], ...] = field(default=())

    def peak_between(self, start: float, end: float) -> float:
        """The loudest 100 ms frame's true peak between `start` and `end` seconds: frames
        wholly inside, a frame's length in from each cut (an encoder's frame at a cut spreads
        the next shot's onset back into this one); every frame that meets a short span."""
        inside = [p for t, p in self.frames if start + 0.1 <= t - 0.1 and t <= end - 0.1]
        if not inside:
            inside = [p for t, p in self.frames if start < t and t - 0.1 < end]
        return max(inside, default=-math.inf)


def _run(args: list[str], what: str) -> str:
    argv = [ff.ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", *args]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=3600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise MediaError(f"cannot run ffmpeg while {what}", hint=str(e)) from None
    text = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = "\n".join(text.strip().splitlines()[-5:])
        raise MediaError(f"ffmpeg failed while {what}", hint=tail)
    return text


def picture(path: Path, seconds: float | None = None, *, frozen: bool = True) -> Picture:
    """Black and frozen spans of `path`'s first `seconds` (all of it when None)."""
    chain = f"scale={DETECT_WIDTH}:-2,blackdetect=d={BLACK_SECONDS}:pix_th=0.10:pic_th=0.98"
    if frozen:
        chain += f",freezedetect=n=-60dB:d={FROZEN_SECONDS}"
    limit = ["-t", f"{seconds:.6f}"] if seconds is not None else []
    text = _run(
        [*limit, "-i", str(path), "-map", "0:v:0", "-vf", chain, "-an", "-f", "null", "-"],
        f"looking for black and frozen frames in {path.name}",
    )
    end = seconds if seconds is not None else math.inf
    black = tuple(Span(float(m["s"]), float(m["e"])) for m in _BLACK.finditer(text))
    starts = [float(m["t"]) for m in _FREEZE_START.finditer(text)]
    ends = [float(m["t"]) for m in _FREEZE_END.finditer(text)]
    spans = []
    for i, s in enumerate(starts):
        e = ends[i] if i < len(ends) else end  # frozen until the end: no freeze_end line
        spans.append(Span(s, e if math.isfinite(e) else s))
    return Picture(black=black, frozen=tuple(spans))


def sound(path: Path) -> Sound | None:
    """EBU R128 of `path`'s first audio stream; None when it has none."""
    from vfbuild.media.probe import probe

    if not probe(path).has_audio:
        return None
    text = _run(
        [
            "-v", "verbose", "-i", str(path), "-map", "0:a:0", "-vn",
            "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-",
        ],
        f"measuring the loudness of {path.name}",
    )  # fmt: skip
    integrated = _INTEGRATED.findall(text)
    peak = _PEAK.search(text)
    if not integrated or peak is None:
        return None
    frames = tuple((float(m["t"]), max(_db(m["l"]), _db(m["r"]))) for m in _FRAME.finditer(text))
    return Sound(integrated=_db(integrated[-1]), true_peak=_db(peak["v"]), frames=frames)


def _db(value: str) -> float:
    return -math.inf if "inf" in value else float(value)
