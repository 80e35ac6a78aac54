"""`vf review` as a user runs it, in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.film import vf


def test_vf_review_serves_on_a_free_loopback_port_and_stops_on_ctrl_c(film: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vfbuild", "-C", str(film), "review"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.match(r"vf review: (http://127\.0\.0\.1:(\d+)/)", line)
        assert m is not None, line + (proc.stderr.read() if proc.stderr else "")
        page = httpx.get(m[1], timeout=30)
        assert page.status_code == 200 and 'name="vf-token"' in page.text
        sheet = httpx.get(f"{m[1]}api/sheet", timeout=30).json()
        assert sheet["title"] == "Tiny Film"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err


def test_vf_review_on_a_taken_port_says_so(film: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = vf(film, "review", "--port", str(port), check=False)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_vf_review_static_writes_a_read_only_page(film: Path, tmp_path: Path) -> None:
    out = tmp_path / "share"
    proc = vf(film, "review", "--static", str(out))
    assert "wrote" in proc.stdout and "index.html" in proc.stdout
    html = (out / "index.html").read_text()
    assert 'name="vf-token" content=""' in html  # no token: nothing to write with
    data = re.search(r'<script id="vf-data" type="application/json">(.*?)</script>', html, re.S)
    assert data is not None
    sheet = json.loads(data[1])
    takes = sheet["shots"][0]["steps"][0]["takes"]
    assert [t["take"] for t in takes] == [1, 2, 3, 4]
    for t in takes:
        assert (out / "media" / t["file"]).read_bytes() == (film / t["file"]).read_bytes()
        assert (out / "thumbs" / f"{t['sha256']}.jpg").is_file()
    for name in ("review.js", "review.css", "favicon.svg"):
        assert (out / name).is_file()
    # Again, over the same folder: the same files.
    vf(film, "review", "--static", str(out))


def test_vf_review_static_refuses_the_films_own_folder(film: Path) -> None:
    proc = vf(film, "review", "--static", str(film), check=False)
    assert proc.returncode == 2
    assert "the film's own folder" in proc.stderr
    assert not (film / "index.html").exists()
