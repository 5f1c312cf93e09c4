"""Selectivity lanes and their order of severity."""

from __future__ import annotations

from enum import Enum


class Lane(Enum):
    """green: release without checks; blue: release now, audit after;
    yellow: documentary check; red: physical examination."""

    GREEN = "green"
    BLUE = "blue"
    YELLOW = "yellow"
    RED = "red"

    @property
    def severity(self) -> int:
        """green < blue < yellow < red: the lane of a decision is the most severe one asked for."""
        return _SEVERITY[self]

    @property
    def has_control(self) -> bool:
        """Whether the lane stops the goods for a control (yellow: documents, red: examination)."""
        return self in (Lane.YELLOW, Lane.RED)


_SEVERITY = {Lane.GREEN: 0, Lane.BLUE: 1, Lane.YELLOW: 2, Lane.RED: 3}


def most_severe(*lanes: Lane) -> Lane:
    """The most severe of the lanes given (green when none)."""
    return max(lanes, key=lambda lane: lane.severity, default=Lane.GREEN)
