"""The film's own finishing work, made on this machine with ffmpeg and Pillow: each shot's
segment of the edit, the join, its subtitles, deliveries and cover.

It is the `maker()` of the finishing steps (they have no `providers:` slot): free, offline and
deterministic, like `local`, whose name it shares so that a recipe it made is remade by it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from vfbuild.providers.base import InputFiles, MakeContext

NAME = "local"
# Bumped when what these steps make changes for the same recipe.
FINISHING_VERSION = "1"
EXT = {"subtitles": ".txt", "cover": ".png"}


@functools.cache
def _ffmpeg() -> str:
    from vfbuild.media.ffmpeg import ffmpeg_version

    return ffmpeg_version()


class FinishingProvider:
    name = NAME
    paid = False
    deterministic = True
    holds_slot = False
    labels = False
    ledgered = False
    declares_cost = False
    versions_early = False
    by_hand = False
    takes_last_frame = False

    def __init__(self, step: str) -> None:
        self.step = step

    def model(self, step: str, configured: str | None) -> str:
        return step

    def engine(self, step: str) -> dict[str, Any]:
        import PIL

        if step == "subtitles":
            return {"finishing": FINISHING_VERSION}
        if step == "cover":
            return {"pillow": PIL.__version__, "finishing": FINISHING_VERSION}
        # The encoder settings are in each recipe's settings; the ffmpeg build decides bytes.
        return {"ffmpeg": _ffmpeg(), "finishing": FINISHING_VERSION}

    def ext(self, step: str) -> str:
        return EXT.get(step, ".mp4")

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return ("take", 1.0)

    def make(self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext) -> None:
        from vfbuild.media import finishing

        finishing.make(recipe, inputs, out, ctx.progress)
