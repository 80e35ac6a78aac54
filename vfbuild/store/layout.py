"""The versioned layout of the seeds: where each take, pick and render appears for humans.

Names carry shot, step, version and take. A layout file is never overwritten: if a different
file already stands at a name, that is refused, not replaced.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from vfbuild.errors import StoreError
from vfbuild.fsutil import sha256_file, temp_path

SOURCE_IMAGES = "01_Source_Images"
REFERENCE_VIDEO = "02_Reference_Video"
EXPLORATION = "03_Generations/v1_exploration"
SELECTED = "03_Generations/v2_selected"
FINAL = "03_Generations/v3_final"
AUDIO = "04_Audio"
UPSCALED = "05_Upscaled"
EDIT = "06_Edit"
PROMPTS_TXT = "prompts.txt"
POLISHED_SUFFIX = "_polished"  # a user's polished keyframe: <picked take>_polished.<ext>


def vtag(version: int) -> str:
    return f"v{version:03d}"


def take_name(shot: str, step: str, version: int, take: int, ext: str) -> str:
    return f"{shot}_{step}_{vtag(version)}_t{take:02d}{ext}"


def take_path(shot: str, step: str, version: int, take: int, ext: str) -> str:
    return f"{EXPLORATION}/{take_name(shot, step, version, take, ext)}"


def selected_path(shot: str, step: str, version: int, take: int, ext: str) -> str:
    return f"{SELECTED}/{take_name(shot, step, version, take, ext)}"


def source_image_path(shot: str, step: str, version: int, take: int, ext: str) -> str:
    """A master keyframe: a picked still, where a user polishes it."""
    return f"{SOURCE_IMAGES}/{take_name(shot, step, version, take, ext)}"


def output_path_in(folder: str, shot: str, step: str, version: int, ext: str) -> str:
    """A step's single output (not one of several takes) in its layout `folder`."""
    return f"{folder}/{shot}_{step}_{vtag(version)}{ext}"


def slug(title: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")
    return s or "film"


def edit_path(title: str, version: int) -> str:
    return f"{EDIT}/{slug(title)}_{vtag(version)}.mp4"


def materialize(obj: Path, dest: Path) -> bool:
    """Put the store object `obj` at `dest` (hardlink, else copy). True when a file was made.

    An existing `dest` that is the same object, or has the same size and bytes, is left alone;
    any other existing file is never overwritten.
    """
    if dest.exists():
        if _same_file(obj, dest):
            return False
        raise StoreError(
            f"{dest} already exists with other content; vfbuild never overwrites a generation",
            hint="move that file aside (it may be your edit of a take) and build again",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(obj, dest)
    except OSError:
        with temp_path(dest.parent, suffix=dest.suffix) as tmp:
            shutil.copyfile(obj, tmp)
            os.replace(tmp, dest)
    return True


def _same_file(a: Path, b: Path) -> bool:
    sa, sb = a.stat(), b.stat()
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if sa.st_size != sb.st_size:
        return False
    return sha256_file(a) == sha256_file(b)
