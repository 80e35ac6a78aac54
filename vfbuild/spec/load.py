"""Load `shots.yaml` into a validated `Film`, or fail with every problem at its `file:line:col`.

Pipeline: parse → JSON Schema (the one editors see) → pydantic → checks that need the
filesystem or the whole film (duplicate ids, durations, file paths). Problems are collected as
`Issue`s keyed by their path in the YAML data (("shots", 0, "keyframe", "subjct")) and turned
into positions only when there is something to report.

Speed: the happy path parses with ruamel's C-backed safe loader (about 5x faster than the
round-trip loader); the round-trip loader, which keeps positions, runs only to place errors.
`load_film_cached` skips parsing and validation entirely when shots.yaml is unchanged, and
re-checks only what can change without shots.yaml changing: the files it names (stat only).

The wording of problems is `spec.issues`, their places `spec.positions`, the checks that need
the filesystem `spec.checks`; what stays here is the pipeline and its cache, which share the
parse (a little over 400 lines).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import pickle
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from vfbuild import safeyaml
from vfbuild.codesig import code_signature
from vfbuild.errors import FilmNotFound, Location, Problem, SpecError
from vfbuild.fsutil import FILM_FILE, atomic_write_bytes
from vfbuild.spec.checks import path_issues, semantic_issues, workflow_problems
from vfbuild.spec.issues import (
    Issue,
    _norm,
    _pydantic_issue,
    _schema_issues_skipping,
    _show,
)
from vfbuild.spec.models import Film, Shot
from vfbuild.spec.positions import _parse_roundtrip, display_path, locate
from vfbuild.spec.prompt import is_file_value
from vfbuild.store import sealed, vfdir

CACHE_FILE = Path(vfdir.FILM_CACHE)
# Bump when the cache's shape changes (its contents follow the code: see `_code`).
CACHE_FORMAT = 3


class FilmCache(NamedTuple):
    """What `.vf/cache/film.pickle` holds (see `vfbuild.store.vfdir`): valid, whole, for the
    code that wrote it; its film for the shots.yaml it was loaded from."""

    code: str  # `_code()` of the vfbuild that wrote it
    source: str  # sha256 of the shots.yaml bytes `film` was loaded from
    film: bytes  # the Film pickled on its own: unpickled only when `source` matches
    passed: frozenset[str]  # digests of the shots whose data passed the JSON Schema


# --------------------------------------------------------------------------- public API


def film_file(root: Path) -> Path:
    return root / FILM_FILE


def load_film(root: Path) -> Film:
    """Parse and validate `root/shots.yaml`. Raises `SpecError` listing every problem found."""
    return _load(root, _read_bytes(root))


def load_film_cached(root: Path) -> Film:
    """Like `load_film`, but reuses the validated film while shots.yaml's bytes are unchanged.

    The files the film names can change without shots.yaml changing, so they are re-checked
    (existence, no escape; stat calls only) on every call; a problem sends us through the full
    load, which reports it with its position.
    """
    raw = _read_bytes(root)
    source = hashlib.sha256(raw).hexdigest()
    cache = root / CACHE_FILE
    payload = _read_payload(cache)
    cached = _film_of(payload.film) if payload is not None and payload.source == source else None
    if cached is not None:
        if not path_issues(cached, root):
            return cached
        return _load(root, raw)
    # shots.yaml changed: shots whose data passed the JSON Schema before need not be checked
    # against it again (a 1000-shot film: 0.35 s of schema checks, for one changed shot).
    known = payload.passed if payload is not None else frozenset()
    passed: list[str] = []
    film = _load(root, raw, known_shots=known, passed=passed, by_shot=True)
    _write_cache(cache, source, film, frozenset(passed))
    return film


def referenced_files(film: Film, root: Path) -> list[Path]:
    """Every input file the film names (prompt files, reference images, dialogue audio),
    in order of appearance, without repeats."""
    values: list[str] = [v for v in (film.film.style, film.film.negative) if is_file_value(v)]
    values += [c.reference for c in film.characters.values() if c.reference is not None]
    values += [
        c.voice.sample
        for c in film.characters.values()
        if c.voice is not None and c.voice.sample is not None
    ]
    if film.music is not None and is_file_value(film.music.prompt):
        values.append(film.music.prompt)
    for shot in film.shots:
        values += _shot_values(film, shot, with_film=False)
    return _unique_paths(root, values)


def shot_files(film: Film, shot: Shot, root: Path) -> list[Path]:
    """The input files one shot's recipes depend on: the film's style/negative files, the
    shot's prompt files, its reference images (characters resolved) and its audio."""
    return _unique_paths(root, _shot_values(film, shot, with_film=True))


def shot_file_names(film: Film, shot: Shot) -> list[str]:
    """`shot_files` as normalized paths relative to the film folder (no Path objects: the
    build fingerprints every shot's inputs on every run)."""
    return list(dict.fromkeys(_norm(v) for v in _shot_values(film, shot, with_film=True)))


# --------------------------------------------------------------------------- loading


def _read_bytes(root: Path) -> bytes:
    path = film_file(root)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FilmNotFound(
            f"no {FILM_FILE} in {display_path(root)}",
            hint="run `vf init <folder>` to start a film, or run vf inside a film folder",
        ) from None
    except OSError as e:
        raise SpecError(
            [Problem(Location(display_path(path)), f"cannot read: {e.strerror}")]
        ) from None


def _load(
    root: Path,
    raw: bytes,
    *,
    known_shots: frozenset[str] = frozenset(),
    passed: list[str] | None = None,
    by_shot: bool = False,
) -> Film:
    """`known_shots`: digests (`_shot_digest`) of shot data that passed the JSON Schema
    before; `passed` receives the digests of this film's shots when it passes. `by_shot`:
    parse only the shots whose text changed since the last load (see `vfbuild.spec.chunks`)."""
    path = display_path(film_file(root))
    text = _decode(raw, path)
    bound = safeyaml.problem(text, path)  # before any loader or walk: bombs, deep nesting
    if bound is not None:
        raise SpecError([bound])
    data = None
    if by_shot:
        from vfbuild.spec import chunks

        data = chunks.parse(text, root, _parse_quiet)
    if data is None:
        data = _parse_fast(text, path)
    issues = _top_level_issues(data)
    film = None
    if not issues:
        issues, film = _schema_issues_skipping(data, known_shots, passed)
        if issues and isinstance(data, dict):
            issues += _model_only_issues(data, issues)
    if not issues and film is None:
        film, issues = _build(data)
    if film is not None and not issues:
        issues = semantic_issues(film, root)
    # Files the film names are read here only where they are JSON the build would refuse.
    others = workflow_problems(film, root) if film is not None else []
    if issues or film is None or others:
        raise SpecError(locate(issues, text, path) + others)
    return film


def _decode(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise SpecError(
            [
                Problem(
                    Location(path, line, col), "not valid UTF-8 text", hint="save the file as UTF-8"
                )
            ]
        ) from None


def _parse_fast(text: str, path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe", pure=False).load(text)
    except YAMLError as fast_error:
        # The C parser's messages are terse; the round-trip parser says more and has marks.
        try:
            _parse_roundtrip(text)
        except YAMLError as e:
            raise SpecError([_yaml_problem(e, text, path)]) from None
        raise SpecError([_yaml_problem(fast_error, text, path)]) from None
    return _plain(data)


def _parse_quiet(text: str) -> Any:
    """Parse as `_parse_fast` does; a problem is raised as it comes, to be placed by a
    parse of the whole file. A shot item in the plain part of YAML that locks use (most
    are) is read by `lockread`, which gives the safe loader's data in a fifth of its time."""
    from vfbuild.store import lockread

    fast = lockread.load(text)
    if fast is not None:
        return fast
    return _plain(_safe_yaml().load(text))


@functools.cache
def _safe_yaml() -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=False)


def _plain(value: Any) -> Any:
    """Plain JSON-like data: string keys, and dates kept as the text the user wrote."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, datetime | date):
        return str(value)  # `title: 2024-05-01` means the text, not a date
    return str(value)


def _yaml_problem(error: Exception, text: str, path: Path) -> Problem:
    from ruamel.yaml.constructor import DuplicateKeyError

    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    location = Location(path, line, col)
    problem = str(getattr(error, "problem", None) or error).strip()
    if isinstance(error, DuplicateKeyError):
        key = _duplicate_key_name(problem)
        first = _first_key_line(text, error, key)
        where = f" (first at line {first})" if first else ""
        return Problem(
            location,
            f"duplicate key '{key}'{where}",
            hint="a key may appear only once in a mapping; merge the two or remove one",
        )
    lines = text.splitlines()
    if 0 < line <= len(lines) and lines[line - 1][col - 1 : col] == "\t":
        return Problem(location, "tab character", hint="YAML indents with spaces, not tabs")
    context = str(getattr(error, "context", None) or "")
    if "single document" in context:
        return Problem(
            location,
            "a second YAML document ('---') in the film file",
            hint="shots.yaml holds one document: remove this '---' and what follows, "
            "or merge it into the first",
        )
    context_mark = getattr(error, "context_mark", None)
    if context.startswith("while ") and context_mark is not None:
        started = (context_mark.line + 1, context_mark.column + 1)
        if started != (line, col):
            thing = re.sub(r"^while \w+ ", "", context)
            problem += f"; in {thing} that begins at line {started[0]}, column {started[1]}"
    return Problem(
        location,
        f"invalid YAML: {problem}",
        hint="check indentation (spaces only), colons, quotes and brackets here and just above",
    )


def _duplicate_key_name(problem: str) -> str:
    m = re.search(r'found duplicate key "(.*?)" with value', problem)
    return m.group(1) if m else "?"


def _first_key_line(text: str, error: Any, key: str) -> int | None:
    """Line of a duplicate key's first occurrence: compose (which does not check duplicates)
    and find the mapping the error names."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

    mark = getattr(error, "context_mark", None)
    if mark is None:
        return None
    try:
        root = YAML(typ="rt").compose(text)
    except Exception:  # noqa: BLE001 - best effort for a nicer message only
        return None
    stack: list[Node] = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            if (node.start_mark.line, node.start_mark.column) == (mark.line, mark.column):
                for k, _ in node.value:
                    if getattr(k, "value", None) == key:
                        return int(k.start_mark.line) + 1
            stack.extend(v for pair in node.value for v in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return None


def _top_level_issues(data: Any) -> list[Issue]:
    if data is None:
        return [
            Issue(
                (),
                f"{FILM_FILE} is empty",
                hint="start from `vf init`, or write a `film:` mapping and a `shots:` list",
            )
        ]
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else f"the value {_show(data)}"
        return [
            Issue(
                (),
                f"the top level of {FILM_FILE} must be a mapping, not {got}",
                hint="write `film:`, `providers:`, `characters:` and `shots:` at the left margin",
            )
        ]
    return []


def _build(data: dict[str, Any]) -> tuple[Film | None, list[Issue]]:
    from pydantic import ValidationError

    try:
        return Film.model_validate(data), []
    except ValidationError as e:
        return None, [_pydantic_issue(err) for err in e.errors()]


def _model_only_issues(data: dict[str, Any], reported: list[Issue]) -> list[Issue]:
    """The problems only the models see (fps, odd sizes, providers, prompt-or-fields) in a
    film the JSON Schema refused, so that one pass reports them all: not the ones at (or
    above, or below) a place the schema already spoke of, which would say it twice."""
    from pydantic import ValidationError

    try:
        Film.model_validate(data)
        return []
    except ValidationError as e:
        errors = e.errors()
    except Exception:  # noqa: BLE001 - a validator meeting data the schema refused: it spoke
        return []
    places = [issue.path for issue in reported]
    found = []
    for err in errors:
        if err["type"] not in ("value_error", "assertion_error"):
            continue  # the schema says these itself (types, keys, ranges, patterns)
        issue = _pydantic_issue(err)
        n = len(issue.path)
        if any(p[:n] == issue.path or issue.path[: len(p)] == p for p in places):
            continue
        found.append(issue)
    return found


# --------------------------------------------------------------------------- cache


def _code() -> str:
    """The code a cached film is valid for: vfbuild's one code signature (its version and
    every source: the models, the checks, the schema), pydantic's version (it pickles the
    models) and the cache's format."""
    import pydantic

    return f"{code_signature()}/{pydantic.VERSION}/{CACHE_FORMAT}"


def _read_payload(cache: Path) -> FilmCache | None:
    """The film cache, or None. Its film is unpickled (`_film_of`) only when its source
    matches: a changed shots.yaml needs only the digests, and unpickling a 1000-shot film takes
    ~19 ms. A missing, foreign (unsealed), damaged, odd-shaped cache, or one of other code, is
    ignored and rewritten."""
    payload = sealed.load(cache, CACHE_FILE.name)
    if (
        type(payload) is FilmCache
        and payload.code == _code()
        and isinstance(payload.source, str)
        and isinstance(payload.film, bytes)
        and isinstance(payload.passed, frozenset)
    ):
        return payload
    return None


def _film_of(blob: bytes) -> Film | None:
    gc_was_on = gc.isenabled()
    gc.disable()  # thousands of small models: the cyclic GC would only rescan them
    try:
        film = pickle.loads(blob)  # safe: part of a payload whose seal verified
    except Exception:  # noqa: BLE001 - a corrupt cache: the film is loaded again
        return None
    finally:
        if gc_was_on:
            gc.enable()
    return film if isinstance(film, Film) else None


def _write_cache(
    cache: Path, source: str, film: Film, passed: frozenset[str] = frozenset()
) -> None:
    # A read-only film still loads; it is just not cached.
    with contextlib.suppress(OSError):
        blob = pickle.dumps(film, protocol=pickle.HIGHEST_PROTOCOL)
        entry = FilmCache(_code(), source, blob, passed)
        sealed_blob = sealed.dumps(entry, CACHE_FILE.name)
        if sealed_blob is not None:
            atomic_write_bytes(cache, sealed_blob)


# --------------------------------------------------------------------------- small helpers


def _shot_values(film: Film, shot: Shot, *, with_film: bool) -> list[str]:
    texts = [shot.keyframe.prompt, shot.keyframe.negative, shot.motion.prompt, shot.motion.negative]
    if with_film:
        texts = [film.film.style, film.film.negative] + texts
    values = [t for t in texts if t is not None and is_file_value(t)]
    # Without the film's part, characters' images are checked with the characters themselves.
    values += (
        film.reference_files(shot)
        if with_film
        else [r for r in shot.keyframe.references if r not in film.characters]
    )
    if shot.dialogue is not None and shot.dialogue.audio is not None:
        values.append(shot.dialogue.audio)
    if with_film and shot.dialogue is not None and shot.dialogue.voice in film.characters:
        voice = film.characters[shot.dialogue.voice].voice
        if voice is not None and voice.sample is not None:
            values.append(voice.sample)
    for role in ("first", "last"):  # continuity: a restyled frame's prompt and references
        link = shot.motion.link(role)
        if link is not None and link.restyle is not None:
            r = link.restyle
            if r.prompt is not None and is_file_value(r.prompt):
                values.append(r.prompt)
            named = [film.characters[c].reference if c in film.characters else c
                     for c in r.references if with_film or c not in film.characters]  # fmt: skip
            values += [f for f in named if f is not None]
    if shot.motion.reference is not None:
        values.append(shot.motion.reference)
    return values


def _unique_paths(root: Path, values: Iterable[str]) -> list[Path]:
    seen: set[str] = set()
    paths = []
    for value in values:
        norm = _norm(value)
        if norm not in seen:
            seen.add(norm)
            paths.append(root / norm)
    return paths
