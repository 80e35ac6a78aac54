"""An edit version's OpenTimelineIO timeline: `06_Edit/<film>_vNNN.otio`.

One video track of the shots in order (each clip points at its versioned file in the layout by
a URL relative to the timeline's folder, so the film folder can move to another machine), a
dialogue track and a music track where the film has any, and a marker named by its shot on
each clip. Each clip carries what made it under `metadata["vfbuild"]` (shot, step, version,
take, seed, provider, model, recipe key, cost, …). The record starts at 01:00:00:00, as
editors expect. Stills (a rough cut's keyframes) are clips of an image held for the shot.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from vfbuild.finish.cut import Cut, CutClip, Placement, frames_of
from vfbuild.store import layout

if TYPE_CHECKING:
    import opentimelineio as otio

START_HOURS = 1  # record start 01:00:00:00
TRACKS = {"dialogue": "Dialogue", "music": "Music"}
SCHEMA = "vfbuild.timeline/1"


def timeline_path(cut: Cut) -> str:
    """Film-relative path of a version's .otio."""
    return f"{cut.stem}.otio"


def url_for(rel: str, base: str = layout.EDIT) -> str:
    """A film-relative file as a URL relative to folder `base` (film-relative too)."""
    return posixpath.relpath(rel, base)


def _time(frames: int, fps: int) -> otio.opentime.RationalTime:
    import opentimelineio as otio

    return otio.opentime.RationalTime(frames, fps)


def _range(start: int, frames: int, fps: int) -> otio.opentime.TimeRange:
    import opentimelineio as otio

    return otio.opentime.TimeRange(_time(start, fps), _time(frames, fps))


def clip_name(clip: CutClip) -> str:
    """The clip's layout file name without its extension: `s010_draft_v001_t02`."""
    return posixpath.splitext(posixpath.basename(clip.file))[0]


def timeline_of(cut: Cut, base: str = layout.EDIT) -> otio.schema.Timeline:
    """The cut as a timeline whose media URLs are relative to the film folder `base`."""
    import opentimelineio as otio

    fps = cut.fps
    tl = otio.schema.Timeline(name=f"{cut.title} v{cut.version:03d}")
    tl.global_start_time = _time(START_HOURS * 3600 * fps, fps)
    tl.metadata["vfbuild"] = {
        "schema": SCHEMA,
        "film": cut.title,
        "version": cut.version,
        "edit": cut.file,
        "fps": fps,
        "width": cut.width,
        "height": cut.height,
        "recipe_key": cut.recipe_key,
        "shots": [c.shot for c in cut.clips],
    }
    video = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    for clip in cut.clips:
        video.append(_video_clip(clip, fps, base))
    tl.tracks.append(video)
    for track, name in TRACKS.items():
        sounds = [p for p in cut.placements if p.track == track]
        if sounds:
            tl.tracks.append(_audio_track(name, sounds, fps, base))
    return tl


def _video_clip(clip: CutClip, fps: int, base: str) -> otio.schema.Clip:
    import opentimelineio as otio

    # What the file offers: a clip its length where its recipe says (else what the shot
    # uses), an image as long as it is held. Final Cut's formats need one on every file.
    frames = clip.frames
    if not clip.still and clip.source_seconds:
        frames = max(frames, frames_of(clip.source_seconds, fps))
    available = _range(0, frames, fps)
    ref = otio.schema.ExternalReference(
        target_url=url_for(clip.file, base), available_range=available
    )
    ref.name = clip_name(clip)
    meta: dict[str, Any] = {"vfbuild": clip.metadata()}
    # An EDL names a source by its reel: one per clip version, never two clips on one reel.
    meta["cmx_3600"] = {"reel": reel_name(clip)}
    out = otio.schema.Clip(
        name=clip_name(clip),
        media_reference=ref,
        source_range=_range(0, clip.frames, fps),
        metadata=meta,
    )
    out.markers.append(
        otio.schema.Marker(
            name=clip.shot,
            marked_range=_range(0, 0, fps),
            color=otio.schema.MarkerColor.RED
            if not clip.finished
            else otio.schema.MarkerColor.GREEN,
            metadata={"vfbuild": {"shot": clip.shot, "stage": clip.stage}},
        )
    )
    return out


def reel_name(clip: CutClip) -> str:
    """A reel per clip version: the layout name (`s010_draft_v001_t02`), which names shot, step,
    version and take; at most 32 characters (Avid's and Resolve's long reel names), a longer
    one shortened with a digest of the whole so two never meet."""
    name = clip_name(clip)
    if len(name) <= 32:
        return name
    return f"{name[:23]}_{clip.sha256[:8]}"


def _audio_track(name: str, sounds: list[Placement], fps: int, base: str) -> otio.schema.Track:
    import opentimelineio as otio

    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    at = 0
    for p in sorted(sounds, key=lambda p: p.start):
        start = max(round(p.start * fps), at)
        frames = max(1, round(p.duration * fps))
        if start > at:
            track.append(otio.schema.Gap(source_range=_range(0, start - at, fps)))
        ref = otio.schema.ExternalReference(
            target_url=url_for(p.file, base),
            available_range=_range(0, round(p.source_start * fps) + frames, fps),
        )
        ref.name = posixpath.basename(p.file)
        track.append(
            otio.schema.Clip(
                name=posixpath.splitext(posixpath.basename(p.file))[0],
                media_reference=ref,
                source_range=_range(round(p.source_start * fps), frames, fps),
                metadata={
                    "vfbuild": {"track": p.track, "shot": p.shot, "file": p.file},
                    "cmx_3600": {"reel": posixpath.splitext(posixpath.basename(p.file))[0][:32]},
                },
            )
        )
        at = start + frames
    return track


def to_json(cut: Cut, base: str = layout.EDIT) -> str:
    import opentimelineio as otio

    return str(otio.adapters.write_to_string(timeline_of(cut, base), "otio_json"))
