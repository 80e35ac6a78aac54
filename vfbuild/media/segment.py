"""One shot's segment of the edit: its material conformed to the film's size and frame rate,
exactly its number of frames, graded (Rec.709 tags) and grained, picture only.

Segments are joined without re-encoding (`vfbuild.media.join`), so they share one encoder
setting (the mezzanine), one size and frame rate and one tick a frame. They carry no sound:
AAC per segment would add ~26 ms of encoder priming at each cut; the film's sound is encoded
once over the whole timeline (`vfbuild.media.soundtrack`).

The grain's noise is seeded by the segment's own recipe, so cuts do not all restart the same
noise pattern, and a segment's bytes do not depend on where it stands in the film.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media import encode
from vfbuild.media import ffmpeg as ff

# A shot longer than this whose clip is shorter loops the clip rather than freezing on its
# last frame for seconds (generated clips are typically 5 or 10 s long).
LOOP_AFTER = 10.0
# Strength of the noise under the grain blend (0-100); the film's `grain` is the opacity.
# Grain goes on luma only: `blend` over all planes washes the chroma out (FACTS.md), so the
# picture is the top layer, a noised mid-grey the bottom, and only plane 0 is blended.
GRAIN_NOISE = 40
# Grey that is luma 128 in limited range, so the overlay blend leaves brightness alone.
GRAIN_GREY = "0x828282"
# How much more of each clip than its shot is read (lets the decoder stop early).
READ_MARGIN = 1.0


@dataclass(frozen=True)
class EditClip:
    """A shot's material for its segment."""

    path: Path
    duration: float  # seconds this shot lasts in the film
    still: bool = False  # an image held for the duration (the rough cut's picked keyframe)


def segment_frames(duration: float, fps: int) -> int:
    frames = round(duration * fps)
    if frames < 1:
        raise MediaError(f"a shot of {duration}s has no frames at {fps} fps")
    return frames


def segment_args(
    out: Path,
    clip: EditClip,
    *,
    width: int,
    height: int,
    fps: int,
    grain: float,
    seed: int,
    mezzanine: str = "h264",
) -> list[str]:
    """The ffmpeg arguments (without the executable) that render one segment to `out`."""
    from vfbuild.media.probe import probe

    if width % 2 or height % 2 or width < 16 or height < 16 or fps < 1:
        raise MediaError(
            f"cannot cut at {width}x{height} {fps} fps",
            hint="width and height must be even and at least 16, fps at least 1",
        )
    frames = segment_frames(clip.duration, fps)
    seconds = frames / fps
    conform = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags={ff.sws('lanczos')}"
        f":out_color_matrix=bt709:out_range=tv,format=yuv420p,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
    )
    exact = f"trim=end_frame={frames},setpts=PTS-STARTPTS"
    info = None if clip.still else probe(clip.path)
    if info is not None and not info.has_video:
        raise MediaError(f"{clip.path} has no picture: the edit needs a clip or an image")
    if info is None or info.is_image:
        inputs = ["-framerate", str(fps), "-i", str(clip.path)]
        chain = f"[0:v]{conform},tpad=stop_mode=clone:stop={frames - 1},{exact}"
    else:
        short = (info.duration or 0.0) < seconds - 0.5 / fps
        loop = short and clip.duration > LOOP_AFTER
        inputs = ["-t", f"{seconds + READ_MARGIN:.6f}", "-i", str(clip.path)]
        if loop:
            inputs = ["-stream_loop", "-1", *inputs]
        hold = f"tpad=stop_mode=clone:stop_duration={seconds:.6f}," if short and not loop else ""
        chain = f"[0:v]setpts=PTS-STARTPTS,fps={fps},{hold}{exact},{conform}"
    chains = [f"{chain}[cut]"]
    picture = "[cut]"
    if grain > 0:
        chains.append(
            f"color=c={GRAIN_GREY}:s={width}x{height}:r={fps}:d={seconds:.6f},format=yuv420p,"
            f"noise=c0s={GRAIN_NOISE}:c0f=t:c0_seed={seed}[grain]"
        )
        chains.append(f"[cut][grain]blend=c0_mode=overlay:c0_opacity={grain:.4f}:shortest=1[gr]")
        picture = "[gr]"
    pix = encode.MEZZANINE[mezzanine]["-pix_fmt"]
    chains.append(f"{picture}{ff.REC709_SETPARAMS},format={pix}[vout]")
    return [
        *inputs,
        "-filter_complex", ";".join(chains),
        "-map", "[vout]", "-an", "-frames:v", str(frames),
        *encode.mezzanine_args(mezzanine), *encode.timescale_args(fps), *ff.DETERMINISM,
        "-f", "mov" if mezzanine == "prores" else "mp4", str(out),
    ]  # fmt: skip


def render_segment(
    out: Path,
    clip: EditClip,
    *,
    width: int,
    height: int,
    fps: int,
    grain: float,
    seed: int,
    mezzanine: str = "h264",
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Render one segment to `out`; on failure `out` is removed and MediaError raised."""
    try:
        ff.run_ffmpeg(
            segment_args(
                out,
                clip,
                width=width,
                height=height,
                fps=fps,
                grain=grain,
                seed=seed,
                mezzanine=mezzanine,
            ),
            what=f"cutting the segment {out.name}",
            duration=segment_frames(clip.duration, fps) / fps,
            on_progress=on_progress,
        )
    except BaseException:
        Path(out).unlink(missing_ok=True)
        raise
