"""The checks of a film that need the filesystem or the whole film: duplicate ids, long shots,
the files it names (inside the film, present, of the right kind), ComfyUI workflows."""

from __future__ import annotations

import difflib
import posixpath
import re
from pathlib import Path

from vfbuild.errors import Problem
from vfbuild.fsutil import escape_reason, is_within
from vfbuild.spec.issues import Issue, YamlPath, _norm, _number
from vfbuild.spec.models import Film
from vfbuild.spec.positions import display_path
from vfbuild.spec.prompt import PROMPTS_DIR, is_file_value

REFERENCES_DIR = "references/"
AUDIO_DIR = "04_Audio/"
WORKFLOWS_DIR = "workflows/"
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg")
REFERENCE_VIDEO_DIR = "02_Reference_Video/"
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".m4v", ".webm", ".mkv")
_CHARACTER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


# --------------------------------------------------------------------------- semantic checks


def semantic_issues(film: Film, root: Path) -> list[Issue]:
    """Checks that need the whole film or the filesystem."""
    from vfbuild.spec.links import capability_issues, link_issues

    issues = (
        _duplicate_ids(film) + _long_shots(film) + _sound_issues(film) + path_issues(film, root)
    )
    if not issues:  # a link to a repeated id would name either of them
        issues = link_issues(film) + capability_issues(film)
    return issues


def _sound_issues(film: Film) -> list[Issue]:
    """A dialogue's `voice:` names a character with a voice; a keyframe shows only characters
    with a reference image."""
    issues = []
    voiced = [n for n, c in film.characters.items() if c.voice is not None]
    for i, shot in enumerate(film.shots):
        d = shot.dialogue
        if d is not None and d.voice is not None:
            c = film.characters.get(d.voice)
            if c is None or c.voice is None:
                issues.append(
                    Issue(
                        ("shots", i, "dialogue", "voice"),
                        f"'{d.voice}' is not a character with a `voice:`",
                        hint=f"characters with a voice: {', '.join(voiced)}"
                        if voiced
                        else "give the character a `voice: {id: ...}` under `characters:`",
                    )
                )
        for j, ref in enumerate(shot.keyframe.references):
            c = film.characters.get(ref)
            if c is not None and c.reference is None:
                issues.append(
                    Issue(
                        ("shots", i, "keyframe", "references", j),
                        f"character '{ref}' has no `reference:` image to show",
                        hint=f"add `reference: references/....png` to characters.{ref}",
                    )
                )
    return issues


def _duplicate_ids(film: Film) -> list[Issue]:
    first: dict[str, int] = {}
    issues = []
    for i, shot in enumerate(film.shots):
        if shot.id in first:
            issues.append(
                Issue(
                    ("shots", i, "id"),
                    f"duplicate shot id '{shot.id}'",
                    hint="every shot needs its own id; never reuse one",
                    first=("shots", first[shot.id], "id"),
                )
            )
        else:
            first[shot.id] = i
    return issues


def _long_shots(film: Film) -> list[Issue]:
    limit = film.film.max_shot_duration
    return [
        Issue(
            ("shots", i, "duration"),
            f"shots[{i}].duration {_number(s.duration)} s is longer than film.max_shot_duration "
            f"({_number(limit)} s)",
            hint="split the shot, or raise film.max_shot_duration: a longer shot loops its clip",
        )
        for i, s in enumerate(film.shots)
        if s.duration > limit
    ]


def path_issues(film: Film, root: Path) -> list[Issue]:
    """Every file the film names must be inside the film folder, in its folder, and exist.
    Stat calls only: this runs on every cached load."""
    checker = _PathChecker(root)
    issues: list[Issue] = []
    for name in ("style", "negative"):
        issues += checker.text(("film", name), getattr(film.film, name))
    for name, character in film.characters.items():
        if character.reference is not None:
            issues += checker.file(
                ("characters", name, "reference"),
                character.reference,
                REFERENCES_DIR,
                "reference image",
            )
        if character.voice is not None and character.voice.sample is not None:
            issues += checker.file(
                ("characters", name, "voice", "sample"),
                character.voice.sample,
                REFERENCES_DIR,
                "voice sample",
                AUDIO_EXTENSIONS,
            )
    if film.music is not None:
        issues += checker.text(("music", "prompt"), film.music.prompt)
    for slot in ("keyframe", "video", "upscale", "lipsync", "voice", "music"):
        choice = getattr(film.providers, slot)
        for where, value in (
            (("providers", slot, "workflow"), choice.workflow),
            (("providers", slot, "draft", "workflow"), choice.tier("draft").get("workflow")),
            (("providers", slot, "final", "workflow"), choice.tier("final").get("workflow")),
        ):
            if isinstance(value, str):
                issues += checker.file(where, value, WORKFLOWS_DIR, "ComfyUI workflow")
    for i, shot in enumerate(film.shots):
        kf, motion = shot.keyframe, shot.motion
        issues += checker.text(("shots", i, "keyframe", "prompt"), kf.prompt)
        issues += checker.text(("shots", i, "keyframe", "negative"), kf.negative)
        issues += checker.text(("shots", i, "motion", "prompt"), motion.prompt)
        issues += checker.text(("shots", i, "motion", "negative"), motion.negative)
        for j, ref in enumerate(kf.references):
            issues += _reference_issues(
                checker, film, ("shots", i, "keyframe", "references", j), ref
            )
        for role in ("first", "last"):
            link = motion.link(role)
            if link is not None and link.restyle is not None:
                at = ("shots", i, "motion", role, "restyle")
                issues += checker.text((*at, "prompt"), link.restyle.prompt)
                for j, ref in enumerate(link.restyle.references):
                    issues += _reference_issues(checker, film, (*at, "references", j), ref)
        if motion.reference is not None:
            folder = (
                REFERENCES_DIR
                if posixpath.normpath(motion.reference).startswith(REFERENCES_DIR)
                else REFERENCE_VIDEO_DIR
            )
            issues += checker.file(
                ("shots", i, "motion", "reference"),
                motion.reference,
                folder,
                "reference performance video",
                VIDEO_EXTENSIONS,
            )
        if shot.dialogue is not None and shot.dialogue.audio is not None:
            issues += checker.file(
                ("shots", i, "dialogue", "audio"),
                shot.dialogue.audio,
                AUDIO_DIR,
                "dialogue audio",
                AUDIO_EXTENSIONS,
            )
    return issues


def workflow_problems(film: Film, root: Path) -> list[Problem]:
    """Every ComfyUI workflow the providers name that ComfyUI could not queue, at its
    place in the workflow file (a missing or misplaced one is `path_issues`' to say)."""
    from vfbuild.spec.workflow import workflow_problem

    problems: list[Problem] = []
    seen: set[str] = set()
    for slot in ("keyframe", "video", "upscale", "lipsync"):
        choice = getattr(film.providers, slot)
        for where, value in (
            (f"providers.{slot}.workflow", choice.workflow),
            (f"providers.{slot}.draft.workflow", choice.tier("draft").get("workflow")),
            (f"providers.{slot}.final.workflow", choice.tier("final").get("workflow")),
        ):
            if not isinstance(value, str) or value in seen:
                continue
            seen.add(value)
            if _check_file(root, value, WORKFLOWS_DIR, "ComfyUI workflow", ()) is not None:
                continue
            full = root / _norm(value)
            found = workflow_problem(full, display_path(full), where)
            if found is not None:
                problems.append(found)
    return problems


def _reference_issues(checker: _PathChecker, film: Film, path: YamlPath, ref: str) -> list[Issue]:
    if ref in film.characters:
        return []
    if _CHARACTER_NAME.match(ref):  # looks like a name, not a file
        names = list(film.characters)
        near = difflib.get_close_matches(ref, names, n=1, cutoff=0.6)
        if near:
            hint = f"did you mean '{near[0]}'?"
        elif names:
            hint = f"characters: {', '.join(names)}; or name an image under {REFERENCES_DIR}"
        else:
            hint = f"define it under `characters:`, or name an image under {REFERENCES_DIR}"
        return [Issue(path, f"unknown character '{ref}'", hint=hint)]
    return checker.file(path, ref, REFERENCES_DIR, "reference image")


class _PathChecker:
    """Checks path values against the film folder, remembering results: many shots name the
    same style or reference file, and each value needs its stat calls once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: dict[tuple[str, str], tuple[str, str | None] | None] = {}

    def text(self, path: YamlPath, value: str | None) -> list[Issue]:
        if value is None or not is_file_value(value):
            return []
        return self.file(path, value, PROMPTS_DIR, "prompt file")

    def file(
        self, path: YamlPath, value: str, folder: str, what: str, extensions: tuple[str, ...] = ()
    ) -> list[Issue]:
        key = (value, folder)
        if key not in self.seen:
            self.seen[key] = _check_file(self.root, value, folder, what, extensions)
        found = self.seen[key]
        return [] if found is None else [Issue(path, found[0], hint=found[1])]


def _check_file(
    root: Path, value: str, folder: str, what: str, extensions: tuple[str, ...]
) -> tuple[str, str | None] | None:
    """(message, hint) for the first thing wrong with a path value, or None."""
    name = posixpath.basename(value.replace("\\", "/")) or "file"
    escape = escape_reason(value)  # the check lock files get too
    if escape is not None:
        relative = "; paths must be relative to the film folder" if "absolute" in escape else ""
        return (
            f"{what} '{value}' {escape}{relative}",
            f"copy the file into the film and write {folder}{name}",
        )
    norm = posixpath.normpath(value.replace("\\", "/"))
    if not norm.startswith(folder):
        return (f"{what} '{value}' must be under {folder}", f"move it and write {folder}{name}")
    if extensions and posixpath.splitext(norm)[1].lower() not in extensions:
        kind = "an audio file" if "audio" in what else "the right kind of file"
        return (f"{what} '{value}' is not {kind}", f"use one of {', '.join(extensions)}")
    full = root / norm
    if not is_within(full, root):
        return (
            f"{what} '{value}' is a symlink to a file outside the film folder",
            "copy the file into the film folder instead of linking to it",
        )
    if full.is_file():
        return None
    if full.exists():
        return (f"{what} '{value}' is a folder, not a file", None)
    return (f"{what} '{value}' does not exist", _missing_hint(root, norm, folder))


def _missing_hint(root: Path, norm: str, folder: str) -> str:
    parent = (root / norm).parent
    try:
        siblings = sorted(p.name for p in parent.iterdir() if not p.name.startswith("."))
    except OSError:
        siblings = []
    near = difflib.get_close_matches(posixpath.basename(norm), siblings, n=1, cutoff=0.6)
    if near:
        return f"did you mean '{posixpath.join(posixpath.dirname(norm), near[0])}'?"
    if folder == PROMPTS_DIR:
        return "create it, or write the text inline: a value not starting with prompts/ is the text"
    return f"put the file at {norm}"
