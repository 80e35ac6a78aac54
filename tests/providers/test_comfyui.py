"""The ComfyUI provider against the fake ComfyUI: workflows, uploads, its refusals, and finding a
job by the prompt id we chose.

What every remote provider keeps (the journal, faults, cancel) is in test_contract.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

import pytest

from tests.fakes.base import Faults
from tests.fakes.comfyui import ComfyFake, film_providers
from tests.providers.kit import clip, end_now, key_of, still, tone
from vfbuild import catalog
from vfbuild.errors import ProviderError
from vfbuild.media.probe import probe
from vfbuild.providers import get_provider
from vfbuild.providers.base import MakeContext
from vfbuild.providers.comfyui import ComfyProvider
from vfbuild.providers.remote import FAILED_STATE, RUNNING, RemoteJob
from vfbuild.store.journal import FAILED, SUBMITTED, Journal

LABEL = "s010 draft t01"
PROMPT = "a yellow sports car climbs a snowy mountain road"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Input files: a keyframe PNG, a clip MP4 (no sound), a dialogue WAV."""
    d = tmp_path_factory.mktemp("comfy-media")
    files = {
        "keyframe": still(d / "kf.png", "96x54"),
        "clip": clip(d / "clip.mp4", "96x54", 1),
        "audio": tone(d / "line.wav", 1),
    }
    # Store files have no extension: the provider must sniff what it uploads.
    bare = d / "store-kf"
    bare.write_bytes(files["keyframe"].read_bytes())
    return files | {"bare_keyframe": bare}


@pytest.fixture
def fake() -> Any:
    with ComfyFake(latency=0.1, faults=Faults(retry_after="0", stall_seconds=0.3)) as f:
        yield f


@pytest.fixture
def root(tmp_path: Path, fake: ComfyFake, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", fake.url)
    film = tmp_path / "film"
    film.mkdir()
    film_providers(fake, film)
    return film


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recipe(root: Path, step: str, workflow: str, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "keyframe": {"width": 128, "height": 72},
        "draft": {"width": 96, "height": 54, "fps": 24, "duration": 1, "move": "push-in"},
        "final": {"width": 128, "height": 72, "fps": 24, "duration": 1, "move": "push-in"},
        "upscale": {"width": 192, "height": 108},
        "lipsync": {"fps": 24},
    }[step]
    ps = {"workflow": workflow, "workflow_sha256": sha(root / workflow), **extra}
    video = step in ("draft", "final")
    return {
        "format": 1,
        "step": step,
        "provider": "comfyui",
        "model": "workflow",
        "engine": {"api": "comfyui-prompt-v1"},
        "tier": "draft" if step == "draft" else "final",
        "settings": {**settings, "provider_settings": ps},
        "prompt": PROMPT if step in ("keyframe", "draft", "final") else None,
        "negative": "blurry, low quality" if step != "upscale" else None,
        "seed": 1234 if step in ("keyframe", "draft", "final") else None,
        "take": 1,
        "inputs": {"keyframe": "k" * 64} if video else {},
    }


def ctx(root: Path, r: dict[str, Any], **kw: Any) -> MakeContext:
    return MakeContext(key=key_of(r), label=LABEL, journal=Journal(root / ".vf" / "journal"), **kw)


def provider(root: Path) -> ComfyProvider:
    return cast(ComfyProvider, get_provider("comfyui", config=None, film_root=root))


def make(root: Path, r: dict[str, Any], inputs: dict[str, Any], out: Path, **kw: Any) -> None:
    provider(root).make(r, inputs, out, ctx(root, r, **kw))


def draft(root: Path, media: dict[str, Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    return recipe(root, "draft", "workflows/video_draft.json"), {"keyframe": media["keyframe"]}


def only_prompt(fake: ComfyFake) -> dict[str, Any]:
    assert len(fake.prompts) == 1
    return next(iter(fake.prompts.values())).prompt


# -- each step makes real media -------------------------------------------------------------


def test_catalog_needs_no_key() -> None:
    assert catalog.info("comfyui").env_keys == ()
    assert catalog.can_serve("comfyui", "video") and catalog.can_serve("comfyui", "lipsync")


def test_keyframe_png_of_the_asked_size(root: Path, fake: ComfyFake, media: dict) -> None:
    r = recipe(root, "keyframe", "workflows/keyframe.json")
    out = root / "out.png"
    make(root, r, {"references": []}, out)
    info = probe(out)
    assert info.is_image and (info.width, info.height) == (128, 72)
    assert fake.paid_jobs == 1
    graph = only_prompt(fake)
    assert graph["3"]["inputs"]["seed"] == 1234  # typed, not "1234"
    assert graph["5"]["inputs"]["width"] == 128
    assert graph["6"]["inputs"]["text"] == PROMPT
    assert graph["7"]["inputs"]["text"] == "blurry, low quality"
    assert fake.upload_log == []  # no reference used by this workflow: nothing uploaded
    assert ("POST", "/prompt") in fake.log and fake.cdn_auth_seen == []
    entry = Journal(root / ".vf" / "journal").get(key_of(r))
    assert entry is not None and entry.job_id == entry.client_id  # our prompt id was kept
    assert next(iter(fake.prompts)) == entry.client_id


@pytest.mark.parametrize("step", ["draft", "final"])
def test_video_steps_upload_the_keyframe_and_make_mp4(
    root: Path, fake: ComfyFake, media: dict, step: str
) -> None:
    r = recipe(root, step, f"workflows/video_{step}.json")
    out = root / "out.mp4"
    make(root, r, {"keyframe": media["bare_keyframe"]}, out)
    info = probe(out)
    want = (96, 54) if step == "draft" else (128, 72)
    assert info.has_video and not info.is_image and (info.width, info.height) == want
    assert info.duration == pytest.approx(1.0, abs=0.1)
    graph = only_prompt(fake)
    # The keyframe (a store file without extension) went up as a .png, before the prompt.
    assert len(fake.upload_log) == 1 and fake.upload_log[0].endswith(".png")
    assert graph["52"]["inputs"]["image"] == fake.upload_log[0]
    assert graph["50"]["inputs"]["length"] == 24 and graph["30"]["inputs"]["frame_rate"] == 24
    assert fake.log.index(("POST", "/upload/image")) < fake.log.index(("POST", "/prompt"))


def test_upscale_probes_the_clip_for_fps_and_frames(
    root: Path, fake: ComfyFake, media: dict
) -> None:
    r = recipe(root, "upscale", "workflows/upscale.json")
    out = root / "up.mp4"
    make(root, r, {"clip": media["clip"]}, out)
    info = probe(out)
    assert (info.width, info.height) == (192, 108)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    graph = only_prompt(fake)
    assert graph["5"]["inputs"]["frame_rate"] == 24  # from the clip: upscale has no fps
    assert graph["1"]["inputs"]["video"].endswith(".mp4")


def test_lipsync_muxes_the_dialogue(root: Path, fake: ComfyFake, media: dict) -> None:
    r = recipe(root, "lipsync", "workflows/lipsync.json")
    out = root / "lip.mp4"
    make(root, r, {"clip": media["clip"], "audio": media["audio"]}, out)
    info = probe(out)
    assert info.has_video and info.has_audio and (info.width, info.height) == (96, 54)
    graph = only_prompt(fake)
    assert graph["2"]["inputs"]["audio"].endswith(".wav")
    assert graph["3"]["inputs"]["seed"] == 0  # lipsync recipes carry no seed
    assert len(fake.upload_log) == 2


def test_settings_fill_extra_placeholders(root: Path, fake: ComfyFake, media: dict) -> None:
    wf = json.loads((root / "workflows/keyframe.json").read_text())
    wf["3"]["inputs"]["steps"] = "{{steps}}"
    wf["9"]["inputs"]["filename_prefix"] = "vfbuild/kf_{{seed}}"
    (root / "workflows/steps.json").write_text(json.dumps(wf))
    r = recipe(root, "keyframe", "workflows/steps.json", steps=12)
    make(root, r, {"references": []}, root / "out.png")
    graph = only_prompt(fake)
    assert graph["3"]["inputs"]["steps"] == 12
    assert graph["9"]["inputs"]["filename_prefix"] == "vfbuild/kf_1234"  # text inside a string


def test_uploads_are_named_by_content(root: Path, fake: ComfyFake, media: dict) -> None:
    r, inputs = draft(root, media)
    make(root, r, inputs, root / "a.mp4")
    r2 = {**r, "seed": 99}
    make(root, r2, inputs, root / "b.mp4")
    assert len(set(fake.upload_log)) == 1 and len(fake.uploads) == 1
    assert fake.paid_jobs == 2


# -- the workflow is checked before anything is sent -----------------------------------------


def test_unknown_placeholder_names_file_and_node(root: Path, fake: ComfyFake, media: dict) -> None:
    wf = json.loads((root / "workflows/keyframe.json").read_text())
    wf["3"]["inputs"]["cfg"] = "{{guidance}}"
    (root / "workflows/bad.json").write_text(json.dumps(wf))
    r = recipe(root, "keyframe", "workflows/bad.json")
    with pytest.raises(ProviderError) as e:
        make(root, r, {"references": []}, root / "out.png")
    msg = e.value.message
    assert "workflows/bad.json" in msg and "{{guidance}}" in msg and "node 3" in msg
    assert fake.log == []
    assert Journal(root / ".vf" / "journal").get(key_of(r)) is None


def test_placeholder_the_step_cannot_fill(root: Path, fake: ComfyFake, media: dict) -> None:
    # A keyframe workflow that needs an image, for a shot without references.
    r = recipe(root, "keyframe", "workflows/video_draft.json")
    with pytest.raises(
        ProviderError,
        match=r"uses \{\{fps\}\}, \{\{frames\}\}, \{\{image\}\}, which the keyframe step",
    ):
        make(root, r, {"references": []}, root / "out.png")
    assert fake.log == []


def test_changed_workflow_is_refused(root: Path, fake: ComfyFake, media: dict) -> None:
    r, inputs = draft(root, media)
    path = root / "workflows/video_draft.json"
    path.write_text(path.read_text().replace('"steps": 20', '"steps": 25'))
    with pytest.raises(ProviderError, match="video_draft.json changed since"):
        make(root, r, inputs, root / "out.mp4")
    assert fake.log == []


def test_ui_format_workflow_is_explained(root: Path, fake: ComfyFake) -> None:
    (root / "workflows/ui.json").write_text(json.dumps({"nodes": [], "links": [], "version": 0.4}))
    r = recipe(root, "keyframe", "workflows/ui.json")
    with pytest.raises(ProviderError, match="UI workflow") as e:
        make(root, r, {"references": []}, root / "out.png")
    assert "Export (API)" in (e.value.hint or "")
    assert fake.log == []


def test_missing_workflow_setting(root: Path, fake: ComfyFake) -> None:
    r = recipe(root, "keyframe", "workflows/keyframe.json")
    r["settings"]["provider_settings"] = {}
    with pytest.raises(ProviderError, match="needs a workflow"):
        make(root, r, {"references": []}, root / "out.png")
    assert fake.log == []


# -- refusals and failures ------------------------------------------------------------------


def test_validation_error_names_the_node(root: Path, fake: ComfyFake) -> None:
    wf = json.loads((root / "workflows/keyframe.json").read_text())
    del wf["3"]["inputs"]["steps"]
    (root / "workflows/nosteps.json").write_text(json.dumps(wf))
    r = recipe(root, "keyframe", "workflows/nosteps.json")
    with pytest.raises(ProviderError) as e:
        make(root, r, {"references": []}, root / "out.png")
    msg = e.value.message
    assert LABEL in msg and "Prompt outputs failed validation" in msg
    assert "node 3 (KSampler): Required input is missing (steps)" in msg
    assert fake.paid_jobs == 0
    entry = Journal(root / ".vf" / "journal").get(key_of(r))
    assert entry is not None and entry.state == FAILED


def test_unknown_node_class(root: Path, fake: ComfyFake) -> None:
    wf = json.loads((root / "workflows/keyframe.json").read_text())
    wf["4"]["class_type"] = "NotInstalledLoader"
    (root / "workflows/custom.json").write_text(json.dumps(wf))
    r = recipe(root, "keyframe", "workflows/custom.json")
    with pytest.raises(ProviderError, match="node NotInstalledLoader does not exist"):
        make(root, r, {"references": []}, root / "out.png")
    assert fake.paid_jobs == 0


def test_wrong_output_kind_is_explained(root: Path, fake: ComfyFake, media: dict) -> None:
    # A keyframe workflow used for a video step saves a PNG, not an MP4.
    wf = json.loads((root / "workflows/keyframe.json").read_text())
    wf["5"]["inputs"]["height"] = 72
    (root / "workflows/still.json").write_text(json.dumps(wf))
    r = recipe(root, "draft", "workflows/still.json")
    with pytest.raises(ProviderError, match=r"saved no \.mp4 file \(keyframe_00001_\.png\)"):
        make(root, r, {"keyframe": media["keyframe"]}, root / "out.mp4")


def test_job_the_server_forgot_is_failed(root: Path, fake: ComfyFake, media: dict) -> None:
    r, inputs = draft(root, media)
    journal = Journal(root / ".vf" / "journal")
    entry = journal.begin(key_of(r), provider="comfyui", model="workflow", label=LABEL, cost=0)
    journal.update(entry, state=SUBMITTED, job_id=entry.client_id)  # ComfyUI restarted since
    with pytest.raises(ProviderError, match="no record of prompt"):
        make(root, r, inputs, root / "out.mp4")
    assert journal.get(key_of(r)).state == FAILED  # type: ignore[union-attr]
    assert fake.paid_jobs == 0


def test_upload_over_the_limit(root: Path, media: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    with ComfyFake(latency=0.05, faults=Faults(retry_after="0"), max_upload_bytes=200) as small:
        monkeypatch.setenv("VF_COMFYUI_BASE_URL", small.url)
        r, inputs = draft(root, media)
        with pytest.raises(ProviderError, match="too large") as e:
            make(root, r, inputs, root / "out.mp4")
        assert "--max-upload-size" in (e.value.hint or "")
        assert small.paid_jobs == 0
        assert Journal(root / ".vf" / "journal").get(key_of(r)) is None  # nothing to retry


def test_server_down_leaves_no_failed_job(
    root: Path, fake: ComfyFake, media: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", f"http://127.0.0.1:{port}")
    r, inputs = draft(root, media)
    prov = provider(root)
    prov.http.retries = 1
    with pytest.raises(ProviderError, match="cannot connect"):
        prov.make(r, inputs, root / "out.mp4", ctx(root, r))
    assert Journal(root / ".vf" / "journal").get(key_of(r)) is None
    monkeypatch.setenv("VF_COMFYUI_BASE_URL", fake.url)  # ComfyUI started: no --retry-failed
    make(root, r, inputs, root / "out.mp4")
    assert fake.paid_jobs == 1


# -- crashes and lost replies: never pay twice -----------------------------------------------


def _submit_only(root: Path, r: dict[str, Any], inputs: dict[str, Any]) -> tuple[Journal, str]:
    """The first half of a build that crashed: journalled, queued, maybe the id recorded."""
    journal = Journal(root / ".vf" / "journal")
    entry = journal.begin(key_of(r), provider="comfyui", model="workflow", label=LABEL, cost=0)
    job_id = provider(root).submit(RemoteJob(key_of(r), r, inputs, LABEL, entry.client_id))
    return journal, job_id


def test_lost_reply_found_after_it_finished(root: Path, fake: ComfyFake, media: dict) -> None:
    r, inputs = draft(root, media)
    _, job_id = _submit_only(root, r, inputs)
    end_now(fake.jobs[job_id])  # done: only the history knows it now
    make(root, r, inputs, root / "out.mp4")
    assert fake.paid_jobs == 1


def test_random_faults_never_pay_twice(root: Path, fake: ComfyFake, media: dict) -> None:
    fake.faults = Faults(rate=0.2, seed=7, retry_after="0", stall_seconds=0.1)
    r, inputs = draft(root, media)
    for seed in range(3):
        rr = {**r, "seed": seed}
        make(root, rr, inputs, root / f"out{seed}.mp4")
        assert probe(root / f"out{seed}.mp4").has_video
    assert fake.paid_jobs == 3 and fake.faults.injected


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_interrupts_a_running_job(
    root: Path, media: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queued job is deleted from the queue (test_contract.py); a running one is interrupted,
    and only it."""
    with ComfyFake(latency=10.0, faults=Faults(retry_after="0")) as slow:
        monkeypatch.setenv("VF_COMFYUI_BASE_URL", slow.url)
        prov = provider(root)
        r, inputs = draft(root, media)
        b = RemoteJob("b" * 64, r, inputs, LABEL, "00000000-0000-4000-8000-00000000000b")
        idb = prov.submit(b)
        slow.jobs[idb].created -= 5.0  # half way: running
        assert prov.poll(idb, b).state == RUNNING
        prov.cancel(idb, b)
        assert slow.interrupts == [idb] and ("POST", "/queue") not in slow.log
        result = prov.poll(idb, b)
        assert result.state == FAILED_STATE and "interrupted at node 3" in (result.error or "")


# -- the lead's film ------------------------------------------------------------------------


def test_film_providers_writes_workflows(tmp_path: Path, fake: ComfyFake) -> None:
    from vfbuild.spec.models import Providers

    mapping = film_providers(fake, tmp_path)
    providers = Providers.model_validate(mapping)
    assert providers.video.use == "comfyui"
    for slot, choice in mapping.items():
        for wf in [choice.get("workflow")] + [
            (choice.get(t) or {}).get("workflow") for t in ("draft", "final")
        ]:
            if wf:
                assert (tmp_path / wf).is_file(), (slot, wf)
    assert {"keyframe", "video", "upscale", "lipsync"} == set(mapping)


# -- the fake itself speaks ComfyUI's refusals ------------------------------------------------


def test_fake_refuses_like_comfyui(fake: ComfyFake) -> None:
    import httpx

    from tests.fakes.comfyui import WORKFLOWS

    wf = json.loads((WORKFLOWS / "keyframe.json").read_text())
    with httpx.Client(base_url=fake.url) as c:
        r = c.post("/prompt", json={"client_id": "x"})
        assert r.status_code == 400 and r.json()["error"]["type"] == "no_prompt"
        r = c.post("/prompt", json={"prompt": wf})  # placeholders never filled
        body = r.json()
        assert r.status_code == 400
        assert body["error"]["type"] == "prompt_outputs_failed_validation"
        types = {e["type"] for n in body["node_errors"].values() for e in n["errors"]}
        assert {"unfilled_placeholder", "invalid_input_type"} <= types
        assert body["node_errors"]["3"]["dependent_outputs"] == ["9"]
        broken = json.loads(json.dumps(wf).replace('["8", 0]', '["99", 0]'))
        r = c.post("/prompt", json={"prompt": broken})
        errors = r.json()["node_errors"]["9"]["errors"]
        assert errors[0]["type"] == "exception_during_validation"
        r = c.post("/prompt", json={"prompt": {"1": {"inputs": {}}}})
        assert r.json()["error"]["message"].endswith("missing the class_type property.")
        r = c.post("/prompt", json={"prompt": {"1": {"class_type": "VAEDecode", "inputs": {}}}})
        assert r.json()["error"]["type"] == "prompt_no_outputs"
        assert c.get("/history/nope").json() == {}
        assert c.get("/queue").json() == {"queue_running": [], "queue_pending": []}
        r = c.post("/upload/image", files={"image": ("a.png", b"one")})
        assert r.json() == {"name": "a.png", "subfolder": "", "type": "input"}
        r = c.post("/upload/image", files={"image": ("a.png", b"two")})
        assert r.json()["name"] == "a (1).png"  # same name, other bytes: renamed
        r = c.post("/upload/image", files={"image": ("a.png", b"one")})
        assert r.json()["name"] == "a.png"  # same bytes: reused
        assert c.post("/upload/image", data={"overwrite": "true"}).status_code == 400
    assert fake.paid_jobs == 0
