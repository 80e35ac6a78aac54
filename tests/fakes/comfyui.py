"""A fake ComfyUI server: the prompt API a local or render-box ComfyUI speaks (no auth).

Endpoints (as ComfyUI's server.py has them):
- `POST /prompt` `{prompt, client_id, prompt_id?, extra_data?}` → 200 `{prompt_id, number,
  node_errors: {}}`; 400 `{error: {type, message, details, extra_info}, node_errors}` for
  `no_prompt`, `invalid_prompt` (a node without class_type/inputs, an unknown class),
  `prompt_no_outputs`, and `prompt_outputs_failed_validation` with per-node errors
  (`required_input_missing`, `bad_linked_input`, `invalid_input_type`,
  `custom_validation_failed` for an input file never uploaded, `exception_during_validation`
  for a link to a missing node). The fake also refuses a string still holding `{{…}}` (an
  unfilled vfbuild placeholder; a real server would run it as text). Like the real server, a
  client-chosen `prompt_id` is honoured and posting it again queues (and pays) again.
- `GET /history/{id}` → `{}` until the job ends, then `{id: {prompt, outputs, status: {status_str,
  completed, messages}, meta}}`; a failed job has `execution_error` (an out-of-memory error in
  the sampler), an interrupted one `execution_interrupted`. `GET /history` lists them all.
- `GET /queue` → `{queue_running, queue_pending}` of `[number, prompt_id, prompt, extra_data,
  outputs_to_execute]`; `POST /queue {delete: [ids]} | {clear: true}`.
- `POST /interrupt` (`{prompt_id}` to interrupt only that job if it runs).
- `POST /upload/image` multipart `image` (+ `overwrite`, `subfolder`, `type`) → `{name,
  subfolder, type}`: same name and other bytes get `name (1).ext` unless overwrite; any file
  type is taken; a body over `max_upload_bytes` (100 MiB, ComfyUI's default
  --max-upload-size) is 413.
- `GET /view?filename=&subfolder=&type=` serves outputs and uploads from the same origin
  (route kind "download", so download faults apply there).

Outputs follow the output node: SaveImage → a PNG sized by the nearest upstream width/height
(EmptyLatentImage, ImageScale, …, else the loaded file's size) under `images`;
VHS_VideoCombine → an H.264 MP4 of `frames / frame_rate` seconds under `gifs` (format
video/h264-mp4), with the audio of the file its `audio` input comes from muxed in.
Jobs run concurrently (a real ComfyUI runs one at a time) so builds with -j stay fast.
"""

from __future__ import annotations

import atexit
import email.policy
import hashlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.fakes.base import FakeJob, FakeServer, Reply, Request

KEYS: dict[str, str] = {}  # ComfyUI takes no key

WORKFLOWS = Path(__file__).parent / "workflows"

LINK, INT, FLOAT, STRING, BOOLEAN, FILE = "LINK", "INT", "FLOAT", "STRING", "BOOLEAN", "FILE"


@dataclass(frozen=True)
class NodeType:
    required: dict[str, str]
    output: str | None = None  # "image", "preview" or "video" for output nodes


NODES: dict[str, NodeType] = {
    "CheckpointLoaderSimple": NodeType({"ckpt_name": STRING}),
    "UNETLoader": NodeType({"unet_name": STRING, "weight_dtype": STRING}),
    "CLIPLoader": NodeType({"clip_name": STRING, "type": STRING}),
    "VAELoader": NodeType({"vae_name": STRING}),
    "CLIPVisionLoader": NodeType({"clip_name": STRING}),
    "UpscaleModelLoader": NodeType({"model_name": STRING}),
    "CLIPTextEncode": NodeType({"text": STRING, "clip": LINK}),
    "CLIPVisionEncode": NodeType({"clip_vision": LINK, "image": LINK, "crop": STRING}),
    "EmptyLatentImage": NodeType({"width": INT, "height": INT, "batch_size": INT}),
    "EmptySD3LatentImage": NodeType({"width": INT, "height": INT, "batch_size": INT}),
    "KSampler": NodeType(
        {
            "model": LINK,
            "seed": INT,
            "steps": INT,
            "cfg": FLOAT,
            "sampler_name": STRING,
            "scheduler": STRING,
            "positive": LINK,
            "negative": LINK,
            "latent_image": LINK,
            "denoise": FLOAT,
        }  # fmt: skip
    ),
    "VAEDecode": NodeType({"samples": LINK, "vae": LINK}),
    "LoadImage": NodeType({"image": FILE}),
    "ImageScale": NodeType(
        {"image": LINK, "upscale_method": STRING, "width": INT, "height": INT, "crop": STRING}
    ),
    "ImageUpscaleWithModel": NodeType({"upscale_model": LINK, "image": LINK}),
    "WanImageToVideo": NodeType(
        {
            "positive": LINK,
            "negative": LINK,
            "vae": LINK,
            "width": INT,
            "height": INT,
            "length": INT,
            "batch_size": INT,
        }  # fmt: skip
    ),
    "VHS_LoadVideo": NodeType(
        {
            "video": FILE,
            "force_rate": FLOAT,
            "custom_width": INT,
            "custom_height": INT,
            "frame_load_cap": INT,
            "skip_first_frames": INT,
            "select_every_nth": INT,
        }  # fmt: skip
    ),
    "LoadAudio": NodeType({"audio": FILE}),
    "LatentSyncNode": NodeType(
        {
            "images": LINK,
            "audio": LINK,
            "seed": INT,
            "lips_expression": FLOAT,
            "inference_steps": INT,
        }  # fmt: skip
    ),
    "SaveImage": NodeType({"images": LINK, "filename_prefix": STRING}, output="image"),
    "PreviewImage": NodeType({"images": LINK}, output="preview"),
    "VHS_VideoCombine": NodeType(
        {
            "images": LINK,
            "frame_rate": FLOAT,
            "loop_count": INT,
            "filename_prefix": STRING,
            "format": STRING,
            "pingpong": BOOLEAN,
            "save_output": BOOLEAN,
        },  # fmt: skip
        output="video",
    ),
}

FRAME_INPUTS = ("length", "frame_load_cap", "num_frames", "video_frames")


@dataclass
class OutFile:
    """A file an output node wrote: what to render for it (not a paid job)."""

    spec: FakeJob
    audio: Path | None = None


@dataclass
class Prompt:
    number: int
    prompt_id: str
    prompt: dict[str, Any]
    extra_data: dict[str, Any]
    outputs_to_execute: list[str]
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # node → file entries
    file_key: dict[str, str] = field(default_factory=dict)  # node → history key
    fail_node: str = ""

    def item(self) -> list[Any]:
        return [self.number, self.prompt_id, self.prompt, self.extra_data, self.outputs_to_execute]


class ComfyFake(FakeServer):
    name = "comfyui"

    def __init__(self, *, max_upload_bytes: int = 100 * 1024 * 1024, **kw: Any) -> None:
        self.max_upload_bytes = max_upload_bytes
        self.prompts: dict[str, Prompt] = {}
        self.files: dict[tuple[str, str, str], OutFile] = {}  # (type, subfolder, name)
        self.uploads: dict[tuple[str, str, str], Path] = {}
        self.upload_log: list[str] = []  # names as returned, in order
        self.interrupts: list[str | None] = []
        self._number = 0
        self._counters: dict[str, int] = {}
        self._state_lock = threading.RLock()
        super().__init__(**kw)
        self._input_dir = self._media_dir / "input"
        self._input_dir.mkdir()

    def start(self) -> ComfyFake:
        # A short poll interval: stopping the servers then takes 50 ms, not half a second.
        for srv in (self._api, self._cdn):
            threading.Thread(
                target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()
        return self

    def _handler_class(self, *, cdn: bool) -> type[BaseHTTPRequestHandler]:
        base = super()._handler_class(cdn=cdn)

        class NoDelay(base):  # type: ignore[valid-type,misc]
            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes: without this, Nagle and delayed ACKs
                # hold every keep-alive reply back ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        return NoDelay

    # -- routes -----------------------------------------------------------------------------

    def setup_routes(self) -> None:
        self.route("POST", r"/prompt", self.post_prompt, "create")
        self.route("GET", r"/history", self.get_history_all)
        self.route("GET", r"/history/(?P<id>[^/]+)", self.get_history)
        self.route("GET", r"/queue", self.get_queue)
        self.route("POST", r"/queue", self.post_queue)
        self.route("POST", r"/interrupt", self.post_interrupt)
        self.route("POST", r"/upload/image", self.upload_image)
        self.route("GET", r"/view", self.view, "download")

    def error_reply(self, status: int) -> Reply:
        # aiohttp's plain-text pages (a 429/503 comes from a proxy in front of ComfyUI).
        text = {
            429: "429: Too Many Requests",
            500: "500 Internal Server Error\n\nServer got itself in trouble",
            503: "503: Service Unavailable",
        }.get(status, f"{status}")
        return Reply(status, body=text.encode(), content_type="text/plain; charset=utf-8")

    # -- POST /prompt -----------------------------------------------------------------------

    def post_prompt(self, req: Request) -> Reply:
        try:
            body = req.json()
        except ValueError:
            return Reply(500, body=b"500 Internal Server Error", content_type="text/plain")
        if not isinstance(body, dict) or "prompt" not in body:
            return _refuse("no_prompt", "No prompt provided", "No prompt provided", {})
        graph = body["prompt"]
        if not isinstance(graph, dict):
            return _refuse("invalid_prompt", "Cannot execute because the prompt is not an "
                           "object.", "", {})  # fmt: skip
        for node_id, node in graph.items():
            if not isinstance(node, dict) or "class_type" not in node:
                return _refuse(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{node_id}'",
                    {},
                )
            if node["class_type"] not in NODES:
                return _refuse(
                    "invalid_prompt",
                    f"Cannot execute because node {node['class_type']} does not exist.",
                    f"Node ID '#{node_id}'",
                    {},
                )
            if not isinstance(node.get("inputs"), dict):
                return _refuse(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the inputs property.",
                    f"Node ID '#{node_id}'",
                    {},
                )
        outputs = [nid for nid, n in graph.items() if NODES[n["class_type"]].output]
        if not outputs:
            return _refuse("prompt_no_outputs", "Prompt has no outputs", "", {})
        node_errors = self._validate(graph, outputs)
        if node_errors:
            return _refuse(
                "prompt_outputs_failed_validation",
                "Prompt outputs failed validation",
                "",
                node_errors,
            )
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        extra = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra["client_id"] = body["client_id"]
        extra["create_time"] = int(time.time() * 1000)
        with self._state_lock:
            number = self._number
            self._number += 1
            p = Prompt(number, prompt_id, graph, extra, outputs)
            specs = [self._render_spec(graph, nid, p) for nid in outputs]
            main = next((s for s in specs if s.kind == "video"), specs[0])
            p.fail_node = next(
                (nid for nid, n in graph.items() if n["class_type"] == "KSampler"), outputs[0]
            )
            self.prompts[prompt_id] = p
            self.new_job(
                prompt_id,
                main.kind,
                body,
                width=main.width,
                height=main.height,
                seconds=main.seconds,
                seed=main.seed,
                extra={"number": number},
            )
        return Reply(200, {"prompt_id": prompt_id, "number": number, "node_errors": {}})

    def _validate(self, graph: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
        """ComfyUI's per-node checks, for the nodes the outputs depend on."""
        errors: dict[str, Any] = {}
        for out in outputs:
            seen: set[str] = set()
            todo = deque([out])
            while todo:
                nid = todo.popleft()
                if nid in seen:
                    continue
                seen.add(nid)
                node = graph[nid]
                problems: list[dict[str, Any]] = []
                for name, value in node["inputs"].items():
                    if isinstance(value, list):
                        if len(value) != 2 or not isinstance(value[1], int):
                            problems.append(_err("bad_linked_input", "Bad linked input, must be "
                                                 "a length-2 list of [node_id, slot_index]",
                                                 name, value))  # fmt: skip
                        elif str(value[0]) not in graph:
                            # ComfyUI's validator raises a KeyError here, reported on the output.
                            err = {
                                "type": "exception_during_validation",
                                "message": "Exception when validating node",
                                "details": repr(str(value[0])),
                                "extra_info": {"exception_type": "KeyError"},
                            }
                            errors.setdefault(out, _node_err(graph[out]))["errors"].append(err)
                        else:
                            todo.append(str(value[0]))
                    elif isinstance(value, str) and "{{" in value:
                        problems.append(_err("unfilled_placeholder", "Unfilled placeholder "
                                             "(fake ComfyUI guard)", name, value))  # fmt: skip
                for name, kind in NODES[node["class_type"]].required.items():
                    if name not in node["inputs"]:
                        problems.append(
                            {
                                "type": "required_input_missing",
                                "message": "Required input is missing",
                                "details": name,
                                "extra_info": {"input_name": name},
                            }
                        )
                        continue
                    value = node["inputs"][name]
                    if isinstance(value, list):
                        continue
                    if kind == LINK:
                        problems.append(_err("bad_linked_input", "Bad linked input, must be a "
                                             "length-2 list of [node_id, slot_index]", name,
                                             value))  # fmt: skip
                    elif kind in (INT, FLOAT):
                        try:
                            (int if kind == INT else float)(value)
                        except (TypeError, ValueError) as e:
                            problems.append(
                                _err(
                                    "invalid_input_type",
                                    f"Failed to convert an input value to a {kind} value",
                                    name,
                                    value,
                                    details=f"{name}, {value}, {e}",
                                )
                            )
                    elif kind == FILE and self._upload_path(str(value)) is None:
                        problems.append(
                            _err(
                                "custom_validation_failed",
                                "Custom validation failed for node",
                                name,
                                value,
                                details=f"{name} - Invalid file: {value}",
                            )
                        )
                if problems:
                    entry = errors.setdefault(nid, _node_err(node))
                    entry["errors"].extend(p for p in problems if p not in entry["errors"])
                    if out not in entry["dependent_outputs"]:
                        entry["dependent_outputs"].append(out)
        return errors

    # -- rendering ---------------------------------------------------------------------------

    def _upstream(self, graph: dict[str, Any], start: str) -> list[str]:
        order, seen, todo = [], set(), deque([start])
        while todo:
            nid = todo.popleft()
            if nid in seen or nid not in graph:
                continue
            seen.add(nid)
            order.append(nid)
            for value in graph[nid]["inputs"].values():
                if isinstance(value, list) and len(value) == 2:
                    todo.append(str(value[0]))
        return order

    def _render_spec(self, graph: dict[str, Any], out: str, p: Prompt) -> FakeJob:
        """What the output node `out` writes, and its history entry."""
        node = graph[out]
        kind = NODES[node["class_type"]].output
        width = height = frames = None
        file_seconds: float | None = None
        seed = 0
        for nid in self._upstream(graph, out):
            inputs = graph[nid]["inputs"]
            w = _int(inputs.get("width")) or _int(inputs.get("custom_width"))
            h = _int(inputs.get("height")) or _int(inputs.get("custom_height"))
            if width is None and w and h:
                width, height = w, h
            if frames is None:
                frames = next((_int(inputs.get(k)) for k in FRAME_INPUTS if _int(inputs.get(k))),
                              None)  # fmt: skip
            if not seed and _int(inputs.get("seed")):
                seed = _int(inputs.get("seed")) or 0
            for name, t in NODES[graph[nid]["class_type"]].required.items():
                if t == FILE and (path := self._upload_path(str(inputs.get(name)))):
                    info = _probe(path)
                    if info is not None and width is None and info.width:
                        width, height = info.width, info.height
                    if info is not None and file_seconds is None and info.duration:
                        file_seconds = info.duration
        width, height = width or 64, height or 64
        prefix = str(node["inputs"].get("filename_prefix") or "ComfyUI")
        sub, _, base = prefix.rpartition("/")
        audio: Path | None = None
        if kind == "video":
            rate = float(node["inputs"].get("frame_rate") or 24)
            seconds = frames / rate if frames else (file_seconds or 1.0)
            link = node["inputs"].get("audio")
            if isinstance(link, list):
                audio = self._audio_source(graph, str(link[0]))
            n = self._count(prefix)
            name, ftype, key = f"{base}_{n:05}.mp4", "output", "gifs"
            if not node["inputs"].get("save_output", True):
                ftype = "temp"
            entry = {"filename": name, "subfolder": sub, "type": ftype,
                     "format": str(node["inputs"].get("format")), "frame_rate": rate}  # fmt: skip
        else:
            seconds = 1.0
            n = self._count(prefix)
            if kind == "preview":
                sub, name, ftype = "", f"ComfyUI_temp_{uuid.uuid4().hex[:5]}_{n:05}_.png", "temp"
            else:
                name, ftype = f"{base}_{n:05}_.png", "output"
            key = "images"
            entry = {"filename": name, "subfolder": sub, "type": ftype}
        spec = FakeJob(
            f"{p.prompt_id}-{out}",
            "video" if kind == "video" else "image",
            {},
            width=width,
            height=height,
            seconds=round(seconds, 3),
            seed=seed,
            latency=0,
        )
        self.files[(ftype, sub, name)] = OutFile(spec, audio)
        p.files[out] = [entry]
        p.file_key[out] = key
        return spec

    def _audio_source(self, graph: dict[str, Any], start: str) -> Path | None:
        # A loaded audio file (the dialogue) wins over a video's own soundtrack.
        for name in ("audio", "video"):
            for nid in self._upstream(graph, start):
                value = graph[nid]["inputs"].get(name)
                if isinstance(value, str) and (path := self._upload_path(value)):
                    return path
        return None

    def _count(self, prefix: str) -> int:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return self._counters[prefix]

    def media(self, job: FakeJob) -> Path:
        # Shared by every ComfyFake of the process: tests start many fakes, and ffmpeg makes
        # the same few sizes each time.
        name = f"{job.kind}-{job.width}x{job.height}-{job.seconds}-{job.seed}"
        shared = _shared_dir() / (name + (".png" if job.kind == "image" else ".mp4"))
        if shared.exists():
            return shared
        made = super().media(job)
        tmp = shared.with_name(f"{uuid.uuid4().hex}.part")
        shutil.copyfile(made, tmp)
        tmp.replace(shared)
        return shared

    def render(self, out: OutFile) -> Path:
        base = self.media(out.spec)
        if out.audio is None:
            return base
        info = _probe(out.audio)
        if info is None or not info.has_audio:
            return base
        from vfbuild.media.ffmpeg import ffmpeg_exe

        tag = hashlib.sha1(f"{base.name}|{out.audio}".encode()).hexdigest()[:16]
        muxed = self._media_dir / f"mux-{tag}.mp4"
        with self._media_lock:
            if not muxed.exists():
                tmp = muxed.with_suffix(".part.mp4")
                subprocess.run(
                    [
                        ffmpeg_exe(),
                        "-v",
                        "error",
                        "-y",
                        "-i",
                        str(base),
                        "-i",
                        str(out.audio),
                        "-map",
                        "0:v",
                        "-map",
                        "1:a",
                        "-c:v",
                        "copy",
                        "-c:a",
                        "aac",
                        "-shortest",
                        "-movflags",
                        "+faststart",
                        str(tmp),
                    ],  # fmt: skip
                    check=True,
                    capture_output=True,
                )
                tmp.rename(muxed)
        return muxed

    # -- history and queue ------------------------------------------------------------------

    def _phase(self, prompt_id: str) -> str:
        """queued, running, success, error, interrupted, or gone."""
        job = self.jobs.get(prompt_id)
        if job is None:
            return "gone"
        if job.canceled:
            return "interrupted" if job.extra.get("interrupted") else "gone"
        return {"done": "success", "failed": "error"}.get(job.state(), job.state())

    def history_entry(self, prompt_id: str) -> dict[str, Any] | None:
        phase = self._phase(prompt_id)
        if phase not in ("success", "error", "interrupted"):
            return None
        p = self.prompts[prompt_id]
        ts = int(time.time() * 1000)
        messages: list[list[Any]] = [
            ["execution_start", {"prompt_id": prompt_id, "timestamp": ts}],
            ["execution_cached", {"nodes": [], "prompt_id": prompt_id, "timestamp": ts}],
        ]
        outputs: dict[str, Any] = {}
        node = p.prompt.get(p.fail_node, {})
        if phase == "success":
            outputs = {nid: {p.file_key[nid]: files} for nid, files in p.files.items()}
            messages.append(["execution_success", {"prompt_id": prompt_id, "timestamp": ts}])
        elif phase == "error":
            messages.append(
                [
                    "execution_error",
                    {
                        "prompt_id": prompt_id,
                        "node_id": p.fail_node,
                        "node_type": node.get("class_type"),
                        "executed": [],
                        "exception_message": "Allocation on device 0 would exceed allowed "
                        "memory. (out of memory)\n",
                        "exception_type": "torch.OutOfMemoryError",
                        "traceback": ['  File "execution.py", line 496, in execute\n'],
                        "current_inputs": {},
                        "current_outputs": {},
                        "timestamp": ts,
                    },
                ]
            )
        else:
            messages.append(
                [
                    "execution_interrupted",
                    {
                        "prompt_id": prompt_id,
                        "node_id": p.fail_node,
                        "node_type": node.get("class_type"),
                        "executed": [],
                        "timestamp": ts,
                    },
                ]
            )
        return {
            "prompt": p.item(),
            "outputs": outputs,
            "status": {
                "status_str": "success" if phase == "success" else "error",
                "completed": phase == "success",
                "messages": messages,
            },
            "meta": {
                nid: {
                    "node_id": nid,
                    "display_node": nid,
                    "parent_node": None,
                    "real_node_id": nid,
                }  # fmt: skip
                for nid in outputs
            },
        }

    def get_history(self, req: Request) -> Reply:
        pid = req.match["id"]
        entry = self.history_entry(pid) if pid in self.prompts else None
        return Reply(200, {pid: entry} if entry else {})

    def get_history_all(self, req: Request) -> Reply:
        out = {}
        for pid in sorted(self.prompts, key=lambda k: self.prompts[k].number):
            entry = self.history_entry(pid)
            if entry:
                out[pid] = entry
        if "max_items" in req.query:
            keep = int(req.query["max_items"])
            out = dict(list(out.items())[-keep:]) if keep else {}
        return Reply(200, out)

    def get_queue(self, req: Request) -> Reply:
        running, pending = [], []
        for pid, p in sorted(self.prompts.items(), key=lambda kv: kv[1].number):
            phase = self._phase(pid)
            if phase == "running":
                running.append(p.item())
            elif phase == "queued":
                pending.append(p.item())
        return Reply(200, {"queue_running": running, "queue_pending": pending})

    def post_queue(self, req: Request) -> Reply:
        data = req.json() or {}
        doomed = [pid for pid in self.prompts if self._phase(pid) == "queued"]
        if not data.get("clear"):
            doomed = [pid for pid in doomed if pid in set(data.get("delete") or [])]
        for pid in doomed:
            self.jobs[pid].canceled = True
        return Reply(200, body=b"", content_type="text/plain; charset=utf-8")

    def post_interrupt(self, req: Request) -> Reply:
        try:
            data = req.json() or {}
        except ValueError:
            data = {}
        target = data.get("prompt_id") if isinstance(data, dict) else None
        self.interrupts.append(target)
        for pid in list(self.prompts):
            if self._phase(pid) == "running" and target in (None, pid):
                self.jobs[pid].extra["interrupted"] = True
                self.jobs[pid].canceled = True
        return Reply(200, body=b"", content_type="text/plain; charset=utf-8")

    # -- files ------------------------------------------------------------------------------

    def upload_image(self, req: Request) -> Reply:
        if len(req.body) > self.max_upload_bytes:
            text = (
                f"Maximum request body size {self.max_upload_bytes} exceeded, actual body size "
                f"{len(req.body)}"
            )
            return Reply(413, body=text.encode(), content_type="text/plain; charset=utf-8")
        fields = _multipart(req)
        image = fields.get("image")
        if image is None or not image[0]:
            return Reply(400, body=b"", content_type="text/plain; charset=utf-8")
        filename, data = image
        ftype = (fields.get("type") or (None, b"input"))[1].decode() or "input"
        sub = (fields.get("subfolder") or (None, b""))[1].decode()
        overwrite = (fields.get("overwrite") or (None, b""))[1].decode() in ("true", "1")
        if ".." in filename or ".." in sub or filename.startswith("/"):
            return Reply(400, body=b"", content_type="text/plain; charset=utf-8")
        with self._state_lock:
            name = filename
            stem, dot, ext = filename.rpartition(".")
            stem, ext = (stem, dot + ext) if dot else (filename, "")
            i = 1
            while not overwrite and (ftype, sub, name) in self.uploads:
                if self.uploads[(ftype, sub, name)].read_bytes() == data:
                    break  # the same bytes under the same name: reused, as ComfyUI does
                name = f"{stem} ({i}){ext}"
                i += 1
            path = self._input_dir / ftype / (sub or "_") / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.uploads[(ftype, sub, name)] = path
            self.upload_log.append(f"{sub}/{name}" if sub else name)
        return Reply(200, {"name": name, "subfolder": sub, "type": ftype})

    def _upload_path(self, value: str) -> Path | None:
        """The input file a loader's value names (`name` or `subfolder/name`)."""
        sub, _, name = value.rpartition("/")
        return self.uploads.get(("input", sub, name))

    def view(self, req: Request) -> Reply:
        name = req.query.get("filename", "")
        if not name:
            return Reply(404, body=b"", content_type="text/plain")
        if name.startswith("/") or ".." in name:
            return Reply(400, body=b"", content_type="text/plain")
        key = (req.query.get("type", "output"), req.query.get("subfolder", ""), name)
        ctype = "image/png" if name.endswith(".png") else "video/mp4"
        headers = {"Content-Disposition": f'filename="{name}"'}
        if key in self.uploads:
            return Reply(200, file=self.uploads[key], content_type=ctype, headers=headers)
        out = self.files.get(key)
        if out is None:
            return Reply(404, body=b"", content_type="text/plain")
        return Reply(200, file=self.render(out), content_type=ctype, headers=headers)


_shared: list[Path] = []


def _shared_dir() -> Path:
    if not _shared:
        d = Path(tempfile.mkdtemp(prefix="fake-comfyui-media-"))
        atexit.register(shutil.rmtree, d, True)
        _shared.append(d)
    return _shared[0]


# -- helpers ----------------------------------------------------------------------------------


def _refuse(typ: str, message: str, details: str, node_errors: dict[str, Any]) -> Reply:
    error = {"type": typ, "message": message, "details": details, "extra_info": {}}
    return Reply(400, {"error": error, "node_errors": node_errors})


def _err(typ: str, message: str, name: str, value: Any, details: str | None = None) -> dict:
    return {
        "type": typ,
        "message": message,
        "details": details if details is not None else name,
        "extra_info": {"input_name": name, "received_value": value},
    }


def _node_err(node: dict[str, Any]) -> dict[str, Any]:
    return {"errors": [], "dependent_outputs": [], "class_type": node.get("class_type")}


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if value > 0 else None


def _probe(path: Path) -> Any:
    from vfbuild.errors import MediaError
    from vfbuild.media.probe import probe

    try:
        return probe(path)
    except MediaError:
        return None


def _multipart(req: Request) -> dict[str, tuple[str | None, bytes]]:
    ctype = req.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return {}
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            out[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


# -- for the lead's whole-film builds ---------------------------------------------------------


def film_providers(fake: ComfyFake, film_root: Path) -> dict[str, Any]:
    """Copy the test workflows into `film_root/workflows/` and name them per slot."""
    dest = film_root / "workflows"
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(WORKFLOWS.glob("*.json")):
        shutil.copyfile(src, dest / src.name)
    return {
        "keyframe": {"use": "comfyui", "workflow": "workflows/keyframe.json"},
        "video": {
            "use": "comfyui",
            "draft": {"workflow": "workflows/video_draft.json"},
            "final": {"workflow": "workflows/video_final.json"},
        },
        "upscale": {"use": "comfyui", "workflow": "workflows/upscale.json"},
        "lipsync": {"use": "comfyui", "workflow": "workflows/lipsync.json"},
    }
