"""The review server over plain HTTP: what it serves, what it refuses, and its two writes."""

from __future__ import annotations

import http.client
import json
import os
import re
from pathlib import Path

import httpx
import pytest

from tests.review.conftest import take_file
from vfbuild.fsutil import sha256_file
from vfbuild.review.server import ReviewServer
from vfbuild.store.locks import LockBook


def _token(server: ReviewServer) -> str:
    page = httpx.get(server.url).text
    m = re.search(r'<meta name="vf-token" content="([^"]+)">', page)
    assert m is not None, page[:500]
    return m[1]


def _pick_body() -> dict[str, object]:
    return {"shot": "s010", "step": "keyframe", "take": 3}


def _raw_get(server: ReviewServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    """A GET of `path` exactly as written (httpx would normalize the dots away)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{server.port}")
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_it_listens_on_loopback_only(server: ReviewServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}/"


def test_a_post_with_the_pages_token_picks_as_vf_pick_does(
    server: ReviewServer, film: Path
) -> None:
    token = _token(server)
    origin = f"http://127.0.0.1:{server.port}"
    r = httpx.post(
        f"{origin}/api/pick",
        json=_pick_body(),
        headers={"X-VF-Token": token, "Origin": origin, "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 200, r.text
    pick = LockBook(film).pick("s010", "keyframe")
    assert pick is not None and pick.take == 3
    assert pick.sha256 == sha256_file(take_file(film, 3))
    # The answer carries the new state: the page redraws from it without a reload.
    shot = r.json()["sheet"]["shots"][0]
    keyframe = shot["steps"][0]
    assert keyframe["pick"] == {"take": 3, "version": 1, "out_of_date": False}
    assert [t["take"] for t in keyframe["takes"] if t["picked"]] == [3]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:1"},  # another port of this machine is another origin
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=["other-site", "other-port", "null-origin", "cross-site", "same-site"],
)
def test_a_cross_origin_post_is_refused_even_with_the_token(
    server: ReviewServer, film: Path, headers: dict[str, str]
) -> None:
    token = _token(server)
    lock = film / "locks" / "s010.yaml"
    before = lock.read_bytes()
    r = httpx.post(
        f"{server.url}api/pick", json=_pick_body(), headers={"X-VF-Token": token, **headers}
    )
    assert r.status_code == 403
    assert "another site" in r.json()["error"]
    assert lock.read_bytes() == before
    assert LockBook(film).pick("s010", "keyframe") is None


@pytest.mark.parametrize("token", [None, "", "x" * 43], ids=["none", "empty", "wrong"])
def test_a_post_without_the_token_is_refused(
    server: ReviewServer, film: Path, token: str | None
) -> None:
    origin = f"http://127.0.0.1:{server.port}"
    headers = {"Origin": origin}
    if token is not None:
        headers["X-VF-Token"] = token
    for path in ("/api/pick", "/api/build"):
        r = httpx.post(f"{origin}{path}", json=_pick_body(), headers=headers)
        assert r.status_code == 403
        assert "token" in r.json()["error"]
    assert LockBook(film).pick("s010", "keyframe") is None
    assert not server.builds.running


def test_a_write_that_is_not_json_is_refused(server: ReviewServer) -> None:
    # A plain HTML form can send text/plain across origins without a preflight.
    r = httpx.post(
        f"{server.url}api/pick",
        content=json.dumps(_pick_body()),
        headers={"X-VF-Token": _token(server), "Content-Type": "text/plain"},
    )
    assert r.status_code == 403


def test_another_host_name_gets_nothing(server: ReviewServer) -> None:
    """A site that points its own name at 127.0.0.1 (DNS rebinding) reads neither the page
    (and its token) nor the film."""
    for path in ("/", "/api/sheet", "/media/03_Generations/v1_exploration/"):
        status, body = _raw_get(server, path, host=f"evil.example:{server.port}")
        assert status == 421
        assert b"vf-token" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/../shots.yaml",
        "/shots.yaml",
        "/media/../shots.yaml",
        "/media/%2e%2e/shots.yaml",
        "/media/03_Generations/../shots.yaml",
        "/media/03_Generations/%2e%2e/%2e%2e/shots.yaml",
        "/media/03_Generations/..%2f..%2fshots.yaml",
        "/media/shots.yaml",
        "/media/locks/s010.yaml",
        "/media/.vf/build.lock",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/static/../server.py",
        "/static/review.html",
        "/thumb/../../shots.yaml",
        "/thumb/" + "0" * 64,
    ],
)
def test_only_layout_files_are_served(server: ReviewServer, path: str) -> None:
    status, body = _raw_get(server, path)
    assert status == 404, (path, body[:200])
    assert b"Tiny Film" not in body


def test_a_link_out_of_the_film_is_404(server: ReviewServer, film: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not the film's")
    folder = film / "03_Generations" / "v1_exploration"
    os.symlink(secret, folder / "out.png")
    os.symlink(film / "shots.yaml", folder / "spec.png")  # inside the film, outside the layout
    os.symlink(tmp_path, film / "03_Generations" / "elsewhere")
    for path in (
        "/media/03_Generations/v1_exploration/out.png",
        "/media/03_Generations/v1_exploration/spec.png",
        "/media/03_Generations/elsewhere/secret.png",
    ):
        status, body = _raw_get(server, path)
        assert status == 404, path
        assert b"not the film's" not in body


def test_a_take_is_served_whole_and_by_range(server: ReviewServer, film: Path) -> None:
    rel = take_file(film, 2).relative_to(film).as_posix()
    data = take_file(film, 2).read_bytes()
    r = httpx.get(f"{server.url}media/{rel}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/png"
    part = httpx.get(f"{server.url}media/{rel}", headers={"Range": "bytes=8-15"})
    assert part.status_code == 206 and part.content == data[8:16]
    assert part.headers["content-range"] == f"bytes 8-15/{len(data)}"
    bad = httpx.get(f"{server.url}media/{rel}", headers={"Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416


def test_the_sheet_lists_every_take_with_its_recipe(server: ReviewServer, film: Path) -> None:
    sheet = httpx.get(f"{server.url}api/sheet").json()
    assert sheet["title"] == "Tiny Film"
    assert [s["id"] for s in sheet["shots"]] == ["s010", "s020", "s030"]
    keyframe = sheet["shots"][0]["steps"][0]
    assert keyframe["step"] == "keyframe" and keyframe["version"] == 1
    assert keyframe["missing_pick"] is True and keyframe["pick"] is None
    takes = keyframe["takes"]
    assert [t["take"] for t in takes] == [1, 2, 3, 4]
    assert [t["seed"] for t in takes] == [10, 11, 12, 13]
    for t in takes:
        assert t["provider"] == "local" and t["model"]
        assert "yellow car" in t["prompt"]
        assert t["sha256"] == sha256_file(film / t["file"])
    assert sheet["shots"][0]["waits_for"]["text"] == "pick a keyframe take"
    # s020 was not built: its takes are listed, not made, and it waits for a build.
    s020 = sheet["shots"][1]["steps"][0]
    assert all(t["file"] is None for t in s020["takes"])
    assert sheet["shots"][1]["waits_for"]["who"] == "build"


def test_a_thumbnail_is_made_once_and_cached_by_sha256(server: ReviewServer, film: Path) -> None:
    sha = sha256_file(take_file(film, 1))
    r = httpx.get(f"{server.url}thumb/{sha}")
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"  # a JPEG
    assert "immutable" in r.headers["cache-control"]
    cached = film / ".vf" / "cache" / "thumbs" / sha[:2] / f"{sha}.jpg"
    made = cached.stat().st_mtime_ns
    assert httpx.get(f"{server.url}thumb/{sha}").content == r.content
    assert cached.stat().st_mtime_ns == made


def test_the_page_holds_nothing_from_the_environment(
    film: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-secret-key-1234567890")
    srv = ReviewServer(film, 0)
    import threading

    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        for path in ("", "api/sheet", "api/plan", "static/review.js"):
            assert b"fal-secret-key" not in httpx.get(f"{srv.url}{path}").content
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def test_a_build_from_the_page_streams_its_progress(server: ReviewServer, film: Path) -> None:
    token = _token(server)
    origin = f"http://127.0.0.1:{server.port}"
    headers = {"X-VF-Token": token, "Origin": origin}
    assert httpx.post(f"{origin}/api/pick", json=_pick_body(), headers=headers).status_code == 200
    plan = httpx.get(f"{origin}/api/plan?tier=draft").json()
    assert any(r["name"] == "s010" and r["step"] == "draft" for r in plan["rows"])
    r = httpx.post(
        f"{origin}/api/build", json={"tier": "draft", "shots": ["s010"]}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["planned"] == 2
    events = []
    with httpx.stream("GET", f"{origin}/api/events?since=0", timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["type"] == "done":
                    break
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    done = events[-1]
    assert done["ok"] is True, done
    assert done["made"] == 2
    made = [e["text"] for e in events if e["type"] == "line" and "made s010 draft" in e["text"]]
    assert len(made) == 2
    assert (film / "03_Generations/v1_exploration/s010_draft_v001_t02.mp4").is_file()
    # The film's build lock was taken and given back: the CLI can build it now.
    assert not (film / ".vf" / "build.running").exists()


def _age(root: Path, seconds: float) -> None:
    """Every file and folder of the film `seconds` older: out of the racy window."""
    import time

    then = time.time() - seconds
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.utime(os.path.join(dirpath, name), (then, then), follow_symlinks=False)
    os.utime(root, (then, then))


def test_the_sheet_is_kept_while_the_film_does_not_change(film: Path) -> None:
    from vfbuild import api
    from vfbuild.review.sheet import SHEET_STAMP, sheet_json

    _age(film, 10)
    body, world = sheet_json(api.open(film))
    assert world is not None and json.loads(body)["title"] == "Tiny Film"
    stamp = film / SHEET_STAMP
    assert stamp.read_bytes().split(b"\n", 1) == [world.encode(), body]
    # Nothing changed: the kept sheet is the answer (a marked one shows it is read).
    stamp.write_bytes(world.encode() + b'\n{"kept": true}')
    assert sheet_json(api.open(film)) == (b'{"kept": true}', world)
    # A pick, from another process (`vf pick`), changes the lock: the sheet is made again.
    from tests.e2e.film import vf

    vf(film, "pick", "s010", "keyframe", "4")
    body, _ = sheet_json(api.open(film))
    keyframe = json.loads(body)["shots"][0]["steps"][0]
    assert keyframe["pick"] == {"take": 4, "version": 1, "out_of_date": False}


def test_the_server_shows_a_pick_made_from_the_command_line(
    server: ReviewServer, film: Path
) -> None:
    _age(film, 10)
    first = httpx.get(f"{server.url}api/sheet").json()
    assert first["shots"][0]["steps"][0]["pick"] is None
    from tests.e2e.film import vf

    vf(film, "pick", "s010", "keyframe", "1")
    again = httpx.get(f"{server.url}api/sheet").json()
    assert again["shots"][0]["steps"][0]["pick"]["take"] == 1
