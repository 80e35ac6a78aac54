"""The film's sound, mixed and encoded ONCE over the whole timeline.

Sound is not cut with the picture: each segment is picture only, and the soundtrack places
every sound at its time in the film (a shot's dialogue at the shot's start) over silence of
exactly the film's length, then encodes it once. Per-segment AAC drifted ~26 ms a cut (the
encoder's priming), 12.155 s of sound for 12.00 s of picture over six cuts.

`soundtrack_graph` gives the inputs and filter chains for a command that also does other
work (the join copies the picture in the same command); `render_soundtrack` writes the mix
alone. A placement's `gain_db` and `music` are where ducking and loudness attach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media import encode
from vfbuild.media import ffmpeg as ff


@dataclass(frozen=True)
class Placement:
    """One sound at its place in the film."""

    start: float  # seconds from the film's first frame
    path: Path
    length: float | None = None  # at most this many seconds of it (None: all of it)
    gain_db: float = 0.0


def _samples(seconds: float, rate: int) -> int:
    return round(seconds * rate)


def soundtrack_graph(
    placements: Sequence[Placement],
    total: float,
    *,
    first_input: int,
    music: Placement | None = None,
    rate: int = encode.SAMPLE_RATE,
    label: str = "aout",
) -> tuple[list[str], str]:
    """(input arguments, filter chains ending in [label]) for a mix of exactly `total` seconds.

    The inputs are numbered from `first_input` (the command's earlier inputs come first)."""
    if total <= 0:
        raise MediaError("the soundtrack has no length")
    end = _samples(total, rate)
    sounds = [*placements, *([music] if music is not None else [])]
    inputs: list[str] = []
    chains = [f"anullsrc=r={rate}:cl=stereo,atrim=end_sample={end}[bed]"]
    pads = ["[bed]"]
    for i, p in enumerate(sounds):
        if p.start < 0 or p.start >= total:
            continue  # outside the film: nothing of it is heard
        n = first_input + len(inputs) // 2
        inputs += ["-i", str(p.path)]
        chain = f"[{n}:a]aresample={rate},aformat=sample_fmts=fltp:channel_layouts=stereo"
        if p.length is not None:
            chain += f",atrim=end_sample={_samples(p.length, rate)}"
        chain += ",asetpts=PTS-STARTPTS"
        if p.gain_db:
            chain += f",volume={p.gain_db:.3f}dB"
        if p.start > 0:
            chain += f",adelay=delays={_samples(p.start, rate)}S:all=1"
        chains.append(f"{chain}[s{i}]")
        pads.append(f"[s{i}]")
    # normalize=0: each sound keeps its level (amix would otherwise divide by the input count).
    chains.append(
        f"{''.join(pads)}amix=inputs={len(pads)}:duration=first:dropout_transition=0:normalize=0,"
        f"atrim=end_sample={end},asetpts=PTS-STARTPTS[{label}]"
    )
    return inputs, ";".join(chains)


def render_soundtrack(
    out: Path,
    placements: Sequence[Placement],
    total: float,
    *,
    music: Placement | None = None,
) -> None:
    """Write the mix alone to `out` (AAC in .m4a, or PCM for a .wav name)."""
    inputs, graph = soundtrack_graph(placements, total, first_input=0, music=music)
    codec = ["-c:a", "pcm_s16le"] if out.suffix == ".wav" else encode.audio_args()
    if not inputs:
        inputs = ["-f", "lavfi", "-i", "anullsrc"]  # a graph needs no input, ffmpeg one
    try:
        ff.run_ffmpeg(
            [
                *inputs,
                "-filter_complex",
                graph,
                "-map",
                "[aout]",
                *codec,
                *ff.DETERMINISM,
                str(out),
            ],  # fmt: skip
            what=f"mixing the soundtrack {out.name}",
        )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
