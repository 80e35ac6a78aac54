"""Load `shots.yaml` into a validated `Film`, or fail with every problem at its `file:line:col`.

Pipeline: parse → JSON Schema (the one editors see) → pydantic → checks that need the
filesystem or the whole film (duplicate ids, durations, file paths). Problems are collected as
`Issue`s keyed by their path in the YAML data (("shots", 0, "keyframe", "subjct")) and turned
into positions only when there is something to report.

Speed: the happy path parses with ruamel's C-backed safe loader (about 5x faster than the
round-trip loader); the round-trip loader, which keeps positions, runs only to place errors.
`load_film_cached` skips parsing and validation entirely when shots.yaml is unchanged, and
re-checks only what can change without shots.yaml changing: the files it names (stat only).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import gc
import hashlib
import json
import os
import pickle
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from vfbuild import safeyaml
from vfbuild.codesig import code_signature
from vfbuild.errors import FilmNotFound, Location, Problem, SpecError
from vfbuild.fsutil import FILM_FILE, atomic_write_bytes, escape_reason, is_within
from vfbuild.spec.models import SHOT_ID_PATTERN, Film, Shot
from vfbuild.spec.prompt import KEYFRAME_FIELDS, PROMPTS_DIR, is_file_value
from vfbuild.store import sealed, vfdir

REFERENCES_DIR = "references/"
AUDIO_DIR = "04_Audio/"
WORKFLOWS_DIR = "workflows/"
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg")
CACHE_FILE = Path(vfdir.FILM_CACHE)
# Bump when the cache's shape changes (its contents follow the code: see `_code`).
CACHE_FORMAT = 3

_CHARACTER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_RESOLUTION_PATTERN = r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$"
_ASPECT_PATTERN = r"^[1-9][0-9]*:[1-9][0-9]*$"

YamlPath = tuple[str | int, ...]


class FilmCache(NamedTuple):
    """What `.vf/cache/film.pickle` holds (see `vfbuild.store.vfdir`): valid, whole, for the
    code that wrote it; its film for the shots.yaml it was loaded from."""

    code: str  # `_code()` of the vfbuild that wrote it
    source: str  # sha256 of the shots.yaml bytes `film` was loaded from
    film: bytes  # the Film pickled on its own: unpickled only when `source` matches
    passed: frozenset[str]  # digests of the shots whose data passed the JSON Schema


@dataclass(frozen=True)
class Issue:
    """A problem before it has a position: where it is in the data, and what to say.

    `at="key"` points at a mapping key (unknown keys, whole-object errors); `"value"` at the
    value. `first` names an earlier place whose line the message mentions (duplicate ids).
    """

    path: YamlPath
    message: str
    hint: str | None = None
    at: Literal["key", "value"] = "value"
    first: YamlPath | None = None


# --------------------------------------------------------------------------- public API


def film_file(root: Path) -> Path:
    return root / FILM_FILE


def display_path(path: Path) -> Path:
    """`path` relative to the working directory when inside it (short, clickable), else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


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
    values += [c.reference for c in film.characters.values()]
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
    parse of the whole file."""
    return _plain(_safe_yaml().load(text))


@functools.cache
def _safe_yaml() -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=False)


def _parse_roundtrip(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)


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


# --------------------------------------------------------------------------- schema errors


def schema_issues(data: Any) -> list[Issue]:
    """Every JSON Schema violation as a plain-words Issue (anyOf noise folded away)."""
    from vfbuild.spec.schema import validator

    issues: list[Issue] = []
    for error in validator().iter_errors(data):
        issues += _issues_from_error(error)
    return issues


def _shot_digest(shot: Any) -> str | None:
    try:
        text = json.dumps(shot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _schema_issues_skipping(
    data: dict[str, Any], known: frozenset[str], passed: list[str] | None
) -> tuple[list[Issue], Film | None]:
    """`schema_issues(data)`, checking only the shots not known to pass; and the Film, when
    the whole document was checked by the strict models (a cold load: no shot known), so it
    is not validated a second time (~11 ms at 1000 shots).

    A JSON Schema checks each item of `shots` on its own (`items`), so a shot whose data
    passed the same schema passes again; what is left is checked with the rest of the
    document, first by the strict models (`strict_film`), then, if they refuse it, by the
    schema. Any problem sends the whole document through `schema_issues`, so every problem
    is reported at its real place.
    """
    shots = data.get("shots")
    if not isinstance(shots, list) or not shots:
        return schema_issues(data), None
    digests = [_shot_digest(s) for s in shots]
    todo = [s for s, d in zip(shots, digests, strict=True) if d is None or d not in known]
    part = data if len(todo) == len(shots) else {**data, "shots": todo or shots[:1]}
    strict = strict_film(part)
    issues = []
    if strict is None:
        issues = schema_issues(part)
        if issues and part is not data:
            issues = schema_issues(data)
    if not issues and passed is not None:
        passed.extend(d for d in digests if d is not None)
    return issues, strict if part is data else None


def strict_film(data: Any) -> Film | None:
    """The Film `data` makes when, as JSON, it passes the film's pydantic models in strict
    mode: no coercion ("5" is not 5, 1.0 is not 1), so it passes the JSON Schema too, which
    is generated from those models, and it is the Film the usual (lax) validation makes
    (`tests/spec/test_strict.py` checks both over thousands of broken films). A film that
    passes needs neither jsonschema's import nor its validator (0.1 s); for one that does
    not (None), the schema decides, and its errors carry positions."""
    try:
        text = json.dumps(data, allow_nan=False)  # dates, NaN, ...: left to the schema
        return Film.model_validate_json(text, strict=True)
    except Exception:  # refused, not JSON, or a validator meeting odd data: the schema says
        return None


def _issues_from_error(e: Any) -> list[Issue]:
    if e.validator in ("anyOf", "oneOf") and e.context:
        return _issues_from_branches(e)
    path: YamlPath = tuple(e.absolute_path)
    handler = _SCHEMA_HANDLERS.get(e.validator)
    if handler is not None:
        return handler(e, path)
    return [Issue(path, f"{_where(path)}: {e.message}")]


def _issues_from_branches(e: Any) -> list[Issue]:
    """`Optional[X]` becomes anyOf [X, null]. Report the errors of the branch the value was
    meant for (the one whose type fits); if none fits, one type error naming what is allowed."""
    branches: dict[Any, list[Any]] = defaultdict(list)
    for sub in e.context:
        branches[sub.relative_schema_path[0]].append(sub)
    fitting = [
        errs
        for errs in branches.values()
        if not any(s.validator == "type" and not s.relative_path for s in errs)
    ]
    if fitting:
        best = min(fitting, key=len)
        return [issue for sub in best for issue in _issues_from_error(sub)]
    expected: list[str] = []
    for errs in branches.values():
        for s in errs:
            if s.validator == "type" and not s.relative_path:
                expected += (
                    [s.validator_value] if isinstance(s.validator_value, str) else s.validator_value
                )
    # Every optional field accepts null; saying so would only confuse.
    expected = [t for t in expected if t != "null"] or expected
    return [_type_issue(tuple(e.absolute_path), expected, e.instance)]


def _on_additional(e: Any, path: YamlPath) -> list[Issue]:
    allowed = list(e.schema.get("properties", {}))
    patterns = list(e.schema.get("patternProperties", {}))
    issues = []
    for key in e.instance:
        if key in allowed or any(re.search(p, key) for p in patterns):
            continue
        where = f"in {_where(path)}" if path else "at the top level"
        issues.append(
            Issue(
                path + (key,),
                f"unknown key '{key}' {where}",
                hint=_suggest(key, allowed, "allowed keys"),
                at="key",
            )
        )
    return issues


def _on_required(e: Any, path: YamlPath) -> list[Issue]:
    properties = e.schema.get("properties", {})
    unknown = [k for k in e.instance if k not in properties]
    issues = []
    for name in e.validator_value:
        if name in e.instance:
            continue
        # `duraton: 5` already reports "did you mean 'duration'?"; a second "missing
        # duration" for the same typo would be noise.
        if difflib.get_close_matches(name, unknown, n=1, cutoff=0.6):
            continue
        description = _description(e.schema, name)
        where = _where(path) if path else FILM_FILE
        issues.append(
            Issue(
                path,
                f"{where} is missing the required key '{name}'",
                hint=f"add `{name}:`" + (f" — {description}" if description else ""),
                at="key",
            )
        )
    return issues


def _on_type(e: Any, path: YamlPath) -> list[Issue]:
    expected = (
        [e.validator_value] if isinstance(e.validator_value, str) else list(e.validator_value)
    )
    return [_type_issue(path, expected, e.instance)]


def _on_enum(e: Any, path: YamlPath) -> list[Issue]:
    allowed = [str(v) for v in e.validator_value]
    if path and path[-1] == "move":
        return [
            Issue(
                path,
                f"{_where(path)}: unknown camera move {_show(e.instance)}",
                hint=_suggest(str(e.instance), allowed, "camera moves"),
            )
        ]
    return [
        Issue(
            path,
            f"{_where(path)} must be one of {', '.join(allowed)}, got {_show(e.instance)}",
            hint=_suggest(str(e.instance), allowed, "allowed"),
        )
    ]


def _on_pattern(e: Any, path: YamlPath) -> list[Issue]:
    got = _show(e.instance)
    if e.validator_value == _RESOLUTION_PATTERN:
        return [
            Issue(
                path,
                f"{_where(path)}: resolution must be WIDTHxHEIGHT like 1920x1080, got {got}",
                hint="two numbers joined by a lowercase x, no spaces: 1920x1080",
            )
        ]
    if e.validator_value == SHOT_ID_PATTERN:
        return [
            Issue(
                path,
                f"{_where(path)}: shot id {got} may only use lowercase letters, digits, "
                "'-' and '_', start with a letter or digit, and be at most 32 characters",
                hint=f"e.g. '{_slug(str(e.instance))}'",
            )
        ]
    if e.validator_value == _ASPECT_PATTERN:
        return [
            Issue(
                path,
                f"{_where(path)}: aspect must be W:H like 16:9, got {got}",
                hint='quote it if YAML reads it as something else: aspect: "16:9"',
            )
        ]
    return [Issue(path, f"{_where(path)}: {got} does not match the pattern {e.validator_value}")]


def _on_range(e: Any, path: YamlPath) -> list[Issue]:
    rule = {
        "minimum": "at least",
        "maximum": "at most",
        "exclusiveMinimum": "greater than",
        "exclusiveMaximum": "less than",
    }[e.validator]
    limit = _number(e.validator_value)
    hints = {
        "duration": "a shot lasts a positive number of seconds, e.g. 5",
        "takes": "takes is how many versions to generate, 1 to 64",
        "grain": "grain is an opacity from 0 = none to 1 = full",
    }
    field = path[-1] if path else ""
    return [
        Issue(
            path,
            f"{_where(path)} must be {rule} {limit}, got {_show(e.instance)}",
            hint=hints.get(str(field)),
        )
    ]


def _on_min_length(e: Any, path: YamlPath) -> list[Issue]:
    return [Issue(path, f"{_where(path)} must not be empty", hint="write some text")]


def _on_min_items(e: Any, path: YamlPath) -> list[Issue]:
    if path == ("shots",):
        return [
            Issue(
                path,
                "shots must list at least one shot",
                hint="add a shot: `- id: s010`, `duration: 5`, `keyframe: {subject: …}`",
            )
        ]
    return [Issue(path, f"{_where(path)} needs at least {e.validator_value} entries")]


_SCHEMA_HANDLERS = {
    "additionalProperties": _on_additional,
    "required": _on_required,
    "type": _on_type,
    "enum": _on_enum,
    "pattern": _on_pattern,
    "minimum": _on_range,
    "maximum": _on_range,
    "exclusiveMinimum": _on_range,
    "exclusiveMaximum": _on_range,
    "minLength": _on_min_length,
    "minItems": _on_min_items,
}

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "nothing",
}

_TYPE_HINTS = {
    "string": "put it in quotes to make it text",
    "integer": "write digits, e.g. 4",
    "number": "write digits, e.g. 5 or 2.5",
    "object": "indent `key: value` lines under it",
    "array": "write a list: [a, b], or one `- item` per line",
    "boolean": "write true or false",
}


def _type_issue(path: YamlPath, expected: list[str], instance: Any) -> Issue:
    words = " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
    return Issue(
        path,
        f"{_where(path)}: expected {words}, got {_show(instance)}",
        hint=_TYPE_HINTS.get(expected[0]) if expected else None,
    )


def _description(schema: dict[str, Any], name: str) -> str | None:
    prop = schema.get("properties", {}).get(name, {})
    description = prop.get("description")
    if description is None and "$ref" in prop:
        from vfbuild.spec.schema import validator

        ref = prop["$ref"].rsplit("/", 1)[-1]
        description = validator().schema["$defs"].get(ref, {}).get("description")
    return description.split("\n")[0].rstrip(".") if description else None


# --------------------------------------------------------------------------- pydantic errors


def _pydantic_issue(err: Any) -> Issue:
    """Errors only pydantic sees (the schema cannot say them): fps, odd sizes, providers,
    prompt-or-fields, character names."""
    loc: YamlPath = tuple(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if loc and loc[-1] == "[key]":
        path = loc[:-1]
        return Issue(
            path,
            f"character name {_show(value)} may only use letters, digits, '-' and '_'",
            hint=f"e.g. '{_slug(str(value))}'",
            at="key",
        )
    where = _where(loc)
    field = loc[-1] if loc else ""
    if field == "fps" and err["type"] == "value_error":
        return Issue(
            loc,
            f"{where} must be 24 or 30, got {_show(value)}",
            hint="vfbuild renders clips and the edit at 24 or 30 frames per second",
        )
    if "odd side" in msg:
        return Issue(
            loc,
            f"{where}: {value} has an odd side; H.264 needs even width and height",
            hint=f"use {_even_resolution(str(value))}",
        )
    if field == "use" and err["type"] == "value_error":
        from vfbuild import catalog

        return Issue(
            loc,
            f"{where}: unknown provider {_show(value)}",
            hint=_suggest(str(value), catalog.names(), "known providers"),
        )
    if "cannot make" in msg:
        what, _, able = msg.partition("; ")
        return Issue(loc, f"{where}: {what}", hint=f"{able}; or use local")
    if field == "keyframe" and "not both" in msg:
        return Issue(
            loc + ("prompt",),
            f"{where} has both `prompt` and structured fields",
            hint="keep `prompt:` or the fields shot, subject, action, …; not both",
            at="key",
        )
    if field == "keyframe" and "needs a" in msg:
        return Issue(
            loc,
            f"{where} is empty: it needs a `prompt` or at least one of "
            f"{', '.join(KEYFRAME_FIELDS)}",
            hint="e.g. `subject: a yellow car on a snowy road`",
            at="key",
        )
    return Issue(loc, f"{where}: {msg}")


# --------------------------------------------------------------------------- semantic checks


def semantic_issues(film: Film, root: Path) -> list[Issue]:
    """Checks that need the whole film or the filesystem."""
    return _duplicate_ids(film) + _long_shots(film) + path_issues(film, root)


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
        issues += checker.file(
            ("characters", name, "reference"),
            character.reference,
            REFERENCES_DIR,
            "reference image",
        )
    for slot in ("keyframe", "video", "upscale", "lipsync"):
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
        if shot.dialogue is not None:
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


# --------------------------------------------------------------------------- positions


def locate(issues: Iterable[Issue], text: str, path: Path) -> list[Problem]:
    """Turn issues into Problems at `file:line:col`, one per place."""
    try:
        tree = _parse_roundtrip(text)
    except Exception:  # noqa: BLE001 - the fast parser accepted it; never hide the real problem
        tree = None
    problems: list[Problem] = []
    seen: set[tuple[int, int]] = set()
    for issue in issues:
        line, col = _position(tree, issue.path, issue.at)
        if (line, col) in seen:
            continue
        seen.add((line, col))
        message = issue.message
        if issue.first is not None:
            message += f" (first used at line {_position(tree, issue.first, 'value')[0]})"
        problems.append(Problem(Location(path, line, col), message, issue.hint))
    return problems


def _position(tree: Any, path: YamlPath, at: str) -> tuple[int, int]:
    """1-based (line, col) of `path` in the round-trip tree; the deepest existing parent when
    the path does not exist (a missing key points at its mapping)."""
    node = tree
    pos = _node_pos(tree)
    for i, key in enumerate(path):
        step = _step(node, key)
        if step is None:
            break
        key_pos, value_pos, node = step
        last = i == len(path) - 1
        # An empty value has no position of its own (ruamel gives the next token's): use the key.
        pos = key_pos if (last and at == "key") or node is None or value_pos is None else value_pos
    return pos[0] + 1, pos[1] + 1


def _node_pos(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return (0, 0)
    return (lc.line, lc.col)


def _step(node: Any, key: str | int) -> tuple[tuple[int, int], tuple[int, int] | None, Any] | None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    try:
        if isinstance(node, CommentedMap):
            real = key if key in node else next((k for k in node if str(k) == str(key)), None)
            if real is None:
                return None
            return tuple(node.lc.key(real)), tuple(node.lc.value(real)), node[real]
        if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            pos = tuple(node.lc.item(key))
            return pos, pos, node[key]
    except (KeyError, TypeError, IndexError):  # merged keys (<<) carry no positions
        return None
    return None


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
    if shot.dialogue is not None:
        values.append(shot.dialogue.audio)
    return values


def _norm(value: str) -> str:
    return posixpath.normpath(value.replace("\\", "/"))


def _unique_paths(root: Path, values: Iterable[str]) -> list[Path]:
    seen: set[str] = set()
    paths = []
    for value in values:
        norm = _norm(value)
        if norm not in seen:
            seen.add(norm)
            paths.append(root / norm)
    return paths


def _where(path: YamlPath) -> str:
    """("shots", 0, "keyframe") -> "shots[0].keyframe"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or FILM_FILE


def _show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"'{value if len(value) <= 40 else value[:37] + '...'}'"
    return _number(value) if isinstance(value, int | float) else str(value)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _suggest(word: str, choices: list[str], label: str) -> str:
    near = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if near:
        return f"did you mean '{near[0]}'?"
    return f"{label}: {', '.join(choices)}"


def _slug(value: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-_")[:32]
    return slug or "s010"


def _even_resolution(value: str) -> str:
    w, _, h = value.partition("x")
    try:
        return f"{int(w) - int(w) % 2}x{int(h) - int(h) % 2}"
    except ValueError:
        return "even numbers, e.g. 1920x1080"
