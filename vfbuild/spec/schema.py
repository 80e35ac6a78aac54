"""JSON Schemas generated from the pydantic models, and the command that writes them.

The committed files under `schema/` are what editors (yaml-language-server) and
`check-jsonschema` see; `vf check` validates with the same schema built in-process, so the
editor and the tool cannot disagree. A test fails when the committed files drift.

    python -m vfbuild.spec.schema [DIR]     # regenerate (default: the repo's schema/)
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from vfbuild.fsutil import atomic_write_text

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://vfbuild.dev/schema/"
REGENERATE = "python -m vfbuild.spec.schema"

# File name -> "module:ClassName". Imported lazily so listing names costs nothing.
SCHEMAS: dict[str, str] = {
    "shots.schema.json": "vfbuild.spec.models:Film",
    "lock.schema.json": "vfbuild.store.locks:LockFile",
}

# The repo's committed copy; only meaningful in a source checkout.
REPO_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


def _model(name: str) -> Any:
    try:
        target = SCHEMAS[name]
    except KeyError:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(sorted(SCHEMAS))}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


@functools.cache
def _schema_json(name: str) -> str:
    model = _model(name)
    generated = model.model_json_schema()
    # `$schema` and `$id` first so the file reads well; the rest keeps pydantic's order, which
    # follows the models' field order (what editors show in completion lists).
    schema = {"$schema": DIALECT, "$id": BASE_ID + name, **generated}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def build_schema(name: str) -> dict[str, Any]:
    """A fresh copy of the schema `name` as a dict (callers may mutate it)."""
    schema: dict[str, Any] = json.loads(_schema_json(name))
    return schema


def render_schema(name: str) -> str:
    """The exact text of `schema/<name>`: 2-space JSON with a trailing newline."""
    return _schema_json(name)


def write_schemas(directory: Path) -> list[Path]:
    """Write every registered schema into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SCHEMAS:
        path = directory / name
        atomic_write_text(path, render_schema(name))
        written.append(path)
    return written


@functools.cache
def validator(name: str = "shots.schema.json") -> Any:
    """A Draft 2020-12 validator for schema `name`, built once per process."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(build_schema(name))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else REPO_SCHEMA_DIR
    for path in write_schemas(directory):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
