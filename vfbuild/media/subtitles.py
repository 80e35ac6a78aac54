"""Subtitles: cues as SubRip (.srt) and WebVTT (.vtt) text, and as pictures to burn in.

Burned-in lines are drawn with Pillow's embedded font and overlaid by ffmpeg, not rendered
by the `subtitles` filter: the bundled ffmpeg has libass, but libass draws with whatever fonts
the machine has, so the bytes of a delivery would differ from machine to machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

Cue = tuple[float, float, str]  # start and end in seconds, text


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt(cues: Sequence[Cue]) -> str:
    blocks = [
        f"{i}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{text}\n"
        for i, (a, b, text) in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def vtt(cues: Sequence[Cue]) -> str:
    blocks = [f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{text}\n" for a, b, text in cues]
    return "WEBVTT\n\n" + "\n".join(blocks)


def cue_image(out: Path, text: str, width: int, height: int) -> None:
    """A transparent picture of the frame's size with `text` set low in the frame."""
    from PIL import Image, ImageDraw, ImageFont

    size = max(8, height // 18)
    font = ImageFont.load_default(size=size)
    im = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    box = draw.textbbox((0, 0), text, font=font, stroke_width=max(1, size // 10))
    x = (width - (box[2] - box[0])) // 2
    y = height - height // 10 - (box[3] - box[1])
    draw.text(
        (x, y), text, font=font, fill=(255, 255, 255, 255),
        stroke_width=max(1, size // 10), stroke_fill=(0, 0, 0, 255),
    )  # fmt: skip
    im.save(out, format="PNG")
