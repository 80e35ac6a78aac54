"""Remote providers: submit → poll → fetch, driven through the job journal.

A remote provider implements five small calls (`submit`, `poll`, `fetch`, `find`, `cancel`)
against its HTTP API; `RemoteProvider.make` runs them in the only safe order:

1. a journalled job that the provider failed waits for `--retry-failed`;
2. a journalled job with an id is polled, never resubmitted;
3. a journalled job without an id (the crash fell between submit and reply) is looked up with
   `find` (ComfyUI and Kling use an id we chose; Replicate and Luma list recent jobs); a
   provider that cannot look it up stops the job, naming it, unless `--resubmit`;
4. otherwise the budget is asked, the input files uploaded (with a host: see `stage`), the
   journal written, and only then the job submitted.

The result is downloaded to the build's temp file, checked (size, then a media probe: a body cut
short or not media is fetched again, after a backoff) and only then handed back; the build holds
it to its step's contract (`vfbuild.media.contract`) before the store takes it.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from vfbuild.catalog import ProviderInfo
from vfbuild.errors import (
    HttpStatusError,
    InputRefused,
    MediaError,
    ProviderError,
    SubmitUnknown,
    VfError,
)
from vfbuild.media.types import media_type
from vfbuild.providers.base import InputFiles, MakeContext, default_units
from vfbuild.providers.http import (
    Http,
    add_secret,
    env_secret,
    redact,
    ssl_context,
)
from vfbuild.store.journal import FAILED, REFUSED, STORED, SUBMITTED, SUBMITTING, JournalEntry

if TYPE_CHECKING:
    from vfbuild.providers.hosting import Host

log = logging.getLogger("vfbuild.remote")

QUEUED, RUNNING, SUCCEEDED, FAILED_STATE = "queued", "running", "succeeded", "failed"

# Said with a refused input when the files went as `data:` URIs, which not every API fetches.
UNHOSTED_HINT = (
    "input files went as `data:` URIs; if the provider could not read them, add `hosting: "
    "{use: fal}` under `providers:` in shots.yaml to send them as URLs (FAL_KEY uploads them)"
)

# The input files of each step after the keyframe, by role (a keyframe's are its references).
# A clip's `last` frame is optional (first + last frame); only those a job has are sent.
URL_ROLES: dict[str, tuple[str, ...]] = {
    "draft": ("keyframe", "last"),
    "final": ("keyframe", "last"),
    "upscale": ("clip",),
    "lipsync": ("clip", "audio"),
}

# Polls come fast at first and slow down as the job ages (a tenth of its age, 0.05 s to 5 s):
# a half-second job is noticed within 50 ms, a five-minute one is asked every 5 s.
POLL_MIN, POLL_MAX, POLL_FRACTION = 0.05, 5.0, 0.1
FETCH_TRIES = 6
# Answers to a submit that say nothing about the job itself: fix the key or account, wait.
REFUSED_NOT_FAILED = frozenset({401, 402, 403, 408, 409, 429})
# A submit answered with these refuses the input itself (fal's and Replicate's validation,
# Seedance's recognisable face): the same job can never pass (`InputRefused`).
REFUSED_INPUT = frozenset({422})


@dataclass
class RemoteJob:
    """One take to make remotely: its recipe, input files, and the id we chose for it."""

    key: str
    recipe: dict[str, Any]
    inputs: InputFiles
    label: str
    client_id: str  # a lowercase UUID fixed by key and attempt

    @property
    def step(self) -> str:
        return str(self.recipe["step"])

    @property
    def model(self) -> str:
        return str(self.recipe["model"])

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.recipe.get("settings") or {})

    @property
    def extra(self) -> dict[str, Any]:
        """The tier's provider settings from shots.yaml, minus the keys vfbuild itself reads."""
        ps = dict(self.settings.get("provider_settings") or {})
        for k in ("model", "workflow"):
            ps.pop(k, None)
        return ps

    def file(self, role: str) -> Path:
        value = self.inputs[role]
        return value[0] if isinstance(value, list) else value

    def has(self, role: str) -> bool:
        return bool(self.inputs.get(role))

    def roles(self) -> list[Path]:
        """The files of this step's `URL_ROLES` the job has, in that order."""
        return [self.file(r) for r in URL_ROLES.get(self.step, ()) if self.has(r)]

    def files(self, role: str) -> list[Path]:
        value = self.inputs.get(role, [])
        return list(value) if isinstance(value, list) else [value]


@dataclass
class Poll:
    state: str  # QUEUED, RUNNING, SUCCEEDED or FAILED_STATE
    progress: float | None = None
    outputs: list[str] = field(default_factory=list)  # result URLs; the first is the take
    error: str | None = None
    # A failure that is the provider refusing the input (a face, a policy), not a fault:
    # raised as `InputRefused`, which a `fallback:` may take to the next provider.
    refused: bool = False


def parse_ratio(value: object) -> tuple[int, int] | None:
    """`"16:9"` or `"1280:720"` as (16, 9) or (1280, 720); None if it is not one."""
    a, sep, b = str(value).partition(":")
    if not sep or not a.isdigit() or not b.isdigit() or not int(a) or not int(b):
        return None
    return int(a), int(b)


def refusal_class(e: HttpStatusError) -> type[HttpStatusError]:
    """The class a provider's restatement of `e` keeps: an input refusal stays one."""
    return InputRefused if isinstance(e, InputRefused) else HttpStatusError


def data_uri(path: Path) -> str:
    """A file as a `data:` URI (fal, Replicate, Runway and Luma accept them as inputs)."""
    return f"data:{media_type(path)};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


class RemoteProvider:
    """Base of every HTTP provider. Subclasses set `name` and implement the protocol calls."""

    name: ClassVar[str]
    paid = True
    deterministic = False
    holds_slot = True  # a -j slot is a job in flight at the provider, not a download
    labels = False
    ledgered = True
    declares_cost = False
    versions_early = False
    by_hand = False
    can_find: ClassVar[bool] = False  # `find` can tell whether a lost-reply job exists
    can_cancel: ClassVar[bool] = True  # `cancel` stops a job at the provider (`vf cancel`)
    api: ClassVar[str] = "v1"  # part of the engine identity in every recipe
    # Sends a clip's last frame (the `last` input) where the model takes one; `takes_last`
    # says which models do. A model that does not is refused before anything is sent.
    takes_last_frame: bool = False
    takes_reference_video: ClassVar[bool] = False
    # Sends a key with the create that makes the service itself refuse a duplicate (sync.so's
    # `Idempotency-Key`): a create whose reply was lost is simply sent again with it.
    idempotent: ClassVar[bool] = False

    def __init__(
        self,
        info: ProviderInfo,
        *,
        base_url: str | None = None,
        timeout: float = 60.0,
        film_root: Path | None = None,
    ) -> None:
        self.info = info
        self.base_url = os.environ.get(info.base_url_env) or base_url or info.base_url or ""
        self.film_root = film_root
        self.http = Http(self.name, self.base_url, self.auth_headers, timeout=timeout)
        for k in (*info.env_keys, *info.alt_keys):
            add_secret(os.environ.get(k))
        self._warming = threading.Lock()
        self._warmed: set[str] = set()
        # Set by `get_provider` when the film has `providers.hosting`: one per film.
        self.host: Host | None = None

    # -- identity ---------------------------------------------------------------------------

    def model(self, step: str, configured: str | None) -> str:
        return configured or self.info.models[step]

    def engine(self, step: str) -> dict[str, Any]:
        return {"api": self.api}

    def ext(self, step: str) -> str:
        return ".png" if step == "keyframe" else ".mp4"

    def units(self, step: str, seconds: float | None) -> tuple[str, float]:
        return default_units(step, seconds)

    def key(self, name: str) -> str:
        return env_secret(name)

    def takes_last(self, step: str, model: str) -> bool:
        """Whether `model` takes a clip's last frame as well as its first (per model where
        the provider's models differ)."""
        return self.takes_last_frame and step in ("draft", "final")

    def check_last(self, job: RemoteJob) -> None:
        """A job with a last frame for a model that cannot take one stops here, before
        anything is journalled as sent: a last frame is never dropped silently."""
        if job.has("last") and not self.takes_last(job.step, job.model):
            raise ProviderError(
                f"{job.label}: {self.name}'s {job.model} takes no last frame",
                hint="choose a model that takes first and last frames (see the README's "
                "`Remote providers` table), or remove the shot's `last:`",
            )

    def auth_headers(self) -> dict[str, str]:
        return {}

    def require_keys(self) -> None:
        missing = self.info.missing_keys()
        if missing:
            raise ProviderError(
                f"{self.name}: {' and '.join(missing)} not set in the environment; nothing was "
                "submitted",
                hint=f"export {missing[0]}=…"
                + "".join(f", or {k}=… alone" for k in self.info.alt_keys)
                + " (keys are read only from the environment, never from files in the film)",
            )

    # -- input files ------------------------------------------------------------------------

    def url_inputs(self, job: RemoteJob) -> list[Path]:
        """The input files this job's request sends by URL (`file_url`); the rest it sends
        inline or through the provider's own uploads."""
        return []

    def file_url(self, path: Path, job: RemoteJob) -> str:
        """A URL the provider can read `path` from: the host's when the film has one, else a
        `data:` URI (which fal, Replicate and Runway take; Luma and Kling may not)."""
        return self.host.url(path, job.label) if self.host is not None else data_uri(path)

    def same_file(self, ours: str, theirs: str) -> bool:
        """Whether a file URL a provider echoes is one we sent for the file now at `ours`
        (a hosted file gets a new URL when it is uploaded again near its expiry)."""
        return ours == theirs or (self.host is not None and theirs in self.host.aliases(ours))

    def stage(self, job: RemoteJob) -> None:
        """Upload the job's URL inputs before it is journalled: an upload that fails or is cut
        short then leaves no entry behind (an entry makes the next build look for the job,
        or stop and ask)."""
        if self.host is not None:
            for path in self.url_inputs(job):
                self.host.url(path, job.label)

    # -- the protocol -----------------------------------------------------------------------

    def submit(self, job: RemoteJob) -> str:
        """Create the job (one POST, `creates=True`); return the provider's job id."""
        raise NotImplementedError

    def poll(self, job_id: str, job: RemoteJob) -> Poll:
        raise NotImplementedError

    def find(self, job: RemoteJob) -> str | None:
        """The id of this job if the provider has it, else None. Only when `can_find`."""
        raise NotImplementedError

    def cancel(self, job_id: str, job: RemoteJob) -> None:
        raise NotImplementedError

    def complete(self, job_id: str, job: RemoteJob, done: Poll) -> Poll:
        """A job the provider says succeeded, with what `fetch` needs (its output URLs). Most
        providers send those with the status; a provider that keeps them apart (fal) reads
        them here, once the job no longer holds a -j slot."""
        return done

    def fetch(self, result: Poll, job: RemoteJob, out: Path) -> None:
        if not result.outputs:
            raise ProviderError(f"{job.label}: {self.name} reported success but no output")
        self.http.download(result.outputs[0], out, what=f"{job.label}: download")

    def _refusal(
        self,
        job: RemoteJob,
        e: HttpStatusError,
        text: str,
        *,
        key: str,
        key_page: str,
        models: str,
        more: dict[int, tuple[str, str]] | None = None,
    ) -> HttpStatusError:
        """A provider's refusal of a submit, said plainly (the status stays for the journal):
        a bad `key`, an unknown model, a rejected input, or one of the provider's own statuses
        (`more`: status → message, hint); anything else is returned as it came. `text` is the
        provider's error, read from its body."""
        if e.status in (401, 403):
            msg = f"{self.name} refused {key} (HTTP {e.status}: {text})"
            hint = f"check the key at {key_page} and export {key} again"
        elif more and e.status in more:
            msg, hint = more[e.status]
        elif e.status == 404:
            msg = f"{self.name} has no model {job.model!r} (HTTP 404: {text})"
            hint = f"check the model id in shots.yaml `providers:` against {models}"
        elif e.status in (400, 422):
            msg = f"{self.name} rejected the input for {job.model}: {text}"
            hint = "fix the prompt or the provider settings in shots.yaml, then build again"
        else:
            return e
        cls = refusal_class(e)
        return cls(f"{job.label}: {msg}", status=e.status, body=e.body, hint=hint)

    # -- the journal-driven run -------------------------------------------------------------

    def make(self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext) -> None:
        try:
            self._make(recipe, inputs, out, ctx)
        except VfError as e:
            e.message = redact(e.message)
            e.hint = redact(e.hint) if e.hint else e.hint
            e.args = (e.message,)
            raise

    def _make(
        self, recipe: dict[str, Any], inputs: InputFiles, out: Path, ctx: MakeContext
    ) -> None:
        journal = ctx.journal
        assert journal is not None, "remote providers run with a journal"
        entry = journal.get(ctx.key)
        if entry is not None and entry.state == FAILED and not ctx.retry_failed:
            raise ProviderError(
                f"{ctx.label}: {self.name} failed this job before: {entry.error}",
                hint="fix the cause (prompt, input, settings), or try the same recipe again "
                "with `vf build --retry-failed` (a new attempt may be charged)",
            )
        if entry is not None and entry.state == REFUSED and not ctx.retry_failed:
            raise InputRefused(
                f"{ctx.label}: {self.name} refused this input before: {entry.error}",
                hint="give the slot a `fallback:` provider, or change the input",
            )
        job = RemoteJob(ctx.key, recipe, inputs, ctx.label, entry.client_id if entry else "")
        with ctx.slot:
            known = entry is not None and entry.state in (SUBMITTED, STORED)
            job_id = entry.job_id if known and entry is not None else None
            if job_id is None and entry is not None and entry.state == SUBMITTING:
                job_id = self._recover(entry, job, ctx)
            if job_id is None:
                ctx.state("submitting")
                entry, job_id = self._submit(job, ctx)
            else:
                assert entry is not None
                log.info("%s: resuming %s job %s", ctx.label, self.name, job_id)
            ctx.started()
            ctx.state(QUEUED)  # at the provider; its first status says more
            self._warm_fetch()
            try:
                result = self._wait(job_id, job, ctx)
            except HttpStatusError as e:
                if e.status not in (404, 410):
                    raise
                # Tasks expire at the provider (Runway's after a day or two, Kling's after 30):
                # a journalled job it no longer has is failed; --retry-failed makes it again.
                result = Poll(FAILED_STATE, error=f"{self.name} no longer has job {job_id}")
        if result.state == SUCCEEDED:
            with ctx.transfer:
                result = self.complete(job_id, job, result)
        if result.state == FAILED_STATE:
            error = redact(result.error or "no reason given")
            journal.update(journal.get(ctx.key) or entry, state=FAILED, error=error)
            if result.refused:
                raise InputRefused(
                    f"{ctx.label}: {self.name} failed the job ({job_id}), refusing its input: "
                    f"{error}",
                    status=422,
                    body=error,
                    hint="the same input would be refused again: change it, or give the "
                    "slot a `fallback:` provider",
                )
            raise ProviderError(
                f"{ctx.label}: {self.name} failed the job ({job_id}): {error}",
                hint="fix the cause, then `vf build --retry-failed` to try again "
                "(a new attempt may be charged)",
            )
        with ctx.transfer:
            ctx.state("downloading")
            self._fetch_checked(result, job, out)

    def prewarm(self, wait: bool = False) -> None:
        """The build has jobs for this provider: make the API clients (importing httpx and
        loading the CA bundle, ~0.1 s) now, so that its first submits do not wait on that
        together. `wait`: before returning (the jobs start next), with the bundle read in a
        thread meanwhile (reading it lets go of the GIL); else in a thread."""
        if not wait:
            self._warm("submit", self._api_clients)
            return
        start = time.monotonic()
        self._warm("tls", ssl_context)
        self._api_clients()
        log.debug("%s: submit path warm (%.2fs)", self.name, time.monotonic() - start)

    def _api_clients(self) -> None:
        _ = self.http.fresh, self.http.client

    def _warm_fetch(self) -> None:
        """While the first jobs are at the provider (the build has nothing else to do):
        import PyAV and make the download client, so the first results are fetched and
        probed at once instead of each waiting on those (~0.1 s, longer with -j 16)."""

        def fetch_path() -> None:
            import av  # noqa: F401

            _ = self.http.bare

        self._warm("fetch", fetch_path)

    def _warm(self, what: str, work: Callable[[], object]) -> None:
        """Run `work` once, in a daemon thread; a failure is left for the real call to meet
        and report."""
        with self._warming:
            if what in self._warmed:
                return
            self._warmed.add(what)

        def run() -> None:
            start = time.monotonic()
            try:
                work()
            except Exception as e:
                log.debug("%s: warming the %s path: %r", self.name, what, e)
            else:
                log.debug("%s: %s path warm (%.2fs)", self.name, what, time.monotonic() - start)

        threading.Thread(target=run, name=f"{self.name}-warm-{what}", daemon=True).start()

    def _recover(self, entry: JournalEntry, job: RemoteJob, ctx: MakeContext) -> str | None:
        """A job whose submit reply was lost. Returns its id, or None to submit (again)."""
        assert ctx.journal is not None
        if self.idempotent:
            return None  # sent again with the same key, the service answers with the first
        if self.can_find:
            found = self.find(job)
            if found is not None:
                ctx.journal.update(entry, state=SUBMITTED, job_id=found)
                return found
            return None  # the provider never got it: submitting is safe
        if ctx.resubmit:
            ctx.lost(entry)  # the first was probably paid: it gets a ledger row (lost)
            return None
        raise ProviderError(
            f"{ctx.label}: a {self.name} job for this recipe (key {ctx.key[:12]}…) may have been "
            "submitted, but its reply was lost, and "
            f"{self.name} cannot be asked which jobs it has",
            hint=f"look for it in your {self.name} dashboard; to submit it again (and maybe "
            "pay twice), run `vf build --resubmit`",
        )

    def _submit(self, job: RemoteJob, ctx: MakeContext) -> tuple[JournalEntry, str]:
        assert ctx.journal is not None
        self.require_keys()
        self.check_last(job)
        if ctx.budget is not None:
            ctx.budget.reserve(ctx.label, ctx.cost)
        try:
            self.stage(job)
        except BaseException:
            if ctx.budget is not None:
                ctx.budget.release(ctx.cost)
            raise
        old = ctx.journal.get(ctx.key)
        entry = ctx.journal.begin(
            ctx.key, provider=self.name, model=job.model, label=ctx.label, cost=ctx.cost
        )
        job.client_id = entry.client_id
        for attempt in range(3):
            try:
                job_id = self.submit(job)
                break
            except SubmitUnknown as e:
                # The job may exist. Providers that can look it up do so; others stop here,
                # and the journal entry (no id) makes the next build ask the user.
                if self.idempotent:
                    if attempt < 2:
                        self.http.wait(attempt)
                        continue  # the same key: the service makes no second job
                    raise ProviderError(
                        f"{ctx.label}: {e.message}",
                        hint=f"the next build sends it again with the same key, which "
                        f"{self.name} answers with the job it made, if it made one",
                    ) from None
                if not self.can_find:
                    raise ProviderError(
                        f"{ctx.label}: {e.message}",
                        hint=f"look for it in your {self.name} dashboard; `vf build` will not "
                        "submit it again unless you run `vf build --resubmit` (and maybe pay "
                        "twice)",
                    ) from None
                found = self.find(job)
                if found is not None:
                    job_id = found
                    break
                if attempt == 2:
                    raise ProviderError(
                        f"{ctx.label}: {e.message}",
                        hint=f"{self.name} does not list the job; the next build looks again",
                    ) from None
            except VfError as e:
                # Nothing was created or paid for. Only a refusal of this job (a 4xx other
                # than auth or throttling) is a failure that waits for --retry-failed; no
                # connection, a busy server, or a bad key just lets the next build submit it.
                if ctx.budget is not None:
                    ctx.budget.release(ctx.cost)
                status = getattr(e, "status", None)
                if isinstance(e, InputRefused) or status in REFUSED_INPUT:
                    # Refused for good (not a fault): the slot's fallback may make it.
                    ctx.journal.update(entry, state=REFUSED, error=redact(e.message))
                    if not isinstance(e, InputRefused):
                        raise InputRefused(
                            e.message,
                            status=status or 422,
                            body=getattr(e, "body", None),
                            hint=e.hint,
                        ) from e
                elif (
                    status is not None and 400 <= status < 500 and status not in REFUSED_NOT_FAILED
                ):
                    ctx.journal.update(entry, state=FAILED, error=redact(e.message))
                elif old is not None:
                    ctx.journal.put(old)  # keep the attempt count (and its client id)
                else:
                    ctx.journal.remove(ctx.key)
                raise
        return ctx.journal.update(entry, state=SUBMITTED, job_id=job_id), job_id

    def _wait(self, job_id: str, job: RemoteJob, ctx: MakeContext) -> Poll:
        start = time.monotonic()
        while True:
            result = self.poll(job_id, job)
            if result.state in (SUCCEEDED, FAILED_STATE):
                return result
            ctx.state(result.state)  # queued or running
            if ctx.progress is not None and result.progress is not None:
                ctx.progress(result.progress)
            age = time.monotonic() - start
            time.sleep(min(POLL_MAX, max(POLL_MIN, age * POLL_FRACTION)))

    def _fetch_checked(self, result: Poll, job: RemoteJob, out: Path) -> None:
        from vfbuild.media.probe import probe

        last: MediaError | None = None
        for attempt in range(FETCH_TRIES):
            if attempt:
                self.http.wait(attempt - 1)
            self.fetch(result, job, out)
            try:
                probe(out)
            except MediaError as e:
                last = e
                continue
            # Whole media: whether it is what the step asked (kind, size, length, sound) is
            # the build's check (media.contract), and fetching it again would not change it.
            return
        raise ProviderError(
            f"{job.label}: {self.name}'s result is not usable media after {FETCH_TRIES} "
            f"downloads: {last.message if last else '?'}",
            hint="the job is journalled: the next build downloads it again without paying",
        )
