from __future__ import annotations

import os
from pathlib import Path

import pytest

from vfbuild.errors import LockError, StoreError
from vfbuild.fsutil import sha256_bytes
from vfbuild.recipe import make_recipe
from vfbuild.store import layout
from vfbuild.store.hashcache import HashCache
from vfbuild.store.index import RecipeIndex
from vfbuild.store.locks import LockBook, Output, Pick
from vfbuild.store.objects import ObjectStore
from vfbuild.store.promptlog import PromptLog


def _tmp_file(d: Path, data: bytes) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / ".vf-tmp-x"
    p.write_bytes(data)
    return p


def test_put_is_content_addressed_and_read_only(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    art = store.put(_tmp_file(tmp_path / "tmp", b"take one"), ".png")
    assert art.sha256 == sha256_bytes(b"take one") and art.size == 8 and art.ext == ".png"
    obj = store.path(art.sha256)
    assert obj.read_bytes() == b"take one"
    assert not os.stat(obj).st_mode & 0o222  # no write bits
    # the same bytes again: one object, the temp file is consumed
    src = _tmp_file(tmp_path / "tmp", b"take one")
    assert store.put(src, ".png") == art and not src.exists()
    assert store.verify(art.sha256)


def test_put_refuses_unexpected_bytes(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    src = _tmp_file(tmp_path / "tmp", b"other")
    with pytest.raises(StoreError):
        store.put(src, ".mp4", expected_sha256="0" * 64)
    assert not src.exists() and not (tmp_path / "objects").exists()


def test_recipe_index_round_trip(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    index = RecipeIndex(tmp_path / "recipes")
    art = store.put(_tmp_file(tmp_path / "tmp", b"x"), ".mp4")
    assert index.lookup("ab" * 32) is None
    index.record("ab" * 32, art, {"step": "draft"})
    assert index.lookup("ab" * 32) == art
    assert index.recipe_for_sha(art.sha256) == ("ab" * 32, {"step": "draft"})


def test_materialize_hardlinks_and_never_overwrites(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    a = store.put(_tmp_file(tmp_path / "tmp", b"a"), ".png")
    b = store.put(_tmp_file(tmp_path / "tmp", b"b"), ".png")
    dest = tmp_path / layout.take_path("s010", "keyframe", 1, 2, ".png")
    assert dest.name == "s010_keyframe_v001_t02.png"
    assert layout.materialize(store.path(a.sha256), dest) is True
    assert dest.read_bytes() == b"a"
    assert layout.materialize(store.path(a.sha256), dest) is False  # already there
    with pytest.raises(StoreError, match="never overwrites"):
        layout.materialize(store.path(b.sha256), dest)
    assert dest.read_bytes() == b"a"


def test_layout_names() -> None:
    assert (
        layout.output_path_in(layout.FINAL, "s010", "final", 3, ".mp4")
        == "03_Generations/v3_final/s010_final_v003.mp4"
    )
    assert (
        layout.output_path_in(layout.UPSCALED, "s010", "lipsync", 1, ".mp4")
        == "05_Upscaled/s010_lipsync_v001.mp4"
    )
    assert layout.edit_path("Winter to Spring!", 2) == "06_Edit/Winter_to_Spring_v002.mp4"


def _recipe(step: str, take: int = 1) -> dict[str, object]:
    # A lock refuses a recipe that lacks what every recipe has (a cut lock).
    return make_recipe(
        step=step,
        provider="local",
        model="m",
        engine={},
        tier="final",
        settings={},
        inputs={},
        take=take,
    )


def _pick(n: int = 1) -> Pick:
    return Pick(
        version=1,
        take=n,
        key="e" * 64,
        sha256="f" * 64,
        file="f.png",
        recipe=_recipe("keyframe", n),
    )


def test_locks_keep_user_comments_and_allocate_versions(tmp_path: Path) -> None:
    book = LockBook(tmp_path)
    assert book.allocate_version("s010", "draft", "a" * 64) == 1
    assert book.allocate_version("s010", "draft", "b" * 64) == 2
    assert book.allocate_version("s010", "draft", "a" * 64) == 1  # a recipe keeps its number
    book.set_pick("s010", "keyframe", _pick(2))
    path = tmp_path / "locks" / "s010.yaml"
    text = path.read_text()
    assert text.startswith("# vfbuild lock for s010")
    path.write_text(text.replace("picks:", "# my note about this pick\npicks:"))
    book2 = LockBook(tmp_path)
    assert book2.pick("s010", "keyframe") == _pick(2)
    book2.set_output(
        "s010",
        "final",
        Output(version=1, key="c" * 64, sha256="d" * 64, file="x.mp4", recipe=_recipe("final")),
    )
    text = path.read_text()
    assert "# my note about this pick" in text
    assert LockBook(tmp_path).version_of("s010", "draft", "b" * 64) == 2


def test_locks_written_by_a_build_are_cached_and_a_later_edit_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = LockBook(tmp_path)
    book.allocate_version("s010", "draft", "a" * 64)
    book.set_pick("s010", "keyframe", _pick(2))
    book.save_cache()
    parsed: list[Path] = []
    real_parse = LockBook._parse
    monkeypatch.setattr(LockBook, "_parse", lambda self, p: parsed.append(p) or real_parse(self, p))
    again = LockBook(tmp_path)
    assert again.pick("s010", "keyframe") == _pick(2)
    assert again.version_of("s010", "draft", "a" * 64) == 1
    assert parsed == []  # from the cache: no YAML read
    path = tmp_path / "locks" / "s010.yaml"
    path.write_text(path.read_text().replace("take: 2", "take: 3"))
    assert LockBook(tmp_path).pick("s010", "keyframe").take == 3  # an edit is never hidden
    assert parsed == [path]


def test_broken_lock_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "s010.yaml").write_text("schema: 1\nshot: s010\npicks: [\n")
    with pytest.raises(LockError, match=r"s010.yaml:\d+:\d+"):
        LockBook(tmp_path)


def test_prompt_log_appends_each_key_once(tmp_path: Path) -> None:
    log = PromptLog(tmp_path / "prompts.txt")
    kw = dict(
        shot="s010",
        step="keyframe",
        version=1,
        take=1,
        seed=5,
        provider="local",
        model="previz-still",
        prompt="aerial wide shot",
        negative="blur",
    )
    log.append(key="e" * 64, **kw)
    log.append(key="e" * 64, **kw)
    assert PromptLog(tmp_path / "prompts.txt")._known() == {"e" * 16}
    text = (tmp_path / "prompts.txt").read_text()
    assert text.count("aerial wide shot") == 1 and "s010 keyframe v001 t01 seed=5" in text


def test_hash_cache_rehashes_only_changed_files(tmp_path: Path) -> None:
    f = tmp_path / "ref.png"
    f.write_bytes(b"one")
    cache = HashCache(tmp_path / "cache.json")
    assert cache.sha256(f) == sha256_bytes(b"one")
    cache.save()
    f.write_bytes(b"two!")
    assert HashCache(tmp_path / "cache.json").sha256(f) == sha256_bytes(b"two!")
