"""`prompts.txt`: every prompt sent, with shot, step, version, take and seed.

Appended once per recipe key, so remaking a take from the store or on a fresh clone does not
log it twice. Keys already present are read from the file itself, the only truth two clones
share.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

KEY_RE = re.compile(r"\bkey=([0-9a-f]{12,64})\b")


class PromptLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys: set[str] | None = None

    def _known(self) -> set[str]:
        if self._keys is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            self._keys = set(KEY_RE.findall(text))
        return self._keys

    def append(
        self,
        *,
        key: str,
        shot: str,
        step: str,
        version: int,
        take: int,
        seed: int | None,
        provider: str,
        model: str,
        prompt: str,
        negative: str | None,
    ) -> None:
        short = key[:16]
        with self._lock:
            known = self._known()
            if short in known or key in known:
                return
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            lines = [
                f"[{stamp}] {shot} {step} v{version:03d} t{take:02d} seed={seed} "
                f"provider={provider} model={model} key={short}",
                f"  prompt: {prompt}",
            ]
            if negative:
                lines.append(f"  negative: {negative}")
            with open(self.path, "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            known.add(short)
