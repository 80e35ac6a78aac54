"""Each edit version's timeline (`06_Edit/<film>_vNNN.otio`) and `vf export`: every format is
read back with OpenTimelineIO and compared with what the edit holds (clips, order, durations,
source ranges, markers, and the metadata the format can carry)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest

import vfbuild
from tests.e2e.film import make_film, vf
from tests.finish.film import build_to_final
from vfbuild.finish import export as exporter
from vfbuild.finish.cut import Cut, CutClip, Placement, cut_of
from vfbuild.finish.timeline import START_HOURS, timeline_of

FPS = 24


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The e2e tiny film (three shots, s030 with dialogue): v001 is the rough cut of the
    picked keyframes (stills), v002 of the picked drafts, v003 the finished edit."""
    root = make_film(tmp_path_factory.mktemp("timeline") / "film")
    build_to_final(root)
    return root


def _clips(tl: Any, kind: str = otio.schema.TrackKind.Video) -> list[Any]:
    [track] = [t for t in tl.tracks if t.kind == kind][:1] or [None]
    return [] if track is None else [c for c in track if isinstance(c, otio.schema.Clip)]


def _frames(c: Any) -> tuple[int, int]:
    r = c.source_range
    return round(r.start_time.rescaled_to(FPS).value), round(r.duration.rescaled_to(FPS).value)


def test_every_edit_version_has_its_timeline_with_files_metadata_tracks_and_markers(
    film: Path,
) -> None:
    edits = sorted(p.name for p in (film / "06_Edit").glob("*.mp4"))
    assert edits == ["Tiny_Film_v001.mp4", "Tiny_Film_v002.mp4", "Tiny_Film_v003.mp4"]
    for name in edits:
        assert (film / "06_Edit" / name).with_suffix(".otio").is_file(), name
    tl = otio.adapters.read_from_file(str(film / "06_Edit" / "Tiny_Film_v003.otio"))
    assert tl.global_start_time == otio.opentime.RationalTime(START_HOURS * 3600 * FPS, FPS)
    assert [t.name for t in tl.tracks] == ["Video", "Dialogue"]
    clips = _clips(tl)
    assert [c.name for c in clips] == [
        "s010_upscale_v001",
        "s020_upscale_v001",
        "s030_lipsync_v001",
    ]
    assert [_frames(c) for c in clips] == [(0, 24), (0, 36), (0, 24)]  # 1 s, 1.5 s, 1 s
    assert [[m.name for m in c.markers] for c in clips] == [["s010"], ["s020"], ["s030"]]
    project = vfbuild.open(film).project
    for c in clips:
        meta = c.metadata["vfbuild"]
        url = c.media_reference.target_url
        assert not url.startswith(("/", "file:")), url  # relative: the film can move
        target = (film / "06_Edit" / url).resolve()
        assert target == (film / meta["file"]).resolve() and target.is_file()
        lock = project.locks.output(meta["shot"], meta["step"])
        assert lock is not None
        assert (meta["version"], meta["recipe_key"], meta["sha256"]) == (
            lock.version,
            lock.key,
            lock.sha256,
        )
        assert (meta["provider"], meta["model"]) == (lock.recipe["provider"], lock.recipe["model"])
        assert meta["cost"] == 0.0 and meta["finished"] is True
    [line] = _clips(tl, otio.schema.TrackKind.Audio)
    assert line.media_reference.target_url == "../04_Audio/line.wav"
    assert line.range_in_parent().start_time.value == 60  # s030 starts at 2.5 s
    assert line.metadata["vfbuild"]["shot"] == "s030"


def test_a_rough_cuts_timeline_holds_the_picked_takes_and_their_seeds(film: Path) -> None:
    tl = otio.adapters.read_from_file(str(film / "06_Edit" / "Tiny_Film_v001.otio"))
    clips = _clips(tl)
    assert [c.name for c in clips] == [f"s0{i}0_keyframe_v001_t01" for i in (1, 2, 3)]
    # v001 was cut before any pick (each shot's first keyframe take), and its timeline says
    # so: it was written when that version was made.
    metas = [c.metadata["vfbuild"] for c in clips]
    assert all(m["still"] and m["stage"] == "unpicked keyframe" for m in metas)
    assert [(m["take"], m["seed"]) for m in metas] == [(1, 10), (1, 20), (1, 30)]
    assert metas[0]["file"] == "03_Generations/v1_exploration/s010_keyframe_v001_t01.png"
    tl2 = otio.adapters.read_from_file(str(film / "06_Edit" / "Tiny_Film_v002.otio"))
    drafts = [c.metadata["vfbuild"] for c in _clips(tl2)]
    assert [(m["step"], m["version"], m["take"]) for m in drafts] == [("draft", 1, 2)] * 3
    assert [m["seed"] for m in drafts] == [11, 21, 31]  # take 2: seed + 1


def test_the_timeline_works_on_another_machine(film: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(film, moved, ignore=shutil.ignore_patterns(".vf"))
    tl = otio.adapters.read_from_file(str(moved / "06_Edit" / "Tiny_Film_v003.otio"))
    for clip in tl.find_clips():
        assert (moved / "06_Edit" / clip.media_reference.target_url).is_file()


@pytest.mark.parametrize("version", [1, 3])
@pytest.mark.parametrize("fmt", list(exporter.FORMATS))
def test_every_export_reads_back_with_the_same_clips(
    film: Path, tmp_path: Path, fmt: str, version: int
) -> None:
    """Same clips in the same order, durations and source ranges as the version's own .otio
    (written when the version was made); the metadata each format carries; stills as clips of
    their image (v001 is a cut of stills)."""
    f = vfbuild.open(film)
    cut = cut_of(f.project, version)
    own = otio.adapters.read_from_file(str(film / f"{cut.stem}.otio"))
    metas = [c.metadata["vfbuild"] for c in _clips(own)]
    out = tmp_path / f"cut{exporter.FORMATS[fmt][1]}"
    result = f.export(fmt, version=version, out=out)
    assert result.file == out and out.is_file() and result.version == version
    kw = {"rate": FPS} if fmt == "edl" else {}
    back = otio.adapters.read_from_file(str(out), exporter.ADAPTERS[fmt], **kw)
    clips = _clips(back)
    want = [m["file"].rsplit("/", 1)[1].rsplit(".", 1)[0] for m in metas]
    assert want == [c.file.rsplit("/", 1)[1].rsplit(".", 1)[0] for c in cut.clips]
    assert [c.name for c in clips] == want
    assert [_frames(c) for c in clips] == [(0, c.frames) for c in cut.clips]
    starts = [round(c.range_in_parent().start_time.rescaled_to(FPS).value) for c in clips]
    assert starts == cut.starts()
    assert [m.name.lower() for c in clips for m in c.markers] == ["s010", "s020", "s030"]
    if fmt in ("otio", "otioz"):
        assert [c.metadata["vfbuild"] for c in clips] == metas
        assert back.global_start_time.value == START_HOURS * 3600 * FPS
    if fmt != "edl":  # every other format names the file itself
        for c, meta in zip(clips, metas, strict=True):
            url = c.media_reference.target_url
            assert url.endswith(Path(meta["file"]).name)
            if fmt == "otioz":
                continue  # inside the bundle
            path = (
                Path(url.removeprefix("file://")) if url.startswith("file:") else out.parent / url
            )
            assert path.resolve() == (film / meta["file"]).resolve()
    if fmt == "fcp7xml":
        meta = [c.metadata["fcp_xml"]["comments"] for c in clips]
        assert meta[0]["mastercomment1"].startswith("s010 ")
        assert all(
            m["mastercomment3"] == f"recipe {c.recipe_key}"
            for m, c in zip(meta, cut.clips, strict=True)
        )
        assert back.global_start_time.value == START_HOURS * 3600 * FPS
    if fmt == "fcpxml":  # on each file's browser clip, read back into its reference
        for c, meta in zip(clips, metas, strict=True):
            fcpx = c.media_reference.metadata["fcpx"]
            md = {k: v for d in fcpx["metadata"] for k, v in d.items()}
            got = {k.removeprefix("com.vfbuild."): v for k, v in md.items() if "vfbuild" in k}
            assert set(got) == {k for k, v in meta.items() if v is not None}
            for key in ("shot", "step", "version", "take", "seed", "provider", "model"):
                if meta[key] is not None:
                    assert got[key] == str(meta[key]), key
            assert got["recipe_key"] == meta["recipe_key"] and float(got["cost"]) == meta["cost"]
            assert md["com.apple.proapps.studio.scene"] == meta["shot"]
            assert md["com.apple.proapps.studio.reel"] == c.name  # a reel per clip version
            assert fcpx["note"].startswith(f"{meta['shot']} {meta['step']} v")
            assert meta["recipe_key"] in fcpx["note"]
    if fmt == "edl":
        reels = [c.metadata["cmx_3600"]["reel"] for c in clips]
        assert reels == want and len(set(reels)) == len(reels)
        text = out.read_text()
        events = [ln for ln in text.splitlines() if ln[:3].isdigit()]
        assert events[0].split()[-2] == "01:00:00:00"  # record in of the first event
        stills = [ln for ln in text.splitlines() if ln.startswith("* STILL:")]
        assert len(stills) == (3 if version == 1 else 0)
        assert any("still" in n for n in result.notes) == (version == 1)


def _clip(shot: str, step: str, version: int, take: int, frames: int) -> CutClip:
    name = f"{shot}_{step}_v{version:03d}_t{take:02d}"
    return CutClip(
        shot=shot,
        file=f"03_Generations/v2_selected/{name}.mp4",
        sha256=f"{version:02d}{take:02d}".ljust(64, "0"),
        duration=frames / FPS,
        frames=frames,
        still=False,
        step=step,
        stage=f"picked {step}",
        finished=False,
        version=version,
        take=take,
    )


def test_edl_reel_names_are_unique_per_clip_version(tmp_path: Path) -> None:
    """Two versions of one shot's draft are two reels (the adapter's own 8-character reels
    are one: `sh001dra`), and a very long layout name keeps a digest of its clip."""
    clips = (
        _clip("sh001", "draft", 2, 1, 24),
        _clip("sh001", "draft", 3, 1, 24),
        _clip("sh001", "draft", 3, 2, 12),
        _clip("a-very-long-shot-name-of-32-ch", "draft", 1, 1, 12),
        _clip("a-very-long-shot-name-of-32-ch", "draft", 2, 1, 12),
    )
    cut = Cut("Reels", 1, "06_Edit/Reels_v001.mp4", FPS, 64, 36, clips)
    out = tmp_path / "reels.edl"
    exporter.export(cut, "edl", tmp_path, out)
    back = otio.adapters.read_from_file(str(out), "cmx_3600", rate=FPS)
    reels = [c.metadata["cmx_3600"]["reel"] for c in back.find_clips()]
    assert len(set(reels)) == len(clips) and all(len(r) <= 32 for r in reels)
    assert reels[:3] == ["sh001_draft_v002_t01", "sh001_draft_v003_t01", "sh001_draft_v003_t02"]
    plain = timeline_of(cut)
    for c in plain.find_clips():
        del c.metadata["cmx_3600"]
    edl = otio.adapters.write_to_string(plain, "cmx_3600")
    first = [ln.split()[1] for ln in edl.splitlines() if ln[:3].isdigit()]
    assert len(set(first)) < len(first)  # what vfbuild's reels prevent


def test_music_and_dialogue_have_tracks_of_their_own(tmp_path: Path) -> None:
    clips = (_clip("s010", "draft", 1, 1, 48), _clip("s020", "draft", 1, 1, 48))
    sounds = (
        Placement("dialogue", "04_Audio/s020_line.wav", start=2.0, duration=1.5, shot="s020"),
        Placement("music", "04_Audio/score.wav", start=0.0, duration=4.0),
    )
    cut = Cut("Sound", 1, "06_Edit/Sound_v001.mp4", FPS, 64, 36, clips, sounds)
    tl = timeline_of(cut)
    assert [(t.name, t.kind) for t in tl.tracks] == [
        ("Video", otio.schema.TrackKind.Video),
        ("Dialogue", otio.schema.TrackKind.Audio),
        ("Music", otio.schema.TrackKind.Audio),
    ]
    out = tmp_path / "sound.xml"
    exporter.export(cut, "fcp7xml", tmp_path, out)
    back = otio.adapters.read_from_file(str(out), "fcp_xml")
    audio = [t for t in back.tracks if t.kind == otio.schema.TrackKind.Audio]
    got = [
        (c.name, round(c.range_in_parent().start_time.value), round(c.duration().value))
        for t in audio
        for c in t
        if isinstance(c, otio.schema.Clip)
    ]
    assert sorted(got) == [("s020_line", 48, 36), ("score", 0, 96)]


def test_vf_export_on_the_command_line(film: Path, tmp_path: Path) -> None:
    run = vf(film, "export", "--format", "edl", "--version", "2")
    assert run.stdout.startswith(f"edl: {film / '06_Edit' / 'Tiny_Film_v002.edl'} (edit v002")
    assert (film / "06_Edit" / "Tiny_Film_v002.edl").is_file()
    own = film / "06_Edit" / "Tiny_Film_v003.otio"
    before = own.read_bytes()
    assert "Tiny_Film_v003.otio" in vf(film, "export").stdout  # the version's own timeline
    assert own.read_bytes() == before
    missing = vf(film, "export", "--version", "9", check=False)
    assert missing.returncode == 2 and "there is no edit v009" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = vf(film, "export", "--format", "aaf", check=False)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_an_edit_joined_from_segments_is_read_through_their_recipes(tmp_path: Path) -> None:
    """An edit whose recipe names per-shot segments (not clips) leads to each segment's clip
    through the segment's own recipe: the timeline shows the clip, not the segment."""
    from types import SimpleNamespace

    from vfbuild.finish.cut import edit_clips
    from vfbuild.store.index import RecipeIndex
    from vfbuild.store.objects import Artifact

    index = RecipeIndex(tmp_path / "recipes")
    clip_a, clip_b, seg_a, seg_b = (c * 64 for c in "abcd")
    for seg, clip, still, seconds in ((seg_a, clip_a, False, 1.5), (seg_b, clip_b, True, 2.0)):
        recipe = {
            "step": "segment",
            "settings": {"duration": seconds, "fps": FPS},
            "inputs": {"clip": clip, "still": still},
        }
        index.record(seg[:63] + "0", Artifact(seg, ".mp4", 1), recipe)
    project = SimpleNamespace(index=index, film=None)
    edit = {
        "settings": {"fps": FPS},
        "inputs": {"segments": [{"sha256": seg_a, "frames": 36}, {"sha256": seg_b, "frames": 48}]},
    }
    assert edit_clips(project, edit) == [  # type: ignore[arg-type]
        {"sha256": clip_a, "still": False, "duration": 1.5, "segment": seg_a},
        {"sha256": clip_b, "still": True, "duration": 2.0, "segment": seg_b},
    ]
