"""The `local` provider's renderers: previz stills, animatics, a lanczos upscale, a lip-sync mux.

Previz, not AI: every frame says so. Everything here is deterministic on one machine: stills
are drawn with Pillow (its embedded font, no system fonts), videos use a pinned encoder with
pinned threads and bitexact flags, and no lavfi source with randomness (`gradients`) is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import textwrap
from collections.abc import Iterator
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.media.ffmpeg import (
    DETERMINISM,
    REC709_SETPARAMS,
    audio_codec_args,
    encoder_identity,
    ffmpeg_version,
    run_ffmpeg,
    video_codec_args,
)

# Bump when what the renderers draw changes: it is part of every local recipe.
PREVIZ_VERSION = "1"

# RGB → YUV with the Rec.709 matrix, so the bt709 tags tell the truth.
TO_REC709 = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p," + REC709_SETPARAMS


def renderer_identity() -> dict[str, str]:
    import PIL

    return {
        "ffmpeg": ffmpeg_version(),
        "pillow": PIL.__version__,
        "encoder": encoder_identity(),
        "previz": PREVIZ_VERSION,
    }


@contextlib.contextmanager
def _output(out: Path) -> Iterator[Path]:
    """Remove a half-written `out` if rendering fails, whatever the failure."""
    try:
        yield out
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def _rand(seed: int, take: int, salt: str) -> float:
    """A deterministic number in [0, 1) from seed, take and a purpose."""
    h = hashlib.sha256(f"{seed}:{take}:{salt}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


# -- stills --------------------------------------------------------------------------------


def _palette(seed: int, take: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    import colorsys

    hue = _rand(seed, take, "hue")
    top = colorsys.hsv_to_rgb(hue, 0.45, 0.55)
    bottom = colorsys.hsv_to_rgb((hue + 0.08 + 0.2 * _rand(seed, take, "hue2")) % 1, 0.6, 0.22)
    return (
        tuple(int(c * 255) for c in top),  # type: ignore[return-value]
        tuple(int(c * 255) for c in bottom),  # type: ignore[return-value]
    )


def render_still(
    out: Path,
    *,
    width: int,
    height: int,
    shot_id: str,
    title: str,
    prompt: str,
    notes: list[str],
    seed: int,
    take: int,
    references: list[Path],
) -> None:
    """A previz still: shot id, prompt and camera notes over a seed-and-take background."""
    from PIL import Image, ImageDraw, ImageFont

    with _output(out):
        top, bottom = _palette(seed, take)
        # Vertical gradient, built from a 1-pixel column so it costs nothing at 4K.
        column = Image.new("RGB", (1, 256))
        for y in range(256):
            t = y / 255
            column.putpixel(
                (0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
            )
        img = column.resize((width, height), Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(img, "RGBA")
        # A horizon and a few shapes whose places come from the take: takes look different.
        horizon = int(height * (0.45 + 0.25 * _rand(seed, take, "horizon")))
        draw.rectangle((0, horizon, width, height), fill=(0, 0, 0, 60))
        for i in range(3):
            r = int(height * (0.08 + 0.18 * _rand(seed, take, f"r{i}")))
            cx = int(width * _rand(seed, take, f"x{i}"))
            cy = int(horizon - r * (0.2 + _rand(seed, take, f"y{i}")))
            shade = int(200 * _rand(seed, take, f"c{i}")) + 40
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(shade, shade, shade, 70))

        unit = max(height / 36, 8)
        big = ImageFont.load_default(size=max(int(unit * 3.2), 14))
        mid = ImageFont.load_default(size=max(int(unit * 1.2), 9))
        small = ImageFont.load_default(size=max(int(unit * 1.0), 8))
        margin = int(unit * 1.2)
        draw.text((margin, margin), shot_id, font=big, fill=(255, 255, 255))
        y = margin + int(unit * 3.8)
        tag = f"PREVIZ STILL · take {take} · seed {seed}" + (f" · {title}" if title else "")
        draw.text((margin, y), tag, font=mid, fill=(255, 235, 150))
        y += int(unit * 1.8)
        for note in notes:
            draw.text((margin, y), note, font=small, fill=(230, 230, 230))
            y += int(unit * 1.3)

        # The prompt, wrapped, on a dark band at the bottom.
        chars = max(int(width / (unit * 0.62)), 20)
        lines = textwrap.wrap(prompt, width=chars)[:8]
        band_h = int(unit * 1.35 * len(lines) + margin * 1.2)
        draw.rectangle((0, height - band_h, width, height), fill=(0, 0, 0, 150))
        ty = height - band_h + int(margin * 0.6)
        for line in lines:
            draw.text((margin, ty), line, font=small, fill=(255, 255, 255))
            ty += int(unit * 1.35)

        # Reference thumbnails, top right.
        thumb_h = int(height * 0.16)
        x = width - margin
        for ref in references:
            try:
                with Image.open(ref) as src:
                    th = src.convert("RGB")
            except OSError as e:
                raise MediaError(f"cannot read reference image {ref}", hint=str(e)) from e
            th.thumbnail((thumb_h * 2, thumb_h))
            x -= th.width
            img.paste(th, (x, margin))
            draw.rectangle(
                (x, margin, x + th.width - 1, margin + th.height - 1), outline=(255, 255, 255)
            )
            x -= int(unit * 0.5)
        img.save(out, format="PNG", optimize=False, compress_level=6)


def _label_png(path: Path, text: str, height: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    size = max(int(height / 30), 9)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    pad = max(size // 3, 2)
    img = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 140))
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=(255, 235, 150, 255))
    img.save(path, format="PNG")


# -- animatics -----------------------------------------------------------------------------


def _move_exprs(move: str, frames: int, amp: float, phase: float) -> tuple[str, str, str]:
    """zoompan's zoom, x and y expressions for a camera move over `frames` frames.

    x/y are the top-left corner of the visible window in input pixels; `p` is progress 0..1.
    """
    p = f"(on/{max(frames - 1, 1)})"
    ease = f"(0.5-0.5*cos(PI*{p}))"  # ease in and out, like a real dolly
    cx, cy = "(iw/2-iw/zoom/2)", "(ih/2-ih/zoom/2)"
    free_x, free_y = "(iw-iw/zoom)", "(ih-ih/zoom)"
    z = f"{1 + amp:.4f}"
    if move in ("push-in", "dolly-in"):
        return f"1+{amp:.4f}*{ease}", cx, cy
    if move in ("pull-out", "dolly-out"):
        return f"1+{amp:.4f}*(1-{ease})", cx, cy
    if move == "pan-left":
        return z, f"{free_x}*(1-{ease})", cy
    if move == "pan-right":
        return z, f"{free_x}*{ease}", cy
    if move == "tilt-up":
        return z, cx, f"{free_y}*(1-{ease})"
    if move == "tilt-down":
        return z, cx, f"{free_y}*{ease}"
    if move == "tracking":
        return f"{1 + amp * 0.7:.4f}+{amp * 0.3:.4f}*{p}", f"{free_x}*{p}", cy
    if move == "drone-rising":
        return f"1+{amp:.4f}*(1-{p})", cx, f"{free_y}*(1-{ease})"
    if move == "handheld":
        shake = f"(0.5+0.3*sin(on*0.21+{phase:.3f})+0.2*sin(on*0.53+{phase * 2:.3f}))"
        shake_y = f"(0.5+0.3*sin(on*0.17+{phase * 3:.3f})+0.2*sin(on*0.47))"
        return f"{1 + amp * 0.5:.4f}", f"{free_x}*{shake}", f"{free_y}*{shake_y}"
    if move == "static":
        return "1", "0", "0"
    raise MediaError(f"unknown camera move {move!r}")


def render_animatic(
    out: Path,
    *,
    still: Path,
    width: int,
    height: int,
    fps: int,
    duration: float,
    move: str,
    seed: int,
    take: int,
    label: str,
) -> None:
    """An animatic: the still, performing the camera move for `duration` at `fps`."""
    frames = max(round(duration * fps), 1)
    amp = 0.12 + 0.10 * _rand(seed, take, "amp")
    phase = 6.283 * _rand(seed, take, "phase")
    z, x, y = _move_exprs(move, frames, amp, phase)
    with _output(out):
        label_png = out.with_name(out.name + ".label.png")
        try:
            _label_png(label_png, label, height)
            # zoompan crops at whole input pixels: feed it the still at 2× the output size so
            # the slow moves glide instead of stepping.
            graph = (
                f"[0:v]scale={width * 2}:{height * 2}:flags=lanczos,setsar=1,"
                f"zoompan=z='{z}':x='{x}':y='{y}':d={frames}:s={width}x{height}:fps={fps}[cam];"
                f"[cam][1:v]overlay=x=W-w-{max(width // 60, 2)}:y={int(height * 0.24)}"
                f":format=auto,{TO_REC709}[v]"
            )
            run_ffmpeg(
                [
                    "-i",
                    str(still),
                    "-i",
                    str(label_png),
                    "-filter_complex",
                    graph,
                    "-map",
                    "[v]",
                    "-frames:v",
                    str(frames),
                    "-r",
                    str(fps),
                    *video_codec_args(),
                    *DETERMINISM,
                    "-movflags",
                    "+faststart",
                    "-f",
                    "mp4",
                    str(out),
                ],
                what=f"rendering the animatic {out.name}",
            )
        finally:
            label_png.unlink(missing_ok=True)


# -- upscale and lipsync -------------------------------------------------------------------


def render_upscale(out: Path, *, source: Path, width: int, height: int) -> None:
    """A real lanczos upscale to width×height; frames, rate and audio are kept."""
    from vfbuild.media.probe import probe

    info = probe(source)
    audio = ["-map", "0:a:0", *audio_codec_args()] if info.has_audio else []
    with _output(out):
        run_ffmpeg(
            [
                "-i",
                str(source),
                "-map",
                "0:v:0",
                "-vf",
                f"scale={width}:{height}:flags=lanczos+accurate_rnd+full_chroma_int,setsar=1,"
                f"format=yuv420p,{REC709_SETPARAMS}",
                *video_codec_args(),
                *audio,
                *DETERMINISM,
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
                str(out),
            ],
            what=f"upscaling {source.name} to {width}x{height}",
        )


def render_lipsync(out: Path, *, clip: Path, audio: Path, fps: int) -> None:
    """Previz lip-sync: the dialogue muxed onto the clip, the picture trimmed or held on its
    last frame to the dialogue's length."""
    from vfbuild.media.probe import probe

    seconds = probe(audio).audio_duration or probe(audio).duration
    if not seconds:
        raise MediaError(f"{audio} has no audio to sync")
    with _output(out):
        graph = (
            f"[0:v]tpad=stop_mode=clone:stop_duration={seconds:.6f},"
            f"trim=duration={seconds:.6f},setpts=PTS-STARTPTS,fps={fps},format=yuv420p,"
            f"{REC709_SETPARAMS}[v];"
            f"[1:a]aresample=48000,atrim=duration={seconds:.6f},asetpts=PTS-STARTPTS[a]"
        )
        run_ffmpeg(
            [
                "-i",
                str(clip),
                "-i",
                str(audio),
                "-filter_complex",
                graph,
                "-map",
                "[v]",
                "-map",
                "[a]",
                *video_codec_args(),
                *audio_codec_args(),
                *DETERMINISM,
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
                str(out),
            ],
            what=f"muxing {audio.name} onto {clip.name}",
        )
