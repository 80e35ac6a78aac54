"""A film opened for work: its validated spec, store, recipe index, locks and logs."""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from vfbuild.errors import FilmNotFound
from vfbuild.providers import get_provider
from vfbuild.providers.base import Provider
from vfbuild.spec.models import Film
from vfbuild.store.hashcache import HashCache
from vfbuild.store.index import RecipeIndex
from vfbuild.store.layout import PROMPTS_TXT, SOURCE_IMAGES
from vfbuild.store.locks import LockBook
from vfbuild.store.objects import ObjectStore
from vfbuild.store.promptlog import PromptLog

FILM_FILE = "shots.yaml"
VF_DIR = ".vf"

# Which `providers:` entry of shots.yaml serves each step.
PROVIDER_SLOT = {
    "keyframe": "keyframe",
    "draft": "video",
    "final": "video",
    "upscale": "upscale",
    "lipsync": "lipsync",
    "edit": "edit",
}


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


@dataclass
class Project:
    root: Path
    film: Film
    store: ObjectStore
    index: RecipeIndex
    locks: LockBook
    hashes: HashCache
    prompts: PromptLog
    _providers: dict[str, Provider] = field(default_factory=dict)
    _providers_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, root: Path) -> Project:
        from vfbuild.spec.load import load_film_cached

        film = load_film_cached(root)
        vf = root / VF_DIR
        return cls(
            root=root,
            film=film,
            store=ObjectStore(vf / "objects"),
            index=RecipeIndex(vf / "recipes"),
            locks=LockBook(root),
            hashes=HashCache(vf / "cache" / "hashes.json"),
            prompts=PromptLog(root / PROMPTS_TXT),
        )

    @property
    def vf_dir(self) -> Path:
        return self.root / VF_DIR

    def provider(self, step: str) -> Provider:
        slot = PROVIDER_SLOT[step]
        config = None if slot == "edit" else getattr(self.film.providers, slot)
        name = "local" if config is None else config.use
        # One instance per provider and endpoint, shared by the build's threads.
        cache_key = f"{name} {getattr(config, 'base_url', None)} {getattr(config, 'timeout', 0)}"
        with self._providers_lock:
            if cache_key not in self._providers:
                self._providers[cache_key] = get_provider(name, config=config, film_root=self.root)
            return self._providers[cache_key]

    def input_sha(self, relpath: str) -> str:
        """sha256 of a film input file (prompt, reference, audio), stat-cached."""
        return self.hashes.sha256(self.root / relpath)

    @functools.cached_property
    def source_images(self) -> set[str]:
        """Names in 01_Source_Images, listed once per process: a no-op build looks for the
        user's polished keyframes there for every shot, and must not list it every time."""
        folder = self.root / SOURCE_IMAGES
        return {e.name for e in os.scandir(folder)} if folder.is_dir() else set()

    @functools.cached_property
    def shot_ids(self) -> list[str]:
        return [s.id for s in self.film.shots]
