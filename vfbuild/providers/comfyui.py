"""ComfyUI: your own GPU (or a render box) running a workflow from the film.

The film holds API-format workflow JSON files ("Export (API)" in ComfyUI); shots.yaml names
one per slot or tier (`workflow: workflows/draft.json`), and the recipe carries its sha256, so
editing the file makes a new version. vfbuild fills the placeholders in the workflow and
queues it:

- a string value that is exactly `{{name}}` becomes the typed value (an int for seed, width,
  height, frames and fps); inside a longer string it is substituted as text;
- `{{prompt}}`, `{{negative}}`, `{{seed}}`, `{{width}}`, `{{height}}`, `{{fps}}`, `{{frames}}`
  (duration × fps), and the uploaded input files: `{{image}}` (the keyframe for video steps,
  the first reference for keyframes, the clip for upscale and lipsync), `{{video}}` (the clip)
  and `{{audio}}` (the dialogue);
- any other key of the tier's settings in shots.yaml (e.g. `steps: 30` fills `{{steps}}`);
- anything else left as `{{…}}` is an error naming the file, the node and the placeholder.

Upscale and lipsync recipes carry no duration (and lipsync no size): `{{frames}}`, `{{fps}}`,
`{{width}}` and `{{height}}` then come from a probe of the clip. A step without a prompt,
negative or seed fills "", "" and 0. The workflow is filled and its inputs uploaded before the
job is journalled, so a bad workflow or a server that is down leaves nothing to retry.

Protocol: input files go up with `POST /upload/image` (any file type; the server's upload limit
is `--max-upload-size`, 100 MB by default), then `POST /prompt` with `prompt_id` set to the
job's client id, a UUID we choose: a lost reply is resolved by asking `GET /history/{id}` and
`GET /queue` for it. Results are read from `GET /history/{id}` and downloaded from `GET /view`
on the same server. ComfyUI keeps its queue and history in memory: a job it no longer knows
(the server restarted) is reported failed, and `--retry-failed` queues it again.

One module though long: the placeholder filling and the protocol above are ComfyUI's alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from vfbuild.errors import HttpStatusError, ProviderError
from vfbuild.media.types import MEDIA_TYPES, OCTET_STREAM, sniff_ext
from vfbuild.providers.base import InputFiles, MakeContext
from vfbuild.providers.comfypool import Box, BoxPool, split_urls, unreachable
from vfbuild.providers.http import Http
from vfbuild.providers.remote import (
    FAILED_STATE,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Poll,
    RemoteJob,
    RemoteProvider,
)

log = logging.getLogger("vfbuild.comfyui")

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
INT_VALUES = frozenset({"seed", "width", "height", "frames", "fps"})
BUILTIN = ("prompt", "negative", "seed", "width", "height", "frames", "fps", "image", "video",
           "audio")  # fmt: skip
# Keys of the tier's settings that vfbuild itself reads: never placeholders.
RESERVED_SETTINGS = frozenset({"model", "workflow", "workflow_sha256"})
# History keys under which output nodes list their files (SaveImage: images; VideoHelperSuite's
# VHS_VideoCombine: gifs; some video savers: videos).
OUTPUT_KEYS = ("images", "gifs", "videos")
WANTED = {"keyframe": (".png",)}
VIDEO_EXTS = (".mp4",)
DEFAULT_MAX_UPLOAD_MB = 100


class ComfyProvider(RemoteProvider):
    name = "comfyui"
    can_find = True  # the client chooses the prompt id
    api = "comfyui-prompt-v1"
    # Runs on your own GPU: priced 0 in the price table, but journalled like any paid job so a
    # crash never queues the same (long) render twice.
    paid = True

    # -- the run ----------------------------------------------------------------------------

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        # recipe key → the filled workflow, its name, and the box its inputs went up to
        self._ready: dict[str, tuple[dict[str, Any], str, Box]] = {}
        self._reserved: dict[str, Box] = {}  # recipe key → the box chosen for it, unsent
        self._reserve_lock = threading.Lock()
        urls = split_urls(self.base_url) or [self.base_url]
        timeout = kw.get("timeout", 60.0)
        if len(urls) > 1:  # VF_COMFYUI_BASE_URL=http://a:8188,http://b:8188
            self.base_url = urls[0]
            self.http = Http(self.name, urls[0], self.auth_headers, timeout=timeout)
        self.pool = BoxPool(self.name, urls, timeout)
        self.pool.boxes[0].http = self.http  # one box: the provider as it always was

    def use_pool(self, urls: list[str]) -> None:
        """The slot's `base_urls:` (VF_COMFYUI_BASE_URL, when set, wins, as for one box)."""
        import os

        if os.environ.get(self.info.base_url_env):
            return
        boxes = split_urls(urls)
        if boxes:
            self.base_url = boxes[0]
            self.http = Http(self.name, boxes[0], self.auth_headers, timeout=self.pool.timeout)
            self.pool = BoxPool(self.name, boxes, self.pool.timeout)
            self.pool.boxes[0].http = self.http

    def _make(
        self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext
    ) -> None:
        try:
            super()._make(recipe, inputs, out, ctx)
        finally:
            self._ready.pop(ctx.key, None)
            self._release(ctx.key)

    def stage(self, job: RemoteJob) -> None:
        """Choose the job's box, fill the workflow and upload its inputs there, before
        anything is journalled: a bad file is fixed by editing it (a new recipe), a server
        that is down by starting it; neither should leave a failed job that waits for
        `--retry-failed`. Uploads are free.

        This runs once the take holds its `-j` slot, just before its submit. Chosen earlier,
        when every take of the step starts, the boxes are spread over takes that then wait
        for slots in another order: the takes let in first may all have the same box while
        another sits idle.
        """
        super().stage(job)
        self._ready[job.key] = self._prepare_somewhere(job)

    def _prepare_somewhere(self, job: RemoteJob, exclude: tuple[str, ...] = ()) -> Any:
        """The filled workflow, its inputs uploaded to the least busy box that takes them."""
        tried = list(exclude)
        while True:
            box = self.pool.choose(tried)
            with self._reserve_lock:
                old = self._reserved.pop(job.key, None)
                self._reserved[job.key] = box
            if old is not None:
                self.pool.sent(old)
            try:
                graph, rel = self._prepare(job, box.http)
                return graph, rel, box
            except ProviderError as e:
                if not (self.pool.many and unreachable(e)):
                    raise
                self.pool.mark_down(box)  # nothing was queued there: another box may take it
                tried.append(box.url)
                log.warning("%s: ComfyUI at %s stopped answering; trying another", job.label,
                            box.url)  # fmt: skip

    def _release(self, key: str, *, queued: bool = False) -> None:
        with self._reserve_lock:
            box = self._reserved.pop(key, None)
        if box is not None:
            self.pool.sent(box, queued=queued)

    def submit(self, job: RemoteJob) -> str:
        graph, rel, box = self._ready.get(job.key) or self._prepare_somewhere(job)
        tried: list[str] = []
        while True:
            if self.pool.many and self.pool.load(box) is None:
                # Not answering now: the job has not been sent, so it may go elsewhere.
                self.pool.mark_down(box)
                tried.append(box.url)
                graph, rel, box = self._prepare_somewhere(job, tuple(tried))
                continue
            try:
                prompt_id = self._submit_to(box, graph, rel, job)
            except ProviderError as e:
                if not (self.pool.many and unreachable(e)):
                    raise
                self.pool.mark_down(box)  # no connection: the box never got it
                tried.append(box.url)
                graph, rel, box = self._prepare_somewhere(job, tuple(tried))
                continue
            self._release(job.key, queued=True)
            return self.pool.job_id(prompt_id, box)

    def _submit_to(self, box: Box, graph: dict[str, Any], rel: str, job: RemoteJob) -> str:
        body = {"prompt": graph, "client_id": job.client_id, "prompt_id": job.client_id}
        try:
            resp = box.http.request(
                "POST", "/prompt", what=f"{job.label}: queue {rel} at {box.url}", creates=True,
                json=body,
            )  # fmt: skip
        except HttpStatusError as e:
            if e.status == 400:
                # Keeps the status: the journal tells a refusal from a server that is down.
                raise HttpStatusError(
                    f"{job.label}: ComfyUI refused {rel}: {_refusal(e.body)}",
                    status=e.status,
                    body=e.body,
                    hint="open the workflow in ComfyUI to fix it (a missing model or custom "
                    "node, a value out of range), export it again with Export (API), and build",
                ) from None
            raise
        data = resp.json()
        prompt_id = str(data.get("prompt_id") or job.client_id)
        if prompt_id != job.client_id:
            # An older ComfyUI picks its own id: a lost reply then cannot be looked up by
            # id, only in the queue by our client_id.
            log.warning("%s: ComfyUI ignored the prompt id we chose; update ComfyUI", job.label)
        if data.get("node_errors"):
            log.warning(
                "%s: ComfyUI queued %s but some outputs will not run: %s",
                job.label,
                rel,
                _node_errors(data["node_errors"]),
            )
        return prompt_id

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        box, prompt_id = self.pool.locate(job_id)
        try:
            return self._poll_at(box, prompt_id, job)
        except ProviderError as e:
            if not (self.pool.many and unreachable(e)):
                raise
            raise ProviderError(
                f"{job.label}: the ComfyUI box {box.url} stopped answering; job {prompt_id} "
                "started there, so it is not sent to another box (it may still be running)",
                hint="start that box again and build: the job is resumed from it, never paid "
                "twice; or `vf cancel` it and build to make it elsewhere",
            ) from None

    def _poll_at(self, box: Box, job_id: str, job: RemoteJob) -> Poll:
        http = box.http
        entry = self._history(job_id, job, http)
        if entry is None:
            where = self._in_queue(job_id, job, http)
            if where is not None:
                return Poll(where, progress=0.0 if where == QUEUED else None)
            # It may have finished between the two questions.
            entry = self._history(job_id, job, http)
            if entry is None:
                return Poll(
                    FAILED_STATE,
                    error=f"ComfyUI at {box.url} has no record of prompt {job_id}: it is "
                    "neither queued, running nor in the history (the server restarted, or its "
                    "queue or history was cleared)",
                )
        result = self._result(entry, job)
        if self.pool.many:  # downloaded from the box that made it
            result = replace(result, outputs=[box.url + u for u in result.outputs])
        return result

    def find(self, job: RemoteJob) -> str | None:
        if not job.client_id:
            return None
        if not self.pool.many:
            return self._find_at(self.http, job)
        # The journal does not say which box the lost submit went to: every box is asked,
        # and the job goes (again) only when every one answers that it has none.
        silent: list[str] = []
        for box in self.pool.boxes:
            try:
                found = self._find_at(box.http, job)
            except ProviderError as e:
                if not unreachable(e):
                    raise
                silent.append(box.url)
                continue
            if found is not None:
                return self.pool.job_id(found, box)
        if silent:
            raise ProviderError(
                f"{job.label}: its submit's reply was lost, and {', '.join(silent)} does not "
                "answer: the job may be queued there, so it is not sent to another box",
                hint="start that box again and build: the job is found there, or sent once",
            )
        return None

    def _find_at(self, http: Http, job: RemoteJob) -> str | None:
        if self._history(job.client_id, job, http) is not None:
            return job.client_id
        queue = http.get_json("/queue", what=f"{job.label}: look for the job")
        for item in _queue_items(queue):
            extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
            if item[1] == job.client_id or extra.get("client_id") == job.client_id:
                return str(item[1])
        # It may have left the queue for the history between the two questions (as in
        # `poll`): asking the history once more is what keeps a finished job from being
        # submitted, and paid for, a second time.
        if self._history(job.client_id, job, http) is not None:
            return job.client_id
        return None

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        box, job_id = self.pool.locate(job_id)
        http = box.http
        queue = http.get_json("/queue", what=f"{job.label}: cancel")
        running = {str(i[1]) for i in queue.get("queue_running") or [] if len(i) > 1}
        if job_id in running:
            # The prompt_id makes a current ComfyUI interrupt only this job, never another's.
            http.request(
                "POST", "/interrupt", what=f"{job.label}: interrupt", json={"prompt_id": job_id}
            )
        else:
            http.request("POST", "/queue", what=f"{job.label}: cancel", json={"delete": [job_id]})

    def fetch(self, result: Poll, job: RemoteJob, out: Path) -> None:
        if not result.outputs:
            want = " or ".join(_wanted(job.step))
            raise ProviderError(
                f"{job.label}: ComfyUI finished the workflow but it saved no {want} file"
                f" ({result.error or 'no files at all'})",
                hint="end the workflow with a SaveImage node (keyframes) or a VHS_VideoCombine "
                "node with format video/h264-mp4 and save_output on (video steps)",
            )
        try:
            super().fetch(result, job, out)
        except ProviderError as e:
            url = result.outputs[0]
            box = next((b for b in self.pool.boxes if url.startswith(b.url)), None)
            if not (self.pool.many and box is not None and e.message.endswith("ConnectError")):
                raise
            # Said as the poll says it: the box went away after the job, not the result.
            raise ProviderError(
                f"{job.label}: the ComfyUI box {box.url} stopped answering while its result "
                "was downloaded; the job was made there, so it is not sent to another box",
                hint="start that box again and build: the result is fetched from it, never "
                "paid twice; or `vf cancel` it and build to make it elsewhere",
            ) from None

    # -- ComfyUI calls ----------------------------------------------------------------------

    def _history(
        self, prompt_id: str, job: RemoteJob, http: Http | None = None
    ) -> dict[str, Any] | None:
        data = (http or self.http).get_json(f"/history/{prompt_id}", what=f"{job.label}: status")
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) else None

    def _in_queue(self, prompt_id: str, job: RemoteJob, http: Http | None = None) -> str | None:
        queue = (http or self.http).get_json("/queue", what=f"{job.label}: status")
        if any(len(i) > 1 and i[1] == prompt_id for i in queue.get("queue_running") or []):
            return RUNNING
        if any(len(i) > 1 and i[1] == prompt_id for i in queue.get("queue_pending") or []):
            return QUEUED
        return None

    def _result(self, entry: dict[str, Any], job: RemoteJob) -> Poll:
        status = entry.get("status") or {}
        state = status.get("status_str")
        if state == "error":
            return Poll(FAILED_STATE, error=_execution_error(status.get("messages") or []))
        outputs = entry.get("outputs") or {}
        if state != "success" and not status.get("completed") and not outputs:
            return Poll(RUNNING)  # in the history but not finished: an unusual server
        files = list(_output_files(outputs))
        wanted = _wanted(job.step)
        # Saved files first: a temp preview of the same picture may be deleted any time.
        picks = [f for f in files if Path(f["filename"]).suffix.lower() in wanted]
        picks.sort(key=lambda f: f.get("type") != "output")
        urls = [
            "/view?"
            + urlencode(
                {
                    "filename": f["filename"],
                    "subfolder": f.get("subfolder") or "",
                    "type": f.get("type") or "output",
                }
            )
            for f in picks
        ]
        found = ", ".join(f["filename"] for f in files) or "no files"
        return Poll(SUCCEEDED, progress=1.0, outputs=urls, error=None if urls else found)

    def _upload(self, path: Path, job: RemoteJob, http: Http | None = None) -> str:
        """Upload an input file; return the name a loader node takes (`subfolder/name`)."""
        data = path.read_bytes()
        ext = _ext(path, data)
        # Named by content: uploading it again (a retry, another take) overwrites it with the
        # same bytes, and two inputs never clash.
        name = f"vf_{hashlib.sha256(data).hexdigest()[:24]}{ext}"
        mime = MEDIA_TYPES.get(ext, OCTET_STREAM)
        try:
            resp = (http or self.http).request(
                "POST",
                "/upload/image",
                what=f"{job.label}: upload {path.name}",
                files={"image": (name, data, mime)},
                data={"overwrite": "true", "type": "input"},
            )
        except HttpStatusError as e:
            if e.status == 413:
                raise HttpStatusError(
                    f"{job.label}: ComfyUI refused the upload of {path.name} "
                    f"({len(data) / 1e6:.1f} MB): too large",
                    status=e.status,
                    body=e.body,
                    hint=f"start ComfyUI with a larger --max-upload-size (in MB; the default is "
                    f"{DEFAULT_MAX_UPLOAD_MB})",
                ) from None
            raise
        reply = resp.json()
        got = str(reply.get("name") or name)
        sub = str(reply.get("subfolder") or "")
        return f"{sub}/{got}" if sub else got

    # -- the workflow -----------------------------------------------------------------------

    def _prepare(self, job: RemoteJob, http: Http | None = None) -> tuple[dict[str, Any], str]:
        """The filled workflow (its inputs uploaded) and its film-relative name."""
        path, rel = self._workflow_path(job)
        graph = _load_workflow(path, rel, job)
        ps = job.settings.get("provider_settings") or {}
        want = ps.get("workflow_sha256")
        if want:
            got = hashlib.sha256(path.read_bytes()).hexdigest()
            if got != want:
                raise ProviderError(
                    f"{job.label}: the workflow {rel} changed since this build was planned "
                    f"(sha256 {got[:12]}…, the recipe has {want[:12]}…)",
                    hint="run `vf build` again: it plans the edited workflow as a new version",
                )
        values = self._values(job, list(_placeholders(graph)), rel, http)
        return _fill(graph, values, rel, job.label), rel

    def _workflow_path(self, job: RemoteJob) -> tuple[Path, str]:
        ps = job.settings.get("provider_settings") or {}
        rel = ps.get("workflow")
        if not rel:
            raise ProviderError(
                f"{job.label}: comfyui needs a workflow for the {job.step} step",
                hint="export it from ComfyUI with Export (API) into the film, and name it in "
                "shots.yaml: providers: <slot>: {use: comfyui, workflow: workflows/<file>.json}",
            )
        root = self.film_root or Path.cwd()
        path = Path(rel) if Path(rel).is_absolute() else root / rel
        if not path.is_file():
            raise ProviderError(
                f"{job.label}: the ComfyUI workflow {rel} does not exist in the film",
                hint="export it from ComfyUI with Export (API), or fix `workflow:` in shots.yaml",
            )
        return path, str(rel)

    def _values(
        self,
        job: RemoteJob,
        uses: list[tuple[str, str, str, str]],
        rel: str,
        http: Http | None = None,
    ) -> dict[str, Any]:
        """The value of each placeholder the workflow uses. Every name is checked first; only
        then are the input files the workflow needs probed and uploaded."""
        r, s = job.recipe, job.settings
        has_clip = "clip" in job.inputs
        clip_info: list[Any] = []

        def clip() -> Any:
            if not clip_info:
                from vfbuild.media.probe import probe

                clip_info.append(probe(job.file("clip")))
            return clip_info[0]

        def fps() -> int:
            if s.get("fps"):
                return int(s["fps"])
            return int(round(clip().fps or 24))

        def frames() -> int:
            if s.get("duration"):
                return max(1, round(float(s["duration"]) * fps()))
            info = clip()
            if info.duration:
                return max(1, int(round(info.duration * fps())))
            return int(info.frames or 1)

        def size(axis: str) -> Callable[[], int]:
            return lambda: int(s[axis]) if s.get(axis) else int(getattr(clip(), axis))

        files: dict[str, Path] = {}
        if job.step == "keyframe" and job.files("references"):
            files["image"] = job.files("references")[0]
        elif job.step in ("draft", "final") and "keyframe" in job.inputs:
            files["image"] = job.file("keyframe")
        elif has_clip:
            files["image"] = files["video"] = job.file("clip")
        if "audio" in job.inputs:
            files["audio"] = job.file("audio")

        makers: dict[str, Callable[[], Any]] = {
            "prompt": lambda: str(r.get("prompt") or ""),
            "negative": lambda: str(r.get("negative") or ""),
            "seed": lambda: int(r.get("seed") or 0),
        }
        if s.get("fps") or has_clip:
            makers["fps"] = fps
        if s.get("duration") or has_clip:
            makers["frames"] = frames
        if s.get("width") or has_clip:
            makers["width"], makers["height"] = size("width"), size("height")
        for key, value in job.extra.items():
            if key not in RESERVED_SETTINGS:
                makers.setdefault(key, functools.partial(_same, value))

        for node_id, cls, where, name in uses:
            if name not in BUILTIN and name not in makers:
                raise _unknown(job.label, rel, "{{" + name + "}}", node_id, cls, where)
        names = {name for *_, name in uses}
        missing = sorted(n for n in names if n in BUILTIN and n not in files and n not in makers)
        if missing:
            raise ProviderError(
                f"{job.label}: {rel} uses {', '.join('{{' + n + '}}' for n in missing)}, which "
                f"the {job.step} step has no value for",
                hint=_placeholder_hint(job.step),
            )
        for name in sorted(names & files.keys()):
            if not files[name].is_file():
                raise ProviderError(f"{job.label}: the input file {files[name]} is missing")

        uploaded: dict[Path, str] = {}
        values: dict[str, Any] = {}
        for name in sorted(names):
            if name in files:
                src = files[name]
                if src not in uploaded:
                    uploaded[src] = self._upload(src, job, http)
                values[name] = uploaded[src]
            else:
                values[name] = makers[name]()
        return values


# -- workflow helpers (pure) ----------------------------------------------------------------


def _load_workflow(path: Path, rel: str, job: RemoteJob) -> dict[str, Any]:
    try:
        graph = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ProviderError(
            f"{job.label}: the ComfyUI workflow {rel} is not valid JSON: {e}"
        ) from None
    if isinstance(graph, dict) and "prompt" in graph and isinstance(graph["prompt"], dict):
        graph = graph["prompt"]  # a saved /prompt body
    if isinstance(graph, dict) and "nodes" in graph and "links" in graph:
        raise ProviderError(
            f"{job.label}: {rel} is a ComfyUI UI workflow, not the API format vfbuild queues",
            hint="in ComfyUI use Workflow → Export (API) and save that file instead",
        )
    if not isinstance(graph, dict) or not graph:
        raise ProviderError(f"{job.label}: {rel} holds no ComfyUI nodes")
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node or "inputs" not in node:
            raise ProviderError(
                f"{job.label}: node {node_id} of {rel} has no class_type or inputs: is this an "
                "API-format workflow?",
                hint="in ComfyUI use Workflow → Export (API) and save that file",
            )
    return graph


def _walk(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, str(i)))


def _placeholders(graph: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(node id, class, input path, name) of every `{{name}}` in the nodes' inputs."""
    for node_id, node in graph.items():
        for path, text in _walk(node.get("inputs") or {}, ()):
            for m in PLACEHOLDER.finditer(text):
                yield str(node_id), str(node.get("class_type")), ".".join(path), m.group(1)


def _fill(graph: dict[str, Any], values: dict[str, Any], rel: str, label: str) -> dict[str, Any]:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            whole = PLACEHOLDER.fullmatch(value)
            if whole and whole.group(1) in values:
                v = values[whole.group(1)]
                return int(v) if whole.group(1) in INT_VALUES else v

            def text(m: re.Match[str]) -> str:
                return str(values[m.group(1)]) if m.group(1) in values else m.group(0)

            return PLACEHOLDER.sub(text, value)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    out = {nid: {**node, "inputs": fill(node["inputs"])} for nid, node in graph.items()}
    # What is left (a malformed `{{x`, a value that itself held braces) must not reach the
    # server, where it would run as literal text.
    for node_id, node in out.items():
        for path, text in _walk(node["inputs"], ()):
            if "{{" in text:
                m = PLACEHOLDER.search(text)
                name = m.group(0) if m else text
                raise _unknown(label, rel, name, node_id, node.get("class_type"), ".".join(path))
    return out


def _unknown(label: str, rel: str, name: str, node_id: str, cls: Any, where: str) -> ProviderError:
    return ProviderError(
        f"{label}: {rel} has an unknown placeholder {name} (node {node_id} {cls}, input {where})",
        hint=f"vfbuild fills {', '.join('{{' + n + '}}' for n in BUILTIN)}, and any other key "
        "set in the tier's settings in shots.yaml (e.g. `steps: 30` for {{steps}})",
    )


def _placeholder_hint(step: str) -> str:
    return {
        "keyframe": "a keyframe workflow gets {{image}} only when the shot has references, "
        "and no {{fps}} or {{frames}}",
        "draft": "a video workflow gets the keyframe as {{image}}",
        "final": "a video workflow gets the keyframe as {{image}}",
        "upscale": "an upscale workflow gets the clip as {{video}} (or {{image}})",
        "lipsync": "a lipsync workflow gets the clip as {{video}} and the dialogue as {{audio}}",
    }.get(step, "see the placeholders vfbuild fills in its documentation")


def _wanted(step: str) -> tuple[str, ...]:
    return WANTED.get(step, VIDEO_EXTS)


def _ext(path: Path, data: bytes) -> str:
    """A file's extension as loader nodes expect it (store files have none: sniff them)."""
    if path.suffix.lower() in MEDIA_TYPES:
        return path.suffix.lower()
    return sniff_ext(data[:16]) or path.suffix.lower() or ".bin"


def _output_files(outputs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for node_out in outputs.values():
        if not isinstance(node_out, dict):
            continue
        for key in OUTPUT_KEYS:
            for f in node_out.get(key) or []:
                if isinstance(f, dict) and f.get("filename"):
                    yield f


def _queue_items(queue: Any) -> Iterator[list[Any]]:
    if not isinstance(queue, dict):
        return
    for key in ("queue_running", "queue_pending"):
        for item in queue.get(key) or []:
            if isinstance(item, list) and len(item) > 1:
                yield item


def _execution_error(messages: list[Any]) -> str:
    for msg in messages:
        if not (isinstance(msg, list) and len(msg) == 2 and isinstance(msg[1], dict)):
            continue
        kind, data = msg
        if kind == "execution_error":
            where = f"node {data.get('node_id')} ({data.get('node_type')})"
            exc = str(data.get("exception_message") or "").strip()
            typ = data.get("exception_type")
            return f"{where}: {typ + ': ' if typ else ''}{exc or 'failed'}"
        if kind == "execution_interrupted":
            return f"interrupted at node {data.get('node_id')} ({data.get('node_type')})"
    return "the workflow failed (ComfyUI gave no reason)"


def _node_errors(node_errors: Any) -> str:
    parts = []
    if isinstance(node_errors, dict):
        for node_id, err in node_errors.items():
            if not isinstance(err, dict):
                continue
            for e in err.get("errors") or []:
                if isinstance(e, dict):
                    detail = f" ({e['details']})" if e.get("details") else ""
                    parts.append(
                        f"node {node_id} ({err.get('class_type')}): {e.get('message')}{detail}"
                    )
    return "; ".join(parts)


def _refusal(body: Any) -> str:
    if not isinstance(body, dict):
        return str(body)[:300]
    err = body.get("error")
    if isinstance(err, dict):
        head = str(err.get("message") or err.get("type") or "refused")
        if err.get("details"):
            head += f" ({err['details']})"
    else:
        head = str(err or "refused")
    nodes = _node_errors(body.get("node_errors"))
    return f"{head}: {nodes}" if nodes else head


def _same(value: Any) -> Any:
    """A workflow value given as it is (a setting of the film's own)."""
    return value
