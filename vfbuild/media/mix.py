"""The film's mix: dialogue, music ducked under it, shot sounds, normalised to a loudness
target, as ONE audio file the length of the cut.

- Each line of dialogue is placed at its start (the start of its shot), cut at its end.
- The music plays under the whole film at its `gain`, trimmed to the cut with a fade out; a
  sidechain compressor keyed by the dialogue pushes it down while someone speaks. The
  compressor's dry/wet `mix` bounds how far: a wet share of 1 - 10^(-duck/20) leaves the music
  at least `duck` dB below its level, never silent.
- Shot sounds are mixed as they are (not ducked, not ducking).
- `loudnorm` in two passes (measure, then a linear gain with the measured values) brings the
  whole to the target integrated loudness and true peak: −14 LUFS / −1 dBTP for social
  platforms, −23 LUFS for broadcast.

The result is a 48 kHz stereo 16-bit wav, bit-exact (no encoder strings), exactly the cut's
number of samples.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vfbuild.errors import MediaError
from vfbuild.media import ffmpeg as ff

SAMPLE_RATE = 48000
FADE_OUT = 1.5  # seconds of fade where music longer than the cut is trimmed
LRA = 11.0  # loudnorm's loudness range target (its default)
# The edit encodes the mix to AAC, whose reconstruction overshoots a wav's true peak by a few
# tenths of a dB (measured: a -1.00 dBTP mix played -0.8 dBTP in the edit): the mix aims this
# far under the film's `true_peak`, so the delivered film meets it. Part of the mix's engine.
CODEC_HEADROOM = 0.5
MIX_VERSION = 2
# The compressor: keyed by speech well above its threshold, fast to duck, slow to come back.
SIDECHAIN = "threshold=0.01:ratio=20:attack=15:release=600:knee=4"


@dataclass(frozen=True)
class Placed:
    """A sound at a place in the cut: `start` seconds in, at most `length` seconds long."""

    start: float
    path: Path
    length: float | None = None


@dataclass(frozen=True)
class Music:
    path: Path
    gain: float = -8.0  # dB
    duck: float = 12.0  # dB under dialogue, at most


@dataclass(frozen=True)
class Loudness:
    integrated: float  # LUFS
    true_peak: float  # dBTP
    lra: float  # LU
    threshold: float  # LUFS
    offset: float = 0.0


def _place(i: int, p: Placed, seconds: float, label: str) -> str:
    ms = max(0, round(p.start * 1000))
    cut = f"atrim=0:{p.length:.6f}," if p.length is not None else ""
    return (
        f"[{i}:a]aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
        f"{cut}asetpts=PTS-STARTPTS,adelay={ms}:all=1,apad,atrim=0:{seconds:.6f}[{label}]"
    )


def mix_graph(
    dialogue: list[Placed],
    music: Music | None,
    sounds: list[Placed],
    seconds: float,
    *,
    stem: Literal["mix", "music"] = "mix",
) -> tuple[list[str], str]:
    """ffmpeg inputs and a filter graph ending in [pre]: the mix before loudness (or, with
    `stem="music"`, its music alone, ducked as in the mix)."""
    if seconds <= 0:
        raise MediaError(f"cannot mix a cut of {seconds} s")
    inputs: list[str] = []
    chains: list[str] = []
    buses: list[str] = []
    n = 0
    for p in [*dialogue, *sounds]:
        inputs += ["-i", str(p.path)]
    for i, p in enumerate(dialogue):
        chains.append(_place(i, p, seconds, f"d{i}"))
    n = len(dialogue)
    for j, p in enumerate(sounds):
        chains.append(_place(n + j, p, seconds, f"s{j}"))
        buses.append(f"[s{j}]")
    if dialogue:
        pads = "".join(f"[d{i}]" for i in range(len(dialogue)))
        merge = f"amix=inputs={len(dialogue)}:normalize=0," if len(dialogue) > 1 else ""
        if stem == "music":
            chains.append(f"{pads}{merge}anull[key]")
        else:
            chains.append(f"{pads}{merge}asplit=2[dlg][key]")
            buses.insert(0, "[dlg]")
    if music is not None:
        m = len(dialogue) + len(sounds)
        inputs += ["-i", str(music.path)]
        fade = min(FADE_OUT, seconds / 4)
        chains.append(
            f"[{m}:a]aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"volume={music.gain:.3f}dB,atrim=0:{seconds:.6f},asetpts=PTS-STARTPTS,"
            f"afade=t=out:st={seconds - fade:.6f}:d={fade:.6f},apad,atrim=0:{seconds:.6f}[bed]"
        )
        if dialogue:
            wet = 1.0 - 10 ** (-music.duck / 20.0)
            chains.append(f"[bed][key]sidechaincompress={SIDECHAIN}:mix={wet:.6f}[ducked]")
            buses.append("[ducked]")
        else:
            buses.append("[bed]")
    elif dialogue:
        chains.append("[key]anullsink")
    if stem == "music":
        buses = [b for b in buses if b in ("[ducked]", "[bed]")]
    if not buses:
        chains.append(f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=0:{seconds:.6f}[pre]")
    elif len(buses) == 1:
        chains.append(f"{buses[0]}anull[pre]")
    else:
        chains.append(f"{''.join(buses)}amix=inputs={len(buses)}:normalize=0[pre]")
    return inputs, ";\n".join(chains)


_JSON = re.compile(r"\{[^{}]*\"input_i\"[^{}]*\}", re.S)


def _loudnorm_json(stderr: str, what: str) -> dict[str, str]:
    found = _JSON.findall(stderr)
    if not found:
        raise MediaError(f"loudnorm printed no measurement while {what}")
    data: dict[str, str] = json.loads(found[-1])
    return data


def render_mix(
    out: Path,
    *,
    dialogue: list[Placed],
    music: Music | None,
    seconds: float,
    loudness: float,
    true_peak: float,
    sounds: list[Placed] | None = None,
) -> Loudness:
    """Render the mix to `out` (a wav); returns the first pass's measurement of the mix
    before normalising. On failure `out` is removed and MediaError raised."""
    out = Path(out)
    sounds = sounds or []
    inputs, graph = mix_graph(dialogue, music, sounds, seconds)
    target = f"I={loudness:.2f}:TP={true_peak - CODEC_HEADROOM:.2f}:LRA={LRA:.1f}"
    try:
        report = ff.ffmpeg_report(
            [
                *inputs,
                "-filter_complex", f"{graph};\n[pre]loudnorm={target}:print_format=json[m]",
                "-map", "[m]", "-f", "null", "-",
            ],
            what=f"measuring the mix for {out.name}",
        )  # fmt: skip
        m = _loudnorm_json(report, f"measuring the mix for {out.name}")
        measured = Loudness(
            float(m["input_i"]),
            float(m["input_tp"]),
            float(m["input_lra"]),
            float(m["input_thresh"]),
            float(m["target_offset"]),
        )
        if measured.integrated == float("-inf") or measured.integrated < -70:
            # Silence (nothing to normalise): loudnorm would amplify noise, so leave it.
            final = "[pre]anull"
        else:
            final = (
                f"[pre]loudnorm={target}:measured_I={measured.integrated:.2f}"
                f":measured_TP={measured.true_peak:.2f}:measured_LRA={measured.lra:.2f}"
                f":measured_thresh={measured.threshold:.2f}:offset={measured.offset:.2f}"
                ":linear=true"
            )
        samples = round(seconds * SAMPLE_RATE)
        ff.run_ffmpeg(
            [
                *inputs,
                "-filter_complex",
                f"{graph};\n{final},aresample={SAMPLE_RATE},"
                f"atrim=end_sample={samples}[m]",
                "-map", "[m]", "-ar", str(SAMPLE_RATE), "-ac", "2", "-c:a", "pcm_s16le",
                *ff.DETERMINISM, "-f", "wav", str(out),
            ],
            what=f"mixing {out.name}",
            duration=seconds,
        )  # fmt: skip
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return measured


def render_music_stem(out: Path, *, dialogue: list[Placed], music: Music, seconds: float) -> None:
    """The mix's music alone, ducked as it is in the mix (before loudness): a stem for a
    re-mix elsewhere, and how a test hears the ducking."""
    inputs, graph = mix_graph(dialogue, music, [], seconds, stem="music")
    try:
        ff.run_ffmpeg(
            [
                *inputs, "-filter_complex", graph, "-map", "[pre]",
                "-c:a", "pcm_s16le", *ff.DETERMINISM, "-f", "wav", str(out),
            ],
            what=f"rendering the music stem {out.name}",
        )  # fmt: skip
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def measure(path: Path, *, start: float | None = None, end: float | None = None) -> Loudness:
    """The loudness of `path` (or of its part from `start` to `end` seconds): what QC reports
    and the tests check."""
    cut = ""
    if start is not None or end is not None:
        cut = f"atrim={start or 0:.6f}" + (f":{end:.6f}" if end is not None else "") + ","
    report = ff.ffmpeg_report(
        [
            "-i", str(path), "-vn",
            "-af", f"{cut}loudnorm=I=-23:TP=-1:LRA=11:print_format=json",
            "-f", "null", "-",
        ],
        what=f"measuring the loudness of {Path(path).name}",
    )  # fmt: skip
    m = _loudnorm_json(report, f"measuring {Path(path).name}")
    return Loudness(
        float(m["input_i"]), float(m["input_tp"]), float(m["input_lra"]), float(m["input_thresh"])
    )


def rms_db(path: Path, start: float, end: float) -> float:
    """Mean level (dBFS, `volumedetect`) of `path` between `start` and `end` seconds."""
    report = ff.ffmpeg_report(
        [
            "-i", str(path), "-vn",
            "-af", f"atrim={start:.6f}:{end:.6f},volumedetect", "-f", "null", "-",
        ],
        what=f"measuring the level of {Path(path).name}",
    )  # fmt: skip
    found = re.findall(r"mean_volume:\s*(-?[0-9.]+|-inf) dB", report)
    if not found:
        raise MediaError(f"volumedetect printed nothing for {Path(path).name}")
    return float(found[-1])
