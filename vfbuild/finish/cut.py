"""An edit version as plain data: its clips in film order, what made each, and its sound.

The edit's recipe names each clip by sha256 (`inputs.clips`: sha256, still, duration). Each
sha256 leads through the recipe index to the recipe that made the clip (step, provider, model,
seed, take), its step key to the version the shot's lock recorded, the step's layout names to
the file, and its recipe key to what ledger.csv says it cost. Dialogue is placed at the start
of its shot. Nothing is recorded here: it is read again each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vfbuild import steps
from vfbuild.errors import UsageError
from vfbuild.recipe import key_of, step_key_of
from vfbuild.store import layout
from vfbuild.store.locks import FILM_LOCK

if TYPE_CHECKING:
    from vfbuild.project import Project
    from vfbuild.spec.models import Film

EDIT_STEP = "edit"  # the film step whose output is the cut (06_Edit/<film>_vNNN.mp4)


@dataclass(frozen=True)
class CutClip:
    """One shot of the cut: the file it shows and what made that file."""

    shot: str
    file: str  # film-relative layout path of the clip (or still) the edit used
    sha256: str
    duration: float  # seconds the shot lasts in the film
    frames: int  # the shot's frames at the film's rate (what the edit renders)
    still: bool  # an image held for the shot (a rough cut's keyframe)
    step: str  # the step that made the file (keyframe, draft, final, upscale, lipsync…)
    stage: str  # "upscale", "picked draft", … (how far the shot has come)
    finished: bool  # finished material, not a rough cut's stand-in
    version: int | None = None
    take: int | None = None
    seed: int | None = None
    provider: str = ""
    model: str = ""
    recipe_key: str | None = None
    cost: float = 0.0  # dollars ledger.csv holds for this take
    source_seconds: float | None = None  # the clip's own length, when its recipe says
    dialogue: bool = False  # the shot has a dialogue line

    def metadata(self) -> dict[str, Any]:
        """What the timeline carries for this clip under "vfbuild"."""
        return {
            "shot": self.shot,
            "step": self.step,
            "stage": self.stage,
            "version": self.version,
            "take": self.take,
            "seed": self.seed,
            "provider": self.provider,
            "model": self.model,
            "recipe_key": self.recipe_key,
            "sha256": self.sha256,
            "cost": round(self.cost, 4),
            "still": self.still,
            "finished": self.finished,
            "file": self.file,
        }


@dataclass(frozen=True)
class Placement:
    """A sound on the timeline: dialogue or music, from `start` for `duration` seconds."""

    track: str  # "dialogue" or "music"
    file: str  # film-relative
    start: float  # seconds into the film
    duration: float
    shot: str | None = None
    source_start: float = 0.0  # where in the file it starts


@dataclass(frozen=True)
class Cut:
    """An edit version: its file, format, clips in order, and sound placements."""

    title: str
    version: int
    file: str  # film-relative: 06_Edit/<film>_vNNN.mp4
    fps: int
    width: int
    height: int
    clips: tuple[CutClip, ...]
    placements: tuple[Placement, ...] = ()
    recipe_key: str | None = None
    sha256: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """`06_Edit/<film>_vNNN`: what the timeline, QC report and exports are named from."""
        return self.file.rsplit(".", 1)[0]

    @property
    def frames(self) -> int:
        return sum(c.frames for c in self.clips)

    def starts(self) -> list[int]:
        """Each clip's first frame in the film."""
        out, at = [], 0
        for c in self.clips:
            out.append(at)
            at += c.frames
        return out


def edit_version(project: Project, version: int | None = None) -> tuple[int, str, dict[str, Any]]:
    """The edit version asked for (None: the latest the lock records): its number, file and
    recipe. A UsageError when there is none."""
    title = project.film.film.title
    out = project.locks.output(FILM_LOCK, EDIT_STEP)
    if version is None or (out is not None and out.version == version):
        if out is None:
            raise UsageError(
                "the film has no edit yet", hint="run `vf build` (a rough cut needs keyframes)"
            )
        return out.version, out.file, dict(out.recipe)
    # The edit is an .mp4, or a mezzanine of another container (a ProRes .mov).
    stem = layout.edit_path(title, version).rsplit(".", 1)[0]
    rel = next(
        (f"{stem}{e}" for e in (".mp4", ".mov", ".mkv") if (project.root / f"{stem}{e}").is_file()),
        f"{stem}.mp4",
    )
    path = project.root / rel
    if not path.is_file():
        raise UsageError(
            f"there is no edit v{version:03d} ({rel} does not exist)",
            hint="`ls 06_Edit` lists the versions made",
        )
    found = project.index.recipe_for_sha(project.hashes.sha256(path))
    if found is None:
        raise UsageError(
            f"{rel} was not made by this film's store: its recipe is unknown",
            hint="build it again with `vf build`, or export the latest version",
        )
    return version, rel, found[1]


def cut_of(
    project: Project, version: int | None = None, *, placements: tuple[Placement, ...] = ()
) -> Cut:
    """The edit version `version` (None: the latest) as a Cut. `placements` adds sounds the
    film places over the timeline (music) to the dialogue the shots carry."""
    number, rel, recipe = edit_version(project, version)
    return cut_from_recipe(project, number, rel, recipe, placements=placements)


def cut_from_recipe(
    project: Project,
    version: int,
    rel: str,
    recipe: dict[str, Any],
    *,
    placements: tuple[Placement, ...] = (),
) -> Cut:
    film = project.film
    s = recipe.get("settings") or {}
    fps = int(s.get("fps") or film.film.fps)
    entries = edit_clips(project, recipe)
    shots = _shots_of(project, film, [e["sha256"] for e in entries])
    costs = _costs(project)
    clips: list[CutClip] = []
    for entry, shot in zip(entries, shots, strict=True):
        clips.append(_clip(project, film, shot, entry, fps, costs))
    total = sum(c.frames for c in clips) / fps
    sounds = [*_dialogue(project, film, clips, fps), *_music(project, recipe, total), *placements]
    return Cut(
        title=film.film.title,
        version=version,
        file=rel,
        fps=fps,
        width=int(s.get("width") or 0),
        height=int(s.get("height") or 0),
        clips=tuple(clips),
        placements=tuple(sounds),
        recipe_key=key_of(recipe),
        sha256=None,
        settings=dict(s),
    )


def edit_clips(project: Project, recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """The edit recipe's clips in film order: `{sha256, still, duration}` each. An edit made
    of clips names them; an edit joined from per-shot segments names the segments, whose own
    recipes name their clips (`inputs.clip`, `inputs.still`, `settings.duration`)."""
    inputs = recipe.get("inputs") or {}
    clips = inputs.get("clips")
    if isinstance(clips, list):
        return [c for c in clips if isinstance(c, dict) and isinstance(c.get("sha256"), str)]
    segments = inputs.get("segments")
    if not isinstance(segments, list):
        raise UsageError("the edit's recipe names no clips", hint="build the film again")
    fps = int((recipe.get("settings") or {}).get("fps") or project.film.film.fps)
    out = []
    for seg in segments:
        if not isinstance(seg, dict) or not isinstance(seg.get("sha256"), str):
            continue
        found = project.index.recipe_for_sha(seg["sha256"])
        made = found[1] if found is not None else {}
        own = made.get("inputs") or {}
        seconds = (made.get("settings") or {}).get("duration")
        if not isinstance(seconds, (int, float)):
            seconds = int(seg.get("frames") or 1) / fps
        out.append(
            {
                "sha256": own.get("clip") if isinstance(own.get("clip"), str) else seg["sha256"],
                "still": bool(own.get("still")),
                "duration": float(seconds),
                "segment": seg["sha256"],
            }
        )
    return out


def frames_of(seconds: float, fps: int) -> int:
    """A shot's frames, as the edit counts them."""
    return max(1, round(seconds * fps))


def _shots_of(project: Project, film: Film, shas: list[str]) -> list[str]:
    """The shot of each clip: the film's shots in order when each one's lock knows its clip
    (the edit was made from them), else the shot whose lock knows the sha256."""
    ids = [s.id for s in film.shots]
    known: dict[str, set[str]] = {}

    def shas_of(shot: str) -> set[str]:
        if shot not in known:
            lock = project.locks.get(shot)
            found: set[str] = set()
            if lock is not None:
                for p in lock.picks.values():
                    found.add(p.sha256)
                    if p.polished is not None:
                        found.add(p.polished.sha256)
                found.update(o.sha256 for o in lock.outputs.values())
            known[shot] = found
        return known[shot]

    if len(ids) == len(shas):
        return ids
    out = []
    for i, sha in enumerate(shas):
        owner = next((s for s in ids if sha in shas_of(s)), None)
        out.append(owner or (ids[i] if i < len(ids) else f"shot{i + 1}"))
    return out


def _costs(project: Project) -> dict[str, float]:
    from vfbuild.store.ledger import Ledger

    costs: dict[str, float] = {}
    for row in Ledger(project.root).rows(strict=False):
        try:
            costs[row.recipe_key] = costs.get(row.recipe_key, 0.0) + float(row.cost or 0)
        except ValueError:
            continue  # `vf cost` names such a row
    return costs


def _clip(
    project: Project,
    film: Film,
    shot_id: str,
    entry: dict[str, Any],
    fps: int,
    costs: dict[str, float],
) -> CutClip:
    sha = str(entry["sha256"])
    duration = float(entry.get("duration") or 0.0)
    still = bool(entry.get("still"))
    shot = film.shot_map.get(shot_id)
    dialogue = shot is not None and shot.dialogue is not None
    base: dict[str, Any] = {
        "shot": shot_id,
        "sha256": sha,
        "duration": duration,
        "frames": frames_of(duration, fps),
        "still": still,
        "dialogue": dialogue,
    }
    found = project.index.recipe_for_sha(sha)
    if found is None:
        return _unrecorded(project, base)
    key, recipe = found
    name = str(recipe.get("step"))
    try:
        step = steps.get(name)
    except KeyError:
        step = None
    # A picked step's takes share the version of their step key; an output's is its own key.
    picked_step = step is None or step.picked
    version = project.locks.version_of(shot_id, name, step_key_of(recipe) if picked_step else key)
    take = int(recipe.get("take") or 1)
    pick = project.locks.pick(shot_id, name)
    picked = pick is not None and pick.sha256 == sha
    art = project.index.lookup(key)
    ext = art.ext if art is not None else ".mp4"
    file = _layout_file(project, shot_id, name, version, take, sha, picked, ext)
    finished = bool(step is not None and step.finished)
    stage = f"{'picked' if picked else 'unpicked'} {name}" if picked_step else name
    settings = recipe.get("settings") or {}
    seconds = settings.get("duration")
    return CutClip(
        **base,
        file=file,
        step=name,
        stage=stage,
        finished=finished,
        version=version,
        take=take if step is None or step.picked else None,
        seed=recipe.get("seed") if isinstance(recipe.get("seed"), int) else None,
        provider=str(recipe.get("provider") or ""),
        model=str(recipe.get("model") or ""),
        recipe_key=key,
        cost=costs.get(key, 0.0),
        source_seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
    )


def _layout_file(
    project: Project,
    shot: str,
    step: str,
    version: int | None,
    take: int,
    sha: str,
    picked: bool,
    ext: str,
) -> str:
    """Where the clip stands in the layout: the selected copy of a pick, the take, or the
    step's output; else the store object itself."""
    if version is not None:
        try:
            declared = steps.get(step)
        except KeyError:
            declared = None
        if declared is not None:
            if declared.picked:
                names = [layout.take_path(shot, step, version, take, ext)]
                if picked:
                    names.insert(0, layout.selected_path(shot, step, version, take, ext))
            else:
                folder = declared.output_dir or layout.UPSCALED
                names = [layout.output_path_in(folder, shot, step, version, ext)]
            for rel in names:
                if (project.root / rel).is_file():
                    return rel
    return _object_rel(project, sha)


def _object_rel(project: Project, sha: str) -> str:
    path = project.store.path(sha)
    try:
        return path.relative_to(project.root).as_posix()
    except ValueError:
        return path.as_posix()


def _unrecorded(project: Project, base: dict[str, Any]) -> CutClip:
    """A clip no recipe of this store made: a user's polished keyframe, found in the lock."""
    shot, sha = base["shot"], base["sha256"]
    lock = project.locks.get(shot)
    if lock is not None:
        for name, p in lock.picks.items():
            if p.polished is not None and p.polished.sha256 == sha:
                return CutClip(
                    **base,
                    file=p.polished.file,
                    step=name,
                    stage=f"polished {name}",
                    finished=False,
                    version=p.version,
                    take=p.take,
                    seed=p.recipe.get("seed"),
                    provider="user",
                    model="polished",
                )
    return CutClip(
        **base, file=_object_rel(project, sha), step="?", stage="unknown", finished=False
    )


def _dialogue(project: Project, film: Film, clips: list[CutClip], fps: int) -> list[Placement]:
    """Each dialogue line at the start of its shot, as long as it is (at most the shot)."""
    from vfbuild.errors import MediaError
    from vfbuild.media.probe import probe

    out = []
    at = 0
    for clip in clips:
        shot = film.shot_map.get(clip.shot)
        if shot is not None and shot.dialogue is not None:
            rel = shot.dialogue.audio
            if rel is None:
                # A line read by the voice step: its picked reading, where the layout has it.
                voice = project.locks.pick(clip.shot, "voice")
                if voice is None:
                    at += clip.frames
                    continue
                rel = voice.file if (project.root / voice.file).is_file() else None
                rel = rel or _object_rel(project, voice.sha256)
            seconds = clip.frames / fps
            try:
                info = probe(project.root / rel)
                length = info.audio_duration or info.duration or seconds
            except MediaError:
                length = seconds
            out.append(
                Placement(
                    track="dialogue",
                    file=rel,
                    start=at / fps,
                    duration=min(length, seconds),
                    shot=clip.shot,
                )
            )
        at += clip.frames
    return out


def _music(project: Project, recipe: dict[str, Any], total: float) -> list[Placement]:
    """The music bed under the whole cut, when this edit played a mix that has one: the
    picked music take, from the film's start."""
    from vfbuild.fsutil import sha256_file
    from vfbuild.store import layout

    mix = project.locks.output(FILM_LOCK, "mix")
    sounds = (recipe.get("inputs") or {}).get("sounds") or []
    if mix is None or not any(
        isinstance(x, Mapping) and x.get("sha256") == mix.sha256 for x in sounds
    ):
        return []
    music = (mix.recipe.get("inputs") or {}).get("music")
    if not isinstance(music, Mapping) or not music.get("sha256"):
        return []
    sha = str(music["sha256"])
    found = [
        p.relative_to(project.root).as_posix()
        for p in sorted((project.root / layout.AUDIO).glob("*music*"))
        if p.is_file() and sha256_file(p) == sha
    ]
    seconds = float(music.get("seconds") or total)
    file = found[0] if found else _object_rel(project, sha)
    return [Placement(track="music", file=file, start=0.0, duration=min(seconds, total))]
