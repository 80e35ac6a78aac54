"""A remote cache of a film's takes on object storage, in the spirit of Bazel's remote cache.

Layout under the remote's URL (any fsspec URL: s3://bucket/prefix, gs://, az://, file:///nas/x):

- `cas/<sha256>`: an artifact, named by the sha256 of its bytes.
- `ac/<recipe key>`: JSON, what a recipe produced (its artifacts' digests, the provider, the
  job id, the cost, when): what lets a teammate's build skip a job somebody already paid for.
- `leases/<recipe key>/<generation>`: JSON, who is making a paid recipe now, until when.
- `tmp/`: where a backend without an exclusive create stages a write.

Every write is write-if-absent and atomic: an object appears whole or not at all, and the first
writer of a name wins. How, per backend (the guarantee the README states):

- file:// (a local disk, a NAS mount): the bytes are written to `tmp/`, fsynced, and hard-linked
  to their name; `link(2)` fails when the name exists (POSIX, and NFSv3+ servers honour it).
- s3:// (s3fs): PutObject / CompleteMultipartUpload with `If-None-Match: *`; S3 answers 412
  when the key exists (AWS since 2024-08, MinIO, R2, moto; Ceph RGW from Squid). An upload
  that fails midway is aborted, never completed.
- anything else: exists-then-move. Atomic where the backend's move is, but two writers at once
  may both write; harmless for `cas/` (same name, same bytes), first-writer-wins not promised
  for `ac/`, and a claim is not exclusive (the README says so).

Nothing read from a remote is trusted: a blob is streamed to a temp file while it is hashed,
and handed on only when its sha256 is its name (`download_blob`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from vfbuild.errors import RemoteCorrupt, RemoteError
from vfbuild.fsutil import temp_path

CHUNK = 8 * 2**20  # read/write size; also the multipart part size (S3's minimum is 5 MiB)
CAS = "cas"
AC = "ac"
LEASES = "leases"
TMP = "tmp"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")

Progress = Callable[[int], None]  # hears the bytes moved since its last call


def _none(_: int) -> None:
    pass


def _writer(body: bytes) -> Callable[[IO[bytes]], None]:
    def write(f: IO[bytes]) -> None:
        f.write(body)

    return write


@dataclass(frozen=True)
class LeaseInfo:
    """A claim on a recipe as the remote holds it."""

    generation: int
    holder: str
    expires: float  # wall-clock seconds (time.time()) past which the claim has lapsed

    def lapsed(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires


class Remote:
    """One remote cache, opened from its URL. Thread-safe: fsspec filesystems are."""

    def __init__(self, name: str, url: str, *, lease_seconds: float = 900.0) -> None:
        self.name = name
        self.url = url
        self.lease_seconds = lease_seconds
        try:
            import fsspec
            from fsspec.implementations.local import LocalFileSystem

            fs, base = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as e:
            raise RemoteError(
                f"remote {name!r} ({url}): no storage backend for this URL ({e})",
                hint="s3:// needs s3fs, gs:// gcsfs, az:// adlfs: `pip install` the one you use",
            ) from None
        self.fs: Any = fs
        self.base = base.rstrip("/")
        self.local = isinstance(fs, LocalFileSystem)
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        self.s3 = any(p in ("s3", "s3a") for p in protocols)

    # -- names --------------------------------------------------------------------------------

    @property
    def exclusive(self) -> bool:
        """Whether a create here fails when the name exists (claims are exclusive)."""
        return self.local or self.s3

    def path(self, kind: str, name: str) -> str:
        return f"{self.base}/{kind}/{name}"

    def where(self, kind: str, name: str) -> str:
        """How an object is named to the user: the remote's name and the object's URL."""
        return f"{self.url.rstrip('/')}/{kind}/{name}"

    def _fail(self, what: str, e: BaseException) -> RemoteError:
        return RemoteError(
            f"remote {self.name!r} ({self.url}): {what}: {type(e).__name__}: {e}",
            hint="check the URL in shots.yaml (`remotes:`), the network, and the backend's "
            "credentials in its usual environment (AWS_* or ~/.aws for s3://)",
        )

    # -- writes -------------------------------------------------------------------------------

    def create(self, path: str, write: Callable[[IO[bytes]], None]) -> bool:
        """Write the object at `path` unless it exists: True if this call wrote it, False if
        it was there (or another writer won). Never leaves a partial object under `path`."""
        try:
            if self.local:
                return self._create_local(path, write)
            if self.s3:
                return self._create_s3(path, write)
            return self._create_other(path, write)
        except FileExistsError:
            return False
        except RemoteError:
            raise
        except OSError as e:
            raise self._fail(f"cannot write {path}", e) from None

    def _create_local(self, path: str, write: Callable[[IO[bytes]], None]) -> bool:
        dest = Path(path)
        if dest.exists():
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        with temp_path(Path(self.base) / TMP, shared=True) as tmp:
            with open(tmp, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, dest)  # FileExistsError when another writer was first
        return True

    def _create_s3(self, path: str, write: Callable[[IO[bytes]], None]) -> bool:
        # Not `with`: leaving an fsspec file's block on an error would complete the upload.
        f = self.fs.open(path, "xb", block_size=CHUNK)
        try:
            write(f)
        except BaseException:
            with contextlib.suppress(Exception):
                f.discard()  # aborts the multipart upload: nothing appears
            f.closed = True  # nor does a later close (its finalizer) complete anything
            raise
        if f.tell() == 0:
            # s3fs commits an empty file as a plain touch, with no condition: put it ourselves.
            f.discard()
            f.closed = True
            self.fs.pipe_file(path, b"", mode="create")
            return True
        f.close()  # FileExistsError (412) when the key exists
        return True

    def _create_other(self, path: str, write: Callable[[IO[bytes]], None]) -> bool:
        if self.fs.exists(path):
            return False
        tmp = self.path(TMP, secrets.token_hex(8))
        try:
            with self.fs.open(tmp, "wb") as f:
                write(f)
            self.fs.mv(tmp, path)
        finally:
            with contextlib.suppress(Exception):
                self.fs.rm(tmp)
        return True

    def replace(self, path: str, data: bytes) -> None:
        """Overwrite a small object atomically (a holder renewing its own claim)."""
        try:
            if self.local:
                dest = Path(path)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with temp_path(Path(self.base) / TMP, shared=True) as tmp:
                    tmp.write_bytes(data)
                    os.replace(tmp, dest)
            else:
                self.fs.pipe_file(path, data)
        except OSError as e:
            raise self._fail(f"cannot write {path}", e) from None

    # -- blobs (cas/) -------------------------------------------------------------------------

    def blob_size(self, sha256: str) -> int | None:
        """The size of `cas/<sha256>`, or None when it is not there."""
        try:
            info = self.fs.info(self.path(CAS, sha256))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._fail(f"cannot look up cas/{sha256}", e) from None
        size = info.get("size")
        return int(size) if size is not None else None

    def upload_blob(self, src: Path, sha256: str, progress: Progress = _none) -> bool:
        """Stream `src` (whose sha256 the caller knows) to `cas/<sha256>`, unless an object of
        its size is already there. True if this call uploaded it."""
        size = src.stat().st_size
        if self.blob_size(sha256) == size:
            progress(size)
            return False

        def write(out: IO[bytes]) -> None:
            with open(src, "rb") as f:
                while chunk := f.read(CHUNK):
                    out.write(chunk)
                    progress(len(chunk))

        return self.create(self.path(CAS, sha256), write)

    @contextlib.contextmanager
    def download_blob(
        self,
        sha256: str,
        tmp_dir: Path,
        progress: Progress = _none,
        *,
        resume_dir: Path | None = None,
    ) -> Iterator[Path]:
        """`cas/<sha256>` streamed into a temp file under `tmp_dir` while it is hashed; the
        temp file is yielded only when its bytes are `sha256` (and removed after, unless the
        caller moved it into the store). RemoteCorrupt otherwise, naming the object.

        With `resume_dir` the bytes go to `resume_dir/<sha256>.part` instead, which a pull cut
        off midway leaves behind: the next one hashes what it holds and reads the rest only.
        Those bytes were never verified, so when the whole does not hash to its name the
        blob is read once more from its start before the remote is called corrupt. A part
        another pull is writing (an flock) is left to it: this one reads to a temp file."""
        if not _HEX64.match(sha256):
            raise RemoteError(f"remote {self.name!r}: {sha256!r} is not a sha256")
        if resume_dir is not None:
            resume_dir.mkdir(parents=True, exist_ok=True)
            part = resume_dir / f"{sha256}.part"
            fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
            else:
                with os.fdopen(fd, "r+b") as out:
                    try:
                        self._read_into(sha256, out, progress, resume=True)
                    except RemoteCorrupt:
                        part.unlink(missing_ok=True)
                        raise
                    # (A transfer that failed keeps its part, for the next pull to go on from.)
                    try:
                        yield part
                    finally:
                        part.unlink(missing_ok=True)  # moved into the store, or not wanted
                return
        with temp_path(tmp_dir) as tmp, open(tmp, "wb") as out:
            self._read_into(sha256, out, progress, resume=False)
            yield tmp

    def _read_into(self, sha256: str, out: IO[bytes], progress: Progress, *, resume: bool) -> None:
        src = self.path(CAS, sha256)
        digest = hashlib.sha256()
        have = 0
        if resume:
            while chunk := out.read(CHUNK):  # what a pull cut off midway left
                digest.update(chunk)
                have += len(chunk)
        try:
            with self.fs.open(src, "rb", block_size=CHUNK, cache_type="none") as f:
                if have:
                    f.seek(have)
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    progress(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        except FileNotFoundError:
            raise RemoteError(
                f"remote {self.name!r}: {self.where(CAS, sha256)} is missing",
                hint="push it from the clone that has it (`vf push`)",
            ) from None
        except OSError as e:
            raise self._fail(f"cannot read cas/{sha256}", e) from None
        got = digest.hexdigest()
        if got == sha256:
            return
        if have:
            # The kept part may be what is wrong (a disk, a tool): once more from byte 0.
            out.seek(0)
            out.truncate()
            self._read_into(sha256, out, progress, resume=False)
            return
        raise RemoteCorrupt(
            f"remote {self.name!r}: {self.where(CAS, sha256)} is corrupt: its bytes "
            f"hash to {got[:12]}…, not {sha256[:12]}…; it was refused and not stored",
            hint="delete that object on the remote, then `vf push` from a clone that "
            "has the take (`vf push --all`) to put the right bytes back",
        )

    # -- action records (ac/) -----------------------------------------------------------------

    def get_action(self, key: str) -> dict[str, Any] | None:
        """The record of what recipe `key` produced, or None (absent or not a record)."""
        try:
            data = self.fs.cat_file(self.path(AC, key))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._fail(f"cannot read ac/{key}", e) from None
        try:
            record = json.loads(data)
        except (ValueError, RecursionError):
            return None
        return record if isinstance(record, dict) else None

    def put_action(self, key: str, record: dict[str, Any]) -> bool:
        body = (json.dumps(record, sort_keys=True, indent=1) + "\n").encode()
        return self.create(self.path(AC, key), _writer(body))

    def action_keys(self) -> list[str]:
        return [k for k in self._names(AC) if _HEX64.match(k)]

    def blob_names(self) -> list[str]:
        return [k for k in self._names(CAS) if _HEX64.match(k)]

    def _names(self, kind: str) -> list[str]:
        try:
            found = self.fs.ls(f"{self.base}/{kind}", detail=False)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise self._fail(f"cannot list {kind}/", e) from None
        return [p.rstrip("/").rsplit("/", 1)[-1] for p in found]

    # -- claims (leases/) ---------------------------------------------------------------------

    def lease(self, key: str) -> LeaseInfo | None:
        """The newest claim on recipe `key`, or None."""
        folder = f"{self.base}/{LEASES}/{key}"
        try:
            names = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise self._fail(f"cannot list leases/{key}", e) from None
        gens = sorted(
            int(n) for n in (p.rstrip("/").rsplit("/", 1)[-1] for p in names) if n.isdigit()
        )
        if not gens:
            return None
        try:
            info = json.loads(self.fs.cat_file(f"{folder}/{gens[-1]:08d}"))
            return LeaseInfo(gens[-1], str(info["holder"]), float(info["expires"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return LeaseInfo(gens[-1], "?", 0.0)  # unreadable: treated as lapsed

    def try_claim(self, key: str, holder: str) -> LeaseInfo | None:
        """Claim recipe `key` for `holder`: its new lease, or None when another holder's claim
        stands (or was just made). A lapsed claim is taken over by creating the next
        generation, so two machines that both saw it lapse cannot both win."""
        now = time.time()
        current = self.lease(key)
        if current is not None and current.holder == holder:
            return self.renew(key, current)
        if current is not None and not current.lapsed(now):
            return None
        generation = 1 if current is None else current.generation + 1
        info = LeaseInfo(generation, holder, now + self.lease_seconds)
        body = self._lease_body(info)
        if self.create(self._lease_path(key, generation), _writer(body)):
            return info
        return None

    def renew(self, key: str, info: LeaseInfo) -> LeaseInfo:
        new = LeaseInfo(info.generation, info.holder, time.time() + self.lease_seconds)
        self.replace(self._lease_path(key, info.generation), self._lease_body(new))
        return new

    def release(self, key: str, info: LeaseInfo) -> None:
        """Give a claim up at once (its job failed): the next claimant need not wait."""
        lapsed = LeaseInfo(info.generation, info.holder, 0.0)
        with contextlib.suppress(RemoteError):
            self.replace(self._lease_path(key, info.generation), self._lease_body(lapsed))

    def _lease_path(self, key: str, generation: int) -> str:
        return f"{self.base}/{LEASES}/{key}/{generation:08d}"

    @staticmethod
    def _lease_body(info: LeaseInfo) -> bytes:
        body = {"holder": info.holder, "expires": info.expires, "host": os.uname().nodename}
        return json.dumps(body).encode()


class Renewer:
    """Keeps a claim alive while its job runs: renewed every third of the lease."""

    def __init__(self, remote: Remote, key: str, info: LeaseInfo) -> None:
        self.remote, self.key, self.info = remote, key, info
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease:{key[:8]}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.remote.lease_seconds / 3):
            with contextlib.suppress(RemoteError):
                self.info = self.remote.renew(self.key, self.info)

    def stop(self, *, release: bool) -> None:
        self._stop.set()
        self._thread.join()
        if release:
            self.remote.release(self.key, self.info)
