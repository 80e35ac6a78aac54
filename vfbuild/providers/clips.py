"""How each image-to-video model on fal and Replicate takes a clip: its field names and lengths.

The hosted models do not agree on names: Kling 2.1 on fal takes `image_url` and
`tail_image_url`, Kling 3 `start_image_url` and `end_image_url`, Veo 3.1's first-last model
`first_frame_url` and `last_frame_url` with a duration of `"8s"`, Replicate's Veo `image` and
`last_frame`, Hailuo `first_frame_image`. One row per model says what its request uses, read
from the model pages (fal.ai/models/<id>/llms.txt, replicate.com/<id>/api) on 2026-12-03:

fal (first frame, last frame, lengths in seconds):
  fal-ai/kling-video/v2.1/standard/image-to-video    image_url, —, "5" "10"
  fal-ai/kling-video/v2.1/pro/image-to-video         image_url, tail_image_url, "5" "10"
  fal-ai/kling-video/v2.5-turbo/pro/image-to-video   image_url, tail_image_url, "5" "10"
  fal-ai/kling-video/v2.6/pro/image-to-video         start_image_url, —, "5" "10"
  fal-ai/kling-video/v3/{standard,pro}/image-to-video start_image_url, end_image_url, "3"…"15"
  fal-ai/veo3.1[/fast]/first-last-frame-to-video     first_frame_url, last_frame_url, "4s" "6s" "8s"
  fal-ai/veo3.1[/fast]/image-to-video                image_url, —, "4s" "6s" "8s"
  fal-ai/bytedance/seedance/v1/pro/image-to-video    image_url, end_image_url, "2"…"12"
  bytedance/seedance-2.0/image-to-video              image_url, end_image_url, "4"…"15"
  fal-ai/minimax/hailuo-02/standard/image-to-video   image_url, end_image_url, "6" "10"
Replicate (lengths as numbers):
  kwaivgi/kling-v2.1                 start_image, end_image (mode pro only), 5 10
  kwaivgi/kling-v2.6                 start_image, —, 5 10
  google/veo-3.1, google/veo-3.1-fast image, last_frame, 4 6 8
  bytedance/seedance-1-pro, -1-lite  image, last_frame_image, 2…12
  minimax/hailuo-02                  first_frame_image, last_frame_image, 6 10

A model in no row is sent as before this table existed (fal: `image_url` and Kling's "5"/"10";
Replicate: `image` and whole seconds, or Wan's frame count), so the requests of existing films
are unchanged. Models with native audio are asked for none (`generate_audio: false`): the film's
sound is its own, and the silent price is the one in prices.yaml.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Clip:
    """The request fields of one image-to-video model."""

    image: str  # the first frame
    last: str | None = None  # the last frame; None: the model takes none
    lengths: tuple[int, ...] = (5, 10)  # the clip lengths it makes (and bills), shortest first
    text: bool = True  # the duration goes as text ("5"), else as a number
    suffix: str = ""  # after the number: Veo on fal wants "8s"
    seed: bool = True
    negative: bool = True
    audio: str | None = None  # the field that turns native audio off, where there is one
    last_needs: dict[str, str] | None = None  # a setting the last frame needs (Kling 2.1: pro)

    def seconds(self, asked: float | None) -> int:
        """The clip that covers `asked`: the shortest that is long enough, else the longest
        (a longer shot loops in the edit)."""
        s = float(asked or 0.0)
        return next((n for n in self.lengths if s <= n + 1e-6), self.lengths[-1])

    def duration(self, asked: float | None) -> str | int:
        n = self.seconds(asked)
        return f"{n}{self.suffix}" if self.text else n


def _span(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


KLING_FAL = Clip("image_url", seed=False)
FAL: dict[str, Clip] = {
    "fal-ai/kling-video/v2.1/standard/image-to-video": KLING_FAL,
    "fal-ai/kling-video/v2.1/master/image-to-video": KLING_FAL,
    "fal-ai/kling-video/v2.1/pro/image-to-video": Clip("image_url", "tail_image_url", seed=False),
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": Clip(
        "image_url", "tail_image_url", seed=False
    ),
    "fal-ai/kling-video/v2.6/pro/image-to-video": Clip(
        "start_image_url", seed=False, audio="generate_audio"
    ),
    "fal-ai/kling-video/v3/standard/image-to-video": Clip(
        "start_image_url", "end_image_url", _span(3, 15), seed=False, audio="generate_audio"
    ),
    "fal-ai/kling-video/v3/pro/image-to-video": Clip(
        "start_image_url", "end_image_url", _span(3, 15), seed=False, audio="generate_audio"
    ),
    "fal-ai/veo3.1/first-last-frame-to-video": Clip(
        "first_frame_url", "last_frame_url", (4, 6, 8), suffix="s", audio="generate_audio"
    ),
    "fal-ai/veo3.1/fast/first-last-frame-to-video": Clip(
        "first_frame_url", "last_frame_url", (4, 6, 8), suffix="s", audio="generate_audio"
    ),
    "fal-ai/veo3.1/image-to-video": Clip(
        "image_url", None, (4, 6, 8), suffix="s", audio="generate_audio"
    ),
    "fal-ai/veo3.1/fast/image-to-video": Clip(
        "image_url", None, (4, 6, 8), suffix="s", audio="generate_audio"
    ),
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": Clip(
        "image_url", "end_image_url", _span(2, 12), negative=False
    ),
    "bytedance/seedance-2.0/image-to-video": Clip(
        "image_url", "end_image_url", _span(4, 15), negative=False, audio="generate_audio"
    ),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": Clip(
        "image_url", "end_image_url", (6, 10), seed=False, negative=False
    ),
}

REPLICATE: dict[str, Clip] = {
    "kwaivgi/kling-v2.1": Clip(
        "start_image", "end_image", text=False, seed=False, last_needs={"mode": "pro"}
    ),
    "kwaivgi/kling-v2.6": Clip("start_image", text=False, seed=False),
    "google/veo-3.1": Clip("image", "last_frame", (4, 6, 8), text=False, audio="generate_audio"),
    "google/veo-3.1-fast": Clip(
        "image", "last_frame", (4, 6, 8), text=False, audio="generate_audio"
    ),
    "bytedance/seedance-1-pro": Clip(
        "image", "last_frame_image", _span(2, 12), text=False, negative=False
    ),
    "bytedance/seedance-1-lite": Clip(
        "image", "last_frame_image", _span(2, 12), text=False, negative=False
    ),
    "minimax/hailuo-02": Clip(
        "first_frame_image", "last_frame_image", (6, 10), text=False, seed=False, negative=False
    ),
}


def whole_seconds(asked: float | None) -> int:
    return max(1, math.ceil(float(asked or 5.0) - 1e-6))
