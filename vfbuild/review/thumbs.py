"""Thumbnails of stills and poster frames of clips, made once per artifact.

A thumbnail is named by its artifact's sha256 (`.vf/cache/thumbs/<aa>/<sha256>.jpg`): an
artifact never changes, so neither does its thumbnail, and a film of 100 shots × 8 takes opens
with 800 stats after the first time. Stills are scaled with Pillow; a clip's poster is a frame
ffmpeg (`vfbuild.media.ffmpeg`) takes from its first half second.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from vfbuild.errors import MediaError
from vfbuild.fsutil import temp_path

WIDTH, HEIGHT = 480, 270  # a card at twice its CSS size
QUALITY = 82
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CLIP_MAGIC = (b"ftyp", b"moov", b"mdat", b"free", b"wide")  # ISO-BMFF boxes at offset 4
_WEBM_MAGIC = b"\x1a\x45\xdf\xa3"


class Thumbs:
    """The film's thumbnail cache. Safe to use from the server's threads: two requests for
    the same artifact make it once."""

    def __init__(self, folder: Path, objects: Path) -> None:
        self.dir = folder  # the film's `vfdir.THUMBS`
        self.objects = objects  # the store's objects: `<aa>/<sha256>`
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, sha256: str) -> Path:
        return self.dir / sha256[:2] / f"{sha256}.jpg"

    def get(self, sha256: str) -> Path | None:
        """The thumbnail of the store's object `sha256`, made now if it was not yet; None
        when the store has no such object or it is neither a still nor a clip."""
        if not _HEX64.fullmatch(sha256):
            return None
        out = self.path(sha256)
        if out.is_file():
            return out
        src = self.objects / sha256[:2] / sha256
        if not src.is_file():
            return None
        with self._guard:
            lock = self._locks.setdefault(sha256, threading.Lock())
        with lock:
            if not out.is_file():
                try:
                    make_thumb(src, out)
                except (MediaError, OSError, ValueError):
                    return None
        return out if out.is_file() else None


def is_clip(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return head[4:8] in _CLIP_MAGIC or head.startswith(_WEBM_MAGIC)


def make_thumb(src: Path, out: Path) -> None:
    """Write the thumbnail of `src` (a still or a clip) at `out`, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with temp_path(out.parent, suffix=".jpg", shared=True) as tmp:
        if is_clip(src):
            _poster(src, tmp)
        else:
            _still(src, tmp)
        os.replace(tmp, out)


def _still(src: Path, dest: Path) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(src) as im:
            im.draft("RGB", (WIDTH, HEIGHT))  # a JPEG decodes at the nearest smaller scale
            small = im.convert("RGB")
            small.thumbnail((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
            small.save(dest, "JPEG", quality=QUALITY, optimize=True)
    except (UnidentifiedImageError, OSError) as e:
        raise MediaError(f"{src.name} is not an image vfbuild can read") from e


def _poster(src: Path, dest: Path) -> None:
    from vfbuild.media.ffmpeg import run_ffmpeg

    scale = f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    for at in ("0.5", "0"):  # a clip shorter than half a second has only its first frame
        run_ffmpeg(
            ["-ss", at, "-i", str(src), "-frames:v", "1", "-vf", scale, "-q:v", "3",
             "-f", "image2", "-c:v", "mjpeg", str(dest)],
            what=f"making the poster frame of {src.name}",
        )  # fmt: skip
        if dest.stat().st_size > 0:
            return
    raise MediaError(f"{src.name}: ffmpeg found no frame for its poster")
