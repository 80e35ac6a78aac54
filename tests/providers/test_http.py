"""The shared HTTP client against a real server on 127.0.0.1: retries, Retry-After, lost
replies on paid POSTs, streamed downloads, and credentials that stay with their own origin."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.fakes.base import FakeServer, Faults, Reply, Request
from vfbuild.errors import ProviderError, SubmitUnknown
from vfbuild.providers.http import Http, add_secret, redact

SECRET = "key-for-http-tests-93a1f0c2d7"


class EchoFake(FakeServer):
    name = "echo"

    def setup_routes(self) -> None:
        self.route("POST", r"/jobs", self.create, "create")
        self.route("GET", r"/jobs/(?P<id>\w+)", self.get)
        self.route("GET", r"/bad", lambda r: Reply(422, {"detail": f"bad input {SECRET}"}))
        self.route("GET", r"/events", self.events)

    def events(self, req: Request) -> Reply:
        # The SSE format's corners: a comment, other fields, a value without the space, a
        # value over two data lines, CRLF line ends, an event that is only a comment.
        chunks = [
            b": ping\n\n",
            b'event: status\nid: 1\ndata: {"n": 1}\n\n',
            b'data:{"n": 2}\r\n\r\n',
            b'data: {"n":\ndata: 3}\n\n',
            b"retry: 100\n\n",
        ]
        return Reply(200, stream=iter(chunks), content_type="text/event-stream")

    def create(self, req: Request) -> Reply:
        job = self.new_job(f"j{len(self.jobs)}", "video", req.json(), width=32, height=32)
        return Reply(201, {"id": job.id})

    def get(self, req: Request) -> Reply:
        job = self.jobs[req.match["id"]]
        return Reply(200, {"state": job.state(), "url": self.media_url(job)})


@pytest.fixture
def fake():
    with EchoFake(latency=0.0, faults=Faults(retry_after="0")) as f:
        yield f


def client(fake: FakeServer, **kw) -> Http:
    return Http("echo", fake.url, {"Authorization": f"Key {SECRET}"}, timeout=2, backoff=0.01, **kw)


def test_get_is_retried_through_429_500_503_and_a_dropped_connection(fake: EchoFake) -> None:
    h = client(fake)
    job_id = h.request("POST", "/jobs", what="submit", creates=True, json={}).json()["id"]
    fake.faults.force("api", "429", "500", "503", "drop")
    assert h.get_json(f"/jobs/{job_id}", what="poll")["state"] == "done"
    assert [f for _, f in fake.faults.injected] == ["429", "500", "503", "drop"]


def test_retry_after_is_honoured(fake: EchoFake) -> None:
    fake.faults.retry_after = "1"
    h = client(fake)
    job_id = h.request("POST", "/jobs", what="submit", creates=True, json={}).json()["id"]
    fake.faults.force("api", "429")
    start = time.monotonic()
    h.get_json(f"/jobs/{job_id}", what="poll")
    assert time.monotonic() - start >= 0.95


def test_a_paid_post_is_resent_only_when_plainly_refused(fake: EchoFake) -> None:
    h = client(fake)
    fake.faults.force("create", "429", "503")
    h.request("POST", "/jobs", what="submit", creates=True, json={})
    assert fake.paid_jobs == 1  # refused twice, accepted once

    fake.faults.force("create", "drop")  # the job is made, the reply is lost
    with pytest.raises(SubmitUnknown, match="reply was lost"):
        h.request("POST", "/jobs", what="submit", creates=True, json={})
    assert fake.paid_jobs == 2  # and it was not sent again

    fake.faults.force("create", "500")
    with pytest.raises(SubmitUnknown, match="may or may not exist"):
        h.request("POST", "/jobs", what="submit", creates=True, json={})


def test_client_errors_are_not_retried_and_never_show_a_secret(fake: EchoFake) -> None:
    add_secret(SECRET)
    with pytest.raises(ProviderError) as info:
        client(fake).get_json("/bad", what="check")
    assert "HTTP 422" in info.value.message
    assert SECRET not in info.value.message and "***" in info.value.message
    assert fake.log.count(("GET", "/bad")) == 1
    assert redact(f"x {SECRET} y") == "x *** y"


def test_downloads_stream_retry_short_bodies_and_send_no_key_to_the_cdn(
    fake: EchoFake, tmp_path: Path
) -> None:
    h = client(fake)
    job_id = h.request("POST", "/jobs", what="submit", creates=True, json={}).json()["id"]
    url = h.get_json(f"/jobs/{job_id}", what="poll")["url"]
    fake.faults.force("download", "truncate", "500", "drop")
    size = h.download(url, tmp_path / "clip.mp4", what="download")
    assert size == (tmp_path / "clip.mp4").stat().st_size > 1000
    assert [f for _, f in fake.faults.injected] == ["truncate", "500", "drop"]
    assert fake.cdn_auth_seen == []


def test_a_download_that_stays_short_fails_clearly(fake: EchoFake, tmp_path: Path) -> None:
    h = client(fake, retries=2)
    job_id = h.request("POST", "/jobs", what="submit", creates=True, json={}).json()["id"]
    url = h.get_json(f"/jobs/{job_id}", what="poll")["url"]
    fake.faults.force("download", "truncate", "truncate", "truncate")
    with pytest.raises(ProviderError, match="failed after 3 tries"):
        h.download(url, tmp_path / "clip.mp4", what="download")


def test_a_stalled_reply_times_out_and_is_retried(fake: EchoFake) -> None:
    fake.faults.stall_seconds = 1.5
    h = Http("echo", fake.url, {}, timeout=0.5, backoff=0.01)
    job_id = h.request("POST", "/jobs", what="submit", creates=True, json={}).json()["id"]
    fake.faults.force("api", "stall")
    assert h.get_json(f"/jobs/{job_id}", what="poll")["state"] == "done"


def test_server_sent_events_are_parsed_as_they_come(fake: EchoFake) -> None:
    h = client(fake)
    assert list(h.events("/events", what="stream")) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert fake.log[-1] == ("GET", "/events")


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_failed_event_stream_is_one_clear_error_not_retried(fake: EchoFake, fault: str) -> None:
    fake.faults.force("api", fault)
    with pytest.raises(ProviderError, match="echo: stream"):
        list(client(fake).events("/events", what="stream"))
    assert len(fake.log) == 1  # the caller decides what next (fal polls)


def test_httpx_is_imported_without_async_backends_or_its_command_line() -> None:
    """trio, anyio (httpcore's async backends) and click (httpx's command line) cost a build's
    first request ~40 ms when installed; a fresh interpreter shows they stay out, and that
    importing them later still works."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from vfbuild.providers.http import Http, _httpx\n"
        "httpx = _httpx()\n"
        "Http('t', 'http://127.0.0.1:9').fresh\n"  # httpx imports httpcore for its first client
        "assert 'httpcore' in sys.modules\n"
        "print(sorted(n for n in ('trio', 'anyio', 'click') if n in sys.modules))\n"
        "import importlib.util\n"
        "for n in ('trio', 'anyio', 'click'):\n"
        "    if importlib.util.find_spec(n) is not None:\n"
        "        __import__(n)\n"
        "print('importable')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "importable"]


def test_a_prewarmed_provider_has_its_clients_ready(tmp_path: Path) -> None:
    import threading

    from vfbuild.providers import get_provider

    prov = get_provider("fal", film_root=tmp_path)
    prov.prewarm()
    prov.prewarm()  # once only
    warm = [t for t in threading.enumerate() if t.name == "fal-warm-submit"]
    assert len(warm) <= 1
    for t in warm:
        t.join(10)
    assert "fresh" in prov.http.__dict__ and "client" in prov.http.__dict__


def test_a_provider_warmed_before_its_jobs_start_is_ready_on_return(tmp_path: Path) -> None:
    from vfbuild.providers import get_provider

    prov = get_provider("fal", film_root=tmp_path)
    prov.prewarm(wait=True)
    assert "fresh" in prov.http.__dict__ and "client" in prov.http.__dict__


def test_media_types_come_from_the_extension_or_the_first_bytes(tmp_path: Path) -> None:
    from vfbuild.media.types import media_type
    from vfbuild.providers.remote import data_uri

    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    (tmp_path / "a.PNG").write_bytes(png)
    (tmp_path / "objectname").write_bytes(png)  # a store object has no extension
    (tmp_path / "clip.mov").write_bytes(b"\0\0\0\x14ftypqt  ")
    (tmp_path / "b.bin").write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    (tmp_path / "c.xyz").write_bytes(b"plain text here..")
    assert media_type(tmp_path / "a.PNG") == "image/png"
    assert media_type(tmp_path / "objectname") == "image/png"
    assert media_type(tmp_path / "clip.mov") == "video/quicktime"
    assert media_type(tmp_path / "b.bin") == "audio/wav"
    assert media_type(tmp_path / "c.xyz") == "application/octet-stream"
    assert data_uri(tmp_path / "objectname").startswith("data:image/png;base64,iVBORw0K")
