"""`vf plan` asks the film's remote cache which stale takes it already has: those a build
fetches (verified) instead of making, so they cost nothing and are not counted as takes to
make. The same test the build makes before it pays (`TeamCache.fetch`): an action record
naming a blob that is there (and, for a pinned take, is the pinned bytes), or the pinned blob
itself. By recipe key only; a remote that cannot be reached changes nothing in the plan.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from vfbuild.errors import RemoteError, UsageError
from vfbuild.project import Project
from vfbuild.steps import Job
from vfbuild.store.remote import Remote
from vfbuild.store.teamcache import artifact_of, choose_remote

log = logging.getLogger("vfbuild.plan")


class RemoteLookup:
    """The film's remote, opened at the first question; `name` is None when there is none."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._remote: Remote | None = None
        self._opened = False
        self._down = False

    @property
    def remote(self) -> Remote | None:
        if not self._opened:
            self._opened = True
            try:
                self._remote = choose_remote(self.project.film.remotes)
            except (UsageError, RemoteError) as e:
                log.debug("plan: no remote lookup: %s", e)
        return self._remote

    def has(self, jobs: list[Job]) -> set[str]:
        """The keys of `jobs` whose take the remote has."""
        remote = self.remote
        if remote is None or self._down or not jobs:
            return set()

        def there(job: Job) -> bool:
            record = remote.get_action(job.key)
            art = artifact_of(record) if record is not None else None
            pinned = job.pinned_sha256
            if art is not None and (pinned is None or art.sha256 == pinned):
                return remote.blob_size(art.sha256) is not None
            return pinned is not None and remote.blob_size(pinned) is not None

        try:
            with ThreadPoolExecutor(max_workers=8, thread_name_prefix="vf-plan") as pool:
                found = list(pool.map(there, jobs))
        except RemoteError as e:
            log.warning("plan: the remote %s did not answer: %s", remote.name, e.message)
            self._down = True  # asked once: the plan goes on as without a remote
            return set()
        return {j.key for j, yes in zip(jobs, found, strict=True) if yes}
