from __future__ import annotations

from vfbuild.cli import main

raise SystemExit(main())
