"""Prompt composition: the one place that decides the words sent to a provider.

What is sent is what is hashed: the planner puts these exact strings into recipes, so any
change here changes recipe keys (and regenerates takes). Keep it small and deterministic.

The file-valued text rule lives here too (`read_text`): a text field whose value starts with
`prompts/` names a file under the film folder; any other value is the text itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeGuard

from vfbuild.errors import Location, Problem, SpecError
from vfbuild.fsutil import is_within
from vfbuild.spec.models import CameraMove, Film, Shot

PROMPTS_DIR = "prompts/"

# What each camera move asks of a video model. Aliases (dolly-in/out) use their canonical move.
MOVE_PHRASES: dict[CameraMove, str] = {
    CameraMove.static: "static tripod shot",
    CameraMove.push_in: "slow push-in toward the subject",
    CameraMove.pull_out: "slow pull-out away from the subject",
    CameraMove.pan_left: "slow pan to the left",
    CameraMove.pan_right: "slow pan to the right",
    CameraMove.tilt_up: "slow tilt up",
    CameraMove.tilt_down: "slow tilt down",
    CameraMove.tracking: "tracking shot following the subject",
    CameraMove.drone_rising: "drone rising",
    CameraMove.handheld: "handheld camera with subtle natural shake",
}

# Structured keyframe fields, in the order the seeds write them: shot type always first.
KEYFRAME_FIELDS: tuple[str, ...] = (
    "shot",
    "subject",
    "action",
    "setting",
    "light",
    "camera",
    "look",
)

# Which shot-level negative applies to a step. `upscale`/`lipsync` only get the film's.
_STEP_NEGATIVE: dict[str, str | None] = {
    "keyframe": "keyframe",
    "video": "motion",
    "draft": "motion",
    "final": "motion",
    "upscale": None,
    "lipsync": None,
}

_SPACES = re.compile(r"\s+")
# " , ,  " -> ","; the space after a comma stays as written ("1,000" is not split).
_COMMAS = re.compile(r"\s*,(?:\s*,)*")


def is_file_value(value: str | None) -> TypeGuard[str]:
    """True when a text field names a file (under prompts/) rather than holding the text."""
    return value is not None and value.startswith(PROMPTS_DIR)


def read_text(root: Path, value: str | None) -> str | None:
    """The text of a text field: the file's content when the value starts with `prompts/`,
    else the value itself. None stays None. The file must lie inside the film folder."""
    if value is None or not is_file_value(value):
        return value
    path = root / value
    if not is_within(path, root):
        raise SpecError([Problem(Location(path), "prompt file lies outside the film folder")])
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        reason = "is not UTF-8 text"
    except OSError as e:
        reason = f"cannot be read: {e.strerror or e}"
    # Loading checked that the file exists; it changed since, or it is not text.
    hint = "save it as UTF-8 text; `vf check` shows which shot names it"
    raise SpecError([Problem(Location(path), f"prompt file {reason}", hint=hint)])


def normalize(text: str | None) -> str:
    """Collapse whitespace and stray separators so files and inline text compose cleanly."""
    if not text:
        return ""
    text = _SPACES.sub(" ", text).strip()
    text = _COMMAS.sub(",", text)
    # Trailing separators would double up with the joiner (", ," or ". .").
    return text.strip(" ,;").rstrip(".").strip(" ,;")


def _join(parts: list[str | None], sep: str) -> str:
    return sep.join(p for p in (normalize(x) for x in parts) if p)


def _character_descriptions(film: Film, shot: Shot) -> list[str | None]:
    # File references (references/x.png) carry no words; character names may.
    return [
        film.characters[name].description
        for name in shot.keyframe.references
        if name in film.characters
    ]


def keyframe_prompt(film: Film, shot: Shot, root: Path) -> str:
    """The text → image prompt: the prompt (or structured fields in seed order), then the
    descriptions of referenced characters, then the film's style."""
    kf = shot.keyframe
    if kf.prompt is not None:
        body: list[str | None] = [read_text(root, kf.prompt)]
    else:
        body = [getattr(kf, name) for name in KEYFRAME_FIELDS]
    parts = body + _character_descriptions(film, shot) + [read_text(root, film.film.style)]
    return _join(parts, ", ")


def move_phrase(move: CameraMove) -> str:
    return MOVE_PHRASES[CameraMove(move).canonical]


def motion_prompt(film: Film, shot: Shot, root: Path) -> str:
    """The image → video prompt: the camera move as words, what moves, then the film's style.
    Sentences joined with '. ', since motion prompts read as direction."""
    parts = [
        move_phrase(shot.motion.move),
        read_text(root, shot.motion.prompt),
        read_text(root, film.film.style),
    ]
    return _join(parts, ". ")


def _terms(text: str | None) -> list[str]:
    return [t for t in (normalize(x) for x in normalize(text).split(",")) if t]


def negative_prompt(film: Film, shot: Shot, step: str, root: Path) -> str:
    """The film's negative plus the step's own, as one comma list without repeated terms."""
    try:
        owner = _STEP_NEGATIVE[step]
    except KeyError:
        raise ValueError(f"unknown step {step!r}; known: {', '.join(_STEP_NEGATIVE)}") from None
    own = None
    if owner == "keyframe":
        own = shot.keyframe.negative
    elif owner == "motion":
        own = shot.motion.negative
    seen: set[str] = set()
    terms = []
    for term in _terms(read_text(root, film.film.negative)) + _terms(read_text(root, own)):
        if term.casefold() not in seen:
            seen.add(term.casefold())
            terms.append(term)
    return ", ".join(terms)


def camera_notes(shot: Shot) -> list[str]:
    """Short notes printed on a previz still: shot type, camera, look, move."""
    kf = shot.keyframe
    notes = [
        f"{label}: {normalize(value)}"
        for label, value in (("shot", kf.shot), ("camera", kf.camera), ("look", kf.look))
        if normalize(value)
    ]
    notes.append(f"move: {CameraMove(shot.motion.move).value}")
    return notes
