"""Problems of a film's input before they have a place: `Issue`s keyed by their path in the
YAML data, and the mapping of JSON Schema and pydantic errors to them, in words a film-maker
reads (what is wrong, and how to fix it). `positions.locate` gives them their `file:line:col`.

One module though long: each JSON Schema keyword's wording is a handler here, and they share
the hints and the type words.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from vfbuild.fsutil import FILM_FILE
from vfbuild.spec.models import SHOT_ID_PATTERN, Film
from vfbuild.spec.prompt import KEYFRAME_FIELDS

_ASPECT_PATTERN = r"^[1-9][0-9]*:[1-9][0-9]*$"
_RESOLUTION_PATTERN = r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$"


YamlPath = tuple[str | int, ...]


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


def _norm(value: str) -> str:
    return posixpath.normpath(value.replace("\\", "/"))
