"""The film joined from its segments without re-encoding the picture, with its sound encoded
once over the whole timeline, in one ffmpeg command.

The concat demuxer reads the segments one after the other and the picture is stream-copied;
segments share one encoder setting and one tick a frame (`encode.timescale_args`), so the
film runs at a constant frame rate and lasts exactly the sum of its segments' frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media import encode
from vfbuild.media import ffmpeg as ff
from vfbuild.media.soundtrack import Placement, soundtrack_graph


def _concat_list(paths: Sequence[Path]) -> str:
    lines = ["ffconcat version 1.0"]
    for p in paths:
        quoted = str(Path(p).resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def join_args(
    out: Path,
    listing: Path,
    *,
    frames: int,
    fps: int,
    placements: Sequence[Placement],
    music: Placement | None = None,
    container: str = "mp4",
) -> list[str]:
    total = frames / fps
    inputs, graph = soundtrack_graph(placements, total, first_input=1, music=music)
    return [
        "-f", "concat", "-safe", "0", "-i", str(listing), *inputs,
        "-filter_complex", graph,
        "-map", "0:v", "-map", "[aout]", "-c:v", "copy", "-frames:v", str(frames),
        *encode.audio_args(), *encode.timescale_args(fps), *ff.DETERMINISM,
        "-movflags", "+faststart", "-f", container, str(out),
    ]  # fmt: skip


def join_segments(
    out: Path,
    segments: Sequence[Path],
    *,
    frames: int,
    fps: int,
    placements: Sequence[Placement],
    music: Placement | None = None,
    container: str = "mp4",
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Join `segments` (of `frames` frames in all) into `out`; on failure `out` is removed."""
    if not segments:
        raise MediaError("the edit has no shots")
    out = Path(out)
    listing = out.with_name(out.name + ".ffconcat")
    try:
        listing.write_text(_concat_list(segments), encoding="utf-8")
        ff.run_ffmpeg(
            join_args(
                out,
                listing,
                frames=frames,
                fps=fps,
                placements=placements,
                music=music,
                container=container,
            ),
            what=f"joining the edit {out.name}",
            duration=frames / fps,
            on_progress=on_progress,
        )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        listing.unlink(missing_ok=True)
