"""The local previz music bed: chords at a tempo, synthesised by ffmpeg's `aevalsrc`.

It is not music made from the prompt (nothing offline can do that): a placeholder of the right
length and a steady level, so a cut can be timed and mixed before real music exists. Its name
says so ("previz-bed"). The seed chooses the key, the tempo and the progression; the prompt
only seeds them too, so two prompts give two beds. Same recipe, same bytes (`aevalsrc` is
pure arithmetic, and the wav is written bit-exact).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from vfbuild.media import ffmpeg as ff

SAMPLE_RATE = 48000
BED_VERSION = 1
# Four-chord progressions, as semitone roots from the key (I-V-vi-IV, vi-IV-I-V, …).
_PROGRESSIONS = ((0, 7, 9, 5), (9, 5, 0, 7), (0, 5, 7, 5), (0, 9, 5, 7))
_MINOR_ROOTS = {9}  # the vi chord is minor


def plan(seed: int, prompt: str) -> tuple[int, float, tuple[int, ...]]:
    """(key as semitones above A2, tempo in bpm, progression) for a seed and a prompt."""
    h = hashlib.sha256(f"{seed}\0{prompt}".encode()).digest()
    key = h[0] % 12
    bpm = 68.0 + h[1] % 40
    return key, bpm, _PROGRESSIONS[h[2] % len(_PROGRESSIONS)]


def _freq(semitones: float) -> float:
    return float(110.0 * 2.0 ** (semitones / 12.0))


def expression(seed: int, prompt: str) -> str:
    """The `aevalsrc` expression of the bed: a triad and a bass note per bar, each beat
    softly re-struck."""
    key, bpm, prog = plan(seed, prompt)
    beat = 60.0 / bpm
    bar = 4 * beat
    chords = []
    for root in prog:
        third = 3 if root in _MINOR_ROOTS else 4
        notes = [key + root + 12, key + root + 12 + third, key + root + 19]
        tones = "+".join(f"sin(2*PI*{_freq(n):.4f}*t)" for n in notes)
        chords.append(f"(0.22*({tones})+0.3*sin(2*PI*{_freq(key + root):.4f}*t))")
    which = f"mod(floor(t/{bar:.6f}),4)"
    body = chords[3]
    for i in (2, 1, 0):
        body = f"if(eq({which},{i}),{chords[i]},{body})"
    pulse = f"(0.55+0.45*exp(-4*mod(t,{beat:.6f})))"
    return f"0.5*{pulse}*{body}"


def render_bed(out: Path, *, seconds: float, seed: int, prompt: str) -> None:
    """Write a stereo 48 kHz wav of `seconds` of the bed to `out`, fading in and out."""
    expr = expression(seed, prompt)
    fade = min(1.0, seconds / 4)
    graph = (
        f"aevalsrc=exprs='{expr}':c=stereo:s={SAMPLE_RATE}:d={seconds:.6f},"
        f"afade=t=in:d={fade:.3f},afade=t=out:st={seconds - fade:.6f}:d={fade:.3f}"
    )
    ff.run_ffmpeg(
        [
            "-f", "lavfi", "-i", graph,
            "-c:a", "pcm_s16le", *ff.DETERMINISM, "-f", "wav", str(out),
        ],
        what=f"synthesising the previz music bed {out.name}",
    )  # fmt: skip
