"""vfbuild: project-as-code for AI films.

The library API lives in the subpackages; `vfbuild.cli` is a thin layer over it.
"""

from __future__ import annotations

__version__ = "0.1.0"
