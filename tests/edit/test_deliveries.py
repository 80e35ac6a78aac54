"""Deliveries, subtitles and the cover: built from the edit, versioned in 06_Edit, each made
again only when its own settings change."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest
from PIL import Image

import vfbuild
from tests.edit.cut import make_cut_film

EXTRA = """\
  deliveries:
    master: 128x72
    vertical: 72x128
    social: {size: 128x72, bitrate: 1M, grain: 0.5, contrast: 1.05, subtitles: true}
  cover: {shot: s050, title: Cut Test}
"""


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cut_film(tmp_path_factory.mktemp("deliver") / "film", extra=EXTRA)


def _edit(film: Path, old: str, new: str) -> tuple[str, ...]:
    shots = film / "shots.yaml"
    text = shots.read_text()
    assert old in text
    shots.write_text(text.replace(old, new))
    report = vfbuild.open(film).build()
    assert report.ok, [e.render() for e in report.errors]
    return report.made


def test_every_delivery_subtitle_and_cover_is_built_and_versioned(delivered: Path) -> None:
    out = delivered / "06_Edit"
    for name, size in (("master", (128, 72)), ("vertical", (72, 128)), ("social", (128, 72))):
        with av.open(str(out / f"Cut_Test_{name}_v001.mp4")) as c:
            v = c.streams.video[0]
            assert (v.width, v.height) == size
            assert c.streams.audio  # the edit's sound, copied
    edit = sorted(out.glob("Cut_Test_v[0-9]*.mp4"))[-1]
    srt = edit.with_suffix(".srt").read_text()
    assert "Spring is coming." in srt
    # s050 starts after 0.5 + 0.75 + 0.5 + 1.0 s.
    assert "00:00:02,750 --> 00:00:03,250" in srt
    assert edit.with_suffix(".vtt").read_text().startswith("WEBVTT\n\n00:00:02.750 --> ")
    with Image.open(out / "Cut_Test_cover_v001.png") as im:
        assert im.size == (128, 72)
    with Image.open(out / "Cut_Test_cover_9x16_v001.png") as im:
        assert im.size == (40, 72)
    assert vfbuild.open(delivered).build().made == ()


def test_one_changed_preset_makes_that_delivery_only(delivered: Path, tmp_path: Path) -> None:
    film = tmp_path / "film"
    shutil.copytree(delivered, film)
    assert _edit(film, "bitrate: 1M", "bitrate: 2M") == ("_delivery-social delivery",)
    assert (film / "06_Edit/Cut_Test_social_v002.mp4").is_file()
    assert (film / "06_Edit/Cut_Test_social_v001.mp4").is_file()  # never overwritten
    made = _edit(film, "  - id: s020\n", "  - id: s020\n    focus: [0.1, 0.5]\n")
    assert made == ("_delivery-vertical delivery",)  # only the crop looks at the focus
    made = _edit(film, "title: Cut Test}", "title: Another Title}")
    assert set(made) == {"_cover cover", "_cover-9x16 cover"}


def test_a_new_line_makes_new_subtitles_and_the_burned_in_delivery(
    delivered: Path, tmp_path: Path
) -> None:
    film = tmp_path / "film"
    shutil.copytree(delivered, film)
    made = _edit(film, "Spring is coming.", "Winter is over.")
    # The join again (its picture and sound are the same bytes), its subtitles, and the one
    # delivery that burns the lines in.
    assert set(made) == {
        "edit",
        "_subtitles-srt subtitles",
        "_subtitles-vtt subtitles",
        "_delivery-social delivery",
    }
    edit = sorted((film / "06_Edit").glob("Cut_Test_v[0-9]*.mp4"))[-1]
    assert "Winter is over." in edit.with_suffix(".srt").read_text()
