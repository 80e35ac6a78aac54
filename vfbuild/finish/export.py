"""`vf export`: an edit version's timeline in the format an editor opens, through
OpenTimelineIO's adapters.

- `otio` (otio_json): everything: tracks, markers, the `vfbuild` metadata; media URLs relative
  to the file.
- `otioz` (otioz): the same, with the media inside the bundle (`media/…`).
- `edl` (cmx_3600): the video track: an event per shot, a reel per clip version, the shots as
  markers (`* LOC`), record timecode from 01:00:00:00.
- `fcp7xml` (fcp_xml): video, dialogue and music tracks, markers, the metadata as master
  comments; absolute file URLs.
- `fcpxml` (fcpx_xml): video and connected sound, markers, the metadata on each file's browser
  clip (a note, `com.vfbuild.*` keys); absolute file URLs.

Each is made from the version's own .otio (what the build wrote when it made the version; it
is written from the version's recipe first if it is missing).

Final Cut's and Premiere's XML name media by absolute `file://` URLs (a moved film is
relinked in the editor); the .otio and .otioz travel with the film.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild.errors import TimelineError, UsageError
from vfbuild.finish.cut import Cut
from vfbuild.finish.timeline import START_HOURS, timeline_of

if TYPE_CHECKING:
    import opentimelineio as otio

FORMATS: dict[str, tuple[str, str]] = {
    # format → (OTIO adapter, file suffix)
    "otio": ("otio_json", ".otio"),
    "otioz": ("otioz", ".otioz"),
    "edl": ("cmx_3600", ".edl"),
    "fcp7xml": ("fcp_xml", ".xml"),
    "fcpxml": ("fcpx_xml", ".fcpxml"),
}
ADAPTERS = {fmt: adapter for fmt, (adapter, _) in FORMATS.items()}
_EVENT = re.compile(
    r"^(?P<head>\d{3,}\s+\S+\s+\S+\s+\S+\s+(?:\S+\s+)?)"
    r"(?P<src_in>\d\d:\d\d:\d\d:\d\d) (?P<src_out>\d\d:\d\d:\d\d:\d\d) "
    r"(?P<rec_in>\d\d:\d\d:\d\d:\d\d) (?P<rec_out>\d\d:\d\d:\d\d:\d\d)\s*$"
)


@dataclass(frozen=True)
class ExportResult:
    format: str
    file: Path
    version: int
    clips: int
    notes: tuple[str, ...] = ()


def default_name(cut: Cut, fmt: str) -> str:
    """Film-relative: `06_Edit/<film>_vNNN<suffix>` (the .edl beside the .mp4)."""
    return f"{cut.stem}{FORMATS[fmt][1]}"


def export(cut: Cut, fmt: str, root: Path, out: Path) -> ExportResult:
    """Write `cut` as `fmt` at `out` (atomically; an existing export is replaced)."""
    return export_timeline(timeline_of(cut), fmt, root, out)


def export_timeline(tl: otio.schema.Timeline, fmt: str, root: Path, out: Path) -> ExportResult:
    """Write a version's timeline (its media URLs relative to `root`/06_Edit) as `fmt`."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    out = out.resolve()
    tl = copy.deepcopy(tl)
    own = tl.metadata.get("vfbuild") or {}
    clips = list(_video(tl))
    notes: list[str] = []
    _point(tl, root / "06_Edit", out.parent, absolute=fmt in ("fcp7xml", "fcpxml", "otioz"))
    stills = [_meta(c).get("shot", c.name) for c in clips if _meta(c).get("still")]
    try:
        if fmt == "edl":
            text = edl_text(tl, int(own.get("fps") or _rate(tl)))
            _write(out, text.encode("utf-8"))
            notes.append(
                "an EDL holds the video track only: the dialogue and music tracks are left out"
            )
            if stills:
                notes.append(
                    "an EDL cannot say an event is a still: the events of "
                    f"{', '.join(stills)} show a held image (noted `* STILL` under each)"
                )
        elif fmt == "fcp7xml":
            _fcp_comments(tl)
            _write(out, _string(tl, "fcp_xml").encode("utf-8"))
        elif fmt == "fcpxml":
            _fcpx_metadata(tl)
            _write(out, _string(tl, "fcpx_xml").encode("utf-8"))
            notes.append(
                "FCPXML keeps vfbuild's metadata on each browser clip (a note and "
                "`com.vfbuild.*` metadata), not on the timeline's clips, and starts at "
                "00:00:00:00 in this adapter"
            )
        elif fmt == "otioz":
            _otioz(tl, out)
        else:
            _write(out, _string(tl, "otio_json").encode("utf-8"))
    except TimelineError:
        raise
    except Exception as e:  # noqa: BLE001 - an adapter's own errors have no common root
        raise TimelineError(
            f"OpenTimelineIO could not write {out.name} as {fmt}: {e}",
            hint="the .otio beside the edit has the whole timeline; try `--format otio`",
        ) from None
    return ExportResult(fmt, out, int(own.get("version") or 0), len(clips), tuple(notes))


def _video(tl: otio.schema.Timeline) -> list[Any]:
    import opentimelineio as otio

    tracks = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video][:1]
    return [c for t in tracks for c in t if isinstance(c, otio.schema.Clip)]


def _meta(clip: Any) -> dict[str, Any]:
    meta = clip.metadata.get("vfbuild")
    return dict(meta) if meta else {}


def _rate(tl: otio.schema.Timeline) -> int:
    return round(tl.tracks[0].duration().rate) if len(tl.tracks) else 24


def _point(tl: otio.schema.Timeline, edit_dir: Path, out_dir: Path, *, absolute: bool) -> None:
    """Re-aim the media URLs (relative to 06_Edit/) at the folder the export is written to,
    or make them absolute file URLs."""
    for clip in tl.find_clips():
        ref = clip.media_reference
        url = getattr(ref, "target_url", None)
        if not url:
            continue
        path = (edit_dir / url).resolve()
        ref.target_url = path.as_uri() if absolute else os.path.relpath(path, out_dir)


def _string(tl: otio.schema.Timeline, adapter: str, **kw: Any) -> str:
    import opentimelineio as otio

    return str(otio.adapters.write_to_string(tl, adapter, **kw))


def edl_text(tl: otio.schema.Timeline, fps: int) -> str:
    """The video track as a CMX 3600 EDL, its record timecode from 01:00:00:00 (the adapter
    writes from zero), a reel per clip version (never cut to 8 characters, where
    `s010_draft_v001_t02` and `…_t03` would meet), a `* STILL` note under each held image."""
    import opentimelineio as otio

    video = copy.deepcopy(tl)
    video.tracks[:] = [t for t in video.tracks if t.kind == otio.schema.TrackKind.Video][:1]
    text = _string(video, "cmx_3600", reelname_len=None)
    shift = START_HOURS * 3600 * fps
    stills = {
        c.name: (_meta(c).get("file", c.name), round(c.source_range.duration.value))
        for c in _video(video)
        if _meta(c).get("still")
    }
    lines: list[str] = []
    for line in text.splitlines():
        m = _EVENT.match(line)
        if m:
            rec_in = _tc(otio.opentime.from_timecode(m["rec_in"], fps).value + shift, fps)
            rec_out = _tc(otio.opentime.from_timecode(m["rec_out"], fps).value + shift, fps)
            line = f"{m['head']}{m['src_in']} {m['src_out']} {rec_in} {rec_out}"
        lines.append(line)
        if line.startswith("* FROM CLIP NAME:"):
            current = line.split(":", 1)[1].strip()
            if current in stills:
                lines.append(f"* STILL: {stills[current][0]} HELD FOR {stills[current][1]} FRAMES")
    if lines and lines[0].startswith("TITLE:"):
        lines.insert(1, "FCM: NON-DROP FRAME")
    return "\n".join(lines) + "\n"


def _tc(frames: float, fps: int) -> str:
    import opentimelineio as otio

    return str(otio.opentime.to_timecode(otio.opentime.RationalTime(frames, fps), fps))


def _fcp_comments(tl: otio.schema.Timeline) -> None:
    """FCP 7 XML keeps a clip's own fields only: vfbuild's metadata goes in its master
    comments (shown in Premiere's and Resolve's metadata panes)."""
    for clip in tl.find_clips():
        meta = clip.metadata.get("vfbuild")
        if not meta or "step" not in meta:
            continue
        version = f"v{meta['version']:03d}" if isinstance(meta.get("version"), int) else "v?"
        take = f" t{meta['take']:02d}" if isinstance(meta.get("take"), int) else ""
        clip.metadata["fcp_xml"] = {
            "comments": {
                "mastercomment1": f"{meta['shot']} {meta['step']} {version}{take}",
                "mastercomment2": f"{meta['provider']}/{meta['model']}"
                + (f" seed {meta['seed']}" if meta.get("seed") is not None else ""),
                "mastercomment3": f"recipe {meta['recipe_key']}",
                "mastercomment4": f"cost ${meta['cost']:.4f}",
            }
        }


# FCPXML's own metadata keys for what vfbuild knows (shown in Final Cut's inspector).
FCPX_KEYS = {
    "reel": "com.apple.proapps.studio.reel",
    "shot": "com.apple.proapps.studio.scene",
    "take": "com.apple.proapps.studio.shot",  # Final Cut's "Take"
}
FCPX_OWN = "com.vfbuild."  # every vfbuild field, as `com.vfbuild.<field>`


def _fcpx_metadata(tl: otio.schema.Timeline) -> None:
    """The FCPX adapter writes what a media reference's `metadata["fcpx"]` holds (a note and
    `md` key/value pairs) on the event's asset-clip, once per file, and reads it back there;
    a timeline clip's own metadata it drops. Every file here is one clip version, so its
    browser clip carries that version's vfbuild metadata: a note to read, and each field as
    a string under `com.vfbuild.<field>` (Final Cut's reel, scene and take where they fit)."""
    for clip in tl.find_clips():
        meta = clip.metadata.get("vfbuild")
        ref = clip.media_reference
        if not meta or ref is None or ref.is_missing_reference:
            continue
        md: list[dict[str, str]] = []
        reel = (clip.metadata.get("cmx_3600") or {}).get("reel")
        fields = {"reel": reel, **dict(meta)}
        for key, value in fields.items():
            if value is None:
                continue
            text = _md_text(value)
            if key in FCPX_KEYS:
                md.append({FCPX_KEYS[key]: text})
            if key != "reel":
                md.append({f"{FCPX_OWN}{key}": text})
        ref.metadata["fcpx"] = {"note": _note(dict(meta)), "metadata": md}


def _md_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _note(meta: dict[str, Any]) -> str:
    """One line an editor reads in Final Cut's Notes column."""
    if "step" not in meta:  # a sound: dialogue or music
        return " ".join(str(meta[k]) for k in ("track", "shot", "file") if meta.get(k))
    version = f" v{meta['version']:03d}" if isinstance(meta.get("version"), int) else ""
    take = f" t{meta['take']:02d}" if isinstance(meta.get("take"), int) else ""
    seed = f" seed {meta['seed']}" if meta.get("seed") is not None else ""
    cost = f", ${meta['cost']:.4f}" if isinstance(meta.get("cost"), (int, float)) else ""
    return (
        f"{meta.get('shot')} {meta['step']}{version}{take}: {meta.get('provider')}/"
        f"{meta.get('model')}{seed}, recipe {meta.get('recipe_key')}{cost}"
    )


def _otioz(tl: otio.schema.Timeline, out: Path) -> None:
    import opentimelineio as otio

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".vf-otioz-") as tmp:
        part = Path(tmp) / out.name
        otio.adapters.write_to_file(tl, str(part), "otioz")
        os.replace(part, out)


def _write(out: Path, data: bytes) -> None:
    from vfbuild.fsutil import atomic_write_bytes

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, data)


def export_version(
    project: Any, fmt: str, version: int | None = None, out: Path | None = None
) -> ExportResult:
    """Export an edit version (None: the latest) as `fmt`, to `out` or beside the version
    (`06_Edit/<film>_vNNN.<suffix>`). The version's own .otio is written if it is missing
    and never replaced: exporting `otio` with no `out` answers with it."""
    from vfbuild.finish.cut import cut_of
    from vfbuild.finish.files import put_stored
    from vfbuild.finish.timeline import timeline_path, to_json

    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    cut = cut_of(project, version)
    rel = timeline_path(cut)
    own = project.root / rel
    if not put_stored(project, rel, to_json(cut).encode("utf-8")):
        import opentimelineio as otio

        # The version's own timeline, as the build wrote it when it made the version.
        try:
            tl = otio.adapters.read_from_file(str(own), "otio_json")
        except Exception as e:  # noqa: BLE001 - OTIO's own errors have no common root
            raise TimelineError(
                f"{rel} cannot be read: {e}", hint="move it aside and export again"
            ) from None
    else:
        tl = timeline_of(cut)
    if out is None:
        if fmt == "otio":
            return ExportResult(fmt, own, cut.version, len(cut.clips))
        out = project.root / default_name(cut, fmt)
    elif out.resolve() == own.resolve():
        return ExportResult(fmt, own, cut.version, len(cut.clips))
    return export_timeline(tl, fmt, project.root, out)
