from __future__ import annotations

from vfbuild.cli import run

run()
