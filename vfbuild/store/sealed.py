"""Sealed caches: every pickle a film's `.vf/cache/` holds is authenticated before it is read.

A film folder comes from anywhere (a shared folder, a zip, a repository that committed `.vf/`)
and unpickling runs whatever code the bytes name: opening a film must never do that. So a
cache is written as `MAGIC`, an HMAC-SHA256, then the pickle. The MAC is made under a key kept
outside every film, in the user's cache folder (`vfbuild.fsutil.user_cache_dir`), and covers
the format tag, the cache's kind (its file name: one cache's bytes do not pass for another's)
and the pickle. Only bytes whose MAC verifies are unpickled; anything else (foreign, damaged,
truncated, sealed under another user's key) is a miss, and the caller builds the cache again.

The key is 32 random bytes, made on first use (mode 0600, published with an exclusive link, so
that two processes that race to make it both end up with the one that won) and read once per
process. When it can be neither read nor made (the cache folder cannot be written), caching is
off: every read is a miss and nothing is written. Never an error: these are only caches.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import pickle
import secrets
import stat
import threading
from pathlib import Path

from vfbuild.fsutil import temp_path, user_cache_dir

log = logging.getLogger("vfbuild.sealed")

MAGIC = b"vfbuild-sealed-1\n"
KEY_FILE = "cache.key"
KEY_BYTES = 32
_MAC_BYTES = hashlib.sha256().digest_size
_HEAD = len(MAGIC) + _MAC_BYTES
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

_key_lock = threading.Lock()
_key_memo: list[bytes | None] = []  # one entry once this process has looked for its key


def seal(payload: bytes, kind: str) -> bytes | None:
    """`payload` sealed as a cache of `kind`; None when caching is off (write nothing)."""
    key = _key()
    if key is None:
        return None
    return MAGIC + _mac(key, kind, payload) + payload


def unseal(blob: bytes, kind: str) -> bytes | None:
    """The payload `seal` sealed as `kind`, or None when `blob` does not verify."""
    view = _verified(blob, kind)
    return None if view is None else bytes(view)


def dumps(obj: object, kind: str) -> bytes | None:
    """`obj` pickled and sealed; None when caching is off."""
    return seal(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), kind)


def loads(blob: bytes, kind: str) -> object:
    """The object `dumps` sealed as `kind`, or None (a miss). Bytes that do not verify are
    never unpickled; bytes that verify but do not unpickle (a class renamed since) miss too.
    The caller still checks the object's shape: another vfbuild may have written it."""
    view = _verified(blob, kind)
    if view is None:
        return None
    try:
        return pickle.loads(view)
    except Exception:  # noqa: BLE001 - authenticated but unreadable: only a cache
        return None


def load(path: Path, kind: str) -> object:
    """`loads` of the file at `path`; None when it is missing or not a regular file (a FIFO
    or a device planted in a film would block or never end)."""
    blob = _read_regular(path)
    return None if blob is None else loads(blob, kind)


def _read_regular(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | _NOFOLLOW)
    except OSError:
        return None
    with open(fd, "rb", closefd=True) as f:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return f.read()
        except OSError:
            return None


def _mac(key: bytes, kind: str, payload: bytes | memoryview) -> bytes:
    h = hmac.new(key, MAGIC, hashlib.sha256)
    h.update(kind.encode("utf-8") + b"\0")
    h.update(payload)
    return h.digest()


def _verified(blob: bytes, kind: str) -> memoryview | None:
    """The payload of a blob whose MAC verifies (a view: a few MB are not copied)."""
    if len(blob) < _HEAD or not blob.startswith(MAGIC):
        return None
    key = _key()
    if key is None:
        return None
    view = memoryview(blob)
    payload = view[_HEAD:]
    if not hmac.compare_digest(view[len(MAGIC) : _HEAD], _mac(key, kind, payload)):
        return None
    return payload


# --------------------------------------------------------------------------- the key


def _key() -> bytes | None:
    if not _key_memo:
        with _key_lock:
            if not _key_memo:
                _key_memo.append(_load_key())
    return _key_memo[0]


def _forget_key() -> None:
    """Look for the key again on next use (tests that move the cache folder)."""
    with _key_lock:
        _key_memo.clear()


def _load_key() -> bytes | None:
    try:
        path = user_cache_dir() / KEY_FILE
        key = _read_key(path)
        if key is None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _publish(path, secrets.token_bytes(KEY_BYTES))
            key = _read_key(path)
    except (OSError, RuntimeError) as e:  # RuntimeError: no home folder to find
        log.debug("no cache key (%s): caches are off", e)
        return None
    if key is None:
        log.debug("the cache key in %s cannot be used: caches are off", user_cache_dir())
    return key


def _read_key(path: Path) -> bytes | None:
    """The key at `path`, or None: missing, a symlink, not ours, open to others (who could
    then seal a cache), or not 32 bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | _NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
            return None
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return None
        data = os.read(fd, KEY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == KEY_BYTES else None


def _publish(path: Path, key: bytes) -> None:
    """Put `key` at `path` unless another process has just put one there."""
    with temp_path(path.parent, suffix=".key") as tmp:  # private: 0600
        with open(tmp, "wb") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            # Exclusive as O_EXCL, and the key appears whole: no reader sees half of one.
            os.link(tmp, path)
            return
        except FileExistsError:
            if _read_key(path) is not None:
                return  # another process won the race: its key is the key
        except OSError:
            pass  # no hard links here: replace instead, which is atomic but not exclusive
        # What is there cannot be used (damaged, open to others): a fresh key replaces it.
        with contextlib.suppress(FileNotFoundError):
            os.replace(tmp, path)
