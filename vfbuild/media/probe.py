"""What a media file holds, read with PyAV (imageio-ffmpeg ships no ffprobe).

`probe` also catches files that open but are cut short (a faststart MP4 whose index survives
while its data does not): it reads the last second of packets and checks that every stream
reaches the end its header promises. That read is small, so a probe stays around 10-100 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfbuild.errors import MediaError

# ffmpeg's names for the colour enums (libavutil/pixdesc.c), by value; 2 means "unspecified".
_PRIMARIES = {
    1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
    9: "bt2020", 10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213",
}  # fmt: skip
_TRC = {
    1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
    9: "log100", 10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1",
    14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 17: "smpte428", 18: "arib-std-b67",
}  # fmt: skip
_SPACE = {
    0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m",
    8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 11: "smpte2085", 12: "chroma-derived-nc",
    13: "chroma-derived-c", 14: "ictcp",
}  # fmt: skip

# How far before the end the completeness check starts reading, and how short of its promised
# end a stream may stop (AAC frames and B-frame reordering make the last packet land early).
_TAIL_SECONDS = 1.0
_ATTACHED_PIC = 1 << 10  # AV_DISPOSITION_ATTACHED_PIC
_END_SLACK = 0.25


@dataclass(frozen=True)
class MediaInfo:
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    fps: float | None
    frames: int | None
    duration: float | None
    video_codec: str | None
    audio_codec: str | None
    pix_fmt: str | None
    color_primaries: str | None
    color_trc: str | None
    color_space: str | None
    audio_duration: float | None
    is_image: bool
    sample_rate: int | None = None  # of the first audio stream
    channels: int | None = None


def probe(path: Path) -> MediaInfo:
    """Describe `path`; raise MediaError naming it if it is missing, not media, or damaged."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path} does not exist or is not a file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as e:
        raise MediaError(
            f"{path} is not a readable media file (unknown format, or damaged)", hint=str(e)
        ) from e
    try:
        return _describe(container, path)
    except (av.FFmpegError, OSError, ValueError, EOFError) as e:
        raise MediaError(f"{path} is damaged: it cannot be read to the end", hint=str(e)) from e
    finally:
        container.close()


def _describe(container: Any, path: Path) -> MediaInfo:
    video = _first_video(container)
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise MediaError(f"{path} holds neither video nor audio")
    if video is not None and _is_image(container, video, audio):
        return _describe_image(container, video, path)

    vcc = video.codec_context if video is not None else None
    fps = _fps(video) if video is not None else None
    frames: int | None = None
    if video is not None:
        frames = video.frames or None
    duration = _container_duration(container, video, audio)
    audio_duration = _stream_seconds(audio) if audio is not None else None

    reached = _check_complete(container, path, video, audio, duration)
    if audio is not None and audio_duration is None:
        # No duration in the header (Matroska): where its last packet ends is as good.
        audio_duration = reached[audio.index] - _start_seconds(audio)
    if video is not None and frames is None:
        frames = _count_packets(container, video)

    return MediaInfo(
        has_video=video is not None,
        has_audio=audio is not None,
        width=vcc.width if vcc is not None else None,
        height=vcc.height if vcc is not None else None,
        fps=fps,
        frames=frames,
        duration=duration,
        video_codec=vcc.name if vcc is not None else None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        pix_fmt=vcc.pix_fmt if vcc is not None else None,
        color_primaries=_PRIMARIES.get(int(vcc.color_primaries)) if vcc is not None else None,
        color_trc=_TRC.get(int(vcc.color_trc)) if vcc is not None else None,
        color_space=_SPACE.get(int(vcc.colorspace)) if vcc is not None else None,
        audio_duration=audio_duration,
        is_image=False,
        sample_rate=int(audio.codec_context.sample_rate or 0) or None
        if audio is not None
        else None,
        channels=int(audio.codec_context.channels or 0) or None if audio is not None else None,
    )


def _first_video(container: Any) -> Any:
    for stream in container.streams.video:
        # Cover art in an audio file is a "video" stream of one picture: not a video.
        if not int(getattr(stream, "disposition", 0)) & _ATTACHED_PIC:
            return stream
    return None


def _is_image(container: Any, video: Any, audio: Any) -> bool:
    name = container.format.name or ""
    return audio is None and (name == "image2" or name.endswith("_pipe"))


def _describe_image(container: Any, video: Any, path: Path) -> MediaInfo:
    # Decoding the one picture is the only way to know a still is not cut short.
    frame = next(iter(container.decode(video)), None)
    if frame is None:
        raise MediaError(f"{path} is an image file with no readable picture")
    vcc = video.codec_context
    return MediaInfo(
        has_video=True,
        has_audio=False,
        width=frame.width,
        height=frame.height,
        fps=None,
        frames=1,
        duration=None,
        video_codec=vcc.name,
        audio_codec=None,
        pix_fmt=frame.format.name,
        color_primaries=_PRIMARIES.get(int(vcc.color_primaries)),
        color_trc=_TRC.get(int(vcc.color_trc)),
        color_space=_SPACE.get(int(vcc.colorspace)),
        audio_duration=None,
        is_image=True,
    )


def _fps(video: Any) -> float | None:
    for rate in (video.average_rate, video.guessed_rate, video.base_rate):
        if rate:
            return float(rate)
    return None


def _stream_seconds(stream: Any) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _container_duration(container: Any, video: Any, audio: Any) -> float | None:
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    ends = [s for s in (_stream_seconds(x) for x in (video, audio) if x is not None) if s]
    return max(ends) if ends else None


def _start_seconds(stream: Any) -> float:
    return float((stream.start_time or 0) * stream.time_base)


def _stream_end(stream: Any) -> float | None:
    seconds = _stream_seconds(stream)
    return None if seconds is None else seconds + _start_seconds(stream)


def _check_complete(
    container: Any, path: Path, video: Any, audio: Any, duration: float | None
) -> dict[int, float]:
    """Read the last second of packets; every stream must get near the end it promises.

    Returns where each stream's data ends, in seconds, by stream index.
    """
    streams = [s for s in (video, audio) if s is not None]
    expected = {s.index: _stream_end(s) for s in streams}
    if duration is not None and duration > _TAIL_SECONDS:
        # Any packet, not the keyframe before: a generated clip often has one keyframe, and
        # from it the check would read the whole clip, not its last second.
        container.seek(int((duration - _TAIL_SECONDS) * 1_000_000), backward=True, any_frame=True)
    # Ends in each stream's own time base (integers), turned into seconds once: a Fraction
    # per packet made this loop most of a probe (5 s of video is 120+ packets read).
    ticks: dict[int, int] = {}
    for packet in container.demux(*streams):
        ts = packet.pts
        if ts is None:
            ts = packet.dts
            if ts is None:
                continue
        end = ts + (packet.duration or 0)
        index = packet.stream_index
        if end > ticks.get(index, end - 1):
            ticks[index] = end
    bases = {s.index: s.time_base for s in streams}
    reached = {i: float(t * bases[i]) for i, t in ticks.items() if bases.get(i) is not None}
    for stream in streams:
        # A stream whose header gives no end (Matroska) is only held to having data here;
        # the container's duration is checked against the longest stream below.
        want = expected[stream.index]
        got = reached.get(stream.index)
        if got is None or (want is not None and got < want - _END_SLACK):
            _truncated(path, stream.type, want, got)
    if duration is not None and None in expected.values():
        longest = max(reached.values())
        if longest < duration - _END_SLACK:
            _truncated(path, "longest", duration, longest)
    return reached


def _truncated(path: Path, kind: str, want: float | None, got: float | None) -> None:
    should = f"run to {want:.2f}s" if want is not None else "have data"
    at = f"stops at {got:.2f}s" if got is not None else "is missing"
    raise MediaError(
        f"{path} is truncated or damaged: its {kind} stream should {should} but its data {at}",
        hint="the file was probably cut short while being written or downloaded; make it again",
    )


def _count_packets(container: Any, video: Any) -> int:
    # Containers without a frame count (Matroska, WebM): counting packets needs no decoding.
    container.seek(0)
    return sum(1 for p in container.demux(video) if p.size)
