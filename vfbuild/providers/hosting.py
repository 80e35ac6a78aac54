"""Hosting: input files put where a provider can fetch them by URL.

Luma reads keyframes only from URLs, and Kling reads a lip-sync's clip only from a URL (or
its own video id). fal and Replicate take `data:` URIs, but then a 20 MB upscale source
travels inside the request's JSON. With `providers.hosting` in shots.yaml, vfbuild uploads
such a file to the host and sends its URL instead. The host is fal's CDN (FAL_KEY):
`POST /storage/upload/initiate` names the file and returns a signed upload URL and the file's
URL; a PUT of the bytes to the upload URL (another host, so no credentials) publishes it.

Every upload is recorded by content hash in `.vf/hosted.json` with the expiry vfbuild asked
for (`X-Fal-Object-Lifecycle-Preference`). A file is uploaded again only when its URL has less
than a day left (so a job that waits hours in a provider's queue still finds its input), or
when a build finds the host no longer serves it (one HEAD per file and build: an account's own
retention may be shorter); the four takes made from one keyframe upload it once. Uploads
cost nothing and are safe to repeat: a crash before the record is written means one more
upload, never a paid job.

Hosted files are named by their hash (no film or shot name leaves the machine), and are
public to anyone holding the URL until they expire: that is fal's default for its CDN.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.fsutil import atomic_write_text, sha256_file
from vfbuild.providers.http import CHUNK, Http, add_secret, env_secret
from vfbuild.store import vfdir

if TYPE_CHECKING:
    from vfbuild.spec.models import Hosting

log = logging.getLogger("vfbuild.hosting")

DEFAULT_BASE_URL = "https://rest.fal.ai"
BASE_URL_ENV = "VF_HOSTING_BASE_URL"
KEY = "FAL_KEY"
RECORD = vfdir.HOSTED  # film-relative
MARGIN = 86_400.0  # seconds a hosted URL must still live for vfbuild to send it
KEEP = 8  # earlier URLs remembered per file
_HEX64 = re.compile(r"[0-9a-f]{64}")


class FileBody:
    """A file as a request body that can be sent again: a retry reads it from the start
    (httpx iterates a body once per attempt), one chunk at a time, never all in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk


class Host:
    """Uploads input files once per content and hands out their URLs. Shared by every
    provider of a build (one per film), and safe to call from the build's threads."""

    def __init__(self, config: Hosting, record_path: Path, *, timeout: float = 120.0) -> None:
        self.via = config.use
        self.lifetime = config.expires_days * 86_400.0
        self.base_url = os.environ.get(BASE_URL_ENV) or config.base_url or DEFAULT_BASE_URL
        self.record_path = record_path  # `vfdir.HOSTED` of the film
        self.http = Http("hosting", self.base_url, self._auth, timeout=timeout)
        self._lock = threading.Lock()  # guards the record (and `_per_file`)
        self._per_file: dict[str, threading.Lock] = {}
        self._live: set[str] = set()  # files uploaded or found served during this build
        self._record: dict[str, dict[str, Any]] | None = None

    def _auth(self) -> dict[str, str]:
        self.require_key()
        return {"Authorization": f"Key {env_secret(KEY)}"}

    def require_key(self) -> None:
        if not os.environ.get(KEY):
            raise ProviderError(
                f"hosting: {KEY} not set in the environment; nothing was uploaded or submitted",
                hint=f"export {KEY}=… (fal's CDN hosts the input files that providers fetch "
                "by URL), or remove `hosting:` from `providers:` in shots.yaml",
            )

    def url(self, path: Path, label: str) -> str:
        """The URL of `path` on the host, uploading it unless a live upload is recorded."""
        # A store object is named by its hash (`<aa>/<sha256>`); any other file is hashed.
        stored = _HEX64.fullmatch(path.name) and path.parent.name == path.name[:2]
        sha = path.name if stored else sha256_file(path)
        with self._lock:
            file_lock = self._per_file.setdefault(sha, threading.Lock())
        with file_lock:  # takes of one keyframe wait for its one upload
            with self._lock:
                known = self._records().get(sha)
            fresh = known is not None and float(known.get("expires", 0)) - time.time() > MARGIN
            if (
                known is not None
                and fresh
                and (sha in self._live or self._serves(str(known["url"]), path, label))
            ):
                self._live.add(sha)
                return str(known["url"])
            url = self._upload(path, sha, label)
            self._live.add(sha)
            with self._lock:
                records = self._records()
                # The URLs it had before stay known: a job sent with one of them is still
                # recognised when a provider is asked which jobs it has (`aliases`).
                earlier = [known["url"], *known.get("earlier", [])][:KEEP] if known else []
                records[sha] = {
                    "url": url,
                    "via": self.via,
                    "expires": time.time() + self.lifetime,
                    "earlier": earlier,
                }
                atomic_write_text(self.record_path, json.dumps(records, indent=1, sort_keys=True))
            return url

    def aliases(self, url: str) -> set[str]:
        """Every URL this film's host has had for the file now at `url` (itself included)."""
        with self._lock:
            for record in self._records().values():
                if record.get("url") == url:
                    return {url, *(str(u) for u in record.get("earlier") or [])}
        return {url}

    def _serves(self, url: str, path: Path, label: str) -> bool:
        """Whether the host still serves the file at `url`, asked once per build: the
        account's own retention may be shorter than the expiry vfbuild asked for, or the
        file was deleted. A host that cannot be asked is trusted: the provider says so if it
        cannot fetch the file either."""
        try:
            resp = self.http.request(
                "HEAD", url, what=f"{label}: check {url}", ok=(200, 403, 404, 410)
            )
        except ProviderError as e:
            log.debug("%s: cannot check %s (%s); sending it", label, url, e.message)
            return True
        size = resp.headers.get("content-length")
        if resp.status_code != 200 or (size is not None and size != str(path.stat().st_size)):
            log.info("%s: the host no longer serves %s; uploading it again", label, url)
            return False
        return True

    def _records(self) -> dict[str, dict[str, Any]]:
        """The record of uploads, read once; call it with `_lock` held."""
        if self._record is None:
            try:
                loaded = json.loads(self.record_path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                loaded = {}
            except (OSError, ValueError) as e:
                # Only a cache of uploads: losing it costs uploads, never a paid job.
                log.warning("%s is unreadable (%s); files will be uploaded again", RECORD, e)
                loaded = {}
            self._record = (
                {k: v for k, v in loaded.items() if isinstance(v, dict) and "url" in v}
                if isinstance(loaded, dict)
                else {}
            )
        return self._record

    def _upload(self, path: Path, sha: str, label: str) -> str:
        from vfbuild.media.types import media_type, sniff_ext

        mime, size = media_type(path), path.stat().st_size
        if path.suffix:
            ext = path.suffix.lower()
        else:
            with open(path, "rb") as f:
                ext = sniff_ext(f.read(16)) or ""
        what = f"{label}: hosting {path.name[:16]}"
        lifecycle = json.dumps({"expiration_duration_seconds": int(self.lifetime)})
        try:
            slot = self.http.request(
                "POST",
                "/storage/upload/initiate?storage_type=fal-cdn-v3",
                what=what,
                json={"file_name": f"{sha[:32]}{ext}", "content_type": mime},
                headers={"X-Fal-Object-Lifecycle-Preference": lifecycle},
            ).json()
            if not isinstance(slot, dict) or not {"upload_url", "file_url"} <= slot.keys():
                raise ProviderError(f"{what}: fal's upload slot is incomplete: {slot!r:.200}")
            add_secret(str(slot["upload_url"]))  # a signed URL: whoever holds it may write
            self.http.request(
                "PUT",
                str(slot["upload_url"]),
                what=what,
                ok=(200, 201, 204),
                content=FileBody(path),
                headers={"Content-Type": mime, "Content-Length": str(size)},
            )
        except HttpStatusError as e:
            # Said without a status: nothing was submitted, so no job may be marked failed.
            hint = (
                f"check {KEY}" if e.status in (401, 403) else "check fal's status, then build again"
            )
            raise ProviderError(f"{e.message} (nothing was submitted)", hint=hint) from None
        log.info("%s: uploaded %s (%d bytes)", label, path.name[:16], size)
        return str(slot["file_url"])
