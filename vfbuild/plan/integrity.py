"""A done step's files are what the store says they are: checked by every build, cheaply.

A build trusts a take that is in the store and the layout. The bytes under those names can
still change in place: an editor saving over a take (a layout file is a hard link of its store
object, so the object changes with it), a disk, a sync tool. So each done step's layout files,
and under `--frozen` every pinned object it uses, are hashed through `ArtifactHashes` (a
stat each when nothing changed) and compared with the artifact's sha256:

- a layout file that changed while its object is sound is set aside (kept in `.vf/damaged/`)
  and linked again from the store: nothing is lost, and the layout shows the take again;
- a damaged object is repaired from the remote when the film has one; else a normal build sets
  it aside and makes the take again when its provider gives the same bytes for free (`local`),
  and refuses it (`DamagedArtifact`) when that would mean paying again; `--frozen` refuses it
  (`FrozenError`): it builds only from the bytes the locks pin.

`verify_film` is `vf verify`: every object the locks pin, every object the recipe index
records, and every layout file of every take, hashed afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vfbuild.errors import DamagedArtifact, FrozenError, VfError
from vfbuild.plan.execute import job_label
from vfbuild.plan.maker import job_provider
from vfbuild.project import Project
from vfbuild.steps import Job, StepState
from vfbuild.store import layout, vfdir
from vfbuild.store.verify import set_aside

Say = Callable[[str], None]


def _sha(project: Project, path: Path | str, *, fresh: bool = False) -> str | None:
    try:
        return project.artifact_hashes.sha256(path, fresh=fresh)
    except OSError:
        return None


def check_state(project: Project, state: StepState, *, frozen: bool, say: Say) -> bool:
    """Check (and repair) the files of a done step's takes. False when a damaged object was
    set aside for the step to make again; raises when one cannot be used or made again."""
    root = project.root
    base = str(root)  # str paths: at 1000 shots a `Path` per layout file costs more than its stat
    title = project.film.film.title
    sound = True
    for job in state.jobs:
        if job.version is None:
            continue
        art = project.index.lookup(job.key)
        if art is None or not project.has_object(art.sha256):
            continue
        sha = art.sha256
        targets = [t for t in job.targets(title, job.version) if project.has_file(t)]
        changed = [t for t in targets if _sha(project, f"{base}/{t}") != sha]
        if not (frozen or changed):
            continue  # the usual case: a stat each, no store path to make
        obj = project.store.path(sha)
        actual = _sha(project, obj)
        if actual is not None and actual != sha:
            if not _damaged_object(project, job, sha, actual, frozen, say):
                sound = False
                continue
            changed = [t for t in targets if _sha(project, root / t) != sha]
        for t in changed:
            got = _sha(project, root / t)
            if got is None:
                continue
            kept = set_aside(root, root / t, got)
            project.forget_listings()
            layout.materialize(obj, root / t)
            say(
                f"  {job_label(job)}: {t} was changed in place; your file is kept as {kept}, "
                "and the take is back from the store"
            )
    return sound


def _damaged_object(
    project: Project, job: Job, sha: str, actual: str, frozen: bool, say: Say
) -> bool:
    """A take's store object no longer hashes to its name. True when it is repaired (from the
    remote), False when it is set aside for the build to make again; else raises."""
    root = project.root
    obj = project.store.path(sha)
    label = job_label(job)
    rel = f"{vfdir.OBJECTS}/{sha[:2]}/{sha}"
    kept_as = _from_remote(project, sha, actual, job.ext, label, say)
    if kept_as is not None:
        project.forget_listings()
        say(
            f"  {label}: its store object {sha[:12]}… was damaged (kept as {kept_as}); "
            "repaired from the remote"
        )
        return True
    if frozen:
        raise FrozenError(
            f"{label}: the pinned artifact {sha[:12]}… is damaged: {rel} now hashes to "
            f"{actual[:12]}…; --frozen builds nothing from it",
            hint="`vf verify` names every damaged file; `vf build` without --frozen sets it "
            "aside and makes it again if its provider can (local), else copy the object from "
            "a clone that has it (or pull it from the film's remote)",
        )
    try:
        prov = job_provider(project, job)
        again = not prov.paid and prov.deterministic
        who = prov.name
    except VfError:
        again, who = False, str(job.recipe.get("provider") or "?")
    if not again:
        raise DamagedArtifact(
            f"{label}: its store object {sha[:12]}… is damaged ({rel} now hashes to "
            f"{actual[:12]}…), and {who}, which made it, cannot make the same bytes again for "
            "free: it is not sent again",
            hint="copy the object from a clone that has it (or pull it from the film's "
            "remote); if you changed the take on purpose, save your version under another "
            "name and restore the take; `vf verify` lists every damaged file",
        )
    # Its layout names are hard links of the same damaged bytes: set them aside too, so the
    # take made again can take their place.
    title = project.film.film.title
    for t in job.targets(title, job.version or 0):
        path = root / t
        got = _sha(project, path, fresh=True) if path.exists() else None
        if got is not None and got != sha:
            set_aside(root, path, got)
    kept = set_aside(root, obj, actual, job.ext)
    project.forget_listings()
    # What was worked out with the take in the store is out of date (`Resolver.resolve`).
    project.index.generation += 1
    for frozen_too in (False, True):
        project.resolved.pop((job.name, job.step, frozen_too), None)
    say(f"  {label}: its store object {sha[:12]}… was damaged (kept as {kept}); making it again")
    return False


def _from_remote(
    project: Project, sha: str, actual: str | None, ext: str, label: str, say: Say
) -> str | None:
    """Repair object `sha` from the film's remote: where the damaged bytes are kept, or None
    when there is no remote, it lacks the blob or cannot be reached (then the caller goes on
    as without one). A blob that is not its sha256 raises RemoteCorrupt: never used."""
    from vfbuild.errors import RemoteCorrupt, RemoteError
    from vfbuild.store.repair import film_remote, repair_object

    remote = film_remote(project.film.remotes)
    if remote is None:
        return None
    try:
        return repair_object(project.root, project.store, remote, sha, actual, ext)
    except RemoteCorrupt:
        raise
    except RemoteError as e:
        say(f"  {label}: not repaired from the remote: {e.message}")
        return None


# -- vf verify -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """A file that is not the artifact it should be."""

    file: str  # film-relative
    expected: str  # the sha256 it should hash to
    actual: str | None  # what it hashes to; None when it is missing
    what: str  # "store object", "layout file", "pinned object"
    who: str = ""  # the take or pick it is ("s010 keyframe t01", "locks/s010.yaml keyframe")

    def describe(self) -> str:
        state = "is missing" if self.actual is None else f"hashes to {self.actual[:12]}…"
        who = f" ({self.who})" if self.who else ""
        return f"{self.file}: {self.what}{who} {state}, not {self.expected[:12]}…"


@dataclass(frozen=True)
class VerifyResult:
    checked: int  # files hashed
    bytes: int  # their total size
    mismatches: tuple[Mismatch, ...]  # damaged: there, with other bytes
    missing: tuple[Mismatch, ...] = ()  # pinned, not there (a fresh clone): not damage
    repaired: tuple[str, ...] = ()  # `vf verify --repair`: each file put right, and how
    unrepaired: tuple[str, ...] = ()  # each damaged file it could not put right, and why

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify_film(project: Project, specs: list[tuple[str, str, str | None]]) -> VerifyResult:
    """Hash afresh what the locks pin, every object of the store and every layout file of
    every take (`film.takes()`), against the sha256 each should have."""
    from vfbuild.plan.takes import take_rows
    from vfbuild.store.locks import FILM_LOCK

    root = project.root
    seen: dict[Path, str | None] = {}
    total = [0]
    out: list[Mismatch] = []
    missing: list[Mismatch] = []

    def sha(path: Path) -> str | None:
        if path not in seen:
            seen[path] = _sha(project, path, fresh=True)
            if seen[path] is not None:
                total[0] += path.stat().st_size
        return seen[path]

    def check(rel: str, expected: str, what: str, who: str) -> None:
        got = sha(root / rel)
        if got is None:
            missing.append(Mismatch(rel, expected, None, what, who))
        elif got != expected:
            out.append(Mismatch(rel, expected, got, what, who))

    # What the locks pin: picks, polished keyframes, outputs.
    names = [*project.shot_ids, FILM_LOCK]
    for name in names:
        lock = project.locks.get(name)
        if lock is None:
            continue
        where = f"locks/{name}.yaml"
        for step, pick in sorted(lock.picks.items()):
            check(_object(pick.sha256), pick.sha256, "pinned object", f"{where} {step} pick")
            if pick.polished is not None:
                p = pick.polished
                check(p.file, p.sha256, "polished keyframe", f"{where} {step}")
        for step, output in sorted(lock.outputs.items()):
            check(_object(output.sha256), output.sha256, "pinned object", f"{where} {step}")
    # Every object of the store hashes to its name.
    objects = vfdir.at(root, vfdir.OBJECTS)
    for shard in sorted(objects.glob("??")):
        for obj in sorted(shard.iterdir()):
            name = obj.name
            if len(name) == 64 and obj.is_file():
                got = sha(obj)
                if got != name:
                    rel = obj.relative_to(root).as_posix()
                    out.append(Mismatch(rel, name, got, "store object"))
    # Every layout file of every take is its artifact: each name the current steps give
    # their takes and picks (`Job.targets`), and every take of earlier versions.
    from vfbuild.plan.resolve import Resolver

    resolver = Resolver(project)
    title = project.film.film.title
    for name, step, _ in specs:  # the build's tasks (`plan.graph.plan_tasks`)
        try:
            state = resolver.resolve(name, step)
        except VfError:
            continue  # the build reports it; the takes of earlier versions are still checked
        for job in state.jobs:
            art = project.index.lookup(job.key) if job.version is not None else None
            if art is None or job.version is None:
                continue
            for t in job.targets(title, job.version):
                if (root / t).exists():
                    check(t, art.sha256, "layout file", job_label(job))
    for row in take_rows(project):
        if row.file is None or row.sha256 is None or not (root / row.file).exists():
            continue
        who = f"{row.name} {row.step} v{row.version or 0:03d} t{row.take:02d}"
        check(row.file, row.sha256, "layout file", who)
    project.artifact_hashes.save()
    return VerifyResult(
        len(seen), total[0], tuple(dict.fromkeys(out)), tuple(dict.fromkeys(missing))
    )


def _object(sha: str) -> str:
    return f"{vfdir.OBJECTS}/{sha[:2]}/{sha}"
