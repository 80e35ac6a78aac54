"""The embedded `local` provider's renderers: previz stills and animatics, not AI.

Everything here is free, offline and deterministic: the same arguments give byte-identical
files on the same machine. Stills are drawn with Pillow (ffmpeg's `gradients` source is not
deterministic); video goes through ffmpeg with the pinned encoder of `vfbuild.media.ffmpeg`.
Labels on every picture say PREVIZ, so nobody mistakes a placeholder for a generated shot.

Each renderer writes exactly `out` (a temp path the caller renames); on failure it removes
`out` and raises MediaError.

One module though long: its drawing helpers serve every renderer, and their bytes are pinned by
`PREVIZ_VERSION` together (splitting them would not change what must be bumped as one).
"""

from __future__ import annotations

import colorsys
import contextlib
import hashlib
import math
import struct
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vfbuild.errors import MediaError
from vfbuild.fsutil import temp_path
from vfbuild.media import ffmpeg as ff

# Bump when a drawing or a camera move changes: it is part of every local recipe.
PREVIZ_VERSION = 3

MOVES = (
    "static", "push-in", "dolly-in", "pull-out", "dolly-out", "pan-left", "pan-right",
    "tilt-up", "tilt-down", "tracking", "drone-rising", "handheld",
)  # fmt: skip
_ALIASES = {"dolly-in": "push-in", "dolly-out": "pull-out"}


def renderer_identity() -> dict[str, str]:
    """What the local renderer's bytes depend on; it goes into every local recipe."""
    import PIL

    return {
        "ffmpeg": ff.ffmpeg_version(),
        "pillow": PIL.__version__,
        "encoder": ff.encoder_identity(),
        "previz": str(PREVIZ_VERSION),
    }


@contextlib.contextmanager
def _writing(out: Path, what: str) -> Iterator[None]:
    """Remove a half-written `out` on any failure; turn library errors into MediaError."""
    try:
        yield
    except BaseException as e:
        with contextlib.suppress(OSError):
            out.unlink()
        if isinstance(e, MediaError) or not isinstance(e, Exception):
            raise
        raise MediaError(f"cannot make {what} {out.name}", hint=str(e)) from e


# --- deterministic numbers ---------------------------------------------------------------


class _Dice:
    """Numbers derived from sha256 of a key: the same on every machine and Python version."""

    def __init__(self, *key: object) -> None:
        self._key = "\x1f".join(str(k) for k in key).encode()
        self._n = 0

    def uniform(self, lo: float = 0.0, hi: float = 1.0) -> float:
        digest = hashlib.sha256(self._key + struct.pack(">I", self._n)).digest()
        self._n += 1
        return lo + (hi - lo) * (int.from_bytes(digest[:8], "big") / 2**64)

    def choice(self, items: tuple[Any, ...] | list[Any]) -> Any:
        return items[min(int(self.uniform() * len(items)), len(items) - 1)]


# --- text --------------------------------------------------------------------------------

# Pillow's embedded font (Aileron) covers ASCII and these; everything else would draw as a box.
_FONT_EXTRA = set("©«°±´·»‘’“”…‹›⁄™")
_REPLACE = {
    "—": "-", "–": "-", "‐": "-", "‑": "-", "−": "-", "•": "·", "×": "x", "→": "->",
    "←": "<-", "„": "“", "‚": "‘", "\u00a0": " ", "\t": " ", "\n": " ", "\r": " ",
    "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
}  # fmt: skip


def _printable(text: str) -> str:
    """`text` with only characters the embedded font can draw (accents dropped, not boxed)."""
    out = []
    for ch in text:
        ch = _REPLACE.get(ch, ch)
        if len(ch) == 1 and not (" " <= ch <= "~" or ch in _FONT_EXTRA):
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            ch = base if base and all(" " <= c <= "~" for c in base) else "?"
        out.append(ch)
    return "".join(out)


def _font(size: float) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=max(6, int(size)))


def _wrap(text: str, font: Any, width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        while font.getlength(word) > width and len(word) > 1:
            # A word wider than the column: cut it where it stops fitting.
            cut = max(
                1, next(i for i in range(1, len(word) + 1) if font.getlength(word[:i]) > width) - 1
            )
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _fit_lines(lines: list[str], font: Any, width: float, max_lines: int) -> list[str]:
    if max_lines <= 0:
        return []
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = kept[-1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + "…"
    return kept


def _label_png(out: Path, *, text: str, height: int) -> tuple[int, int]:
    """A label (light text on a dark translucent plate) as an RGBA PNG; returns its size."""
    from PIL import Image, ImageDraw

    size = max(9, round(height * 0.042))
    font = _font(size)
    text = _printable(text)
    pad = max(3, size // 3)
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    im = Image.new("RGBA", (w, h), (0, 0, 0, 150))
    ImageDraw.Draw(im).text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 255))
    _save_png(im, out)
    return w, h


def _save_png(im: Any, out: Path) -> None:
    # No pnginfo, no timestamps: the bytes depend on the pixels and zlib only.
    with open(out, "wb") as f:
        im.save(f, format="PNG", compress_level=6)


# --- stills ------------------------------------------------------------------------------


def _palette(dice: _Dice) -> list[tuple[int, int, int]]:
    """Five related colours: two for the sky gradient, ground, a light and an accent."""
    hue = dice.uniform()
    spread = dice.uniform(0.08, 0.3)

    def rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return round(r * 255), round(g * 255), round(b * 255)

    return [
        rgb(hue, dice.uniform(0.35, 0.7), dice.uniform(0.55, 0.85)),
        rgb(hue + spread, dice.uniform(0.45, 0.85), dice.uniform(0.2, 0.45)),
        rgb(hue + 2 * spread, dice.uniform(0.3, 0.6), dice.uniform(0.12, 0.3)),
        rgb(hue + 0.5, dice.uniform(0.2, 0.5), dice.uniform(0.85, 1.0)),
        rgb(hue + 0.45 + spread, dice.uniform(0.5, 0.9), dice.uniform(0.6, 0.95)),
    ]


def _background(width: int, height: int, dice: _Dice) -> Any:
    """Gradient sky, a light, hills and a subject block; shapes drawn 2x for smooth edges."""
    from PIL import Image, ImageDraw

    sky_a, sky_b, ground, light, accent = _palette(dice)
    angle = dice.uniform(-35.0, 35.0)
    diag = math.ceil(math.hypot(width, height))
    mask = Image.linear_gradient("L").resize((diag, diag), Image.Resampling.BILINEAR)
    mask = mask.rotate(angle, resample=Image.Resampling.BILINEAR)
    left, top = (diag - width) // 2, (diag - height) // 2
    mask = mask.crop((left, top, left + width, top + height))
    im = Image.composite(
        Image.new("RGB", (width, height), sky_b), Image.new("RGB", (width, height), sky_a), mask
    )

    ss = 2
    W, H = width * ss, height * ss
    layer = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    # A sun or moon, right of the text panel.
    r = dice.uniform(0.06, 0.13) * H
    cx, cy = dice.uniform(0.55, 0.92) * W, dice.uniform(0.25, 0.5) * H
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*light, 235))
    # Two ranges of hills: a far, paler one and a near, darker one.
    for depth, colour, alpha in ((0.55, sky_b, 170), (0.7, ground, 255)):
        base = dice.uniform(depth - 0.08, depth + 0.05) * H
        peaks = [(0.0, float(H)), (0.0, base)]
        steps = 7 + int(dice.uniform() * 5)
        for i in range(1, steps + 1):
            px = W * i / steps
            py = base - dice.uniform(-0.05, 0.18) * H
            peaks.append((px, py))
        peaks.append((float(W), float(H)))
        draw.polygon(peaks, fill=(*colour, alpha))
    # The subject: a figure near the right third line, clear of the text panel.
    sx = dice.uniform(0.63, 0.8) * W
    sw = dice.uniform(0.14, 0.26) * min(W, H)
    sh = dice.uniform(0.3, 0.6) * min(W, H)
    sy = dice.uniform(0.72, 0.85) * H
    draw.rounded_rectangle(
        (sx - sw / 2, sy - sh, sx + sw / 2, sy), radius=sw * 0.25, fill=(*accent, 235)
    )
    draw.ellipse(
        (sx - sw * 0.3, sy - sh - sw * 0.55, sx + sw * 0.3, sy - sh + sw * 0.05),
        fill=(*accent, 235),
    )
    # Rule-of-thirds guides, faint: this is a framing tool.
    line = max(1, round(H / 540))
    for f in (1 / 3, 2 / 3):
        draw.line((W * f, 0, W * f, H), fill=(255, 255, 255, 40), width=line)
        draw.line((0, H * f, W, H * f), fill=(255, 255, 255, 40), width=line)
    layer = layer.reduce(ss)
    return Image.alpha_composite(im.convert("RGBA"), layer)


def _thumbnails(references: list[Path], box_h: int, max_w: int) -> list[Any]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    thumbs = []
    for ref in references:
        try:
            with Image.open(ref) as src:
                src.draft("RGB", (box_h * 4, box_h * 4))  # JPEG: decode small, faster
                im = ImageOps.exif_transpose(src).convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as e:
            raise MediaError(
                f"cannot read the reference image {ref}",
                hint=f"it must be a PNG, JPEG or WebP image ({e})",
            ) from e
        thumbs.append(ImageOps.contain(im, (max_w, box_h), Image.Resampling.LANCZOS))
    return thumbs


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
    """A previz keyframe as a PNG: shot id, take and seed, prompt, notes, reference thumbnails.

    The background (colours, light, hills, subject position) comes from a hash of seed and
    take, so takes are visibly different and the same take is byte-identical.
    """
    from PIL import Image

    out = Path(out)
    with _writing(out, "the previz still"):
        _check_size(width, height)
        im = _background(width, height, _Dice("still", seed, take))
        unit = min(width / 16, height / 9) / 40  # 1.0 at 640x360
        margin = max(4, round(14 * unit))
        landscape = width >= height
        thumb_h = round(height * (0.2 if landscape else 0.12))
        thumbs = _thumbnails(references[:4], thumb_h, round(width * 0.2))
        panel_w = round(width * (0.56 if landscape else 1.0)) - 2 * margin
        # In portrait the references take a row at the bottom instead of the right column.
        reserved = 0 if landscape or not thumbs else thumb_h + 3 * margin
        header = f"PREVIZ STILL · take {take} · seed {seed}"
        overlay = Image.new("RGBA", im.size, (0, 0, 0, 0))
        _draw_panel(
            overlay,
            (margin, margin),
            panel_w,
            height - 2 * margin - reserved,
            unit,
            shot_id=shot_id,
            header=header,
            title=title,
            prompt=prompt,
            notes=notes,
        )
        im = Image.alpha_composite(im, overlay)
        if landscape:
            right = (margin * 2 + panel_w, margin, width - margin)
        else:
            right = (margin, height - reserved, width - margin)
        _paste_thumbnails(im, thumbs, len(references), right, unit)
        _footer(im, "local previz - not an AI render", margin, unit)
        _save_png(im.convert("RGB"), out)


def _line_h(font: Any) -> int:
    return round(float(font.size) * 1.25)


def _draw_panel(
    layer: Any,
    origin: tuple[int, int],
    panel_w: int,
    max_h: int,
    unit: float,
    *,
    shot_id: str,
    header: str,
    title: str,
    prompt: str,
    notes: list[str],
) -> None:
    """The text: id, PREVIZ header, title, the prompt (as much as fits), camera notes."""
    from PIL import ImageDraw

    pad = max(4, round(12 * unit))
    text_w = panel_w - 2 * pad
    big, small = _font(max(14, 46 * unit)), _font(max(9, 15 * unit))
    body, note = _font(max(9, 13 * unit)), _font(max(8, 12 * unit))
    gap = max(2, round(4 * unit))
    blocks: list[tuple[Any, list[str], tuple[int, int, int]]] = [
        (big, [_printable(shot_id)], (255, 255, 255)),
        (small, _wrap(_printable(header), small, text_w), (255, 214, 90)),
    ]
    if title.strip():
        blocks.append((body, _wrap(_printable(title), body, text_w)[:2], (235, 235, 235)))
    note_lines = [ln for n in notes for ln in _wrap(_printable(n), note, text_w)]

    def height_of(bs: list[tuple[Any, list[str], tuple[int, int, int]]]) -> int:
        return sum(_line_h(f) * len(ls) + gap for f, ls, _ in bs if ls)

    # The prompt gets the room between the header and the notes; notes give way if need be.
    room = max_h - 2 * pad - height_of(blocks)
    notes_h = height_of([(note, note_lines, (0, 0, 0))])
    prompt_room = (room - notes_h) // _line_h(body)
    if prompt_room < 2:
        prompt_room = min(2, max(0, room // _line_h(body)))
        note_lines = note_lines[
            : max(0, (room - prompt_room * _line_h(body) - gap) // _line_h(note))
        ]
    prompt_lines = _fit_lines(_wrap(_printable(prompt), body, text_w), body, text_w, prompt_room)
    blocks.append((body, prompt_lines, (250, 250, 250)))
    blocks.append((note, note_lines, (190, 225, 255)))

    x0, y0 = origin
    panel_h = min(height_of(blocks) - gap + 2 * pad, max_h)
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((x0, y0, x0 + panel_w, y0 + panel_h), radius=pad, fill=(0, 0, 0, 150))
    y = y0 + pad
    for font, lines, colour in blocks:
        for text in lines:
            if y + _line_h(font) > y0 + panel_h:
                return
            draw.text((x0 + pad, y), text, font=font, fill=(*colour, 255))
            y += _line_h(font)
        if lines:
            y += gap


def _paste_thumbnails(
    im: Any, thumbs: list[Any], total: int, box: tuple[int, int, int], unit: float
) -> None:
    """Reference thumbnails in a row, right-aligned between box's x0 and x1, from its top."""
    from PIL import ImageDraw

    if not thumbs:
        return
    x0, top, x1 = box
    border = max(1, round(2 * unit))
    label = _font(max(8, 11 * unit))
    spacing = max(3, round(6 * unit))
    draw = ImageDraw.Draw(im)
    x = x1
    shown = 0
    for i, thumb in enumerate(thumbs, start=1):
        w = thumb.width + 2 * border
        if x - w < x0 and shown:
            break
        x -= w
        draw.rectangle(
            (x, top, x + w - 1, top + thumb.height + 2 * border - 1), fill=(255, 255, 255, 255)
        )
        im.paste(thumb, (x + border, top + border))
        draw.text(
            (x, top + thumb.height + 2 * border + 1),
            f"ref {i}",
            font=label,
            fill=(255, 255, 255, 235),
        )
        x -= spacing
        shown += 1
    if total > shown:
        more = f"+{total - shown} more"
        draw.text(
            (x1 - label.getlength(more), top + thumbs[0].height + 2 * border + _line_h(label)),
            more,
            font=label,
            fill=(255, 255, 255, 235),
        )


def _footer(im: Any, text: str, margin: int, unit: float) -> None:
    from PIL import ImageDraw

    font = _font(max(8, 11 * unit))
    x = im.width - margin - font.getlength(text)
    y = im.height - margin - _line_h(font)
    ImageDraw.Draw(im).text((x, y), text, font=font, fill=(255, 255, 255, 210))


def _check_size(width: int, height: int) -> None:
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise MediaError(
            f"cannot render at {width}x{height}",
            hint="width and height must be even and at least 16 (H.264 with 4:2:0 chroma)",
        )


# --- animatics ---------------------------------------------------------------------------


def _canonical_move(move: str) -> str:
    m = _ALIASES.get(move, move)
    if m not in MOVES:
        raise MediaError(f"unknown camera move {move!r}", hint="one of: " + ", ".join(MOVES))
    return m


def _motion(
    move: str, seed: int, take: int, fps: int, frames: int
) -> Callable[[int], tuple[float, float, float]]:
    """The camera path of `move`: frame number → (zoom, fx, fy), where fx and fy place the
    visible window within the room the zoom leaves (0 = left/top edge, 1 = right/bottom).
    Amplitude and direction come from the take, so takes differ."""
    dice = _Dice("move", move, seed, take)
    amp = dice.uniform(0.8, 1.2)
    last = max(frames - 1, 1)
    aim_x, aim_y = dice.uniform(0.35, 0.65), dice.uniform(0.35, 0.65)

    def ease(p: float) -> float:
        return p * p * (3 - 2 * p)  # smoothstep: the move starts and lands softly

    if move == "static":
        return lambda n: (1.0, 0.5, 0.5)
    if move == "push-in":
        return lambda n: (1 + 0.2 * amp * ease(n / last), aim_x, aim_y)
    if move == "pull-out":
        return lambda n: (1 + 0.2 * amp * (1 - ease(n / last)), aim_x, aim_y)
    zoom = 1 + 0.18 * amp
    if move in ("pan-left", "pan-right"):
        right = move == "pan-right"
        return lambda n: (zoom, ease(n / last) if right else 1 - ease(n / last), aim_y)
    if move in ("tilt-up", "tilt-down"):
        down = move == "tilt-down"
        return lambda n: (zoom, aim_x, ease(n / last) if down else 1 - ease(n / last))
    if move == "tracking":
        # Constant speed sideways (a dolly on rails), a slight push, direction per take.
        forward = dice.uniform() < 0.5
        return lambda n: (
            1 + 0.1 * amp + 0.06 * n / last,
            0.1 + 0.8 * (n / last if forward else 1 - n / last),
            aim_y,
        )
    if move == "drone-rising":
        # The camera climbs (the frame moves up the picture) while slowly widening.
        return lambda n: (1.3 - 0.2 * amp * ease(n / last), aim_x, 1 - 0.85 * ease(n / last))
    # handheld: a few incommensurate sines, phases from the take, so it never repeats exactly.
    waves = [
        [
            (w, 2 * math.pi * f * dice.uniform(0.85, 1.15), dice.uniform(0, 2 * math.pi))
            for w, f in ((0.5, 0.45), (0.3, 1.1), (0.2, 2.7))
        ]
        for _axis in (0, 1)
    ]

    def shake(axis: int, n: int) -> float:
        return sum(w * math.sin(f * n / fps + ph) for w, f, ph in waves[axis])

    return lambda n: (1 + 0.07 * amp, 0.5 + 0.3 * shake(0, n), 0.5 + 0.3 * shake(1, n))


def _animatic_frames(
    still: Path,
    label: Path,
    width: int,
    height: int,
    frames: int,
    path: Callable[[int], tuple[float, float, float]],
    last: Path | None = None,
    pip: list[Any] | None = None,
) -> Iterator[bytes]:
    """RGB frames of the move. Pillow's EXTENT transform samples the still at sub-pixel
    positions in plain C, so slow moves glide and the bytes are the same on every CPU (ffmpeg's
    zoompan scales with swscale's SIMD code, whose rounding differs between CPUs)."""
    from PIL import Image

    with Image.open(still) as src:
        # Cover the frame once with a proper downscale; the moves then only magnify (zoom ≥ 1),
        # so the per-frame bicubic sampling never aliases.
        base = src.convert("RGB")
    scale = max(width / base.width, height / base.height)
    cover = (max(width, round(base.width * scale)), max(height, round(base.height * scale)))
    base = base.resize(cover, Image.Resampling.LANCZOS)
    with Image.open(label) as lab:
        overlay = lab.convert("RGBA")
    margin = max(4, round(height * 0.03))
    at = (margin, height - margin - overlay.height)
    end = _cover(last, width, height) if last is not None else None

    def draw(n: int) -> bytes:
        zoom, fx, fy = path(n)
        w, h = width / zoom, height / zoom
        x0 = (base.width - w) * min(max(fx, 0.0), 1.0)
        y0 = (base.height - h) * min(max(fy, 0.0), 1.0)
        # Bilinear is enough: the moves only magnify, and it is 3x cheaper than bicubic here.
        frame = base.transform(
            (width, height),
            Image.Transform.EXTENT,
            (x0, y0, x0 + w, y0 + h),
            resample=Image.Resampling.BILINEAR,
        )
        if end is not None:  # the clip lands on its last frame: a crossfade over its second half
            frame = Image.blend(frame, end, _landing(n, frames))
        if pip:  # the reference performance, top right
            inset = pip[min(n, len(pip) - 1)]
            frame.paste(inset, (width - margin - inset.width, margin))
        frame.paste(overlay, at, overlay)
        return frame.tobytes()

    # Pillow releases the GIL while it transforms: two frames are drawn at once, in order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield from pool.map(draw, range(frames))


def _landing(n: int, frames: int) -> float:
    """How much of the last frame shows at frame n: none in the first half, all at the end."""
    p = min(max((n / max(frames - 1, 1) - 0.5) / 0.5, 0.0), 1.0)
    return p * p * (3 - 2 * p)


def _cover(still: Path, width: int, height: int) -> Any:
    """`still` scaled to cover width x height, centred and cropped."""
    from PIL import Image, ImageOps

    with Image.open(still) as src:
        return ImageOps.fit(src.convert("RGB"), (width, height), Image.Resampling.LANCZOS)


def _pip_frames(reference: Path, width: int, height: int, fps: int, frames: int) -> list[Any]:
    """The reference performance as `frames` small RGB pictures (a quarter of the frame's
    width, framed in white), at the clip's rate; its last picture held if it is shorter."""
    import subprocess

    from PIL import Image, ImageOps

    pw = max(16, (width // 4) // 2 * 2)
    ph = max(16, round(pw * height / width) // 2 * 2)
    border = max(1, width // 320)
    argv = [
        ff.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(reference),
        "-map", "0:v:0", "-vf",
        f"fps={fps},scale={pw}:{ph}:force_original_aspect_ratio=decrease:flags={ff.sws()}:"
        f"in_color_matrix=bt709,pad={pw}:{ph}:(ow-iw)/2:(oh-ih)/2,format=rgb24",
        "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, check=False)
    size = pw * ph * 3
    if proc.returncode != 0 or len(proc.stdout) < size:
        raise MediaError(
            f"cannot read the reference performance {reference.name}",
            hint=proc.stderr.decode(errors="replace").strip()[-300:] or "it holds no video",
        )
    data = proc.stdout
    return [
        ImageOps.expand(
            Image.frombytes("RGB", (pw, ph), data[i : i + size]), border, fill=(255, 255, 255)
        )
        for i in range(0, len(data) - size + 1, size)
    ]


def render_restyle(
    out: Path,
    *,
    image: Path,
    prompt: str,
    strength: float,
    seed: int,
    references: list[Path],
    label: str,
) -> None:
    """A previz of image to image: the source frame colour-graded toward a palette drawn from
    the prompt and seed (as far as `strength` says), the prompt written over it and the
    references beside it. Same arguments, same bytes."""
    from PIL import Image, ImageDraw, ImageEnhance

    out = Path(out)
    with _writing(out, "the previz restyle"):
        with Image.open(image) as src:
            base = src.convert("RGB")
        width, height = base.size
        dice = _Dice("restyle", prompt, seed)
        tint = _palette(dice)[4]
        graded = ImageEnhance.Color(base).enhance(1 + strength)
        graded = ImageEnhance.Brightness(graded).enhance(1 + 0.15 * strength)
        graded = Image.blend(graded, Image.new("RGB", base.size, tint), 0.45 * strength)
        im = graded.convert("RGBA")
        unit = min(width / 16, height / 9) / 40
        margin = max(4, round(14 * unit))
        overlay = Image.new("RGBA", im.size, (0, 0, 0, 0))
        _draw_panel(
            overlay,
            (margin, margin),
            round(width * 0.56) - 2 * margin,
            round(height * 0.6),
            unit,
            shot_id=label,
            header=f"PREVIZ RESTYLE · strength {strength:g} · seed {seed}",
            title="",
            prompt=prompt,
            notes=[],
        )
        im = Image.alpha_composite(im, overlay)
        thumbs = _thumbnails(references[:4], round(height * 0.2), round(width * 0.2))
        _paste_thumbnails(
            im, thumbs, len(references), (round(width * 0.6), margin, width - margin), unit
        )
        stripe = max(2, round(6 * unit))  # the grade's colour, so it reads even on a thumbnail
        ImageDraw.Draw(im).rectangle((0, height - stripe, width, height), fill=(*tint, 255))
        _footer(im, "local previz - not an AI render", margin, unit)
        _save_png(im.convert("RGB"), out)


def _to_rec709(video: Any, *size: int, flags: str = ff.sws()) -> Any:
    """Scale (if given a size), convert to 4:2:0 with the BT.709 matrix, and tag it so.

    The matrix is explicit because swscale converts RGB with BT.601 unless told otherwise,
    and the tags must tell the truth.
    """
    return (
        video.filter("scale", *size, flags=flags, out_color_matrix="bt709", out_range="tv")
        .filter("format", "yuv420p")
        .filter(
            "setparams", colorspace="bt709", color_primaries="bt709", color_trc="bt709", range="tv"
        )
    )


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
    last: Path | None = None,
    reference: Path | None = None,
) -> None:
    """An MP4 of the camera `move` over `still`, `round(duration*fps)` frames, label burnt in.
    With `last`, the clip crossfades onto that frame; with `reference`, the reference
    performance plays picture-in-picture."""
    out = Path(out)
    with _writing(out, "the previz animatic"):
        _check_size(width, height)
        move = _canonical_move(move)
        frames = round(duration * fps)
        if frames < 1 or fps < 1:
            raise MediaError(f"cannot render {duration}s at {fps} fps: that is no frames")
        if not Path(still).is_file():
            raise MediaError(f"the still {still} does not exist")
        with temp_path(out.parent, suffix=".label.png") as label_png:
            _label_png(label_png, text=label, height=height)
            path = _motion(move, seed, take, fps, frames)
            pip = None if reference is None else _pip_frames(reference, width, height, fps, frames)
            args = [
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                "-framerate", str(fps), "-i", "pipe:0",
                "-vf", f"scale=flags={ff.sws()}:out_color_matrix=bt709:out_range=tv,"
                f"format=yuv420p,{ff.REC709_SETPARAMS}",
                "-frames:v", str(frames), "-an", "-movflags", "+faststart",
                *ff.video_codec_args(), *ff.DETERMINISM, "-f", "mp4", str(out),
            ]  # fmt: skip
            ff.run_ffmpeg(
                args,
                what=f"rendering the previz animatic {out.name}",
                stdin=_animatic_frames(
                    Path(still), label_png, width, height, frames, path, last, pip
                ),
            )


# --- upscale and lip-sync ----------------------------------------------------------------


def render_upscale(out: Path, *, source: Path, width: int, height: int) -> None:
    """A lanczos upscale of `source` to width x height: same frames and rate, Rec.709."""
    ffmpeg = ff.graph_library()

    from vfbuild.media.probe import probe

    out = Path(out)
    with _writing(out, "the upscale"):
        _check_size(width, height)
        info = probe(Path(source))
        if not info.has_video or info.is_image:
            raise MediaError(f"cannot upscale {source}: it is not a video")
        src = ffmpeg.input(str(source))
        video = _to_rec709(src.video, width, height, flags=ff.sws("lanczos"))
        video = video.filter("setsar", 1)
        streams = [video]
        kwargs: dict[str, Any] = {"fps_mode": "passthrough", "movflags": "+faststart"}
        if info.has_audio:
            streams.append(src.audio)
            if info.audio_codec == "aac":
                kwargs["c:a"] = "copy"  # no second generation of AAC loss
            else:
                kwargs.update(ff.audio_codec_kwargs())
        stream = ffmpeg.output(
            *streams, str(out), **kwargs, **ff.video_codec_kwargs(), **ff.determinism_kwargs()
        )
        ff.run_ffmpeg(
            ff.compile_stream(stream), what=f"upscaling {Path(source).name}", duration=info.duration
        )


def render_lipsync(out: Path, *, clip: Path, audio: Path, fps: int) -> None:
    """Previz lip-sync: the dialogue muxed onto the clip, the picture cut or held to its length."""
    ffmpeg = ff.graph_library()

    from vfbuild.media.probe import probe

    out = Path(out)
    with _writing(out, "the previz lip-sync"):
        clip_info, audio_info = probe(Path(clip)), probe(Path(audio))
        if not clip_info.has_video or clip_info.is_image:
            raise MediaError(f"cannot lip-sync {clip}: it is not a video")
        length = audio_info.audio_duration or audio_info.duration
        if not audio_info.has_audio or not length:
            raise MediaError(f"cannot lip-sync to {audio}: it holds no audio")
        frames = max(1, round(length * fps))
        sample_rate = int(ff.ENCODER["sample_rate"])
        video = (
            ffmpeg.input(str(clip))
            .video.filter("fps", fps)
            .filter("tpad", stop_mode="clone", stop_duration=f"{length:.6f}")
            .filter("trim", end_frame=frames)
            .filter("setpts", "PTS-STARTPTS")
        )
        sound = (
            ffmpeg.input(str(audio))
            .audio.filter("aresample", sample_rate)
            .filter("atrim", end_sample=round(length * sample_rate))
            .filter("asetpts", "PTS-STARTPTS")
        )
        stream = ffmpeg.output(
            _to_rec709(video),
            sound,
            str(out),
            movflags="+faststart",
            **ff.video_codec_kwargs(),
            **ff.audio_codec_kwargs(),
            **ff.determinism_kwargs(),
        )
        ff.run_ffmpeg(
            ff.compile_stream(stream), what=f"lip-syncing {Path(clip).name}", duration=length
        )
