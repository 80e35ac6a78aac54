"""`vf build`'s live progress: on a terminal (a pseudo-terminal here) the progress is drawn and
redrawn in place, its count of takes done going up; piped, or with --plain, the same lines as
ever, one per event."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.e2e.film import make_film, vf
from tests.e2e.remote import remote_film
from vfbuild.plan import events as ev
from vfbuild.plan.events import BuildEvent
from vfbuild.progress import Progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FRAME = re.compile(r"takes (\d+)/(\d+)")


def vf_on_a_terminal(
    film: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run `vf -C film ARGS` with its stdout on a pseudo-terminal of 120x40 (stderr piped):
    (exit code, what the terminal received, stderr)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "vfbuild", "-C", str(film), *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**os.environ, "TERM": "xterm-256color", **(env or {})},
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace"), err


def frames(screen: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in FRAME.findall(ANSI.sub("", screen))]


def test_a_build_on_a_terminal_draws_live_progress_that_counts_up(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    code, screen, err = vf_on_a_terminal(film, "build", "--tier", "draft", "-j", "2")
    assert code == 0, screen + err
    text = ANSI.sub("", screen)
    made = int(re.search(r"made (\d+) artifact\(s\)", text).group(1))  # type: ignore[union-attr]
    assert made == 12  # six keyframes, the rough cut's three segments, its join, its subtitles
    seen = frames(screen)
    done = [d for d, _ in seen]
    # Redrawn in place (the cursor goes back up over the last frame), many times over, and
    # every frame counts as many takes done as the one before it, or more.
    assert screen.count("\x1b[1A") >= 5 and len(seen) >= 5, text
    assert done == sorted(done), seen
    assert len(set(done)) >= 4 and done[0] == 0 and seen[-1] == (made, made), seen
    # The takes in flight are listed: each with its shot, step, take and state.
    assert re.search(r"s0[123]0\s+keyframe\s+t0[12]\s+local\s+(pending|running)", text), text
    # The lines of the build are still printed, above the live part.
    assert len(re.findall(r"  made s0\d0 keyframe", text)) == 6 and "made edit" in text
    assert "Traceback" not in err


def test_a_remote_build_on_a_terminal_shows_the_providers_states_and_the_money(
    tmp_path: Path,
) -> None:
    with remote_film(tmp_path, "fal", slots=("keyframe",), latency=1.5) as film:
        code, screen, err = vf_on_a_terminal(
            film.root, "build", "--tier", "draft", "-j", "3", "--budget", "5", env=film.env
        )
        assert code == 0, screen + err
    text = ANSI.sub("", screen)
    # Each job is seen at the provider: queued for the first fifth of its time, then running.
    assert re.search(r"s0[123]0\s+keyframe\s+t0[12]\s+fal\s+queued", text), text
    assert re.search(r"s0[123]0\s+keyframe\s+t0[12]\s+fal\s+running\s+\d+\.\ds", text), text
    spent = [float(m) for m in re.findall(r"\$(\d+\.\d\d) of \$5\.00", text)]
    assert spent == sorted(spent) and spent[0] == 0.0 and spent[-1] > 0, spent
    assert "+$0.24 for this build's jobs" in text


def test_piped_or_plain_the_build_prints_one_line_per_event(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    piped = vf(film, "build", "--tier", "draft", "-j", "2").stdout
    assert "\x1b[" not in piped and not FRAME.search(piped)
    lines = piped.splitlines()
    assert lines[0] == "vf build: Tiny Film, 3 shot(s), tier draft, -j 2"
    assert sum(ln.startswith("  made s0") and " keyframe " in ln for ln in lines) == 6
    # On a terminal, --plain prints the same lines, and nothing else.
    vf(film, "pick", "s010", "keyframe", "1")
    code, screen, err = vf_on_a_terminal(film, "build", "--tier", "draft", "--plain")
    assert code == 0, screen + err
    assert "\x1b[" not in screen and not FRAME.search(screen)
    assert "  made s010 draft t01 (local" in screen


def test_the_no_op_on_a_terminal_never_loads_rich(tmp_path: Path) -> None:
    film = make_film(tmp_path / "film")
    vf(film, "build", "--tier", "draft")
    vf(film, "build", "--tier", "draft")  # the no-op that writes the stamp
    code, screen, err = vf_on_a_terminal(
        film, "build", "--tier", "draft", env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert code == 0 and "nothing else to make" in screen, screen + err
    imported = [ln.rsplit("|", 1)[-1].strip() for ln in err.splitlines() if "import time" in ln]
    assert "vfbuild.api" in imported  # the measure works…
    assert not [m for m in imported if m.split(".")[0] == "rich"], imported  # … and no rich


def test_progress_follows_each_take_from_its_slot_to_done() -> None:
    p = Progress()
    take = {"label": "s010 draft t01", "shot": "s010", "step": "draft", "take": 1}
    p.hear(BuildEvent(ev.HEADER, "vf build: …", budget=2.0))
    p.hear(BuildEvent(ev.STEP, shot="s010", step="draft", count=2))
    p.hear(BuildEvent(ev.TAKE, state=ev.PENDING, provider="fal", at=10.0, **take))
    p.hear(BuildEvent(ev.TAKE, state=ev.SUBMITTING, provider="fal", at=12.0, **take))
    p.hear(BuildEvent(ev.TAKE, state=ev.QUEUED, provider="fal", at=13.0, **take))
    s = p.snapshot()
    assert (s.done, s.total, s.budget) == (0, 2, 2.0)
    # Its age counts from when it got its -j slot, not from when it began to wait for one.
    assert [(t.state, t.since, t.provider) for t in s.takes] == [(ev.QUEUED, 12.0, "fal")]
    p.hear(BuildEvent(ev.MADE, "  made s010 draft t01", cost=0.4, **take))
    p.hear(BuildEvent(ev.SPENT, spent=0.4))
    p.hear(BuildEvent(ev.FAILED, label="s010 draft t02", shot="s010", step="draft", take=2))
    s = p.snapshot()
    assert (s.done, s.total, s.failed, s.spent, s.takes) == (2, 2, 1, 0.4, ())
