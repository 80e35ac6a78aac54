"""Small filesystem primitives every module shares: atomic writes and hashing.

Writes go to a temp file in the destination's folder, are fsynced, then renamed, so a reader
(or a crash) never sees half a file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import posixpath
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from vfbuild.errors import FilmNotFound, ReadOnlyFilm

CHUNK = 1 << 20
TEMP_PREFIX = ".vf-tmp-"  # every temp file vfbuild makes starts so; readers skip dot files


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not every filesystem lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def temp_path(directory: Path, suffix: str = "", *, shared: bool = False) -> Iterator[Path]:
    """A fresh temp file name in `directory` that is removed unless the caller renamed it away.
    The file is private (0600), or with `shared` has the mode a new file gets (0666 less the
    umask, which the kernel applies: reading the umask would mean setting it, and another
    thread could create a file unmasked meanwhile)."""
    directory.mkdir(parents=True, exist_ok=True)
    if shared:
        while True:
            tmp = directory / f"{TEMP_PREFIX}{secrets.token_hex(6)}{suffix}"
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                break
            except FileExistsError:
                continue
    else:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=directory)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def sweep_temp(root: Path, *, skip: frozenset[str] = frozenset()) -> int:
    """Remove the temp files a killed process left beside the files it was writing, anywhere
    under `root`. A walk of the whole tree, not a list of the folders vfbuild writes in: a
    list missed one (the recipe index's by-sha folder) and would miss the next new one.
    `skip` names folders (relative to root) known to hold no temp file, for speed."""
    removed = 0
    for top, dirs, files in os.walk(root):
        rel = os.path.relpath(top, root)
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in skip]
        for name in files:
            if name.startswith(TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(top, name))
                    removed += 1
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    try:
        mode: int | None = path.stat().st_mode & 0o7777  # keep the mode a user gave the file
    except FileNotFoundError:
        mode = None  # a new file's usual mode (mkstemp's 0600 would hide it from the group)
    with temp_path(path.parent, suffix=path.suffix, shared=mode is None) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def is_within(path: Path, root: Path) -> bool:
    """True when `path`, with symlinks resolved, lies inside `root`."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def user_cache_dir() -> Path:
    """vfbuild's per-user cache folder: `$XDG_CACHE_HOME/vfbuild`, else `~/.cache/vfbuild`.
    Outside every film: what is kept here (ffmpeg's version, the cache key) is not shared
    with whoever gave us a film."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "vfbuild"


def escape_reason(value: str) -> str | None:
    """Why a path written in a film file (shots.yaml, a lock) would leave the film folder
    without following any link ("is an absolute path", "points outside the film folder"), or
    None. Symlinks are `is_within`'s part, where the file is opened."""
    if value.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", value):
        return "is an absolute path"
    norm = posixpath.normpath(value.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        return "points outside the film folder"
    return None


FILM_FILE = "shots.yaml"


def find_film_root(start: Path) -> Path:
    """The film folder: `start` or the nearest parent holding shots.yaml, as git finds .git."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / FILM_FILE).is_file():
            return candidate
    raise FilmNotFound(
        f"no {FILM_FILE} in {start} or any parent folder",
        hint="run vf in a film's folder, give one with -C DIR, or make one with `vf init NAME`",
    )


_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def read_only_film(root: Path, error: BaseException) -> ReadOnlyFilm | None:
    """`error` as the film being read-only, when it is a write refused inside the film."""
    if not isinstance(error, OSError) or error.errno not in _READ_ONLY:
        return None
    top = os.path.abspath(root)
    names = [n for n in (error.filename, error.filename2) if isinstance(n, str | os.PathLike)]
    inside = [n for n in names if os.path.abspath(n).startswith(top + os.sep)]
    if not inside:
        return None
    what = os.path.relpath(inside[0], top)
    if os.path.basename(what).startswith(TEMP_PREFIX):  # the file it was writing is its folder's
        what = f"in {os.path.dirname(what) or '.'}/"
    return ReadOnlyFilm(
        f"the film at {top} is read-only: cannot write {what} ({error.strerror})",
        hint="`vf build` and `vf pick` write the store, the layout and locks/; `vf check`, "
        "`vf plan` and `vf status` work on a read-only film. Make it writable, or copy it",
    )
