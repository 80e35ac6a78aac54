"""The local previz split of a track into vocals and instrumental, with ffmpeg filters.

It is not source separation (that needs a trained model, e.g. Demucs, which nothing offline
here ships): lead vocals are usually mixed to the centre, so the "vocals" are the track's mid
channel ((L+R)/2) kept to a speech and singing band (150 Hz - 5 kHz), and the "instrumental"
is the track less those vocals, channel by channel, so the two stems add up to the track. The
bass, the highs and whatever is panned away from the centre stay in the instrumental; what
shares the centre and the band with the voice goes with it. A placeholder to mix against, as
the previz bed is: its model says so ("previz-split"). Pure arithmetic, written bit-exact:
same input, same bytes.
"""

from __future__ import annotations

from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media import ffmpeg as ff

SPLIT_VERSION = 1
SAMPLE_RATE = 48000
BAND = (150, 5000)  # Hz: where the "vocals" are taken from


def split_graph(stem: str) -> str:
    """The filter graph from input 0 to [out] for `stem` (vocals or instrumental)."""
    low, high = BAND
    head = (
        f"[0:a]aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
        "asplit=2[full][m];"
        f"[m]pan=mono|c0=0.5*c0+0.5*c1,highpass=f={low}:poles=2,highpass=f={low}:poles=2,"
        f"lowpass=f={high}:poles=2,lowpass=f={high}:poles=2[v]"
    )
    if stem == "vocals":
        return f"{head};[full]anullsink;[v]pan=stereo|c0=c0|c1=c0[out]"
    if stem == "instrumental":
        return f"{head};[full][v]amerge=inputs=2,pan=stereo|c0=c0-c2|c1=c1-c2[out]"
    raise MediaError(f"no such stem {stem!r}: vocals or instrumental")


def render_stem(out: Path, *, source: Path, stem: str) -> None:
    """Write `stem` of `source` to `out` (a 48 kHz stereo 16-bit wav, the source's length)."""
    try:
        ff.run_ffmpeg(
            [
                "-i", str(source), "-filter_complex", split_graph(stem), "-map", "[out]",
                "-c:a", "pcm_s16le", *ff.DETERMINISM, "-f", "wav", str(out),
            ],
            what=f"splitting the {stem} of {Path(source).name} (previz)",
        )  # fmt: skip
    except BaseException:
        Path(out).unlink(missing_ok=True)
        raise
