"""Encoder settings chosen for the job: the mezzanine the edit is cut and graded in, and the
delivery encodes made from it.

The mezzanine keeps the grain: x264 at crf 17 with `-tune grain` (psy settings that spend bits
on noise instead of smoothing it away), or ProRes 422 HQ where a film asks for it (`mezzanine:
prores`, a .mov). Deliveries are encoded apart from it at the bitrate their platform expects.
Threads are pinned (x264's bytes depend on them, FACTS.md) and every setting is in the
identity string that enters the recipes of the steps that use it.
"""

from __future__ import annotations

from typing import Literal

Mezzanine = Literal["h264", "prores"]

MEZZANINE: dict[str, dict[str, str]] = {
    "h264": {
        "-c:v": "libx264",
        "-preset": "veryfast",
        "-crf": "17",
        "-tune": "grain",
        "-pix_fmt": "yuv420p",
        "-threads": "2",
    },
    "prores": {
        "-c:v": "prores_ks",
        "-profile:v": "3",  # 422 HQ
        "-pix_fmt": "yuv422p10le",
        "-vendor": "apl0",
        "-threads": "2",
    },
}

# A delivery: x264 at a quality, capped at its bitrate (`-maxrate`, one second of buffer).
DELIVERY: dict[str, str] = {
    "-c:v": "libx264",
    "-preset": "faster",
    "-crf": "20",
    "-pix_fmt": "yuv420p",
    "-threads": "2",
}

AUDIO: dict[str, str] = {"-c:a": "aac", "-ar": "48000", "-ac": "2", "-b:a": "192k"}
SAMPLE_RATE = 48000


def mezzanine_ext(kind: str) -> str:
    return ".mov" if kind == "prores" else ".mp4"


def mezzanine_args(kind: str) -> list[str]:
    return [a for pair in MEZZANINE[kind].items() for a in pair]


def delivery_args(bitrate: str | None) -> list[str]:
    args = [a for pair in DELIVERY.items() for a in pair]
    if bitrate:
        args += ["-maxrate", bitrate, "-bufsize", bitrate]
    return args


def audio_args() -> list[str]:
    return [a for pair in AUDIO.items() for a in pair]


def identity(settings: dict[str, str]) -> str:
    """The settings as one line for a recipe's engine."""
    return " ".join(f"{k.lstrip('-')}={v}" for k, v in settings.items())


def timescale_args(fps: int) -> list[str]:
    # One tick a frame: with x264's default timescale the muxer shortens each file's last frame
    # by a few ticks, and a join of N segments would drift by N of them.
    return ["-video_track_timescale", str(fps)]
