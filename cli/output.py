"""Output helpers shared by the subcommands: JSON for machines, progress on stderr for people."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def error(message: str) -> None:
    print(f"clearance: {message}", file=sys.stderr)


class Progress:
    """Progress lines on stderr, at most a few per second."""

    def __init__(self, what: str, every_seconds: float = 0.5) -> None:
        self.what = what
        self.every = every_seconds
        self._last = 0.0

    def __call__(self, done: int, position: int) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            print(f"{self.what}: {done:,} events checked (position {position:,})",
                  file=sys.stderr, flush=True)
