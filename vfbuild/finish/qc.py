"""`vf qc`: an edit version and every clip in it, held to the seeds' checklist as far as a
machine can check it.

Per shot (the clip the cut shows): its frame rate (24 or 30, the film's, never mixed), size
and aspect, Rec.709 tags, HDR in an SDR film, a shot over 10 s, black frames (`blackdetect`)
and frozen frames (`freezedetect`) in the part the film shows, sound where the shot has
dialogue (its place in the cut is not silent), and picture and sound of one length. Per film
(the edit): its rate, size, tags, length, picture and sound of one length, and its integrated
loudness and true peak (EBU R128) against the film's target (`film.loudness`).

Verdicts: `pass`; `warn` (worth a look: a frozen second may be a held shot, an untagged clip
is taken as Rec.709, a shot over 10 s); `fail` (the film should not go out so); `n/a`. The
report is kept beside the version (`06_Edit/<film>_vNNN.qc.json`), written once.

`quick` checks only what a probe tells (no decoding): what the build runs after each new
edit version, warning about what it finds; the black, frozen and loudness checks are left to
`vf qc`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild.errors import MediaError
from vfbuild.finish.cut import Cut, CutClip

if TYPE_CHECKING:
    from vfbuild.media.measure import Sound
    from vfbuild.media.probe import MediaInfo
    from vfbuild.project import Project

PASS, WARN, FAIL, NA = "pass", "warn", "fail", "n/a"
FILM = "film"  # the shot column of the edit's own checks
ALLOWED_FPS = (24, 30)
LONG_SHOT = 10.0  # seconds: generated clips drift and loop past this
ASPECT_TOLERANCE = 0.01
SILENT_DBFS = -50.0  # a dialogue shot whose loudest 100 ms stays below this is silent
NO_PROGRAMME_LUFS = -70.0  # ebur128's absolute gate: nothing to measure below it
HDR_TRC = ("smpte2084", "arib-std-b67")
DEFAULT_LUFS, DEFAULT_TRUE_PEAK = -14.0, -1.0  # social platforms' usual master
TOLERANCE = 1.0  # LU either side of the integrated target
HDR_PRIMARIES = ("bt2020",)


@dataclass(frozen=True)
class Check:
    shot: str  # a shot id, or "film" for the edit itself
    check: str
    value: str
    verdict: str
    hint: str = ""


@dataclass(frozen=True)
class Target:
    integrated: float  # LUFS
    true_peak: float  # dBTP
    tolerance: float  # LU either side of `integrated`


@dataclass(frozen=True)
class QcReport:
    film: str
    version: int
    edit: str  # film-relative path of the edit version
    checks: tuple[Check, ...]
    target: Target
    quick: bool = False
    file: str | None = None  # the report beside the version, film-relative
    written: bool = False  # this run wrote it (else it was there already)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict == FAIL)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict == WARN)

    @property
    def ok(self) -> bool:
        return not self.failures


def report_path(cut: Cut) -> str:
    return f"{cut.stem}.qc.json"


def target_of(project: Project) -> Target:
    """The film's loudness target (`film.loudness`, `film.true_peak`), within TOLERANCE."""
    film = project.film.film
    return Target(
        float(getattr(film, "loudness", DEFAULT_LUFS)),
        float(getattr(film, "true_peak", DEFAULT_TRUE_PEAK)),
        TOLERANCE,
    )


def check_cut(
    project: Project, cut: Cut, *, quick: bool = False, skip: frozenset[str] = frozenset()
) -> QcReport:
    """Every check of the cut's clips and of the edit (only the probe's with `quick`); the
    clips whose sha256 is in `skip` (checked before) are left out."""
    from vfbuild.media.probe import probe

    root = project.root
    film = project.film.film
    fps = cut.fps
    aspect = _aspect(film.aspect)
    checks: list[Check] = []
    starts = cut.starts()
    edit_info: MediaInfo | None = None
    sound: Sound | None = None
    edit_path = root / cut.file
    try:
        edit_info = probe(edit_path)
    except MediaError as e:
        checks.append(Check(FILM, "edit file", cut.file, FAIL, e.message))
    if not quick and edit_info is not None and edit_info.has_audio:
        from vfbuild.media.measure import sound as measure_sound

        sound = measure_sound(edit_path)
    for clip, start in zip(cut.clips, starts, strict=True):
        if clip.sha256 in skip:
            continue
        checks += _clip_checks(root, clip, fps, aspect, cut, quick, sound, start / fps, edit_info)
    if edit_info is not None:
        checks += _edit_checks(cut, edit_info, fps, aspect, sound, target_of(project), quick)
    return QcReport(
        film=cut.title,
        version=cut.version,
        edit=cut.file,
        checks=tuple(checks),
        target=target_of(project),
        quick=quick,
    )


def _clip_checks(
    root: Path,
    clip: CutClip,
    fps: int,
    aspect: float,
    cut: Cut,
    quick: bool,
    sound: Sound | None,
    start: float,
    edit_info: MediaInfo | None,
) -> list[Check]:
    from vfbuild.media.probe import probe

    shot = clip.shot
    out: list[Check] = []
    seconds = clip.frames / fps

    def add(check: str, value: str, verdict: str, hint: str = "") -> None:
        out.append(Check(shot, check, value, verdict, hint))

    try:
        info = probe(root / clip.file)
    except MediaError as e:
        add("clip", clip.file, FAIL, e.message)
        return out
    still = clip.still or info.is_image
    # Frame rate: one for the film, 24 or 30.
    if still:
        add("frame rate", "still", NA)
    else:
        rate = info.fps or 0.0
        if abs(rate - fps) > 0.01:
            add(
                "frame rate",
                f"{_num(rate)} fps",
                FAIL,
                f"the film is {fps} fps: make the clip at {fps} fps (before lipsync, never after)",
            )
        else:
            add("frame rate", f"{_num(rate)} fps", PASS)
    # Size and aspect.
    if info.width and info.height:
        size = f"{info.width}x{info.height}"
        if abs((info.width / info.height) / aspect - 1) > ASPECT_TOLERANCE:
            add(
                "resolution",
                size,
                FAIL,
                f"not the film's {_aspect_text(aspect)}: the edit letterboxes it",
            )
        elif clip.finished and cut.width and info.width < cut.width:
            add("resolution", size, WARN, f"smaller than the edit's {cut.width}x{cut.height}")
        else:
            add("resolution", size, PASS)
    # Colour: Rec.709, and no HDR among SDR.
    if still:
        add("rec709", "still (sRGB)", NA)
        add("hdr", "SDR", PASS)
    else:
        tags = (info.color_primaries, info.color_trc, info.color_space)
        hdr = info.color_trc in HDR_TRC or info.color_primaries in HDR_PRIMARIES
        text = "/".join(t or "?" for t in tags)
        if hdr:
            add("rec709", text, NA)
            add("hdr", f"HDR ({info.color_trc})", FAIL, "tone-map it to Rec.709 before the edit")
        else:
            if all(t == "bt709" for t in tags):
                add("rec709", text, PASS)
            elif not any(tags):
                add("rec709", "untagged", WARN, "taken as Rec.709; tag it (setparams) to be sure")
            else:
                add("rec709", text, WARN, "not Rec.709: convert it to one working space")
            add("hdr", "SDR", PASS)
    # Length.
    if clip.duration > LONG_SHOT:
        add("length", f"{clip.duration:.2f} s", WARN, "over 10 s: generated clips drift and loop")
    elif not still and info.duration is not None and info.duration < seconds - 1.0 / fps:
        add(
            "length",
            f"{clip.duration:.2f} s, clip {info.duration:.2f} s",
            WARN,
            "the clip is shorter than the shot: the edit holds its last frame",
        )
    else:
        add("length", f"{clip.duration:.2f} s", PASS)
    # Picture and sound of one length.
    if info.has_audio and info.audio_duration is not None and info.duration is not None:
        gap = abs(info.audio_duration - info.duration)
        add(
            "a/v length",
            f"{gap * 1000:.0f} ms apart",
            PASS if gap <= 1.0 / fps + 1e-3 else FAIL,
            "" if gap <= 1.0 / fps + 1e-3 else "picture and sound differ by more than a frame",
        )
    # What decoding finds.
    if not quick:
        if still:
            add("black frames", "still", NA)
            add("frozen frames", "still", NA)
        else:
            from vfbuild.media.measure import picture

            pic = picture(root / clip.file, min(seconds, info.duration or seconds))
            if pic.black:
                add("black frames", _spans(pic.black), FAIL, "black in the shot: regenerate it")
            else:
                add("black frames", "none", PASS)
            # A black span is still as well: it is reported once, as black.
            frozen = [f for f in pic.frozen if not _inside(f, pic.black)]
            if frozen:
                add("frozen frames", _spans(frozen), WARN, "a held picture: intended?")
            else:
                add("frozen frames", "none", PASS)
    if clip.dialogue:
        out.append(_dialogue(shot, sound, start, seconds, quick, edit_info))
    return out


def _dialogue(
    shot: str,
    sound: Sound | None,
    start: float,
    seconds: float,
    quick: bool,
    edit_info: MediaInfo | None,
) -> Check:
    """A dialogue shot is heard in the cut: its part of the edit's sound is not silent."""
    if edit_info is not None and not edit_info.has_audio:
        return Check(shot, "dialogue", "no sound in the edit", FAIL, "the edit has no audio")
    if quick or sound is None:
        return Check(shot, "dialogue", "not measured", NA)
    peak = sound.peak_between(start, start + seconds)
    if peak < SILENT_DBFS:
        return Check(
            shot,
            "dialogue",
            f"silent (peak {_db(peak)} dBFS)",
            FAIL,
            "the shot has a line but its place in the cut is silent: check the dialogue audio "
            "and the lipsync",
        )
    return Check(shot, "dialogue", f"peak {_db(peak)} dBFS", PASS)


def _edit_checks(
    cut: Cut,
    info: MediaInfo,
    fps: int,
    aspect: float,
    sound: Sound | None,
    target: Target,
    quick: bool,
) -> list[Check]:
    out: list[Check] = []

    def add(check: str, value: str, verdict: str, hint: str = "") -> None:
        out.append(Check(FILM, check, value, verdict, hint))

    rate = info.fps or 0.0
    if round(rate) not in ALLOWED_FPS or abs(rate - fps) > 0.01:
        add("frame rate", f"{_num(rate)} fps", FAIL, f"the film is {fps} fps")
    else:
        add("frame rate", f"{_num(rate)} fps", PASS)
    size = f"{info.width}x{info.height}"
    if cut.width and (info.width, info.height) != (cut.width, cut.height):
        add("resolution", size, FAIL, f"the edit's recipe asks for {cut.width}x{cut.height}")
    elif info.width and info.height and abs((info.width / info.height) / aspect - 1) > 0.01:
        add("resolution", size, FAIL, f"not the film's {_aspect_text(aspect)}")
    else:
        add("resolution", size, PASS)
    tags = (info.color_primaries, info.color_trc, info.color_space)
    text = "/".join(t or "?" for t in tags)
    add("rec709", text, PASS if all(t == "bt709" for t in tags) else FAIL)
    want = cut.frames / fps
    if info.duration is not None:
        off = abs(info.duration - want)
        add(
            "length",
            f"{info.duration:.3f} s",
            PASS if off <= 1.0 / fps + 1e-3 else FAIL,
            "" if off <= 1.0 / fps + 1e-3 else f"the shots add up to {want:.3f} s",
        )
    if info.has_audio and info.audio_duration is not None and info.duration is not None:
        gap = abs(info.audio_duration - info.duration)
        ok = gap <= 1.0 / fps + 1e-3
        add(
            "a/v length",
            f"{gap * 1000:.0f} ms apart",
            PASS if ok else FAIL,
            "" if ok else "picture and sound differ by more than a frame",
        )
    if quick:
        return out
    if (
        sound is None
        or not math.isfinite(sound.integrated)
        or (sound.integrated <= NO_PROGRAMME_LUFS)
    ):
        add("loudness", "no sound", NA)
        add("true peak", "no sound", NA)
        return out
    off = sound.integrated - target.integrated
    add(
        "loudness",
        f"{sound.integrated:.1f} LUFS",
        PASS if abs(off) <= target.tolerance else FAIL,
        ""
        if abs(off) <= target.tolerance
        else f"the target is {target.integrated:g} LUFS ±{target.tolerance:g}: "
        f"{'lower' if off > 0 else 'raise'} the mix by {abs(off):.1f} dB",
    )
    add(
        "true peak",
        f"{_db(sound.true_peak)} dBTP",
        PASS if sound.true_peak <= target.true_peak else FAIL,
        "" if sound.true_peak <= target.true_peak else f"over {target.true_peak:g} dBTP: limit it",
    )
    return out


def _inside(span: Any, within: Any) -> bool:
    slack = 0.1  # the detectors' edges fall a frame or two apart
    return any(span.start >= w.start - slack and span.end <= w.end + slack for w in within)


def _aspect(text: str) -> float:
    w, _, h = text.partition(":")
    return int(w) / int(h)


def _aspect_text(aspect: float) -> str:
    for name, value in (("16:9", 16 / 9), ("9:16", 9 / 16), ("4:3", 4 / 3), ("1:1", 1.0)):
        if abs(aspect / value - 1) < 1e-3:
            return name
    return f"{aspect:.3f}:1"


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _db(value: float) -> str:
    return "-inf" if not math.isfinite(value) else f"{value:.1f}"


def _spans(spans: Any) -> str:
    return ", ".join(f"{s.seconds:.2f} s at {s.start:.2f}–{s.end:.2f} s" for s in spans)


# -- the report beside the version ---------------------------------------------------------


def record(report: QcReport) -> dict[str, object]:
    """The report as JSON data: `vf qc --json`, and the .qc.json file."""
    return {
        "schema": "vfbuild.qc/1",
        "film": report.film,
        "version": report.version,
        "edit": report.edit,
        "ok": report.ok,
        "quick": report.quick,
        "target": {
            "integrated": report.target.integrated,
            "true_peak": report.target.true_peak,
            "tolerance": report.target.tolerance,
        },
        "failures": len(report.failures),
        "warnings": len(report.warnings),
        "checks": [
            {
                "shot": None if c.shot == FILM else c.shot,
                "check": c.check,
                "value": c.value,
                "verdict": c.verdict,
                "hint": c.hint,
            }
            for c in report.checks
        ],
        "file": report.file,
    }


def keep(project: Project, cut: Cut, report: QcReport) -> QcReport:
    """Write the report beside its version unless one is there (a version's report is
    written once); the report says where it is and whether this run wrote it."""
    from dataclasses import replace

    from vfbuild.finish.files import put_new

    rel = report_path(cut)
    done = replace(report, file=rel)
    data = json.dumps(record(done), indent=2, ensure_ascii=False) + "\n"
    written = put_new(project.root / rel, data.encode("utf-8"))
    return replace(done, written=written)


def table(report: QcReport) -> list[str]:
    """The report as lines: shot, check, value, verdict (and what to do)."""
    rows = [("shot", "check", "value", "verdict")]
    rows += [(c.shot, c.check, c.value, c.verdict) for c in report.checks]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for r, c in zip(rows, [None, *report.checks], strict=True):
        line = "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3]
        if c is not None and c.hint and c.verdict in (WARN, FAIL):
            line += f"  ({c.hint})"
        lines.append(line.rstrip())
    return lines
