"""The film's edit: every shot's clip conformed, concatenated, grained, in ONE ffmpeg command.

One command, not one per shot, so the edit costs what a hand-written ffmpeg call costs: each
clip is scaled (lanczos, letterboxed if its aspect differs) to the delivery size, set to the
film's fps, cut or held to exactly the shot's duration (looped when a shot is longer than its
clip), and given its audio or silence of the same length, so picture and sound stay in sync
across cuts. Grain goes on luma only: a `blend` over all planes would wash out the chroma.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vfbuild.media.ffmpeg import (
    DETERMINISM,
    REC709_SETPARAMS,
    audio_codec_args,
    run_ffmpeg,
    video_codec_args,
)

# How strong the noise under the grain blend is; the film's `grain` sets the blend's opacity.
GRAIN_NOISE = 40


@dataclass(frozen=True)
class EditClip:
    path: Path
    duration: float  # seconds this shot lasts in the film
    still: bool = False  # an image held for the duration (the rough cut's picked keyframe)


def edit_args(
    out: Path, clips: list[EditClip], *, width: int, height: int, fps: int, grain: float
) -> list[str]:
    from vfbuild.media.probe import probe

    inputs: list[str] = []
    chains: list[str] = []
    pairs: list[str] = []
    for i, clip in enumerate(clips):
        d = f"{clip.duration:.6f}"
        has_audio = False
        if clip.still:
            inputs += ["-loop", "1", "-framerate", str(fps), "-t", d, "-i", str(clip.path)]
        else:
            info = probe(clip.path)
            has_audio = info.has_audio
            if info.duration is not None and info.duration + 0.5 < clip.duration:
                inputs += ["-stream_loop", "-1"]  # a shot longer than its clip loops it
            inputs += ["-i", str(clip.path)]
        chains.append(
            f"[{i}:v]scale={width}:{height}:force_original_aspect_ratio=decrease:flags=lanczos"
            f":out_color_matrix=bt709:out_range=tv,pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,"
            f"setsar=1,fps={fps},tpad=stop_mode=clone:stop_duration={d},trim=duration={d},"
            f"setpts=PTS-STARTPTS,format=yuv420p[v{i}]"
        )
        if has_audio:
            chains.append(
                f"[{i}:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,"
                f"apad,atrim=duration={d},asetpts=PTS-STARTPTS[a{i}]"
            )
        else:
            chains.append(f"anullsrc=r=48000:cl=stereo,atrim=duration={d}[a{i}]")
        pairs.append(f"[v{i}][a{i}]")
    total = sum(c.duration for c in clips)
    chains.append(f"{''.join(pairs)}concat=n={len(clips)}:v=1:a=1[cut][aout]")
    if grain > 0:
        chains.append(
            f"color=c=0x808080:s={width}x{height}:r={fps}:d={total:.6f},format=yuv420p,"
            f"noise=c0s={GRAIN_NOISE}:c0f=t[grain]"
        )
        chains.append(
            f"[cut][grain]blend=c0_mode=overlay:c0_opacity={grain:.4f}:shortest=1,"
            f"{REC709_SETPARAMS}[vout]"
        )
    else:
        chains.append(f"[cut]{REC709_SETPARAMS}[vout]")
    return [
        *inputs,
        "-filter_complex", ";".join(chains),
        "-map", "[vout]", "-map", "[aout]",
        "-r", str(fps),
        *video_codec_args(), *audio_codec_args(), *DETERMINISM,
        "-movflags", "+faststart", "-f", "mp4", str(out),
    ]  # fmt: skip


def render_edit(
    out: Path,
    clips: list[EditClip],
    *,
    width: int,
    height: int,
    fps: int,
    grain: float,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    try:
        run_ffmpeg(
            edit_args(out, clips, width=width, height=height, fps=fps, grain=grain),
            what=f"assembling the edit {out.name}",
            duration=sum(c.duration for c in clips),
            on_progress=on_progress,
        )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
