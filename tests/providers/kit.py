"""What the provider tests share: input media made with vfbuild's ffmpeg, a recipe's key, the
counts of what a fake was asked (POSTs, creates, downloads), and a job moved to its end. (The
`journal` fixture is in conftest.py.)"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
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


def creates(fake: Any) -> int:
    """The requests that asked for a paid job (to a create route, taken or refused)."""
    return sum(1 for method, path in fake.log if fake.route_kind(method, path) == "create")


def downloads(fake: Any) -> int:
    """The downloads of a result: GETs of the CDN's files, or of a route of kind "download"."""
    return sum(
        1
        for method, path in fake.log
        if method == "GET"
        and (path.startswith("/files/") or fake.route_kind(method, path) == "download")
    )


def end_now(job: Any) -> None:
    """Move a fake's job to its end (done, or failed) at once, instead of waiting its latency."""
    job.created = time.monotonic() - job.latency
