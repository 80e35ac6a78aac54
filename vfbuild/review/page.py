"""The review page's files: one HTML shell, one stylesheet, one script, all in `assets/`.

The served page and the static one are the same shell: the server's carries the session's
token and reads its data from `/api/sheet`; the static one carries its data inline and no
token (so no pick button: each take shows its `vf pick` command to copy).
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

ASSETS = {
    "review.css": "text/css; charset=utf-8",
    "review.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


def _read(name: str) -> bytes:
    return resources.files("vfbuild.review").joinpath("assets", name).read_bytes()


def asset(name: str) -> tuple[bytes, str] | None:
    """An asset by its name (only those listed: nothing else of the package is served)."""
    ctype = ASSETS.get(name)
    if ctype is None:
        return None
    return _read(name), ctype


def _script_json(data: object) -> str:
    """JSON that can stand inside a <script> element: no `</script>`, no `<!--`."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render_page(
    *, token: str | None, data: dict[str, Any] | None = None, base: str = "/static/"
) -> str:
    """The page: with a `token`, the live page of the server; with `data`, the static one."""
    shell = _read("review.html").decode("utf-8")
    config: dict[str, Any] = (
        {"mode": "live", "media": "/media/", "thumb": "/thumb/", "thumbExt": ""}
        if data is None
        else {"mode": "static", "media": "media/", "thumb": "thumbs/", "thumbExt": ".jpg"}
    )
    title = data["title"] if data is not None else "vf review"
    inline = (
        ""
        if data is None
        else (f'<script id="vf-data" type="application/json">{_script_json(data)}</script>')
    )
    fill = {
        "TITLE": html.escape(str(title)),
        "TOKEN": html.escape(token or "", quote=True),
        "BASE": html.escape(base, quote=True),
        "CONFIG": html.escape(json.dumps(config), quote=True),
        "DATA": inline,
    }
    # One pass: a prompt or title holding "{{TOKEN}}" is left as it is.
    return _SLOT.sub(lambda m: fill[m[1]], shell)


_SLOT = re.compile(r"\{\{(TITLE|TOKEN|BASE|CONFIG|DATA)\}\}")
