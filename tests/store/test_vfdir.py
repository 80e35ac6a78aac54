"""`.vf/` has one home (`vfbuild.store.vfdir`): no other module spells it, every cache is in
its table, each cache keeps its one invalidation rule, and losing any of them loses nothing."""

from __future__ import annotations

import ast
import posixpath
import re
import shutil
from pathlib import Path

import pytest

import vfbuild
from tests.e2e.film import make_film, vf
from tests.spec import mutate, write_film
from vfbuild import codesig
from vfbuild.plan.resolve import Resolver
from vfbuild.plan.states import SavedStates
from vfbuild.project import Project
from vfbuild.spec import chunks
from vfbuild.spec import load as load_module
from vfbuild.spec.load import _parse_quiet, load_film_cached
from vfbuild.store import vfdir
from vfbuild.store.locks import LockBook

PACKAGE = Path(vfbuild.__file__).parent
HOME = PACKAGE / "store" / "vfdir.py"
# `.vf` as a path: alone or followed by a slash; not `.vf-tmp-` or `.vf-schema`.
SPELLED = re.compile(r"(?<![\w.-])\.vf(?![\w-])")


# The names of the files under `.vf/` (build.lock, states.pickle…): spelled only there too.
FILE_NAMES = sorted(
    {
        posixpath.basename(value)
        for key, value in vars(vfdir).items()
        if key.isupper() and isinstance(value, str) and "." in posixpath.basename(value)
    }
    - {vfdir.VF}
)
NAMED = re.compile("|".join(re.escape(n) for n in FILE_NAMES))


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of a module and its classes and functions: prose, which
    may name the folder."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_no_module_but_vfdir_spells_the_folder() -> None:
    spelled = []
    for source in sorted(PACKAGE.rglob("*.py")):
        if source == HOME:
            continue
        tree = ast.parse(source.read_text(), str(source))
        prose = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in prose
                and (SPELLED.search(node.value) or NAMED.search(node.value))
            ):
                spelled.append(f"{source.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}")
    assert spelled == [], "take these paths from vfbuild.store.vfdir"


def test_the_scan_finds_a_spelled_folder() -> None:
    """The pattern is live: each way a module spelled the folder is found, prose is not."""
    assert all(SPELLED.search(s) for s in (".vf", ".vf/cache", "copy it into .vf/objects"))
    assert {"build.lock", "states.pickle", "doit-state.json", "index.log"} <= set(FILE_NAMES)
    assert not any(SPELLED.search(s) for s in (".vf-tmp-", ".vf-schema", "x.vfx", "a.vf2"))
    tree = ast.parse('"""In `.vf/`."""\nX = ".vf"\n')
    prose = _docstrings(tree)
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in prose]
    assert [n.value for n in found] == [".vf"]


def test_every_cache_is_in_the_table() -> None:
    table = (vfdir.__doc__ or "").split("=====")[1:]
    rows = "".join(table)
    for name in vfdir.CACHES:
        assert name.startswith(f"{vfdir.VF}/")
        first = name[len(vfdir.VF) + 1 :].split("/")
        assert all(part in rows for part in first), name


def test_a_build_leaves_only_named_paths_and_losing_every_cache_loses_nothing(
    tmp_path: Path,
) -> None:
    film = make_film(tmp_path / "film")
    vf(film, "build", "--tier", "draft")
    vf(film, "build", "--tier", "draft")  # a no-op: it keeps the step states it found done
    named = {*vfdir.FOLDERS, *vfdir.CACHES, vfdir.BUILD_LOCK}
    store = [film / d for d in (vfdir.OBJECTS, vfdir.RECIPES, vfdir.JOURNAL)]  # their own
    kept = {
        p.relative_to(film).as_posix()
        for p in (film / vfdir.VF).rglob("*")
        if not any(p.is_relative_to(d) and p != d for d in store)
    }
    assert kept - named == set()
    assert {vfdir.STATES, vfdir.LOCKS_CACHE, vfdir.FILM_CACHE, vfdir.DOIT_STATE} <= kept
    shutil.rmtree(film / vfdir.CACHE)
    for name in vfdir.CACHES:
        (film / name).unlink(missing_ok=True)
    again = vf(film, "build", "--tier", "draft")
    assert not re.search(r"made \d+ artifact", again.stdout), again.stdout
    assert "nothing else to make" in again.stdout, again.stdout


# --------------------------------------------------------------------------- one rule each


@pytest.fixture
def other_code(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Call it to stand for another vfbuild: `code_signature()` answers otherwise."""

    def change() -> None:
        monkeypatch.setattr(codesig, "_memo", ["another vfbuild's sources"])

    return change


def test_the_film_cache_is_of_one_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_code
) -> None:
    root = write_film(tmp_path)
    film = load_film_cached(root)
    loads: list[Path] = []
    real = load_module._load

    def counted(root: Path, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        loads.append(root)
        return real(root, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(load_module, "_load", counted)
    assert load_film_cached(root) == film and loads == []  # the same code: a hit
    other_code()  # any source of vfbuild changed, not only the models
    assert load_film_cached(root) == film and loads == [root]
    assert load_film_cached(root) == film and loads == [root]  # written again, for this code


def test_the_items_cache_is_of_one_code(tmp_path: Path, other_code) -> None:
    root = write_film(tmp_path)
    text = (root / "shots.yaml").read_text()
    parsed: list[str] = []

    def parse_one(item: str) -> object:
        parsed.append(item)
        return _parse_quiet(item)

    assert chunks.parse(text, root, parse_one) is not None
    items = len(parsed) - 1  # and the film without its items
    parsed.clear()
    changed = mutate("title: Winter to Spring", "title: Spring")
    chunks.parse(changed, root, parse_one)
    assert len(parsed) == 1  # only the rest: every item's text is known
    parsed.clear()
    other_code()
    chunks.parse(changed, root, parse_one)
    assert len(parsed) == items + 1


def test_the_locks_cache_is_of_one_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_code
) -> None:
    LockBook(tmp_path).allocate_version("s010", "keyframe", "a" * 64)
    LockBook(tmp_path)  # reads the lock file, and caches its model
    parsed: list[Path] = []
    real = LockBook._parse

    def counted(self: LockBook, path: Path):  # type: ignore[no-untyped-def]
        parsed.append(path)
        return real(self, path)

    monkeypatch.setattr(LockBook, "_parse", counted)
    assert LockBook(tmp_path).get("s010") is not None and parsed == []
    other_code()  # its lock models may differ: the file is read
    lock = LockBook(tmp_path).get("s010")
    assert lock is not None and lock.versions == {"keyframe": {"a" * 64: 1}}
    assert parsed == [tmp_path / "locks" / "s010.yaml"]


def test_saved_states_are_of_one_code(tmp_path: Path, other_code) -> None:
    project = Project.open(write_film(tmp_path))
    before = SavedStates(project).fingerprint(Resolver(project), "s010")
    assert before is not None
    assert SavedStates(project).fingerprint(Resolver(project), "s010") == before
    other_code()
    assert SavedStates(project).fingerprint(Resolver(project), "s010") != before
