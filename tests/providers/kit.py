"""What the provider tests share: input media made with vfbuild's ffmpeg, a recipe's key, and
the count of jobs a fake was asked to create. (The `journal` fixture is in conftest.py.)"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any


def ffmpeg(*args: str) -> None:
    from vfbuild.media.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, capture_output=True)


def still(path: Path, size: str) -> Path:
    """A PNG test card, `size` like "640x360"."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=1", "-frames:v", "1", str(path))
    return path


def clip(path: Path, size: str, seconds: float) -> Path:
    """An H.264 MP4 test card without sound."""
    src = f"testsrc2=size={size}:rate=24:duration={seconds}"
    ffmpeg("-f", "lavfi", "-i", src, "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def tone(path: Path, seconds: float) -> Path:
    """A WAV of a 440 Hz tone: a line of dialogue, as far as a provider can tell."""
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", str(path))
    return path


def key_of(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


def posts(fake: Any) -> int:
    """The requests that could create a job (every POST the fake saw)."""
    return sum(1 for method, _ in fake.log if method == "POST")
