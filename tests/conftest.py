"""Shared test setup. The socket guard makes any test that tries to leave 127.0.0.1 fail."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example-project"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX paths are local
        return True
    host = address[0] if isinstance(address, tuple) else None
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # type: ignore[arg-type]
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise OSError(f"tests may not reach outside loopback (tried {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise OSError(f"tests may not reach outside loopback (tried {address!r})")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vfbuild caches the ffmpeg version per user; keep tests from touching the real one,
    # but share one cache across the session so ffmpeg -version runs once.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


def copy_film(src: Path, dest: Path) -> Path:
    """A user's fresh clone of a film: its tracked files only, no build products."""
    ignore = shutil.ignore_patterns(
        ".vf", "01_Source_Images", "03_Generations", "05_Upscaled", "06_Edit", "prompts.txt"
    )
    shutil.copytree(src, dest, ignore=ignore)
    return dest
