"""The film's edit: every shot conformed, concatenated and grained in ONE ffmpeg command.

One command, not one per shot, so the edit costs what a hand-written ffmpeg call costs and
nothing is encoded twice. Per shot: its clip at the film's fps and size (lanczos, letterboxed
if its aspect differs), exactly the shot's number of frames (cut if longer, last frame held if
a bit shorter, looped if the shot runs past `LOOP_AFTER` seconds), and its own audio or silence
of exactly the same length, so picture and sound stay in sync across every cut.

Grain goes on luma only: `blend` over all planes washes the chroma out (FACTS.md), so the
picture is the top layer, a noised mid-grey the bottom, and only plane 0 is blended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media import ffmpeg as ff

# A shot longer than this whose clip is shorter loops the clip rather than freezing on its
# last frame for seconds (generated clips are typically 5 or 10 s long).
LOOP_AFTER = 10.0
# Strength of the noise under the grain blend (0-100); the film's `grain` is the opacity.
GRAIN_NOISE = 40
# Grey that is luma 128 in limited range, so the overlay blend leaves brightness alone.
GRAIN_GREY = "0x828282"
# How much more of each clip than its shot is read (lets the decoder stop early).
READ_MARGIN = 1.0
# Linux caps ONE argument at 128 KiB (MAX_ARG_STRLEN): a filter graph longer than this (about
# 700 shots) is handed to ffmpeg in a file (`-/filter_complex FILE`, ffmpeg 7 and later).
GRAPH_INLINE_MAX = 100_000


@dataclass(frozen=True)
class EditClip:
    path: Path
    duration: float  # seconds this shot lasts in the film
    still: bool = False  # an image held for the duration (the rough cut's picked keyframe)


def _frames(clip: EditClip, fps: int) -> int:
    frames = round(clip.duration * fps)
    if frames < 1:
        raise MediaError(f"the shot using {clip.path.name} lasts {clip.duration}s: no frames")
    return frames


def _shot(i: int, clip: EditClip, fps: int, width: int, height: int) -> tuple[list[str], str]:
    """Input options and filter chains for shot `i`, ending in labels [v{i}] and [a{i}]."""
    from vfbuild.media.probe import probe

    frames = _frames(clip, fps)
    seconds = frames / fps
    rate = int(ff.ENCODER["sample_rate"])
    samples = frames * rate // fps
    conform = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags={ff.sws('lanczos')}"
        f":out_color_matrix=bt709:out_range=tv,format=yuv420p,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
    )
    exact = f"trim=end_frame={frames},setpts=PTS-STARTPTS"
    has_audio = False
    info = None if clip.still else probe(clip.path)
    if info is not None and not info.has_video:
        raise MediaError(f"{clip.path} has no picture: the edit needs a clip or an image")
    if info is None or info.is_image:
        # Decode and scale the picture once, then repeat it: cheaper than looping the file.
        inputs = ["-framerate", str(fps), "-i", str(clip.path)]
        video = f"[{i}:v]{conform},tpad=stop_mode=clone:stop={frames - 1},{exact}[v{i}]"
    else:
        has_audio = info.has_audio
        short = (info.duration or 0.0) < seconds - 0.5 / fps
        loop = short and clip.duration > LOOP_AFTER
        # -t lets the decoder stop soon after the shot ends instead of reading a long clip.
        inputs = ["-t", f"{seconds + READ_MARGIN:.6f}", "-i", str(clip.path)]
        if loop:
            inputs = ["-stream_loop", "-1", *inputs]
        hold = f"tpad=stop_mode=clone:stop_duration={seconds:.6f}," if short and not loop else ""
        video = f"[{i}:v]setpts=PTS-STARTPTS,fps={fps},{hold}{exact},{conform}[v{i}]"
    if has_audio:
        audio = f"[{i}:a]aresample={rate},aformat=sample_fmts=fltp:channel_layouts=stereo,apad,"
    else:
        audio = f"anullsrc=r={rate}:cl=stereo,"
    audio += f"atrim=end_sample={samples},asetpts=PTS-STARTPTS[a{i}]"
    return inputs, f"{video};\n{audio}"


def edit_args(
    out: Path,
    clips: list[EditClip],
    *,
    width: int,
    height: int,
    fps: int,
    grain: float,
    sound: Path | None = None,
) -> list[str]:
    """The ffmpeg arguments (without the executable) that render the whole edit to `out`.

    Written by hand rather than with ffmpeg-python: it merges inputs with equal options, and a
    clip used by two shots would then be decoded once and buffered across the shots between.
    """
    if not clips:
        raise MediaError("the edit has no shots")
    if width % 2 or height % 2 or width < 16 or height < 16 or fps < 1:
        raise MediaError(
            f"cannot edit at {width}x{height} {fps} fps",
            hint="width and height must be even and at least 16, fps at least 1",
        )
    inputs: list[str] = []
    chains: list[str] = []
    for i, clip in enumerate(clips):
        args, chain = _shot(i, clip, fps, width, height)
        inputs += args
        chains.append(chain)
    pads = "".join(f"[v{i}][a{i}]" for i in range(len(clips)))
    chains.append(f"{pads}concat=n={len(clips)}:v=1:a=1[cut][aout]")
    picture = "[cut]"
    if grain > 0:
        total = sum(_frames(c, fps) for c in clips) / fps
        # Picture on top, grain below; planes 1 and 2 keep the top (the picture) untouched.
        chains.append(
            f"color=c={GRAIN_GREY}:s={width}x{height}:r={fps}:d={total:.6f},format=yuv420p,"
            f"noise=c0s={GRAIN_NOISE}:c0f=t[grain]"
        )
        chains.append(f"[cut][grain]blend=c0_mode=overlay:c0_opacity={grain:.4f}:shortest=1[gr]")
        picture = "[gr]"
    chains.append(f"{picture}{ff.REC709_SETPARAMS},format=yuv420p[vout]")
    audio_map = "[aout]"
    if sound is not None:  # the film's mix replaces the clips' own sound
        total = sum(_frames(c, fps) for c in clips) * int(ff.ENCODER["sample_rate"]) // fps
        inputs += ["-i", str(sound)]
        chains.append("[aout]anullsink")
        chains.append(f"[{len(clips)}:a]apad,atrim=end_sample={total}[mixed]")
        audio_map = "[mixed]"
    return [
        *inputs,
        "-filter_complex", ";\n".join(chains),
        "-map", "[vout]", "-map", audio_map,
        *ff.video_codec_args(), *ff.audio_codec_args(), *ff.DETERMINISM,
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
    sound: Path | None = None,
) -> None:
    """Render the edit to `out` (with `sound`, the film's mix, as its sound); on failure
    `out` is removed and MediaError raised."""
    out = Path(out)
    script = out.with_name(out.name + ".filtergraph")
    try:
        args = edit_args(out, clips, width=width, height=height, fps=fps, grain=grain, sound=sound)
        at = args.index("-filter_complex")
        if len(args[at + 1].encode("utf-8")) > GRAPH_INLINE_MAX:
            # run_ffmpeg gives an inline graph its bit-exact scaler flags; a file needs them too.
            script.write_text(f"sws_flags={ff.sws()};{args[at + 1]}", encoding="utf-8")
            args[at : at + 2] = ["-/filter_complex", str(script)]
        ff.run_ffmpeg(
            args,
            what=f"assembling the edit {out.name}",
            duration=sum(_frames(c, fps) for c in clips) / fps,
            on_progress=on_progress,
        )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        script.unlink(missing_ok=True)
