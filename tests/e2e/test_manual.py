"""Takes made by hand: the build writes requests to inbox/, ingests the files dropped there on
the next build, and records their declared cost."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from ruamel.yaml import YAML

from tests.e2e.film import layout_files, make_film, share_s010s_keyframe, vf
from vfbuild.store.ledger import Ledger


def test_manual_keyframes_are_requested_then_ingested_as_takes(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    doc.insert(1, "providers", {"keyframe": {"use": "manual", "cost_per_take": 0.5}})
    yaml.dump(doc, film / "shots.yaml")

    plan = vf(film, "plan", "--tier", "draft").stdout
    assert "6 take(s) to make, estimated cost $3.00" in plan
    first = vf(film, "build", "--tier", "draft")
    assert first.returncode == 0 and "waiting for your files" in first.stdout
    inbox = film / "inbox" / "s010" / "keyframe"
    request = (inbox / "s010_keyframe_v001_t01.request.md").read_text()
    assert "waiting for you" in request and "yellow car" in request
    assert "references/car.png" in request
    assert layout_files(film) == {}  # nothing made, nothing pretended

    # The user drops two of the six; a JPEG is taken too (stored as PNG).
    Image.new("RGB", (256, 144), (200, 40, 40)).save(inbox / "s010_keyframe_v001_t01.jpg")
    Image.new("RGB", (256, 144), (40, 200, 40)).save(inbox / "s010_keyframe_v001_t02.png")
    (film / "inbox" / "s020" / "keyframe" / "s020_keyframe_v001_t01.png").write_text("not a png")
    second = vf(film, "build", "--tier", "draft", check=False)
    assert second.returncode != 0 and "s020_keyframe_v001_t01.png" in second.stderr
    assert "Traceback" not in second.stderr
    taken = sorted(p.name for p in (film / "03_Generations" / "v1_exploration").glob("*.png"))
    assert taken == ["s010_keyframe_v001_t01.png", "s010_keyframe_v001_t02.png"]
    assert "DONE" in (inbox / "s010_keyframe_v001_t01.request.md").read_text()
    assert (inbox / "s010_keyframe_v001_t01.jpg").exists()  # the user's file is kept
    rows = Ledger(film).rows()
    assert [(r.shot, r.take, r.provider, r.cost) for r in rows] == [
        ("s010", 1, "manual", "0.5000"),
        ("s010", 2, "manual", "0.5000"),
    ]
    # Picking a hand-made take works like any other, and the draft goes on from it.
    vf(film, "pick", "s010", "keyframe", "2")
    third = vf(film, "build", "--tier", "draft", "s010")
    assert "made s010 draft t01 (local" in third.stdout
    assert len(Ledger(film).rows()) == 2


def test_two_shots_with_one_manual_recipe_are_asked_for_and_take_one_file(
    tmp_path: Path,
) -> None:
    """s020's keyframe is written as s010's: the same recipes. Side by side (-j 4), neither
    shot's request is an error; the file dropped for s010 serves s020 too."""
    film = make_film(tmp_path / "film")
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    doc.insert(1, "providers", {"keyframe": {"use": "manual", "cost_per_take": 0.5}})
    yaml.dump(doc, film / "shots.yaml")
    share_s010s_keyframe(film)

    first = vf(film, "build", "--tier", "draft", "-j", "4")
    assert "waiting for your files" in first.stdout and "error" not in first.stderr
    inbox = film / "inbox" / "s010" / "keyframe"
    for take, color in (("t01", (200, 40, 40)), ("t02", (40, 200, 40))):
        Image.new("RGB", (256, 144), color).save(inbox / f"s010_keyframe_v001_{take}.png")
    # -j 1: s010's request, where the files are, is read first (side by side, s020's may be
    # read first and wait for one more build).
    vf(film, "build", "--tier", "draft", "-j", "1", "s010", "s020")
    gen = film / "03_Generations" / "v1_exploration"
    for take in ("t01", "t02"):
        ours, theirs = (gen / f"{s}_keyframe_v001_{take}.png" for s in ("s020", "s010"))
        assert ours.read_bytes() == theirs.read_bytes()
    assert len(Ledger(film).rows()) == 2  # two files, declared once each


def test_a_dropped_file_not_as_asked_is_refused_until_it_is_replaced(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    yaml = YAML()
    doc = yaml.load(film / "shots.yaml")
    doc.insert(1, "providers", {"keyframe": {"use": "manual", "cost_per_take": 0.5}})
    yaml.dump(doc, film / "shots.yaml")
    vf(film, "build", "--tier", "draft", "s010")
    inbox = film / "inbox" / "s010" / "keyframe"
    Image.new("RGB", (144, 144), (200, 40, 40)).save(inbox / "s010_keyframe_v001_t01.png")
    Image.new("RGB", (512, 288), (40, 200, 40)).save(inbox / "s010_keyframe_v001_t02.png")

    run = vf(film, "build", "--tier", "draft", "s010", check=False)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert (
        "error: s010 keyframe t01: manual's result was refused: expected the aspect of 256x144 "
        "(1.778), got 144x144 (1.000)"
    ) in run.stderr
    assert "save it over inbox/s010/keyframe/s010_keyframe_v001_t01.*" in run.stderr
    # The other take (twice the tier's size, its aspect) is taken; the refused one is not.
    assert sorted(layout_files(film)) == [
        "03_Generations/v1_exploration/s010_keyframe_v001_t02.png"
    ]
    assert [r.take for r in Ledger(film).rows()] == [2]

    Image.new("RGB", (256, 144), (200, 40, 40)).save(inbox / "s010_keyframe_v001_t01.png")
    vf(film, "build", "--tier", "draft", "s010")
    assert len(layout_files(film)) == 2
    assert [r.take for r in Ledger(film).rows()] == [2, 1]
