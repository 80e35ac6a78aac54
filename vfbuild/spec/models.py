"""The film spec: pydantic models for `shots.yaml`.

These models are the single source of the JSON Schema in `schema/shots.schema.json` (a test
fails when the committed schema drifts from them). Field descriptions end up in editors through
the yaml-language-server modeline, so they are written for film-makers.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RESOLUTION_RE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
SHOT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

Resolution = Annotated[
    str,
    Field(
        pattern=r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$",
        description="WIDTHxHEIGHT in pixels, both even, e.g. 1920x1080.",
        examples=["1920x1080"],
    ),
]


def parse_resolution(value: str) -> tuple[int, int]:
    m = RESOLUTION_RE.match(value)
    if not m:
        raise ValueError(f"{value!r} is not WIDTHxHEIGHT")
    return int(m.group(1)), int(m.group(2))


def _check_even(value: str) -> str:
    w, h = parse_resolution(value)
    if w % 2 or h % 2:
        raise ValueError(f"{value} has an odd side; H.264 needs even width and height")
    return value


class CameraMove(StrEnum):
    """Camera moves from the seeds' vocabulary. `dolly-in`/`dolly-out` are the same moves as
    `push-in`/`pull-out` under their other names."""

    static = "static"
    push_in = "push-in"
    dolly_in = "dolly-in"
    pull_out = "pull-out"
    dolly_out = "dolly-out"
    pan_left = "pan-left"
    pan_right = "pan-right"
    tilt_up = "tilt-up"
    tilt_down = "tilt-down"
    tracking = "tracking"
    drone_rising = "drone-rising"
    handheld = "handheld"

    @property
    def canonical(self) -> CameraMove:
        aliases = {
            CameraMove.dolly_in: CameraMove.push_in,
            CameraMove.dolly_out: CameraMove.pull_out,
        }
        return aliases.get(self, self)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Tiers(Strict):
    draft: Resolution = Field("640x360", description="Resolution of test renders (draft tier).")
    final: Resolution = Field(
        "1920x1080", description="Resolution of final renders and of keyframes (final tier)."
    )

    _even = field_validator("draft", "final")(_check_even)


class FilmSettings(Strict):
    title: str = Field(min_length=1, description="The film's title; names the edit files.")
    fps: int = Field(24, description="Frames per second of every clip and of the edit: 24 or 30.")
    aspect: str = Field("16:9", pattern=r"^[1-9][0-9]*:[1-9][0-9]*$", description="W:H, e.g. 16:9.")
    tiers: Tiers = Field(default_factory=Tiers)
    delivery: Resolution = Field("3840x2160", description="Resolution of upscale and edit.")
    grain: float = Field(
        0.30, ge=0.0, le=1.0, description="Film grain opacity over the edit's luma (0 = none)."
    )
    style: str | None = Field(
        None,
        description="Mood-board lock appended to every prompt: text, or a file under prompts/.",
    )
    negative: str | None = Field(
        None, description="Negative prompt for every step: text, or a file under prompts/."
    )
    max_shot_duration: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Longest allowed shot in seconds. Clips are generated at most 10 s long; "
        "a longer shot loops its clip in the edit.",
    )

    loudness: float = Field(
        -14.0,
        ge=-40,
        le=-5,
        description="Integrated loudness the mix is normalised to, in LUFS: -14 for social "
        "platforms, -23 for broadcast (EBU R128). Used only when the film has a mix.",
    )
    true_peak: float = Field(-1.0, ge=-9, le=0, description="The mix's highest true peak, in dBTP.")
    rough: Literal["draft", "final", "delivery"] = Field(
        "draft",
        description="The size of a rough cut (some shot not finished): the draft or final "
        "tier's, or the delivery size.",
    )
    mezzanine: Literal["h264", "prores"] = Field(
        "h264",
        description="The edit's codec: h264 (x264 crf 17, tune grain, .mp4) or prores "
        "(ProRes 422 HQ, .mov) for grading elsewhere.",
    )
    deliveries: dict[
        Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")], Resolution | Delivery
    ] = Field(
        default_factory=dict,
        description="Named outputs made from the edit: `master: 3840x2160`, or a size with "
        "bitrate, grain, contrast and subtitles.",
    )
    cover: Cover | None = Field(
        None, description="A cover image: a frame of a shot with the title, at 16:9 and 9:16."
    )

    _even = field_validator("delivery")(_check_even)

    def delivery_specs(self) -> dict[str, Delivery]:
        """Each named delivery as a `Delivery` (a bare size is one with every default)."""
        return {
            name: d if isinstance(d, Delivery) else Delivery(size=d)
            for name, d in self.deliveries.items()
        }

    @field_validator("fps")
    @classmethod
    def _fps(cls, v: int) -> int:
        if v not in (24, 30):
            raise ValueError("fps must be 24 or 30")
        return v


class Delivery(Strict):
    """A named output made from the edit (a 4K master, a 9:16 vertical, a social upload)."""

    size: Resolution = Field(description="WIDTHxHEIGHT; another aspect crops at each shot's focus.")
    bitrate: str | None = Field(
        None,
        pattern=r"^[1-9][0-9]*(\.[0-9]+)?[kM]$",
        description="Peak video bitrate, e.g. 8M (platforms ask ~8M for 1080p, 35-45M for 4K).",
    )
    grain: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="How much of the edit's grain it keeps (below 1: denoised, to survive "
        "a platform's compression).",
    )
    contrast: float = Field(1.0, ge=0.5, le=2.0, description="Contrast (1 = the edit's).")
    subtitles: bool = Field(False, description="Burn the dialogue lines into the picture.")

    _even = field_validator("size")(_check_even)


class Cover(Strict):
    """The film's cover: a frame of a shot with the title set in type."""

    shot: str | None = Field(None, description="The shot whose frame it shows (default: first).")
    at: float = Field(0.5, ge=0.0, le=1.0, description="Where in the shot: 0 first frame, 1 last.")
    title: str | None = Field(None, description="The words set on it (default: the film's title).")


class ProviderChoice(Strict):
    """Which provider makes a step's takes, with what model and per-tier settings."""

    use: str = Field(
        "local",
        description="Provider: local (offline previz), fal, replicate, comfyui, kling, runway, "
        "luma (Dream Machine, ray-2), luma-agents (Luma's current API, ray-3.2), sync (sync.so "
        "lip-sync), elevenlabs (voice, music), or manual (files you make "
        "by hand and drop in inbox/).",
    )
    model: str | None = Field(None, description="The provider's model id (a tier may override).")
    base_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The provider's endpoint; VF_<PROVIDER>_BASE_URL overrides it.",
    )
    base_urls: list[Annotated[str, Field(pattern=r"^https?://")]] | None = Field(
        None,
        min_length=1,
        description="comfyui: a pool of render boxes; each job goes to the least busy "
        "(VF_COMFYUI_BASE_URL, comma-separated, overrides it).",
    )
    workflow: str | None = Field(
        None, description="comfyui: an API-format workflow JSON file in the film."
    )
    timeout: float = Field(
        60.0, gt=0, le=3600, description="Seconds to wait for one HTTP response."
    )
    cost_per_take: float | None = Field(
        None, ge=0, description="manual: what one take costs you, for the ledger."
    )
    draft: dict[str, Any] | None = Field(
        None, description="Draft-tier settings (may hold `model`, `workflow`, provider inputs)."
    )
    final: dict[str, Any] | None = Field(
        None, description="Final-tier settings (may hold `model`, `workflow`, provider inputs)."
    )
    fallback: list[ProviderChoice] = Field(
        default_factory=list,
        description="Providers to try, in order, for a take this one refuses for good (an input "
        "it will not take, such as a recognisable face): never for a fault, which is retried.",
    )

    @field_validator("fallback")
    @classmethod
    def _flat(cls, v: list[ProviderChoice]) -> list[ProviderChoice]:
        if any(f.fallback for f in v):
            raise ValueError("a fallback has no fallback of its own: list them all in one list")
        return v

    @field_validator("use")
    @classmethod
    def _known(cls, v: str) -> str:
        from vfbuild import catalog

        if v not in catalog.REGISTRY:
            raise ValueError(f"unknown provider {v!r}; known: {', '.join(catalog.names())}")
        return v

    def tier(self, tier: str) -> dict[str, Any]:
        return dict(getattr(self, tier, None) or {})


class Hosting(Strict):
    """Where input files go when a provider reads them only from a URL it can fetch."""

    use: Literal["fal"] = Field(
        "fal",
        description="fal: upload to fal's CDN with FAL_KEY (the files are public to anyone "
        "holding their URL until they expire).",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The storage API's endpoint; VF_HOSTING_BASE_URL overrides it.",
    )
    expires_days: float = Field(
        7, gt=1, le=365, description="How long an uploaded file lives before the host deletes it."
    )


class Providers(Strict):
    keyframe: ProviderChoice = Field(default_factory=ProviderChoice)
    voice: ProviderChoice = Field(
        default_factory=ProviderChoice,
        description="Reads the dialogue's `line:` aloud (local: eSpeak NG; elevenlabs; fal; "
        "replicate; manual).",
    )
    music: ProviderChoice = Field(
        default_factory=ProviderChoice,
        description="Makes the film's `music:` (local: a previz bed; elevenlabs; fal; replicate; "
        "manual).",
    )
    video: ProviderChoice = Field(
        default_factory=ProviderChoice, description="Makes the draft and final takes."
    )
    upscale: ProviderChoice = Field(default_factory=ProviderChoice)
    lipsync: ProviderChoice = Field(default_factory=ProviderChoice)
    restyle: ProviderChoice = Field(
        default_factory=ProviderChoice,
        description="Makes restyled frames (image to image) of `motion.first`/`last`.",
    )
    stems: ProviderChoice = Field(
        default_factory=ProviderChoice,
        description="Splits the film's `stems:` source into vocals and instrumental (local: a "
        "previz split with ffmpeg filters, not source separation).",
    )
    hosting: Hosting | None = Field(
        None,
        description="Upload input files and send their URLs (Luma's keyframes, Kling's "
        "lip-sync clip, fal and Replicate file inputs) instead of `data:` URIs.",
    )

    @field_validator(
        "keyframe", "video", "upscale", "lipsync", "voice", "music", "restyle", "stems"
    )
    @classmethod
    def _can_serve(cls, v: ProviderChoice, info: Any) -> ProviderChoice:
        from vfbuild import catalog

        for choice in (v, *v.fallback):
            if not catalog.can_serve(choice.use, info.field_name):
                able = [n for n in catalog.names() if catalog.can_serve(n, info.field_name)]
                raise ValueError(
                    f"provider {choice.use!r} cannot make {info.field_name} takes; "
                    f"these can: {', '.join(able)}"
                )
        return v


class CharacterVoice(Strict):
    """How a character sounds: a voice of the `voice` provider, or a sample of the voice to
    clone."""

    id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The provider's voice id (local: an eSpeak NG voice such as en-us or "
        "en+m3; elevenlabs: a voice id from your voice library).",
    )
    sample: str | None = Field(
        None, description="A recording of the voice to clone, under references/ (wav, mp3)."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Provider settings of this voice (elevenlabs: stability, similarity_boost, "
        "style, speed; local: rate in words per minute, pitch 0-99).",
    )


class Character(Strict):
    reference: str | None = Field(
        None, description="Reference image under references/ (a voice-only character has none)."
    )
    description: str | None = Field(
        None, description="Words added to the prompt of every shot that references this character."
    )
    voice: CharacterVoice | None = Field(
        None, description="The character's voice, for the dialogue lines it speaks."
    )


class KeyframeSpec(Strict):
    """The hero frame (text → image). Either `prompt` or the structured fields, not both."""

    prompt: str | None = Field(None, description="Whole prompt: text, or a file under prompts/.")
    shot: str | None = Field(None, description="Shot type / camera angle, always first.")
    subject: str | None = None
    action: str | None = None
    setting: str | None = None
    light: str | None = Field(None, description="Lighting and atmosphere.")
    camera: str | None = Field(None, description="Lens and camera body, e.g. Alexa Mini, 35mm.")
    look: str | None = Field(None, description="Film stock or style, e.g. Cinestill 800T.")
    negative: str | None = Field(None, description="Added to the film's negative prompt.")
    references: list[str] = Field(
        default_factory=list, description="Character names, or image files under references/."
    )
    takes: int = Field(4, ge=1, le=64, description="How many takes to generate.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of take 1; take n uses seed+n-1.")

    @model_validator(mode="after")
    def _prompt_or_fields(self) -> KeyframeSpec:
        fields = [
            self.shot,
            self.subject,
            self.action,
            self.setting,
            self.light,
            self.camera,
            self.look,
        ]
        if self.prompt is not None and any(f is not None for f in fields):
            raise ValueError(
                "give either `prompt` or the structured fields (shot, subject, …), not both"
            )
        if self.prompt is None and all(f is None for f in fields):
            raise ValueError(
                "a keyframe needs a `prompt` or at least one of shot, subject, action, …"
            )
        return self


# A frame of another shot: `s010.keyframe` (its picked keyframe), or a frame of its final (the
# picked draft at the final tier) or, with `upscale.`, of its upscale: `first`, `last`, or a
# time in seconds (`s010.last`, `s010.upscale.2.5`).
FRAME_REF_PATTERN = (
    r"^[a-z0-9][a-z0-9_-]{0,31}\.(keyframe|((final|upscale)\.)?(first|last|[0-9]+(\.[0-9]+)?s?))$"
)
FrameRef = Annotated[
    str,
    Field(
        pattern=FRAME_REF_PATTERN,
        description="A frame of another shot: SHOT.keyframe (its picked keyframe), SHOT.first, "
        "SHOT.last or SHOT.SECONDS (a frame of its final), SHOT.upscale.last (of its upscale).",
        examples=["s010.last", "s020.keyframe", "s010.upscale.2.5"],
    ),
]


class Restyle(Strict):
    """Image to image: the frame made into another look (the winter frame made spring)."""

    prompt: str | None = Field(
        None,
        description="What the frame becomes: text, or a file under prompts/. Default: this "
        "shot's keyframe prompt.",
    )
    references: list[str] = Field(
        default_factory=list, description="Character names, or image files under references/."
    )
    strength: float = Field(
        0.6, gt=0, le=1, description="How far from the source frame (0 keeps it, 1 repaints it)."
    )
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed; defaults to the keyframe's seed."
    )


class FrameLink(Strict):
    """A frame of another shot, restyled or not."""

    frame: FrameRef
    restyle: Restyle | None = Field(None, description="Restyle the frame (image to image).")


class MotionSpec(Strict):
    """The animation (image → video) of the picked keyframe."""

    move: CameraMove = Field(CameraMove.static, description="Camera move.")
    prompt: str | None = Field(None, description="What moves: text, or a file under prompts/.")
    negative: str | None = Field(None, description="Added to the film's negative prompt.")
    takes: int = Field(4, ge=1, le=64, description="How many draft takes to generate.")
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="Seed of take 1; defaults to the keyframe's seed."
    )
    first: FrameRef | FrameLink | None = Field(
        None,
        description="The clip's first frame from another shot (it stands for this shot's "
        "keyframe, which is then not generated), e.g. s030.last.",
    )
    last: FrameRef | FrameLink | None = Field(
        None,
        description="The frame the clip ends on, from another shot; only providers that take "
        "a last frame (Kling, Luma, Veo) can make it.",
    )
    reference: str | None = Field(
        None,
        description="A reference performance (a video under 02_Reference_Video/ or references/) "
        "that drives a motion-control model.",
    )

    def link(self, role: str) -> FrameLink | None:
        """`first` or `last` as a FrameLink (the short form is a bare frame)."""
        value = getattr(self, role)
        return FrameLink(frame=value) if isinstance(value, str) else value


class Dialogue(Strict):
    """What is said in the shot: a recording (`audio:`), or a `line:` the voice step reads."""

    audio: str | None = Field(
        None, description="Speech audio under 04_Audio/; makes the lipsync step exist."
    )
    line: str | None = Field(
        None,
        min_length=1,
        max_length=5000,
        description="The words spoken. Without `audio:` the voice step reads them aloud.",
    )
    voice: str | None = Field(
        None,
        description="Who speaks: a character under `characters:` with a `voice:` "
        "(none: the voice provider's default voice).",
    )
    takes: int = Field(1, ge=1, le=16, description="How many readings of the line to make.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of take 1; take n uses seed+n-1.")
    pick: int | None = Field(
        None,
        ge=1,
        le=16,
        description="The reading lip-sync uses when no `vf pick SHOT voice N` is in the lock "
        "(none: take 1 when there is one take; else pick one).",
    )

    @model_validator(mode="after")
    def _audio_or_line(self) -> Dialogue:
        if self.audio is None and self.line is None:
            raise ValueError("a dialogue needs an `audio:` file or a `line:` to read aloud")
        if self.pick is not None and self.pick > self.takes:
            raise ValueError(f"pick {self.pick} is more than the {self.takes} take(s) made")
        return self

    @property
    def spoken(self) -> bool:
        """Read aloud by the voice step (there is no recording)."""
        return self.audio is None


class MusicSpec(Strict):
    """The film's music: a bed under the whole cut, as long as the edit."""

    prompt: str = Field(
        min_length=1, description="What the music is: text, or a file under prompts/."
    )
    takes: int = Field(1, ge=1, le=16, description="How many pieces to make.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of take 1; take n uses seed+n-1.")
    pick: int = Field(1, ge=1, le=16, description="The take the mix uses.")
    fit: Literal["trim", "regenerate"] = Field(
        "trim",
        description="When the cut's length changes: `trim` keeps music that is still long "
        "enough (cut with a fade) and asks again only when it is too short; `regenerate` "
        "asks again at the new length.",
    )
    gain: float = Field(
        -8.0, ge=-40, le=12, description="The music's level in the mix, in dB (before ducking)."
    )
    duck: float = Field(
        12.0, ge=0, le=40, description="How far the music is pushed under dialogue, in dB."
    )

    @model_validator(mode="after")
    def _pick_in_takes(self) -> MusicSpec:
        if self.pick > self.takes:
            raise ValueError(f"pick {self.pick} is more than the {self.takes} take(s) made")
        return self


class StemsSpec(Strict):
    """Split a piece of music into vocals and instrumental (stems), versioned in 04_Audio/."""

    source: str = Field(
        "music",
        min_length=1,
        description="What to split: `music` (the film's picked music), or an audio file under "
        "references/ or 04_Audio/ (a reference track).",
    )
    mix: bool = Field(
        False,
        description="The mix plays the instrumental in place of the music (with a reference "
        "track, under the whole film), at the music's `gain` and `duck`.",
    )

    @property
    def from_music(self) -> bool:
        return self.source == "music"


class Shot(Strict):
    id: str = Field(pattern=SHOT_ID_PATTERN, description="Stable id, e.g. s010. Never reuse one.")
    duration: float = Field(gt=0, description="Seconds on screen.")
    keyframe: KeyframeSpec
    motion: MotionSpec = Field(default_factory=MotionSpec)
    dialogue: Dialogue | None = None
    focus: (
        tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]] | None
    ) = Field(
        None,
        description="[x, y] from 0 to 1: the point a delivery of another aspect keeps in "
        "frame when it crops this shot (default: the centre).",
    )
    notes: str | None = Field(None, description="Free notes; not part of any recipe.")


REMOTE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Remote(Strict):
    """A shared cache of the film's takes on object storage (`vf push`, `vf pull`, and the
    build's look-up before it pays). Credentials come from the backend's own environment and
    config (AWS_* and ~/.aws for s3://), never from the film."""

    url: str = Field(
        pattern=r"^[a-z][a-z0-9+.-]*://\S+$",
        description="An fsspec URL: s3://bucket/prefix (AWS S3, MinIO, R2, Ceph: the endpoint "
        "from AWS_ENDPOINT_URL or ~/.aws/config), gs://, az://, file:///mnt/nas/film-cache.",
    )
    lease: float = Field(
        900,
        gt=0,
        le=7 * 24 * 3600,
        description="Seconds a claim on a paid recipe lasts without renewal: a machine that "
        "dies holding one delays its teammates this long at most.",
    )


class Film(Strict):
    """A whole film: settings, providers, characters and shots in edit order."""

    film: FilmSettings
    providers: Providers = Field(default_factory=Providers)
    characters: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")], Character] = Field(
        default_factory=dict
    )
    music: MusicSpec | None = Field(
        None, description="Music under the whole film, mixed with the dialogue (ducked)."
    )
    stems: StemsSpec | None = Field(
        None,
        description="Split the music (or a reference track) into vocals and instrumental; "
        "`mix: true` plays the instrumental in the mix.",
    )
    shots: list[Shot] = Field(min_length=1)
    remotes: dict[Annotated[str, Field(pattern=REMOTE_NAME)], Remote] = Field(
        default_factory=dict,
        description="Shared caches by name (`vf remote add NAME URL`); the first is the "
        "default of `vf push`, `vf pull` and `vf build`.",
    )

    @property
    def length(self) -> float:
        """The cut's length in seconds: the sum of the shots' durations."""
        return sum(s.duration for s in self.shots)

    @functools.cached_property
    def shot_map(self) -> dict[str, Shot]:
        """Shots by id (the first of a repeated id), so `shot()` costs the same at 5000 shots
        as at 5: the build looks shots up once per step. Not a field: not in the schema."""
        return {s.id: s for s in reversed(self.shots)}

    def shot(self, shot_id: str) -> Shot:
        return self.shot_map[shot_id]

    def reference_files(self, shot: Shot) -> list[str]:
        """The image files a shot's keyframe references: a character's reference, or the path
        itself (the only rule for reading `keyframe.references`)."""
        return [
            self.characters[r].reference or r if r in self.characters else r
            for r in shot.keyframe.references
        ]
