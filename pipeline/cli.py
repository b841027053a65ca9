"""Shared command-line behaviour of the stage scripts.

`guarded(main)` runs a script's `main()` and turns the errors a user can fix (a missing,
incomplete or tampered input manifest; an invalid config) into one clear line on stderr and
exit status 2, instead of a traceback.
"""

from __future__ import annotations

import sys
from typing import Callable

from pipeline.config import ConfigError
from pipeline.manifest import ManifestError


def guarded(main: Callable[[], int]) -> int:
    try:
        return main()
    except ManifestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
