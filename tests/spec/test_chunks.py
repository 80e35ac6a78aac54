"""shots.yaml parsed shot by shot: the same data as a whole parse, only changed shots parsed
again, and anything unusual left to the whole parse (which places errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLE
from vfbuild.errors import SpecError
from vfbuild.spec import chunks
from vfbuild.spec import load as load_module
from vfbuild.spec.load import _parse_fast, _parse_quiet, load_film, load_film_cached

from . import mutate, write_film

TRICKY = """\
# a film
film: {title: Tricky, fps: 24}
shots:
  # the first shot
  - id: s010
    keyframe:
      prompt: |
        a block scalar
        - that looks like an item

        # and a comment
      takes: 2

  - id: s020   # a comment after
    keyframe: {prompt: "two
      lines", takes: 1}
# a comment at column 0 between items
  - id: s030
    motion: {prompt: 'it''s quoted'}
providers:
  keyframe: {use: local}
"""


def whole(text: str) -> object:
    return _parse_fast(text, Path("shots.yaml"))


@pytest.mark.parametrize(
    "text",
    [
        TRICKY,
        TRICKY.replace("\n  ", "\n"),  # items at column 0
        TRICKY.replace("\n", "\r\n"),  # Windows line ends
        (EXAMPLE / "shots.yaml").read_text(),
    ],
    ids=["tricky", "column-0", "crlf", "example"],
)
def test_the_same_data_as_a_whole_parse(tmp_path: Path, text: str) -> None:
    assert chunks.parse(text, tmp_path, _parse_quiet) == whole(text)
    assert chunks.parse(text, tmp_path, _parse_quiet) == whole(text)  # from the cache


def test_only_changed_shots_are_parsed_again(tmp_path: Path) -> None:
    parsed: list[str] = []

    def counting(text: str) -> object:
        parsed.append(text)
        return _parse_quiet(text)

    chunks.parse(TRICKY, tmp_path, counting)
    assert len(parsed) == 4  # the rest of the film, and three shots
    parsed.clear()
    changed = TRICKY.replace("it''s quoted", "it''s changed")
    assert chunks.parse(changed, tmp_path, counting) == whole(changed)
    assert len(parsed) == 2 and "it''s changed" in parsed[1]


@pytest.mark.parametrize(
    "text",
    [
        "film: {title: T}\nshots: [{id: s010}]\n",  # flow style
        "film: {title: T}\nshots:\n\t- id: s010\n",  # a tab
        "%YAML 1.2\n---\nfilm: {title: T}\nshots:\n  - id: s010\n",  # a directive
        "film: {title: T}\nshots:\n  - &a {id: s010}\n  - *a\n",  # an alias to another shot
        "film: {title: T}\nshots:\n  - id: s010\nshots:\n  - id: s020\n",  # two lists
        "film: {title: T}\nshots:\n  - id: s010\n  oops: 1\n",  # not a list item
    ],
    ids=["flow", "tab", "directive", "alias", "twice", "odd"],
)
def test_anything_unusual_is_left_to_the_whole_parse(tmp_path: Path, text: str) -> None:
    assert chunks.parse(text, tmp_path, _parse_quiet) is None


def test_a_film_cached_then_broken_in_one_shot_reports_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = write_film(tmp_path / "film")
    load_film_cached(root)
    assert (root / chunks.CACHE).is_file()
    (root / "shots.yaml").write_text(mutate("duration: 4", "duration: [4"))
    with pytest.raises(SpecError) as cached:
        load_film_cached(root)
    with pytest.raises(SpecError) as fresh:
        load_film(root)  # no cache at all
    assert [p.render() for p in cached.value.problems] == [p.render() for p in fresh.value.problems]
    assert cached.value.problems[0].render().startswith("film/shots.yaml:")


def test_a_changed_film_loads_through_the_shot_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_film(tmp_path)
    load_film_cached(root)
    (root / "shots.yaml").write_text(mutate("title: Winter to Spring", "title: Spring"))

    def no_whole_parse(*args: object) -> None:
        raise AssertionError("the whole file was parsed")

    monkeypatch.setattr(load_module, "_parse_fast", no_whole_parse)
    assert load_film_cached(root).film.title == "Spring"


def _reference_split(text: str) -> tuple[str, list[str]] | None:
    """`chunks.split` as first written, line by line: the faster one must cut the same."""
    import re

    shots_key, item = re.compile(r"shots:[ ]*(#.*)?$"), re.compile(r"( *)- ")
    if "\t" in text:
        return None
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    if any(ln.startswith(("%", "---", "...")) for ln in lines):
        return None
    keys = [i for i, ln in enumerate(lines) if shots_key.match(ln.rstrip("\r\n"))]
    if len(keys) != 1:
        return None
    first = keys[0] + 1
    while first < len(lines) and chunks._blank(lines[first]):
        first += 1
    m = item.match(lines[first]) if first < len(lines) else None
    if m is None:
        return None
    indent = len(m.group(1))
    starts: list[int] = []
    end = len(lines)
    for i in range(first, len(lines)):
        line = lines[i]
        if chunks._blank(line):
            continue
        depth = len(line) - len(line.lstrip(" "))
        if depth > indent:
            continue
        if depth == indent and line.startswith("- ", depth):
            starts.append(i)
            continue
        end = i
        break
    items = ["".join(lines[a:b]) for a, b in zip(starts, [*starts[1:], end], strict=True)]
    return "".join(lines[:first]) + "".join(lines[end:]), items


def test_the_split_cuts_as_the_line_by_line_one_did() -> None:
    import random

    pieces = [
        "shots:", "shots: # the list", "shots:  ", "shots:\r", " shots:", "shotsx:", "film: {}",
        "providers:", "  keyframe: {use: local}", "  - id: s010", "  - id: s020 # c", "- id: x",
        "    motion: {takes: 2}", "      prompt: |", "        - not an item", "", "   ", "\r",
        "# c", "  # c", "    # c", " - odd", "  -", "  -x", "   - deeper", "x: ...", "  - a\r",
        "\x0c", "  \x0c",
    ]  # fmt: skip
    rng = random.Random(7)
    cut = 0
    for _ in range(5000):
        lines = rng.choices(pieces, k=rng.randint(1, 30))
        if rng.random() < 0.1:
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(["%YAML 1.2", "---", "..."]))
        if rng.random() < 0.8:
            at = rng.randrange(len(lines) + 1)
            lines[at:at] = ["shots:", *rng.choices(["  - id: a", "  - id: b", "    x: 1"], k=4)]
        text = "\n".join(lines) + ("\n" if rng.random() < 0.7 else "")
        expected = _reference_split(text)
        assert chunks.split(text) == expected, text
        cut += expected is not None
    assert cut > 400, cut  # many texts are cut into items, not only left to the whole parse
    example = (EXAMPLE / "shots.yaml").read_text()
    assert chunks.split(example) == _reference_split(example) is not None
