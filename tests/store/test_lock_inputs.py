"""A lock file is input too: what it names stays inside the film, and a damaged one is a clear
LockError at its `file:line:col`, never an internal error or a read outside the film."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vfbuild.errors import LockError
from vfbuild.store.locks import LockBook

SHA = "ab" * 32
KEY = "cd" * 32
LOCK = f"""\
schema: 1
shot: s010
picks:
  keyframe:
    version: 1
    take: 1
    key: {KEY}
    sha256: {SHA}
    file: 03_Generations/v1_exploration/s010_keyframe_v001_t01.png
    recipe:
      format: 1
      step: keyframe
      provider: local
      model: previz-still
      engine: {{pillow: 13.0.0}}
      tier: final
      settings: {{width: 256, height: 144}}
      prompt: a yellow car
      negative:
      seed: 10
      take: 1
      inputs: {{references: [{SHA}]}}
"""


def _refused(tmp_path: Path, text: str | bytes) -> str:
    lock = tmp_path / "locks" / "s010.yaml"
    lock.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        lock.write_text(text)
    else:
        lock.write_bytes(text)
    with pytest.raises(LockError) as info:
        LockBook(tmp_path)
    return info.value.render()


def test_the_valid_lock_loads(tmp_path: Path) -> None:
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "s010.yaml").write_text(LOCK)
    pick = LockBook(tmp_path).pick("s010", "keyframe")
    assert pick is not None and pick.recipe["seed"] == 10


@pytest.mark.parametrize(
    ("polished", "said"),
    [
        ("/outside/secret.png", "is an absolute path"),
        ("../../x.png", "points outside the film folder"),
        ("01_Source_Images/../../../x.png", "points outside the film folder"),
    ],
)
def test_a_polished_file_outside_the_film_is_refused_at_its_place(
    tmp_path: Path, polished: str, said: str
) -> None:
    text = LOCK.replace(
        "    recipe:\n", f"    polished: {{file: {polished}, sha256: {SHA}}}\n    recipe:\n"
    )
    out = _refused(tmp_path, text)
    assert "locks/s010.yaml:10:22: lock file is invalid at picks.keyframe.polished.file" in out
    assert said in out and polished in out


def test_a_digest_that_is_a_path_is_refused(tmp_path: Path) -> None:
    out = _refused(tmp_path, LOCK.replace(f"    sha256: {SHA}", "    sha256: ../../../etc/pw"))
    assert "locks/s010.yaml:8:13:" in out and "picks.keyframe.sha256" in out
    out = _refused(tmp_path, LOCK.replace(f"[{SHA}]", "[../../secret.png]"))
    assert "locks/s010.yaml:11:" in out and "not a sha256" in out


def test_a_cut_lock_names_the_file_and_what_its_recipe_lacks(tmp_path: Path) -> None:
    cut = LOCK[: LOCK.index("      seed: 10")]  # a lock cut at a line end still parses
    out = _refused(tmp_path, cut)
    assert "locks/s010.yaml:11:7:" in out and "the recipe is missing seed, take, inputs" in out
    assert "git checkout" in out


def test_every_problem_of_a_lock_is_reported(tmp_path: Path) -> None:
    text = LOCK.replace("    take: 1\n", "    take: 0\n", 1).replace(f"key: {KEY}", "key: 12")
    out = _refused(tmp_path, text)
    assert "picks.keyframe.take" in out and "picks.keyframe.key" in out


def test_a_lock_that_is_not_utf8(tmp_path: Path) -> None:
    out = _refused(tmp_path, LOCK.encode().replace(b"a yellow car", b"a yellow caf\xe9"))
    assert "locks/s010.yaml:18:27: lock file is not valid UTF-8 text" in out


def test_an_alias_bomb_lock_is_refused_at_once(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    bomb = LOCK + "\n".join(lines) + "\n"
    assert len(bomb.encode()) - len(LOCK) < 1024
    start = time.monotonic()
    out = _refused(tmp_path, bomb)
    assert time.monotonic() - start < 1.0
    assert "locks/s010.yaml:" in out and "alias bomb" in out


@pytest.mark.parametrize(
    "tail",
    [
        "deep: " + "[" * 5000 + "]" * 5000 + "\n",
        "".join("  " * i + "k:\n" for i in range(1200)),
        "loop: &a [1, *a]\n",
    ],
    ids=["flow-5000", "block-1200", "recursive-alias"],
)
def test_deep_or_recursive_locks_are_refused_without_recursion_error(
    tmp_path: Path, tail: str
) -> None:
    out = _refused(tmp_path, LOCK + tail)
    assert "locks/s010.yaml:" in out
    assert "nested deeper than" in out or "recursive alias" in out


@pytest.mark.parametrize("value", ["!!binary AAAA", "2024-01-01", ".nan", "{1: x}"])
def test_a_recipe_holding_what_json_cannot_is_refused(tmp_path: Path, value: str) -> None:
    """A recipe's key is the sha256 of its JSON: bytes, dates or NaN from YAML would end the
    build in a TypeError (found by the fuzz test)."""
    out = _refused(tmp_path, LOCK.replace("height: 144}", f"height: 144, x: {value}}}"))
    assert "locks/s010.yaml:" in out and "which a recipe never does" in out
