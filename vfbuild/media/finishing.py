"""What the finishing steps' maker does with a recipe: one function per step, each reading
its recipe's settings and inputs and writing exactly `out`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vfbuild.providers.base import InputFiles

Progress = Callable[[float], None] | None


def _list(value: Path | list[Path]) -> list[Path]:
    return value if isinstance(value, list) else [value]


def make_segment(recipe: dict[str, Any], inputs: InputFiles, out: Path, progress: Progress) -> None:
    from vfbuild.media.segment import EditClip, render_segment

    s = recipe["settings"]
    # The segment step's inputs are keyed by each material's sha256.
    (clip,) = _list(inputs[recipe["inputs"]["clip"]])
    render_segment(
        out,
        EditClip(path=clip, duration=s["duration"], still=recipe["inputs"]["still"]),
        width=s["width"],
        height=s["height"],
        fps=s["fps"],
        grain=s["grain"],
        seed=recipe["seed"],
        mezzanine=s["codec"],
        on_progress=progress,
    )


def make_edit(recipe: dict[str, Any], inputs: InputFiles, out: Path, progress: Progress) -> None:
    from vfbuild.media.join import join_segments
    from vfbuild.media.soundtrack import Placement

    s = recipe["settings"]
    fps = s["fps"]
    segs = recipe["inputs"]["segments"]
    sounds = recipe["inputs"]["sounds"]
    placements = [
        Placement(start=d["start"] / fps, path=f, length=d["length"] / fps)
        for d, f in zip(sounds, _list(inputs["sounds"]), strict=True)
    ]
    join_segments(
        out,
        _list(inputs["segments"]),
        frames=sum(int(x["frames"]) for x in segs),
        fps=fps,
        placements=placements,
        container="mov" if s["codec"] == "prores" else "mp4",
        on_progress=progress,
    )


MAKERS: dict[str, Callable[[dict[str, Any], InputFiles, Path, Progress], None]] = {
    "segment": make_segment,
    "edit": make_edit,
}


def make(recipe: dict[str, Any], inputs: InputFiles, out: Path, progress: Progress) -> None:
    MAKERS[recipe["step"]](recipe, inputs, out, progress)


def make_subtitles(
    recipe: dict[str, Any], inputs: InputFiles, out: Path, progress: Progress
) -> None:
    from vfbuild.fsutil import atomic_write_text
    from vfbuild.media.subtitles import srt, vtt

    s = recipe["settings"]
    fps = s["fps"]
    cues = [(a / fps, (a + n) / fps, str(text)) for a, n, text in s["cues"]]
    atomic_write_text(out, (srt if s["format"] == "srt" else vtt)(cues))


def make_delivery(
    recipe: dict[str, Any], inputs: InputFiles, out: Path, progress: Progress
) -> None:
    from vfbuild.media.delivery import render_delivery

    s = recipe["settings"]
    fps = s["fps"]
    (edit,) = _list(inputs["edit"])
    render_delivery(
        out,
        edit,
        src=(s["source"][0], s["source"][1]),
        size=(s["width"], s["height"]),
        fps=fps,
        seconds=s["frames"] / fps,
        focus=[(int(e), float(x), float(y)) for e, x, y in s["focus"]],
        grain=s["grain"],
        contrast=s["contrast"],
        bitrate=s["bitrate"],
        cues=[(a / fps, (a + n) / fps, str(t)) for a, n, t in s["cues"]],
        on_progress=progress,
    )


def make_cover(recipe: dict[str, Any], inputs: InputFiles, out: Path, progress: Progress) -> None:
    from vfbuild.media.cover import render_cover

    s = recipe["settings"]
    (edit,) = _list(inputs["edit"])
    render_cover(
        out,
        edit,
        at=s["at"],
        size=(s["width"], s["height"]),
        focus=(s["focus"][0], s["focus"][1]),
        title=s["title"],
    )


MAKERS.update(subtitles=make_subtitles, delivery=make_delivery, cover=make_cover)
