"""The fast lock reader gives what ruamel's safe loader gives, or gives up (None).

Over every lock in the tests and the example, over locks dumped by the round trip from random
data, and over random edits of those texts: wherever `lockread.load` answers, the safe loader
gives the same objects, of the same types; wherever the safe loader fails, it does not answer.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest

from vfbuild.store import lockread
from vfbuild.store.locks import LockBook, _yaml

REPO = Path(__file__).resolve().parents[2]
LOCKS = sorted(
    p
    for folder in (REPO / "tests", REPO / "example-project")
    for p in folder.rglob("*.yaml")
    if p.parent.name == "locks"
)
SAFE = _yaml("safe")


def typed(value: Any) -> Any:
    """`value` with each leaf's type beside it (1 == 1.0 == True would hide a difference)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def same_or_none(text: str) -> bool:
    """True when the fast reader gave up, else whether it agrees with the safe loader."""
    fast = lockread.load(text)
    if fast is None:
        return False
    assert typed(fast) == typed(SAFE.load(text)), text
    return True


def test_there_are_locks_to_compare() -> None:
    assert len(LOCKS) >= 3


@pytest.mark.parametrize("path", LOCKS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_lock_of_the_tests_and_the_example(path: Path) -> None:
    text = path.read_text()
    fast = lockread.load(text)
    if fast is not None:
        assert typed(fast) == typed(SAFE.load(text))


def test_the_locks_vfbuild_writes_are_read_fast(tmp_path: Path) -> None:
    """What `LockBook` writes is in the reader's part of YAML (else it would not be fast)."""
    book = LockBook(tmp_path)
    recipe = {
        "format": 1, "step": "keyframe", "provider": "fal", "model": "fal-ai/flux/dev",
        "engine": {"fal": "1"}, "tier": None, "settings": {"width": 1920, "guidance": 3.5},
        "prompt": "35mm, close-up: a car's grille, 'chrome' #2", "negative": None, "seed": 7,
        "take": 1, "inputs": {"references": ["ab" * 32, "12" * 32]},
        # A segment's recipe holds booleans (`still: false`) and nulls.
        "flags": {"still": False, "loop": True, "none": None},
    }  # fmt: skip
    book.allocate_version("s010", "keyframe", "0" * 64)
    book._update("s010", ["outputs", "final"], {
        "version": 1, "key": "1e5" + "0" * 61, "sha256": "9" * 64,
        "file": "03_Generations/v3_final/s010_final_v001.mp4", "recipe": recipe,
    })  # fmt: skip
    text = book.path("s010").read_text()
    assert same_or_none(text), text
    assert "still: false" in text and "loop: true" in text
    assert LockBook(tmp_path).get("s010") == book.get("s010")


ALPHABET = "ab Z09_-.:#'\"{}[],&*!|>%@`~+eE\\é\t"
WORDS = ["", "yes", "no", "true", "False", "null", "~", "1", "01", "1.5", "1e5", "0x1F", "0o7",
         "-3", "+3", ".5", ".inf", "1_000", "2026-12-03", "12:30", "<<", "=", "a: b", "a #b",
         "-14.0", "-x", "--", "-.5", "-1e3", "- x", "-",
         "3" * 64, "1e5" + "0" * 61, "ab" * 32, "03_Generations/x.png", " pad", "pad "]  # fmt: skip


def random_scalar(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.choice(WORDS)
    if kind == 1:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(12)))
    if kind == 2:
        return rng.randrange(-5000, 5000)
    if kind == 3:
        return rng.choice([0.5, -2.25, 1e20, 3.0, 1e-7])
    if kind == 4:
        return rng.choice([None, True, False])
    if kind == 5:
        return rng.choice(WORDS) + rng.choice(WORDS)
    return "close-up, the driver, " + rng.choice(WORDS)


def random_data(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.3:
        return random_scalar(rng)
    if rng.random() < 0.25:
        # Lists of scalars and of mappings (a film lock's shots, a subtitle lock's cues), and
        # the odd list in a list, which the fast reader leaves to ruamel.
        return [random_data(rng, depth + 1) if rng.random() < 0.4 else random_scalar(rng)
                for _ in range(rng.randrange(4))]  # fmt: skip
    keys = [rng.choice(["schema", "shot", "picks", "x.y", "a-b", "_k", "1", "true", "0" * 64,
                        "1e5", "ab" * 32, "k" + str(rng.randrange(99))])
            for _ in range(rng.randrange(5))]  # fmt: skip
    return {k: random_data(rng, depth + 1) for k in keys}


def dumped(data: Any) -> str:
    buf = io.StringIO()
    _yaml("rt").dump(data, buf)
    return buf.getvalue()


def test_random_data_dumped_by_the_round_trip() -> None:
    rng = random.Random(20)
    answered = 0
    for _ in range(600):
        data = {"schema": 1, "body": random_data(rng)}
        text = dumped(data)
        if same_or_none(text):
            answered += 1
            assert typed(lockread.load(text)) == typed(data)
    assert answered > 100  # most of them are in the reader's part


def test_random_edits_of_lock_texts() -> None:
    rng = random.Random(21)
    texts = [p.read_text() for p in LOCKS] + [dumped({"a": {"b": [1, "x"], "c": "d"}})]
    # Indented as a whole, as a shot item cut from shots.yaml's list is (`spec.chunks`).
    texts += ["  " + t.replace("\n", "\n  ") for t in texts[-3:]]
    pieces = ["\n", " ", "  ", "- ", ": ", ":", "#", "'", '"', "{", "}", "[]", "{}", "&a ",
              "*a", "!!str ", "---\n", "...\n", "\t", "%YAML 1.1\n", "1", "e", "x: 1\n",
              "true"]  # fmt: skip
    for _ in range(1200):
        text = rng.choice(texts)
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(text) + 1)
            if rng.random() < 0.5:
                text = text[:at] + rng.choice(pieces) + text[at:]
            else:
                text = text[:at] + text[at + rng.randrange(1, 8) :]
        fast = lockread.load(text)
        if fast is None:
            continue
        try:
            safe = SAFE.load(text)
        except Exception as e:  # noqa: BLE001 - any refusal the fast reader missed
            raise AssertionError(f"safe refuses what the fast reader read: {e}\n{text}") from None
        assert typed(fast) == typed(safe), text


@pytest.mark.parametrize(
    "text",
    [
        "shots:\n- id: s010\n  take: 1\n- id: s020\n  take: 2\nfilm: x\n",
        "cues:\n  - start: 1.5\n    text: 'Hi, there'\n  - start: 2.0\n    text: 'Bye'\n",
        "a:\n- k: 1\n  l:\n  - 1\n  - 2\n- 3\n",
        "a:\n-   k: 1\n    j: 2\n",
        "a:\n- k: 1\n   j: 2\n",  # a key out of line: the loader's error, not ours
        "a:\n- k: 1\n j: 2\n",
        "a:\n- - 1\n  - 2\n- - - 3\n    - x\n",
        "a:\n- - 1\n - 2\n",
        "a:\n- -\n",
        "  - id: s010\n    prompt: a car, at night\n    takes: 2\n",
        "  - id: s010\n   prompt: x\n",
        "  a: 1\n b: 2\n",
        "a:\n- k:\n    m: 1\n  n: 2\n",
    ],
)
def test_lists_of_mappings(text: str) -> None:
    fast = lockread.load(text)
    if text.startswith(("shots:", "cues:", "  - id: s010\n    prompt")):
        assert fast is not None, text  # laid out as vfbuild writes: read fast, not by ruamel
    try:
        safe = SAFE.load(text)
    except Exception:  # noqa: BLE001 - what the loader refuses, the fast reader must too
        assert fast is None, text
        return
    assert fast is None or typed(fast) == typed(safe), text
