"""vfbuild's code signature: its version and the stat of each of its source files.

Recipes are code: a cache of what vfbuild worked out (saved step states, the no-op stamp) is
valid only for the sources that worked it out.
"""

from __future__ import annotations

import hashlib
import os

_memo: list[str] = []


def code_signature() -> str:
    if not _memo:
        from vfbuild.version import __version__

        root = os.path.dirname(os.path.abspath(__file__))  # the vfbuild package
        parts = [__version__]
        stack = [root]
        while stack:
            folder = stack.pop()
            for e in sorted(os.scandir(folder), key=lambda e: e.name):
                if e.is_dir() and e.name != "__pycache__":
                    stack.append(e.path)
                elif e.name.endswith((".py", ".yaml", ".json")):
                    st = e.stat()
                    parts.append(f"{e.path}:{st.st_size}:{st.st_mtime_ns}")
        _memo.append(hashlib.sha1("\n".join(parts).encode()).hexdigest())
    return _memo[0]
