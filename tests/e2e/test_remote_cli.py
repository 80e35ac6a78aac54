"""`vf remote add`, `vf push --all` and `vf pull` as a user runs them on a file:// remote:
shots.yaml keeps its comments, a bad URL is a clear error, a second push resumes (uploads
nothing), piped progress is plain lines, and a pull fetches what the locks pin, verified."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import copy_film
from tests.e2e.film import make_film, vf
from vfbuild.store import vfdir
from vfbuild.store.index import RecipeIndex


def _keys(index: RecipeIndex) -> list[str]:
    return [p.stem for p in index.root.glob("??/*.json")]


def test_remote_add_keeps_shots_yaml_and_refuses_a_bad_url(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    text = (film / "shots.yaml").read_text()
    (film / "shots.yaml").write_text("# the team's film\n" + text)
    bad = vf(film, "remote", "add", "team", "not a url", check=False)
    assert (
        bad.returncode == 2
        and "is not a remote URL" in bad.stderr
        and "Traceback" not in bad.stderr
    )
    assert (film / "shots.yaml").read_text() == "# the team's film\n" + text  # untouched
    vf(film, "remote", "add", "team", f"file://{tmp_path}/nas")
    after = (film / "shots.yaml").read_text()
    assert after.startswith("# the team's film\n")  # comments kept
    assert after.endswith(f"remotes:\n  team:\n    url: file://{tmp_path}/nas\n")
    vf(film, "check")
    again = vf(film, "remote", "add", "team", f"file://{tmp_path}/nas")
    assert "already has" in again.stdout
    assert vf(film, "remote").stdout.startswith(f"team\tfile://{tmp_path}/nas")


def test_push_all_resumes_and_pull_fetches_what_the_locks_pin(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    vf(film, "remote", "add", "nas", f"file://{tmp_path}/nas")
    vf(film, "build", "--tier", "draft")
    vf(film, "pick", "s010", "keyframe", "1")
    first = vf(film, "push", "--all")
    # every take the recipe index records (a timeline the edit keeps is not a take)
    index = RecipeIndex(film / vfdir.RECIPES)
    stored = {a.sha256 for k in _keys(index) if (a := index.lookup(k)) is not None}
    on_remote = {p.name for p in (tmp_path / "nas/cas").iterdir()}
    assert on_remote == stored and len(stored) > 3, first.stdout
    assert f"{len(stored)} uploaded" in first.stdout
    assert "  pushed " in first.stderr and "\x1b[" not in first.stderr  # plain when piped
    again = vf(film, "push", "--all")
    assert "0 uploaded" in again.stdout and f"{len(stored)} already there" in again.stdout
    clone = copy_film(film, tmp_path / "clone")
    pulled = vf(clone, "pull")
    # what the locks pin: the pick, and the edit with its segments and subtitles
    pins = sum(1 for f in (film / "locks").glob("*.yaml") for line in f.read_text().splitlines()
               if line.strip().startswith("sha256:"))  # fmt: skip
    assert f"pulled {pins} take(s)" in pulled.stdout and "0 already there" in pulled.stdout
    pick = next((film / "03_Generations/v1_exploration").glob("s010_keyframe_v001_t01*"))
    sha = pick.name and __import__("vfbuild.fsutil", fromlist=["x"]).sha256_file(pick)
    assert (clone / ".vf/objects" / sha[:2] / sha).read_bytes() == pick.read_bytes()
    shutil.rmtree(tmp_path / "nas" / "cas")
    gone = vf(copy_film(film, tmp_path / "clone2"), "pull", check=False)
    assert gone.returncode == 1 and "s010 keyframe: not on nas" in gone.stderr
