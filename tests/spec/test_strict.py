"""A film that passes the pydantic models in strict mode passes the JSON Schema too, and makes
the Film the usual (lax) validation makes, so a load may skip the schema (and jsonschema's
import) for it, and keep that Film. Checked here over thousands of films broken at random:
wrong types, coerced-looking values, missing and unknown keys."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vfbuild.spec.issues import schema_issues, strict_film
from vfbuild.spec.load import _parse_fast
from vfbuild.spec.models import CameraMove, Film

from . import BASE_FILM

# Values that look right and are not ("5", 1.0, "640x360\n"), and values of every JSON type.
ODD = [
    "5", 5, -1, 0, 1.0, 2.5, -0.5, True, False, None, "", " ", "abc\n", "640x360",
    "640x360\n", "641x360", "0x0", "16:9", "16:9\n", "1.5:1", "s010", "S 010", "s010\n",
    10**12, 1e300, "fal", "local", "instant", "prompts/x.txt", [], ["car"], ["car", 1],
    {}, {"x": 1}, {"use": "local"}, {"use": "fal", "model": 5}, "x" * 300, "tracking\n",
    *[m.value for m in CameraMove],
]  # fmt: skip
KEYS = ["id", "takes", "seed", "duration", "prompt", "move", "use", "model", "x", "Takes"]


def _base() -> dict[str, Any]:
    return _parse_fast(BASE_FILM, Path("shots.yaml"))


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if at:
        yield at
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*at, i))


def _mutate(doc: dict[str, Any], rng: random.Random, scalars: list[Any]) -> None:
    path = rng.choice(list(_paths(doc)))
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    op = rng.random()
    if op < 0.55:
        parent[last] = copy.deepcopy(rng.choice(ODD if rng.random() < 0.7 else scalars))
    elif op < 0.75:
        del parent[last]
    elif isinstance(parent, dict):
        parent[rng.choice(KEYS)] = copy.deepcopy(rng.choice(ODD + scalars))
    else:
        parent.append(copy.deepcopy(parent[last]))  # a second shot (or item) like this one


def test_what_passes_strictly_passes_the_schema() -> None:
    base = _base()
    scalars = [v for p in _paths(base) if not isinstance(v := _get(base, p), dict | list)]
    rng = random.Random(20261121)
    strict_passes = schema_only = 0
    for _ in range(2500):
        doc = copy.deepcopy(base)
        for _ in range(rng.choice((1, 1, 2, 3))):
            _mutate(doc, rng, scalars)
        issues = schema_issues(doc)
        strict = strict_film(copy.deepcopy(doc))
        if strict is not None:
            strict_passes += 1
            assert not issues, (doc, [i.message for i in issues])
            assert strict == Film.model_validate(doc), doc
        elif not issues:
            schema_only += 1  # the strict models refused it: the schema decides, as before
    # The check means something only if many broken films passed strictly.
    assert strict_passes > 300, strict_passes
    assert schema_only < strict_passes


def test_the_valid_films_pass_strictly() -> None:
    assert strict_film(_base()) == Film.model_validate(_base())
    repo = Path(__file__).resolve().parents[2]
    example = repo / "example-project" / "shots.yaml"
    data = _parse_fast(example.read_text(), example)
    assert strict_film(data) == Film.model_validate(data)


def test_coerced_values_do_not_pass_strictly() -> None:
    for path, value in [(("film", "fps"), "24"), (("shots", 0, "keyframe", "takes"), 4.0)]:
        doc = _base()
        _set(doc, path, value)
        assert strict_film(doc) is None
        assert schema_issues(doc) or value == 4.0  # JSON Schema's integer takes 4.0


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value
