"""A film opened for work: its validated spec, store, recipe index, locks and logs."""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from vfbuild import catalog, steps
from vfbuild.errors import StoreError
from vfbuild.providers import get_provider
from vfbuild.providers.base import Provider
from vfbuild.spec.models import Film
from vfbuild.steps import StepState
from vfbuild.store import vfdir
from vfbuild.store.hashcache import HashCache
from vfbuild.store.index import RecipeIndex
from vfbuild.store.layout import (
    EDIT,
    EXPLORATION,
    FINAL,
    PROMPTS_TXT,
    SELECTED,
    SOURCE_IMAGES,
    UPSCALED,
)
from vfbuild.store.locks import LockBook
from vfbuild.store.objects import ObjectStore
from vfbuild.store.promptlog import PromptLog
from vfbuild.store.verify import ArtifactHashes

# The folders vfbuild keeps its store, caches, locks and layout in: each may be missing (it is
# made when needed), but a plain file in its place ends every write in an OS error.
FOLDERS = (
    *vfdir.FOLDERS,
    "locks",
    SOURCE_IMAGES,
    "03_Generations",
    EXPLORATION,
    SELECTED,
    FINAL,
    UPSCALED,
    EDIT,
)


def check_folders(root: Path) -> None:
    """Refuse a film where one of vfbuild's folders is a plain file, naming every one."""
    files = [
        name for name in FOLDERS if os.path.lexists(root / name) and not (root / name).is_dir()
    ]
    if files:
        names = ", ".join(f"{n}/" for n in files)
        raise StoreError(
            f"{root}: {names} must be a folder, not a file "
            "(vfbuild keeps its store, caches, locks and takes there)",
            hint="move the file away or rename it; vfbuild makes the folder when it needs it",
        )


class Resolved(NamedTuple):
    """A step state the resolver worked out, kept for the rest of the process."""

    stamp: tuple[int, int]  # `Project.stamp()` when it was worked out
    state: StepState
    fingerprint: Any  # its shot's fingerprint then (see `vfbuild.plan.states`), or None


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
    _hosting: Any = None
    _providers_lock: threading.Lock = field(default_factory=threading.Lock)
    # Names in each store or layout folder, listed once per process (see `_exists`).
    _listings: dict[str, set[str]] = field(default_factory=dict)
    # Step states the resolver worked out, each with the `stamp()` it was worked out at and
    # its shot's fingerprint (see `vfbuild.plan.states`).
    resolved: dict[tuple[str, str, bool], Resolved] = field(default_factory=dict)
    # What the planner keeps for this project for the rest of the process (its saved states).
    plan_caches: dict[str, object] = field(default_factory=dict)
    plan_caches_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, root: Path) -> Project:
        from vfbuild.spec.load import load_film_cached

        film = load_film_cached(root)
        check_folders(root)
        return cls(
            root=root,
            film=film,
            store=ObjectStore(vfdir.at(root, vfdir.OBJECTS)),
            index=RecipeIndex(vfdir.at(root, vfdir.RECIPES)),
            locks=LockBook(root),
            hashes=HashCache(vfdir.at(root, vfdir.HASHES)),
            prompts=PromptLog(root / PROMPTS_TXT),
        )

    @property
    def vf_dir(self) -> Path:
        return vfdir.at(self.root, vfdir.VF)

    def provider(self, step: str) -> Provider:
        """Who makes `step`: the provider of its `providers:` slot (a step that has none makes
        its takes itself, or the embedded provider does), one instance per provider and
        endpoint."""
        declared = steps.get(step)
        slot = declared.slot
        config = None if slot is None else getattr(self.film.providers, slot)
        if config is None and (own := declared.maker()) is not None:
            return own
        name = catalog.EMBEDDED if config is None else config.use
        return self.provider_named(name, config)

    def provider_named(self, name: str, config: Any = None) -> Provider:
        """Provider `name` set up from `config` (a `providers:` entry, or None for its
        defaults): the slot's own provider, or the one that made a pick before the slot moved
        (see `vfbuild.plan.maker`). Raises UsageError for a provider vfbuild does not know."""
        # One instance per provider and endpoint, shared by the build's threads.
        cache_key = f"{name} {getattr(config, 'base_url', None)} {getattr(config, 'timeout', 0)}"
        with self._providers_lock:
            if cache_key not in self._providers:
                self._providers[cache_key] = get_provider(
                    name, config=config, film_root=self.root, host=self._host()
                )
            return self._providers[cache_key]

    def _host(self) -> Any:
        """The film's one `Host` (uploads shared by all its providers), if it sets hosting.
        Called with `_providers_lock` held."""
        hosting = self.film.providers.hosting
        if hosting is None:
            return None
        if self._hosting is None:
            from vfbuild.providers.hosting import Host

            self._hosting = Host(hosting, vfdir.at(self.root, vfdir.HOSTED))
        return self._hosting

    @property
    def journal_dir(self) -> Path:
        return vfdir.at(self.root, vfdir.JOURNAL)

    def stamp(self) -> tuple[int, int]:
        """Changes whenever the build records an artifact or writes a lock: a step state
        resolved at an older stamp may be out of date (see `Resolver.resolve`)."""
        return (self.index.generation, self.locks.generation)

    def has_object(self, sha256: str) -> bool:
        """Whether the store holds this object, as `store.has` (layout `<aa>/<sha256>`)."""
        return self._exists(f"{self._objects_str}/{sha256[:2]}", sha256)

    def has_file(self, relpath: str) -> bool:
        """Whether a film-relative file (a layout path, `a/b/name`) exists."""
        folder, _, name = relpath.rpartition("/")
        return self._exists(f"{self._root_str}/{folder}" if folder else self._root_str, name)

    def _exists(self, folder: str, name: str) -> bool:
        """Is `folder/name` there? Each folder is listed once per process (one `scandir`, not
        one stat per file: a no-op build of 1000 shots asks about 23,000 files in a few
        hundred folders). A name the listing has is there (vfbuild never deletes objects or
        layout files while it runs); one it lacks may have been made since: that one stat."""
        listing = self._listings.get(folder)
        if listing is None:
            try:
                listing = {e.name for e in os.scandir(folder)}
            except OSError:
                listing = set()
            self._listings[folder] = listing
        if name in listing:
            return True
        if os.path.exists(os.path.join(folder, name)):
            listing.add(name)
            return True
        return False

    def forget_listings(self) -> None:
        """Forget the folder listings of `_exists`: a damaged file was just moved aside (the
        one time vfbuild takes a file out of the store or the layout while it runs)."""
        self._listings.clear()

    @functools.cached_property
    def artifact_hashes(self) -> ArtifactHashes:
        """sha256 of store objects and layout files by inode and stat (`store.verify`)."""
        return ArtifactHashes(vfdir.at(self.root, vfdir.ARTIFACT_HASHES))

    @functools.cached_property
    def _objects_str(self) -> str:
        return str(self.store.root)

    @functools.cached_property
    def _root_str(self) -> str:
        return str(self.root)

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
