"""A new version is added to a lock without a YAML round trip when the lock is laid out as
vfbuild writes it, with the same bytes the round trip would write; anything else takes the
round trip, which keeps the user's comments and layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbuild.store.locks import LockBook


def _allocate_all(root: Path, round_trip_only: bool, mp: pytest.MonkeyPatch) -> list[str]:
    book = LockBook(root)
    if round_trip_only:
        mp.setattr(book, "_add_version", lambda *a: False)
    texts = []
    for step, key in [("keyframe", "a"), ("keyframe", "b"), ("draft", "c"), ("keyframe", "d")]:
        book.allocate_version("s010", step, key * 64)
        texts.append(book.path("s010").read_text())
    return texts


def test_the_quick_way_writes_what_the_round_trip_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    real = LockBook._add_version

    def spy(self, *a):  # type: ignore[no-untyped-def]
        calls.append(real(self, *a))
        return calls[-1]

    monkeypatch.setattr(LockBook, "_add_version", spy)
    quick = _allocate_all(tmp_path / "a", False, monkeypatch)
    slow = _allocate_all(tmp_path / "b", True, monkeypatch)
    assert quick == slow
    assert calls == [False, True, True, True]  # a new lock file takes the round trip
    again = LockBook(tmp_path / "a")
    assert again.version_of("s010", "keyframe", "d" * 64) == 3
    assert again.version_of("s010", "draft", "c" * 64) == 1


@pytest.mark.parametrize(
    "layout",
    [
        "versions: {keyframe: {%s: 1}}\n" % ("a" * 64),  # flow style
        "versions:\n  keyframe:\n\n    %s: 1\n" % ("a" * 64),  # a blank line inside
        "versions:\n    keyframe:\n        %s: 1\n" % ("a" * 64),  # four-space indents
    ],
)
def test_a_lock_laid_out_by_hand_keeps_its_comments(tmp_path: Path, layout: str) -> None:
    (tmp_path / "locks").mkdir()
    text = "# my notes on this shot\nschema: 1\nshot: s010\n" + layout + "# the end\n"
    (tmp_path / "locks" / "s010.yaml").write_text(text)
    book = LockBook(tmp_path)
    assert book.allocate_version("s010", "keyframe", "b" * 64) == 2
    after = book.path("s010").read_text()
    assert "# my notes on this shot" in after and "# the end" in after
    fresh = LockBook(tmp_path)
    assert fresh.version_of("s010", "keyframe", "a" * 64) == 1
    assert fresh.version_of("s010", "keyframe", "b" * 64) == 2
