"""What a media file is, from its name or its first bytes: the media types vfbuild sends and
recognises, without reading the system's MIME database."""

from __future__ import annotations

from pathlib import Path

# The media types of the files vfbuild sends. A fixed table, not `mimetypes`: its first call
# reads the system's MIME database (~30 ms), and threads making their first submits together
# each read it, one after another.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bmp": "image/bmp",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
}
OCTET_STREAM = "application/octet-stream"


# What a file is, from its first bytes: (signature, its offset, extension).
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG", 0, ".png"),
    (b"\xff\xd8", 0, ".jpg"),
    (b"ftyp", 4, ".mp4"),
    (b"RIFF", 0, ".wav"),
    (b"ID3", 0, ".mp3"),
    (b"fLaC", 0, ".flac"),
    (b"OggS", 0, ".ogg"),
    (b"\x1a\x45\xdf\xa3", 0, ".mkv"),
)


def sniff_ext(head: bytes) -> str | None:
    """The extension of a file that starts with `head` (16 bytes do), if it is known."""
    for magic, at, ext in SIGNATURES:
        if head[at : at + len(magic)] == magic:
            return ext
    return None


def media_type(path: Path) -> str:
    """A file's media type, from its extension, else from its first bytes (store objects
    have no extension)."""
    known = MEDIA_TYPES.get(path.suffix.lower())
    if known is not None:
        return known
    with open(path, "rb") as f:
        ext = sniff_ext(f.read(16))
    return MEDIA_TYPES.get(ext or "", OCTET_STREAM)
