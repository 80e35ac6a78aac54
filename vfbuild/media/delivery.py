"""A delivery: the edit re-encoded for where it goes: scaled (or cropped at each shot's focus
point when its aspect differs), optionally denoised (lighter grain survives a platform's
compression), with a contrast lift and burned-in subtitles, at its own bitrate."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from vfbuild.media import encode
from vfbuild.media import ffmpeg as ff
from vfbuild.media.subtitles import Cue, cue_image

# One focus point per shot: (the shot's last frame + 1, x, y), x and y from 0 to 1.
Focus = Sequence[tuple[int, float, float]]


def crop_window(src: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """The largest window of the source with the delivery's aspect (even sides)."""
    (sw, sh), (w, h) = src, size
    cw, ch = min(sw, sh * w // h), min(sh, sw * h // w)
    return cw - cw % 2, ch - ch % 2


def _piecewise(values: list[tuple[int, int]], fps: int) -> str:
    """An expression of the frame's time: values[i][1] until frame values[i][0]."""
    expr = str(values[-1][1])
    for end, v in reversed(values[:-1]):
        expr = f"if(lt(t\\,{end / fps:.6f})\\,{v}\\,{expr})"
    return expr


def focus_crop(src: tuple[int, int], size: tuple[int, int], focus: Focus, fps: int) -> str:
    cw, ch = crop_window(src, size)
    sw, sh = src
    xs = [(end, max(0, min(sw - cw, round(x * sw - cw / 2)))) for end, x, _ in focus]
    ys = [(end, max(0, min(sh - ch, round(y * sh - ch / 2)))) for end, _, y in focus]
    return f"crop={cw}:{ch}:x='{_piecewise(xs, fps)}':y='{_piecewise(ys, fps)}'"


def delivery_args(
    out: Path,
    edit: Path,
    *,
    src: tuple[int, int],
    size: tuple[int, int],
    fps: int,
    focus: Focus,
    grain: float,
    contrast: float,
    bitrate: str | None,
    cue_files: Sequence[tuple[float, float, Path]] = (),
) -> list[str]:
    w, h = size
    chain = []
    if crop_window(src, size) != src:
        chain.append(focus_crop(src, size, focus, fps))
    chain.append(f"scale={w}:{h}:flags={ff.sws('lanczos')}:out_range=tv,setsar=1")
    if grain < 1:
        # A spatio-temporal denoise takes the grain down; 0 keeps hardly any.
        s = 6 * (1 - grain)
        chain.append(f"hqdn3d={s:.3f}:{s / 2:.3f}:{s * 1.5:.3f}:{s * 0.75:.3f}")
    if contrast != 1:
        chain.append(f"eq=contrast={contrast:.4f}")
    inputs = ["-i", str(edit)]
    graph = f"[0:v]{','.join(chain)}[base]"
    last = "[base]"
    for i, (a, b, png) in enumerate(cue_files, start=1):
        inputs += ["-i", str(png)]
        graph += f";{last}[{i}:v]overlay=0:0:enable='between(t\\,{a:.6f}\\,{b - 1e-3:.6f})'[o{i}]"
        last = f"[o{i}]"
    graph += f";{last}{ff.REC709_SETPARAMS},format=yuv420p[vout]"
    return [
        *inputs, "-filter_complex", graph, "-map", "[vout]", "-map", "0:a?",
        *encode.delivery_args(bitrate), "-c:a", "copy", *encode.timescale_args(fps),
        *ff.DETERMINISM, "-movflags", "+faststart", "-f", "mp4", str(out),
    ]  # fmt: skip


def render_delivery(
    out: Path,
    edit: Path,
    *,
    src: tuple[int, int],
    size: tuple[int, int],
    fps: int,
    seconds: float,
    focus: Focus,
    grain: float,
    contrast: float,
    bitrate: str | None,
    cues: Sequence[Cue] = (),
    on_progress: Callable[[float], None] | None = None,
) -> None:
    try:
        with tempfile.TemporaryDirectory(prefix="vf-cues-", dir=out.parent) as tmp:
            files = []
            for i, (a, b, text) in enumerate(cues):
                png = Path(tmp) / f"cue{i}.png"
                cue_image(png, text, *size)
                files.append((a, b, png))
            ff.run_ffmpeg(
                delivery_args(
                    out,
                    edit,
                    src=src,
                    size=size,
                    fps=fps,
                    focus=focus,
                    grain=grain,
                    contrast=contrast,
                    bitrate=bitrate,
                    cue_files=files,
                ),  # fmt: skip
                what=f"encoding the delivery {out.name}",
                duration=seconds,
                on_progress=on_progress,
            )
    except BaseException:
        out.unlink(missing_ok=True)
        raise
