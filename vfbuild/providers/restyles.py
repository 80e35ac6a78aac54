"""How each image-to-image model on fal and Replicate takes a restyle (`first-restyle`,
`last-restyle`): the frame and the shot's references, and the prompt. Read from the model pages
on 2026-12-03 (fal.ai/models/<id>/llms.txt, replicate.com/<id>/api):

fal:
  fal-ai/flux-pro/kontext            image_url (one image), prompt, seed, output_format; $0.04
  fal-ai/flux-pro/kontext/max        the same fields
  fal-ai/flux-pro/kontext/multi      image_urls (the frame, then the references)
  fal-ai/nano-banana/edit            image_urls, prompt, output_format, num_images (no seed)
Replicate:
  black-forest-labs/flux-kontext-pro input_image (one image), prompt, aspect_ratio
                                     (match_input_image), output_format, seed
  black-forest-labs/flux-kontext-max the same fields

A model that takes one image cannot be sent the shot's references: that is an error before
anything is sent (name a `…/multi` or `…/edit` model), never a silent drop. Kontext has no
strength; the recipe's `strength` is for the models that take one (none of these) and for the
local previz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfbuild.errors import ProviderError

if TYPE_CHECKING:
    from vfbuild.providers.remote import RemoteJob

STEPS = ("first-restyle", "last-restyle")


@dataclass(frozen=True)
class Edit:
    """The request fields of one image-to-image model."""

    image: str  # the field the frame goes in
    many: bool = False  # a list: the frame first, then the references
    seed: bool = True
    fixed: tuple[tuple[str, Any], ...] = ()  # fields every request sets


FAL: dict[str, Edit] = {
    "fal-ai/flux-pro/kontext": Edit("image_url", fixed=(("output_format", "png"),)),
    "fal-ai/flux-pro/kontext/max": Edit("image_url", fixed=(("output_format", "png"),)),
    "fal-ai/flux-pro/kontext/multi": Edit(
        "image_urls", many=True, fixed=(("output_format", "png"),)
    ),
    "fal-ai/nano-banana/edit": Edit(
        "image_urls", many=True, seed=False, fixed=(("output_format", "png"), ("num_images", 1))
    ),
}
REPLICATE: dict[str, Edit] = {
    "black-forest-labs/flux-kontext-pro": Edit(
        "input_image", fixed=(("aspect_ratio", "match_input_image"), ("output_format", "png"))
    ),
    "black-forest-labs/flux-kontext-max": Edit(
        "input_image", fixed=(("aspect_ratio", "match_input_image"), ("output_format", "png"))
    ),
}


def files(job: RemoteJob) -> list[Path]:
    """The frame, then the references: what a restyle's request sends by URL."""
    return [job.file("image"), *job.files("references")]


def request(
    table: dict[str, Edit], provider: str, model: str, job: RemoteJob, url: Any
) -> dict[str, Any]:
    """The model input of a restyle; `url(path)` makes a file's URL (hosted, or `data:`)."""
    edit = table.get(model)
    if edit is None:
        raise ProviderError(
            f"{job.label}: {provider} has no restyle model {model!r} that vfbuild knows",
            hint=f"use one of {', '.join(table)} under `providers: restyle:` in shots.yaml",
        )
    refs = job.files("references")
    if refs and not edit.many:
        many = [m for m, e in table.items() if e.many]
        raise ProviderError(
            f"{job.label}: {provider}'s {model} takes one image, and the restyle has "
            f"{len(refs)} reference(s)",
            hint=(f"use {' or '.join(many)}, which takes references" if many else
                  f"{provider} has no restyle model that takes references here")
            + ", or remove the restyle's `references:`",
        )  # fmt: skip
    body: dict[str, Any] = {"prompt": job.recipe.get("prompt") or ""}
    if edit.many:
        body[edit.image] = [url(p) for p in files(job)]
    else:
        body[edit.image] = url(job.file("image"))
    if edit.seed:
        body["seed"] = int(job.recipe.get("seed") or 0)
    return body | dict(edit.fixed)
