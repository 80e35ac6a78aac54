"""The recipe index: recipe key → artifact. This is what makes "never pay twice" cheap.

One small JSON file per recipe key, so concurrent builders never contend on one file and a
killed build loses at most the entry it was writing (the object stays, the take is redone for
free from the store on the next run).
"""

from __future__ import annotations

import json
from pathlib import Path

from vfbuild.fsutil import atomic_write_text
from vfbuild.store.objects import Artifact


class RecipeIndex:
    def __init__(self, root: Path) -> None:
        self.root = root  # the film's `.vf/recipes`

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def lookup(self, key: str) -> Artifact | None:
        try:
            data = json.loads(self._path(key).read_text())
            return Artifact(data["sha256"], data["ext"], int(data["size"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def record(self, key: str, artifact: Artifact, recipe: dict) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "sha256": artifact.sha256,
            "ext": artifact.ext,
            "size": artifact.size,
            "recipe": recipe,
        }
        atomic_write_text(p, json.dumps(body, sort_keys=True, indent=1) + "\n")
        by_sha = self.root / "by-sha" / artifact.sha256
        if not by_sha.exists():
            by_sha.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(by_sha, key + "\n")

    def recipe_for_sha(self, sha256: str) -> tuple[str, dict] | None:
        """The recipe (key, recipe) that made an artifact, if this store made it."""
        try:
            key = (self.root / "by-sha" / sha256).read_text().strip()
            return key, json.loads(self._path(key).read_text())["recipe"]
        except (FileNotFoundError, ValueError, KeyError):
            return None
