"""The benchmark's `instant` provider: in-process, free, deterministic, and nearly free of work.

It writes tiny but valid media (a 32x18 PNG still, a one-second 32x18 H.264 clip made once per
machine by ffmpeg), each made unique by the recipe key it carries (a PNG tEXt chunk, an MP4
`free` box), so the store holds one object per take as it would with a real provider, and the
film's edit (always rendered by the local provider with ffmpeg) can still read every clip.

`register()` adds it to vfbuild's provider catalog. It must run in the vf process before the
film is loaded (the spec checks `providers:` against the catalog), which is what
`bench/vf_instant.py` does.
"""

from __future__ import annotations

import os
import struct
import subprocess
import threading
import zlib
from pathlib import Path
from typing import Any

STEPS = frozenset({"keyframe", "video", "upscale", "lipsync"})  # the slots it serves
VERSION = "1"  # the engine in every recipe: bump when what `make` writes changes
MEDIA_DIR = Path(__file__).resolve().parent / "out" / "media"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _base_png() -> bytes:
    """A 32x18 grey RGB PNG, written by hand (no Pillow import in the timed process)."""
    width, height = 32, 18
    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows, 9))
        + _png_chunk(b"IEND", b"")
    )


_BASE_LOCK = threading.Lock()


def base_clip(sound: bool = False) -> bytes:
    """A 1 s 32x18 24 fps H.264 clip, made once (ffmpeg) and kept in bench/out/media; with
    `sound`, with an AAC track (a lipsync must have one: its step's contract says so)."""
    path = MEDIA_DIR / ("base-sound.mp4" if sound else "base.mp4")
    with _BASE_LOCK:  # a build's threads ask at once: two ffmpegs wrote one temp file
        return _base_clip(path, sound)


def _base_clip(path: Path, sound: bool) -> bytes:
    audio = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1:sample_rate=48000"]
    if not path.exists():
        from vfbuild.media.ffmpeg import ffmpeg_exe

        MEDIA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.mp4")
        subprocess.run(
            [
                ffmpeg_exe(),
                "-v", "error", "-y",
                "-f", "lavfi", "-i", "color=c=0x808080:s=32x18:r=24:d=1",
                *(audio + ["-c:a", "aac", "-shortest"] if sound else []),
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-bitexact", "-fflags", "+bitexact", "-map_metadata", "-1",
                "-f", "mp4", str(tmp),
            ],
            check=True,
        )  # fmt: skip
        os.replace(tmp, path)
    return path.read_bytes()


class InstantProvider:
    name = "instant"
    paid = False
    deterministic = True
    holds_slot = False
    labels = False
    ledgered = False
    declares_cost = False
    versions_early = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._png = _base_png()
        self._mp4: dict[bool, bytes] = {}

    def model(self, step: str, configured: str | None) -> str:
        return configured or f"instant-{step}"

    def engine(self, step: str) -> dict[str, Any]:
        return {"instant": VERSION}

    def ext(self, step: str) -> str:
        return ".png" if step == "keyframe" else ".mp4"

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return ("image", 1.0) if step == "keyframe" else ("second", float(seconds or 0.0))

    def make(self, recipe: dict[str, Any], inputs: Any, out: Path, ctx: Any) -> None:
        from vfbuild.recipe import key_of

        key = key_of(recipe).encode()
        if recipe["step"] == "keyframe":
            png = self._png
            data = png[:-12] + _png_chunk(b"tEXt", b"vfkey\x00" + key) + png[-12:]
        else:
            sound = recipe["step"] == "lipsync"
            if sound not in self._mp4:
                self._mp4[sound] = base_clip(sound)
            data = self._mp4[sound] + struct.pack(">I", 8 + len(key)) + b"free" + key
        Path(out).write_bytes(data)


def factory(*args: Any, **kwargs: Any) -> InstantProvider:
    return InstantProvider()


def register(*, instant_edit: bool = False) -> None:
    """Add the `instant` provider. With `instant_edit`, the film's edit (which vfbuild always
    gives the `local` provider, i.e. ffmpeg) is made by the instant provider too: the scale
    films' edits of thousands of clips would otherwise measure ffmpeg, not vfbuild."""
    from vfbuild import catalog
    from vfbuild.catalog import ProviderInfo

    catalog.register(ProviderInfo("instant", STEPS, factory=factory, remote=False))
    if instant_edit:
        local = catalog.info("local")
        catalog.register(ProviderInfo("local", local.slots, factory=factory, remote=False))
