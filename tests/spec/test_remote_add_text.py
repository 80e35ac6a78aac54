"""`vf remote add` changes shots.yaml by the lines it adds and no others: a film whose lists
are written in both styles (`- ` at the key's column and indented under it), with 4-space
mappings, comments and a `remotes:` already there or not, keeps every line as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.e2e.film import make_film, vf
from vfbuild.errors import UsageError
from vfbuild.spec.remoteadd import add_remote

MIXED = """\
# yaml-language-server: $schema=../schema/shots.schema.json
film:
    title: Mixed Lists   # four-space mappings
    fps: 24
    tiers: {draft: 128x72, final: 256x144}
characters:
    car: {reference: references/car.png}
shots:
- id: s010                # a list at its key's column
  duration: 1
  keyframe:
      shot: wide
      references:
          - car           # a list indented under its key
      takes: 2
- id: s020
  duration: 1
  keyframe: {shot: close-up, takes: 1}

# the end
"""


def _diff(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`, asserting it removes or changes none."""
    old, new = before.splitlines(), after.splitlines()
    added: list[str] = []
    i = 0
    for line in new:
        if i < len(old) and line == old[i]:
            i += 1
        else:
            added.append(line)
    assert i == len(old), f"lines changed or lost:\n{after}"
    return added


def test_a_new_remotes_block_is_the_only_change(tmp_path: Path) -> None:
    f = tmp_path / "shots.yaml"
    f.write_text(MIXED)
    assert add_remote(f, "team", "s3://bucket/films/mixed")
    added = _diff(MIXED, f.read_text())
    assert added == ["remotes:", "    team:", "        url: s3://bucket/films/mixed"]
    doc = YAML(typ="safe").load(f.read_text())
    assert doc["remotes"] == {"team": {"url": "s3://bucket/films/mixed"}}
    assert doc["shots"][0]["keyframe"]["references"] == ["car"]


def test_an_entry_joins_an_existing_remotes_block_at_its_indent(tmp_path: Path) -> None:
    f = tmp_path / "shots.yaml"
    text = MIXED.replace(
        "shots:\n", "remotes:\n  nas:   # the studio's NAS\n    url: file:///mnt/nas/x\nshots:\n"
    )
    f.write_text(text)
    assert add_remote(f, "r2", "s3://cache/film", lease=30)
    added = _diff(text, f.read_text())
    assert added == ["  r2:", "    url: s3://cache/film", "    lease: 30.0"]
    after = f.read_text()
    assert after.index("  r2:") < after.index("shots:")  # inside its block
    assert not add_remote(f, "r2", "s3://cache/film", lease=30)  # there already, alike
    with pytest.raises(UsageError, match="already has a remote named 'r2'"):
        add_remote(f, "r2", "s3://other/film")


def test_the_tiny_film_through_the_cli_keeps_its_lines(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    before = (film / "shots.yaml").read_text()
    vf(film, "remote", "add", "team", "file:///mnt/nas/cache")
    added = _diff(before, (film / "shots.yaml").read_text())
    assert added == ["remotes:", "  team:", "    url: file:///mnt/nas/cache"]
    vf(film, "check")
