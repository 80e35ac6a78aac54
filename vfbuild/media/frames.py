"""One frame out of a clip (or a still re-written) as a PNG: the `first`/`last` steps.

A clip's pictures are 4:2:0 BT.709 (tv range); they are turned into RGB with that matrix, as
a player would show them, with swscale's exact (not SIMD-rounded) conversion so the bytes are
the same on every CPU. PNG carries no timestamp or metadata here: the same frame of the same
clip gives the same bytes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media import ffmpeg as ff


def extract_frame(source: Path, out: Path, at: str | float) -> None:
    """Write frame `at` of `source` to `out`: "first", "last", a time in seconds, or "still"
    (the source is an image)."""
    if at == "still":
        seek: list[str] = []
        convert = "format=rgb24"
    else:
        convert = (
            f"scale=flags={ff.sws()}:in_color_matrix=bt709:in_range=tv:out_range=pc,format=rgb24"
        )
        if at == "first":
            seek = []
        elif at == "last":
            # From a second before the end, every frame overwrites the last: the last stays.
            seek = ["-sseof", "-1"]
        else:
            seek = ["-ss", f"{float(at):.6f}"]
    update = ["-update", "1"] if at == "last" else ["-frames:v", "1"]
    args = [
        *seek, "-i", str(source), "-map", "0:v:0", "-vf", convert, *update,
        "-map_metadata", "-1", "-bitexact", "-c:v", "png", "-f", "image2", str(out),
    ]  # fmt: skip
    try:
        ff.run_ffmpeg(args, what=f"taking the {at} frame of {source.name}")
        if not out.is_file() or out.stat().st_size == 0:
            raise MediaError(
                f"{source.name} has no frame at {at}",
                hint="name a time within the clip's length, or first / last",
            )
    except BaseException:
        with contextlib.suppress(OSError):
            out.unlink()
        raise
