"""Warnings of our dependencies that we know of and have planned for, acknowledged by name in
this one place (every other warning is shown: tests fail on none, but report them all).

Used by the `clearance` command (`cli/__init__.py`) and the test suite (`tests/conftest.py`).
A service shows them once at start, as JSON log lines, for its operators.
"""

from __future__ import annotations

import warnings

# message regex -> why it is known and what is planned
KNOWN: dict[str, str] = {
    r"\s*Eventlet is deprecated\. It is currently being maintained in bugfix mode":
        "nameko 2 runs on eventlet, which is in bugfix-only maintenance; README, 'Stack and "
        "why', says where nameko and eventlet are confined and how they will be replaced",
}


def acknowledge() -> None:
    """Stop showing the known warnings in this process."""
    for message in KNOWN:
        warnings.filterwarnings("ignore", message=message)


def filterwarnings_entries() -> list[str]:
    """The same, as pytest `filterwarnings` entries."""
    return [f"ignore:{message}" for message in KNOWN]
