"""The film's cover: one frame of the edit, cropped at the shot's focus point to the cover's
aspect, with the title set in type (Pillow's embedded font, so the same bytes everywhere)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from vfbuild.media import ffmpeg as ff


def render_cover(
    out: Path,
    edit: Path,
    *,
    at: float,
    size: tuple[int, int],
    focus: tuple[float, float],
    title: str,
) -> None:
    from PIL import Image, ImageDraw, ImageFont

    with tempfile.TemporaryDirectory(prefix="vf-cover-", dir=out.parent) as tmp:
        frame = Path(tmp) / "frame.png"
        ff.run_ffmpeg(
            [
                "-ss",
                f"{at:.6f}",
                "-i",
                str(edit),
                "-frames:v",
                "1",
                "-update",
                "1",
                *ff.DETERMINISM,
                str(frame),
            ],  # fmt: skip
            what=f"taking the cover's frame at {at:.2f}s",
        )
        with Image.open(frame) as im:
            picture = im.convert("RGB")
    w, h = size
    sw, sh = picture.size
    scale = max(w / sw, h / sh)
    big = picture.resize(
        (max(w, round(sw * scale)), max(h, round(sh * scale))), Image.Resampling.LANCZOS
    )
    bw, bh = big.size
    x = max(0, min(bw - w, round(focus[0] * bw - w / 2)))
    y = max(0, min(bh - h, round(focus[1] * bh - h / 2)))
    cover = big.crop((x, y, x + w, y + h))
    # A dark band at the foot of the picture, so the title reads on any frame.
    shade = Image.new("L", (1, h))
    for row in range(h):
        shade.putpixel((0, row), int(200 * max(0.0, (row / h - 0.5) * 2) ** 1.5))
    cover.paste(Image.new("RGB", (w, h), "black"), (0, 0), shade.resize((w, h)))
    draw = ImageDraw.Draw(cover)
    size_px = max(10, min(w // max(6, len(title) // 2 + 2), h // 8))
    font = ImageFont.load_default(size=size_px)
    while draw.textlength(title, font=font) > w * 0.9 and size_px > 10:
        size_px -= 2
        font = ImageFont.load_default(size=size_px)
    box = draw.textbbox((0, 0), title, font=font)
    tx = (w - (box[2] - box[0])) // 2
    ty = h - h // 8 - (box[3] - box[1])
    draw.text((tx, ty), title, font=font, fill=(250, 246, 236))
    cover.save(out, format="PNG")
