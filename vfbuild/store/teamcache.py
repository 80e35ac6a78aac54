"""The film's remote cache as the build uses it: look a recipe up before paying for it, claim a
paid recipe so a teammate never pays for it too, and publish what was paid for.

By recipe key only: nothing here knows a step. A take found on the remote is fetched, verified
by sha256 and put in the store and the recipe index exactly as if this clone had made it.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vfbuild.errors import UsageError
from vfbuild.fsutil import atomic_write_text
from vfbuild.store import vfdir
from vfbuild.store.index import RecipeIndex
from vfbuild.store.objects import Artifact, ObjectStore
from vfbuild.store.remote import Remote, Renewer

RECORD_FORMAT = 1
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_EXT = re.compile(r"^\.?[A-Za-z0-9]{1,10}$")
ENV_REMOTE = "VF_REMOTE"  # a machine's choice among the film's remotes, or `off`


def choose_remote(remotes: Mapping[str, Any], name: str | None = None) -> Remote | None:
    """The remote to use: `name`, else $VF_REMOTE, else the film's first; None when the film
    has none (or VF_REMOTE=off). `remotes` is the film's `remotes:` (name → Remote model)."""
    wanted = name or os.environ.get(ENV_REMOTE) or None
    if wanted == "off" and name is None:
        return None
    if wanted is None:
        if not remotes:
            return None
        wanted = next(iter(remotes))
    spec = remotes.get(wanted)
    if spec is None:
        known = ", ".join(remotes) or "none"
        raise UsageError(
            f"no remote named {wanted!r} in shots.yaml (known: {known})",
            hint="add one with `vf remote add NAME URL`",
        )
    return Remote(wanted, spec.url, lease_seconds=spec.lease)


def clone_id(root: Path) -> str:
    """This clone's name as a claim holder: made once, kept in `.vf/clone-id`."""
    path = vfdir.at(root, vfdir.CLONE_ID)
    try:
        text = path.read_text().strip()
        if re.fullmatch(r"[0-9a-f]{16}", text):
            return text
    except OSError:
        pass
    new = secrets.token_hex(8)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, new + "\n")
    return new


def artifact_of(record: Mapping[str, Any]) -> Artifact | None:
    """The artifact an action record names, or None when the record is not of our shape."""
    try:
        out = record["outputs"][0]
        art = Artifact(str(out["sha256"]), str(out["ext"]), int(out["size"]))
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if not _HEX64.match(art.sha256) or not _EXT.match(art.ext) or art.size < 0:
        return None
    return art


def action_record(
    key: str,
    art: Artifact,
    recipe: Mapping[str, Any],
    *,
    by: str,
    provider: str | None = None,
    model: str | None = None,
    job_id: str | None = None,
    cost: float | None = None,
) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "key": key,
        "outputs": [{"sha256": art.sha256, "ext": art.ext, "size": art.size}],
        "recipe": dict(recipe),
        "provider": provider or recipe.get("provider"),
        "model": model or recipe.get("model"),
        "job_id": job_id,
        "cost": cost,
        "time": time.time(),
        "by": by,
    }


class TeamCache:
    """One film's store and index in front of one remote."""

    def __init__(self, root: Path, store: ObjectStore, index: RecipeIndex, remote: Remote):
        self.root = root
        self.store = store
        self.index = index
        self.remote = remote
        self.tmp_dir = vfdir.at(root, vfdir.TMP)
        self.partial_dir = vfdir.at(root, vfdir.PARTIAL)  # pulls cut off midway go on from here
        self.holder = clone_id(root)

    def fetch_blob(self, art: Artifact) -> None:
        """Put `cas/<sha256>` in the store, verified; a no-op when the store has it."""
        if self.store.has(art.sha256):
            return
        with self.remote.download_blob(
            art.sha256, self.tmp_dir, resume_dir=self.partial_dir
        ) as tmp:
            self.store.put(tmp, art.ext, expected_sha256=art.sha256)

    def fetch(
        self, key: str, recipe: Mapping[str, Any], pinned: str | None, ext: str
    ) -> Artifact | None:
        """The take of recipe `key` from the remote, now in the store and index; None when the
        remote has none. A record naming other bytes than the lock pins is not used (the pin
        is the truth); a blob that is not its sha256 raises RemoteCorrupt and is not stored."""
        record = self.remote.get_action(key)
        art = artifact_of(record) if record is not None else None
        if art is not None and pinned is not None and art.sha256 != pinned:
            art = None
        if art is None and pinned is not None:
            size = self.remote.blob_size(pinned)  # pushed without its record: the lock names it
            art = Artifact(pinned, ext, size) if size is not None else None
        if art is None:
            return None
        self.fetch_blob(art)
        self.index.record(key, art, dict(recipe))
        return art

    def claim(
        self,
        key: str,
        recipe: Mapping[str, Any],
        pinned: str | None,
        ext: str,
        say: Callable[[str], None],
    ) -> Renewer | Artifact:
        """Claim recipe `key` before paying for it. Returns the claim (kept alive until
        `stop`), or the take when a teammate who held the claim published it meanwhile.
        Waits while another holder's claim stands; takes it over when it lapses."""
        poll = min(2.0, max(0.05, self.remote.lease_seconds / 20))
        said = False
        while True:
            art = self.fetch(key, recipe, pinned, ext)
            if art is not None:
                return art
            info = self.remote.try_claim(key, self.holder)
            if info is not None:
                return Renewer(self.remote, key, info)
            if not said:
                lease = self.remote.lease(key)
                until = ""
                if lease is not None:
                    clock = time.strftime("%H:%M:%S", time.localtime(lease.expires))
                    until = f", until {clock} at most"
                say(f"waiting: a teammate is making this recipe ({self.remote.name}{until})")
                said = True
            time.sleep(poll)

    def publish(
        self,
        key: str,
        art: Artifact,
        recipe: Mapping[str, Any],
        *,
        provider: str | None = None,
        model: str | None = None,
        job_id: str | None = None,
        cost: float | None = None,
    ) -> None:
        """Upload the take, then its record (so a record never names a missing blob)."""
        self.remote.upload_blob(self.store.path(art.sha256), art.sha256)
        record = action_record(
            key,
            art,
            recipe,
            by=self.holder,
            provider=provider,
            model=model,
            job_id=job_id,
            cost=cost,
        )
        self.remote.put_action(key, record)
