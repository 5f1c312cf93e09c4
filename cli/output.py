"""Output helpers shared by the subcommands: JSON for machines, messages and a progress bar on
stderr for people, and the exception a command raises for bad usage."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, NoReturn, TypeVar

from tqdm import tqdm

ProgressCallback = Callable[[int, int], None]
N = TypeVar("N", int, float)

# "verify:  42%|████▏     | 5,000/12,000 events [00:01<00:02, 3.51k events/s]"
BAR_FORMAT = ("{desc}: {percentage:3.0f}%|{bar}| {n:,}/{total:,} events "
              "[{elapsed}<{remaining}, {rate_fmt}]")


class UsageError(Exception):
    """The command line is wrong in a way argparse could not see (e.g. --since after --until).
    `cli.main` prints it as argparse prints its own errors and exits 2."""


class Failed(Exception):
    """Something named is missing or the work failed, told by the message alone: `cli.main`
    prints it and exits 1."""


def natural(text: str) -> int:
    """argparse type: an integer >= 0 (argparse exits 2 on anything else)."""
    return _number(text, int, "an integer >= 0", lambda n: n >= 0)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(text, int, "an integer >= 1", lambda n: n >= 1)


def positive_float(text: str) -> float:
    """argparse type: a number > 0 (finite)."""
    return _number(text, float, "a number > 0", lambda n: 0 < n < float("inf"))


def _number(text: str, kind: Callable[[str], N], what: str, ok: Callable[[N], bool]) -> N:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def error(message: str) -> None:
    print(f"clearance: {message}", file=sys.stderr)


class Progress:
    """The progress bar of one pass over the log, on stderr (tqdm): one line updated in
    place with a bar, the percentage, the events covered out of `total`, the elapsed time,
    the ETA and the rate. Shown only when `show` and stderr is a terminal; otherwise nothing
    is written and `callback` is None, so the audit function does no progress work at all.

    The audit functions call `callback(done, position)` after each page. The bar counts
    positions (gap-free, from 1), so `total` is the log's last position, read before the
    pass; a log that grows meanwhile raises the total. tqdm's own environment variables
    apply (`TQDM_MININTERVAL`, `TQDM_DISABLE`, ...).

        with Progress("verify", store.last_position(), show=not args.json) as bar:
            result = verify_log(store, progress=bar.callback)
            bar.complete()
    """

    def __init__(self, what: str, total: int, *, show: bool = True) -> None:
        self._bar: tqdm[NoReturn] | None = None
        if show and sys.stderr.isatty():
            self._bar = tqdm(total=total, desc=what, file=sys.stderr, unit=" events",
                             unit_scale=True, bar_format=BAR_FORMAT, dynamic_ncols=True,
                             leave=True)

    @property
    def callback(self) -> ProgressCallback | None:
        return None if self._bar is None else self.update

    def update(self, done: int, position: int) -> None:
        bar = self._bar
        if bar is None:
            return
        if bar.total is None or position > bar.total:
            bar.total = position
        bar.update(position - bar.n)

    def complete(self) -> None:
        """The pass covered the whole log: the bar ends at 100% (a pass that reads only some
        categories may have last reported an earlier position)."""
        if self._bar is not None and self._bar.total is not None:
            self._bar.update(self._bar.total - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
