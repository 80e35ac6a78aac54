"""`vf review --static DIR`: the review page as files, to share with a client or a team.

The same page as the server's, read-only: its data is inline (what `/api/sheet` and
`/api/plan` answer now), each take shows the `vf pick` command that picks it, and the takes,
their thumbnails and the latest cut are copied beside it (`media/`, `thumbs/`), so the folder
opens from disk or any web host.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild.errors import UsageError
from vfbuild.fsutil import atomic_write_bytes, atomic_write_text, temp_path
from vfbuild.review import page
from vfbuild.review.server import film_file
from vfbuild.review.sheet import plan_data, sheet
from vfbuild.review.thumbs import Thumbs
from vfbuild.store import vfdir

if TYPE_CHECKING:
    from vfbuild.api import Film


@dataclass(frozen=True)
class StaticExport:
    index: Path
    media: int  # layout files copied (or already there)
    thumbs: int


def write_static(film: Film, dest: Path) -> StaticExport:
    root = film.root.resolve()
    dest = dest.resolve()
    if dest == root:
        raise UsageError(
            f"{dest} is the film's own folder", hint="give --static a folder of its own"
        )
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} is a file, not a folder", hint="give --static a folder")
    data = sheet(film)
    data["plan"] = plan_data(film.plan())
    thumbs = Thumbs(vfdir.at(root, vfdir.THUMBS), vfdir.at(root, vfdir.OBJECTS))
    media = made = 0
    for take in _takes(data):
        file, sha = take.get("file"), take.get("sha256")
        if not isinstance(file, str) or not isinstance(sha, str):
            continue
        src = film_file(root, file)
        if src is None:
            continue  # not a file of the layout (a link out of it): the page shows no file
        _place(src, dest / "media" / file)
        media += 1
        thumb = thumbs.get(sha)
        if thumb is not None:
            _place(thumb, dest / "thumbs" / f"{sha}.jpg")
            made += 1
    for name in page.ASSETS:
        found = page.asset(name)
        assert found is not None
        atomic_write_bytes(dest / name, found[0])
    index = dest / "index.html"
    atomic_write_text(index, page.render_page(token=None, data=data, base=""))
    return StaticExport(index, media, made)


def _takes(data: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in [e for s in data["shots"] for e in s["steps"]] + data["film_steps"]:
        out += entry["takes"]
        out += [t for grp in entry["earlier"] for t in grp["takes"]]
    if data["cut"] is not None:
        out.append(data["cut"])
    return out


def _place(src: Path, dest: Path) -> None:
    """`src` at `dest`: a hard link where the filesystem allows, else a copy; one already
    there with the same size is kept (an export again of the same takes)."""
    try:
        if dest.stat().st_size == src.stat().st_size:
            return
    except FileNotFoundError:
        pass
    dest.parent.mkdir(parents=True, exist_ok=True)
    with temp_path(dest.parent, suffix=dest.suffix, shared=True) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
