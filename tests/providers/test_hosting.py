"""Hosting input files on fal's CDN (its fake): one upload per content, its URL reused until
it nears the expiry asked for, retried through faults, never with a key sent to the CDN; and
the providers that read inputs by URL (Luma, Kling's lip-sync) working through it."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.base import Faults
from tests.fakes.fal import KEYS as FAL_KEYS
from tests.fakes.fal import FalFake
from tests.fakes.kling import KEYS as KLING_KEYS
from tests.fakes.kling import KlingFake
from tests.fakes.luma import KEYS as LUMA_KEYS
from tests.fakes.luma import LumaFake
from tests.providers.kit import clip, key_of, still, tone
from vfbuild.errors import ProviderError
from vfbuild.fsutil import sha256_file
from vfbuild.media.probe import probe
from vfbuild.providers import get_provider
from vfbuild.providers.base import MakeContext
from vfbuild.providers.hosting import MARGIN, RECORD, Host
from vfbuild.spec.models import Hosting
from vfbuild.store.journal import Journal


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hosting-media")
    return {
        "keyframe": still(d / "kf.png", "640x360"),
        "clip": clip(d / "clip.mp4", "640x360", 3.0),
        "audio": tone(d / "line.wav", 3.0),
    }


@pytest.fixture
def cdn(monkeypatch: pytest.MonkeyPatch) -> Iterator[FalFake]:
    with FalFake(latency=0.05, faults=Faults(retry_after="0")) as f:
        monkeypatch.setenv("VF_HOSTING_BASE_URL", f.url)
        monkeypatch.setenv("FAL_KEY", FAL_KEYS["FAL_KEY"])
        yield f  # type: ignore[misc]


def host(tmp_path: Path, **config: Any) -> Host:
    return Host(Hosting(**config), tmp_path / RECORD)


def fetch(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as resp:
        return bytes(resp.read())


def test_a_file_is_uploaded_once_and_its_url_serves_its_bytes(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    h = host(tmp_path)
    url = h.url(media["keyframe"], "s010")
    assert url.startswith(cdn.cdn_url + "/uploads/") and url.endswith(".png")
    assert fetch(url) == media["keyframe"].read_bytes()
    assert h.url(media["keyframe"], "s010 again") == url
    assert cdn.uploads_received == 1
    # A later build (a new process) reads the record instead of uploading again.
    assert host(tmp_path).url(media["keyframe"], "s010") == url
    assert cdn.uploads_received == 1
    record = json.loads((tmp_path / RECORD).read_text())
    assert record[sha256_file(media["keyframe"])]["url"] == url
    # The CDN never sees the key, and the name on the CDN says nothing about the film.
    assert cdn.cdn_auth_seen == []
    assert "kf" not in url.rsplit("/", 1)[-1]
    assert json.loads(cdn.lifecycles[0] or "") == {"expiration_duration_seconds": 7 * 86400}
    assert ("POST", "/storage/upload/initiate") in cdn.log
    assert cdn.paid_jobs == 0


def test_a_url_near_its_expiry_is_uploaded_again(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    first = host(tmp_path, expires_days=2).url(media["clip"], "s010")
    path = tmp_path / RECORD
    record = json.loads(path.read_text())
    (entry,) = record.values()
    entry["expires"] = time.time() + MARGIN - 60  # less than a day left
    path.write_text(json.dumps(record))
    second = host(tmp_path, expires_days=2).url(media["clip"], "s010")
    assert second != first and cdn.uploads_received == 2
    assert fetch(second) == media["clip"].read_bytes()
    assert json.loads(cdn.lifecycles[-1] or "") == {"expiration_duration_seconds": 2 * 86400}


def test_a_file_the_host_no_longer_serves_is_uploaded_again(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    """The account's own retention was shorter than asked (or the file was deleted): the next
    build finds out with one HEAD and uploads it again, instead of sending a dead URL."""
    first = host(tmp_path).url(media["keyframe"], "s010")
    later = host(tmp_path)
    assert later.url(media["keyframe"], "s010") == first  # still served: kept
    assert [m for m, p in cdn.log if p.startswith("/uploads/")] == ["HEAD"]
    for slot in cdn.signed_uploads.values():
        slot["path"] = None  # gone from the CDN
    again = host(tmp_path)
    second = again.url(media["keyframe"], "s010")
    assert second != first and fetch(second) == media["keyframe"].read_bytes()
    assert again.url(media["keyframe"], "s010") == second  # checked once per build
    assert cdn.uploads_received == 2


def test_takes_of_one_keyframe_share_one_upload(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    h = host(tmp_path)
    urls: list[str] = []
    threads = [
        threading.Thread(target=lambda: urls.append(h.url(media["keyframe"], "t")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(urls)) == 1 and len(urls) == 8
    assert cdn.uploads_received == 1


def test_faults_on_the_initiate_and_the_put_are_retried(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    cdn.faults.force("api", "503", "drop")  # the initiate (not a paid job: safe to resend)
    cdn.faults.force("download", "500", "drop")  # the PUT to the signed URL
    url = host(tmp_path).url(media["audio"], "s050")
    assert fetch(url) == media["audio"].read_bytes()
    assert [f for _, f in cdn.faults.injected] == ["503", "drop", "500", "drop"]
    assert sum(m == "POST" for m, _ in cdn.log) == 3  # two faults, then the slot
    assert sum(m == "PUT" for m, _ in cdn.log) == 3  # the bytes sent whole each time


def test_a_missing_key_is_said_before_anything_is_sent(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAL_KEY")
    with pytest.raises(ProviderError) as e:
        host(tmp_path).url(media["keyframe"], "s010")
    assert "FAL_KEY" in e.value.message and "hosting" in (e.value.hint or "")
    assert cdn.log == []


def test_a_wrong_key_is_a_clear_error_that_leaks_nothing(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "fal-wrong-0b9c5d1e-7a2f-4e3b-8c6d-5f4e3d2c1b0a:0123456789abcdef"
    monkeypatch.setenv("FAL_KEY", wrong)
    from vfbuild.providers.http import add_secret

    add_secret(wrong)
    with pytest.raises(ProviderError) as e:
        host(tmp_path).url(media["keyframe"], "s010")
    assert "401" in e.value.message and "nothing was submitted" in e.value.message
    assert e.value.hint == "check FAL_KEY"
    assert wrong not in str(e.value) + (e.value.hint or "")
    assert not getattr(e.value, "status", None)  # no job may be marked failed for this
    assert not (tmp_path / RECORD).exists()


def test_an_unreadable_record_costs_an_upload_not_a_build(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / ".vf").mkdir()
    (tmp_path / RECORD).write_text("{not json")
    url = host(tmp_path).url(media["keyframe"], "s010")
    assert fetch(url) == media["keyframe"].read_bytes()
    assert json.loads((tmp_path / RECORD).read_text())  # rewritten whole


# -- providers that read their inputs by URL ---------------------------------------------------


def _recipe(provider: str, step: str, model: str) -> dict[str, Any]:
    return {
        "format": 1,
        "step": step,
        "provider": provider,
        "model": model,
        "engine": {"api": "v1"},
        "tier": "draft",
        "settings": {"width": 640, "height": 360, "fps": 24, "duration": 3.0,
                     "provider_settings": {}},
        "prompt": "a yellow car on a snowy mountain road",
        "negative": None,
        "seed": 1,
        "take": 1,
        "inputs": {},
    }  # fmt: skip


def _make(
    name: str, tmp_path: Path, recipe: dict[str, Any], inputs: dict[str, Any], out: Path
) -> Journal:
    film = tmp_path / "film"
    film.mkdir(exist_ok=True)
    h = Host(Hosting(), film / RECORD) if (tmp_path / "hosted").exists() else None
    prov = get_provider(name, film_root=film, host=h)
    journal = Journal(film / ".vf" / "journal")
    prov.make(recipe, inputs, out, MakeContext(key=key_of(recipe), label="s010", journal=journal))
    return journal


@pytest.fixture
def luma(monkeypatch: pytest.MonkeyPatch) -> Iterator[LumaFake]:
    with LumaFake(latency=0.05, faults=Faults(retry_after="0")) as f:
        f.data_uris = False  # as Luma's API most likely has it: it fetches URLs
        monkeypatch.setenv("VF_LUMA_BASE_URL", f.url)
        monkeypatch.setenv("LUMAAI_API_KEY", LUMA_KEYS["LUMAAI_API_KEY"])
        yield f  # type: ignore[misc]


def test_luma_refusing_a_data_uri_says_to_set_hosting(
    luma: LumaFake, media: dict[str, Path], tmp_path: Path
) -> None:
    r = _recipe("luma", "draft", "ray-flash-2")
    with pytest.raises(ProviderError) as e:
        _make("luma", tmp_path, r, {"keyframe": media["keyframe"]}, tmp_path / "d.mp4")
    assert "failed to download the image" in e.value.message
    assert "hosting: {use: fal}" in (e.value.hint or "")
    assert luma.paid_jobs == 0


def test_luma_reads_the_keyframe_from_the_host(
    luma: LumaFake, cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "hosted").touch()
    out = tmp_path / "d.mp4"
    _make(
        "luma",
        tmp_path,
        _recipe("luma", "draft", "ray-flash-2"),
        {"keyframe": media["keyframe"]},
        out,
    )
    assert probe(out).has_video and luma.paid_jobs == 1
    (job,) = luma.jobs.values()
    assert job.input["keyframes"]["frame0"]["url"].startswith(cdn.cdn_url + "/uploads/")
    assert cdn.uploads_received == 1


def test_kling_lipsync_reads_the_clip_from_the_host(
    cdn: FalFake, media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with KlingFake(latency=0.05, faults=Faults(retry_after="0")) as kling:
        kling.data_uris = False
        monkeypatch.setenv("VF_KLING_BASE_URL", kling.url)
        for k, v in KLING_KEYS.items():
            monkeypatch.setenv(k, v)
        (tmp_path / "hosted").touch()
        out = tmp_path / "ls.mp4"
        r = _recipe("kling", "lipsync", "kling-lipsync")
        _make("kling", tmp_path, r, {"clip": media["clip"], "audio": media["audio"]}, out)
        info = probe(out)
        assert info.has_video and info.has_audio and kling.paid_jobs == 1
        (job,) = kling.jobs.values()
        assert job.input["input"]["video_url"].startswith(cdn.cdn_url + "/uploads/")
        assert job.input["input"]["audio_type"] == "file"  # the audio goes inline (base64)
        assert cdn.uploads_received == 1


def test_an_upload_that_fails_leaves_no_journal_entry_and_no_job(
    luma: LumaFake,
    cdn: FalFake,
    media: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-wrong-key-for-this-test")
    (tmp_path / "hosted").touch()
    r = _recipe("luma", "draft", "ray-flash-2")
    with pytest.raises(ProviderError) as e:
        _make("luma", tmp_path, r, {"keyframe": media["keyframe"]}, tmp_path / "d.mp4")
    assert "hosting" in e.value.message and "nothing was submitted" in e.value.message
    journal = Journal(tmp_path / "film" / ".vf" / "journal")
    assert journal.get(key_of(r)) is None  # the next build submits it, no question asked
    assert luma.log == [] and luma.paid_jobs == 0


class _Recorder:
    """A host that hands out made-up URLs and remembers which files it was asked for."""

    def __init__(self) -> None:
        self.urls: dict[Path, str] = {}

    def url(self, path: Path, label: str) -> str:
        return self.urls.setdefault(path, f"https://cdn.test/{len(self.urls)}")


def _body(prov: Any, job: Any) -> Any:
    if prov.name == "luma":
        return prov._request(job)[1]
    if prov.name == "kling":
        return prov._lipsync_body(job) if job.step == "lipsync" else prov._i2v_body(job)
    return prov.input_for(job)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


@pytest.mark.parametrize(
    ("provider", "step", "model"),
    [
        ("fal", "keyframe", "fal-ai/flux-pro/v1.1"),
        ("fal", "keyframe", "fal-ai/flux-pro/kontext"),
        ("fal", "draft", "fal-ai/kling-video/v2.1/standard/image-to-video"),
        ("fal", "upscale", "fal-ai/video-upscaler"),
        ("fal", "lipsync", "fal-ai/sync-lipsync"),
        ("replicate", "keyframe", "black-forest-labs/flux-schnell"),
        ("replicate", "keyframe", "black-forest-labs/flux-1.1-pro"),
        ("replicate", "final", "wavespeedai/wan-2.1-i2v-480p"),
        ("replicate", "upscale", "topazlabs/video-upscale"),
        ("replicate", "lipsync", "sync/lipsync-2"),
        ("luma", "keyframe", "photon-1"),
        ("luma", "draft", "ray-flash-2"),
        ("kling", "draft", "kling-v2-1"),
        ("kling", "lipsync", "kling-lipsync"),
    ],
)
def test_what_is_staged_is_what_the_request_sends_by_url(
    provider: str, step: str, model: str, media: dict[str, Path], tmp_path: Path
) -> None:
    """`url_inputs` names exactly the files a request sends by URL: all of them are uploaded
    before the job is journalled, and none that the request does not send."""
    from vfbuild.providers.remote import RemoteJob

    inputs: dict[str, Any] = {
        "keyframe": {"references": [media["keyframe"], tmp_path / "unused.png"]},
        "draft": {"keyframe": media["keyframe"]},
        "final": {"keyframe": media["keyframe"]},
        "upscale": {"clip": media["clip"]},
        "lipsync": {"clip": media["clip"], "audio": media["audio"]},
    }[step]
    prov: Any = get_provider(provider, film_root=tmp_path)
    prov.host = recorder = _Recorder()
    r = _recipe(provider, step, model) | {"tier": "final" if step == "final" else "draft"}
    job = RemoteJob(key_of(r), r, inputs, "s010", "0c7e6f0a-1b2c-4d3e-8f9a-0b1c2d3e4f5a")
    prov.stage(job)
    staged = dict(recorder.urls)
    sent = {s for s in _strings(_body(prov, job)) if s.startswith("https://cdn.test/")}
    assert recorder.urls == staged  # building the request uploaded nothing more
    assert sent == set(staged.values())
    assert all(not s.startswith("data:") for s in _strings(_body(prov, job)))


def test_a_lost_luma_job_is_found_after_its_keyframe_was_uploaded_again(
    luma: LumaFake, cdn: FalFake, media: dict[str, Path], tmp_path: Path
) -> None:
    """The submit's reply was lost, and by the next build the keyframe's URL neared its expiry
    and was uploaded again: the generation, made from the earlier URL, is still ours."""
    from vfbuild.providers.remote import RemoteJob

    film = tmp_path / "film"
    r = _recipe("luma", "draft", "ray-flash-2")
    journal = Journal(film / ".vf" / "journal")
    entry = journal.begin(key_of(r), provider="luma", model=r["model"], label="s010", cost=0.3)
    job = RemoteJob(key_of(r), r, {"keyframe": media["keyframe"]}, "s010", entry.client_id)
    first: Any = get_provider("luma", film_root=film, host=Host(Hosting(), film / RECORD))
    gen_id = first.submit(job)  # …and the build dies before writing the id
    record_path = film / RECORD
    record = json.loads(record_path.read_text())
    (old,) = record.values()
    old["expires"] = time.time() + MARGIN - 60
    record_path.write_text(json.dumps(record))
    later: Any = get_provider("luma", film_root=film, host=Host(Hosting(), film / RECORD))
    later._journals[job.key] = journal
    assert later.find(job) == gen_id
    (now,) = json.loads(record_path.read_text()).values()
    assert now["url"] != old["url"] and now["earlier"] == [old["url"]]
    assert luma.paid_jobs == 1
