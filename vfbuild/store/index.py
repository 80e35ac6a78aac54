"""The recipe index: recipe key → artifact. This is what makes "never pay twice" cheap.

One small JSON file per recipe key, so concurrent builders never contend on one file and a
killed build loses at most the entry it was writing (the object stays, the take is redone for
free from the store on the next run).

The JSON files are the truth. Beside them, `index.log` lists one `key sha256 ext size` line
per recorded key, appended after the JSON file is in place: a no-op build of a 1000-shot film
looks up ten thousand keys, and reading one file beats opening ten thousand. A key missing
from the log (an older store, a build killed between the two writes) is read from its JSON file
and added to the log; a torn last line is skipped. Removing `.vf/recipes` removes both.
"""

from __future__ import annotations

import gc
import json
import os
import posixpath
import re
import threading
from pathlib import Path
from typing import Any

from vfbuild.fsutil import atomic_write_text
from vfbuild.store import vfdir
from vfbuild.store.objects import Artifact

LOG_NAME = posixpath.basename(vfdir.INDEX_LOG)
_LOG_LINE = re.compile(r"^([0-9a-f]{64}) ([0-9a-f]{64}) (\S+) ([0-9]+)$", re.M)


class RecipeIndex:
    def __init__(self, root: Path) -> None:
        self.root = root  # the film's `.vf/recipes`
        self._root = str(root)
        self._log = os.path.join(self._root, LOG_NAME)
        self._lock = threading.RLock()
        # key → (sha256, ext, size) from the log; an Artifact is made only when looked up
        self._known: dict[str, tuple[str, str, str]] | None = None
        self._torn = False  # the log's last line has no newline (a killed append)
        self.generation = 0  # counts records: what was resolved before may be stale

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def _known_keys(self) -> dict[str, tuple[str, str, str]]:
        known = self._known
        if known is not None:
            return known
        with self._lock:
            if self._known is None:
                self._known = self._read_log()
            return self._known

    def _read_log(self) -> dict[str, tuple[str, str, str]]:
        try:
            with open(self._log, "rb") as f:
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return {}
        self._torn = bool(data) and not data.endswith("\n")
        # Whole lines of the right shape only: a torn or foreign line is skipped (its JSON
        # file still answers). One regex pass: the log of a 5000-shot film has 51,000 lines.
        gc_was_on = gc.isenabled()
        gc.disable()  # tens of thousands of small tuples: the cyclic GC would only rescan them
        try:
            return {key: (sha, ext, size) for key, sha, ext, size in _LOG_LINE.findall(data)}
        finally:
            if gc_was_on:
                gc.enable()

    def _append_log(self, key: str, artifact: Artifact) -> None:
        """Best effort: the log is only a faster way to read the JSON files."""
        line = f"{key} {artifact.sha256} {artifact.ext} {artifact.size}\n"
        if " " in artifact.ext or "\n" in artifact.ext:
            return
        try:
            fd = os.open(self._log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError:
            return
        try:
            if self._torn:
                line = "\n" + line
                self._torn = False
            os.write(fd, line.encode("utf-8"))  # one short O_APPEND write: never interleaved
        except OSError:
            pass
        finally:
            os.close(fd)

    def lookup(self, key: str) -> Artifact | None:
        hit = self._known_keys().get(key)
        if hit is not None:
            return Artifact(hit[0], hit[1], int(hit[2]))
        try:
            data = json.loads(self._path(key).read_text())
            art = Artifact(data["sha256"], data["ext"], int(data["size"]))
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None
        if not _sane(art):  # a record is only a cache; its digest names a store path
            return None
        with self._lock:
            known = self._known_keys()
            if key not in known:
                known[key] = (art.sha256, art.ext, str(art.size))
                self._append_log(key, art)
        return art

    def exists(self, key: str) -> bool:
        return key in self._known_keys() or self._path(key).exists()

    def record(
        self, key: str, artifact: Artifact, recipe: dict[str, Any], made_by: str | None = None
    ) -> None:
        """`made_by`: the fallback provider and model that made it, when not the recipe's."""
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "sha256": artifact.sha256,
            "ext": artifact.ext,
            "size": artifact.size,
            "recipe": recipe,
        }
        if made_by is not None:
            body["made_by"] = made_by
        atomic_write_text(p, json.dumps(body, sort_keys=True, indent=1) + "\n")
        by_sha = self.root / "by-sha" / artifact.sha256
        if not by_sha.exists():
            by_sha.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(by_sha, key + "\n")
        with self._lock:
            known = self._known_keys()
            entry = (artifact.sha256, artifact.ext, str(artifact.size))
            if known.get(key) != entry:
                known[key] = entry
                self._append_log(key, artifact)
            self.generation += 1

    def made_by(self, key: str) -> str | None:
        """The fallback provider and model that made the take of `key`, if one did."""
        try:
            body = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        value = body.get("made_by") if isinstance(body, dict) else None
        return value if isinstance(value, str) else None

    def recipe_for_sha(self, sha256: str) -> tuple[str, dict[str, Any]] | None:
        """The recipe (key, recipe) that made an artifact, if this store made it."""
        if not _HEX64.fullmatch(sha256):
            return None
        try:
            key = (self.root / "by-sha" / sha256).read_text().strip()
            if not _HEX64.fullmatch(key):  # the key names a file of the index
                return None
            recipe = json.loads(self._path(key).read_text())["recipe"]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None
        return (key, recipe) if isinstance(recipe, dict) else None


_HEX64 = re.compile(r"[0-9a-f]{64}")
_EXT = re.compile(r"\.?[A-Za-z0-9]{1,10}")


def _sane(art: Artifact) -> bool:
    return (
        isinstance(art.sha256, str)
        and _HEX64.fullmatch(art.sha256) is not None
        and isinstance(art.ext, str)
        and _EXT.fullmatch(art.ext) is not None
        and art.size >= 0
    )
