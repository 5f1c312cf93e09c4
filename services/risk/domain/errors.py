"""Named errors of the risk domain.

The HTTP/RPC edge maps them in one table; the intended mapping is noted on each class.
"""

from __future__ import annotations


class RiskDomainError(Exception):
    """Base class of every error raised by the risk domain."""


class InvalidFacts(RiskDomainError, ValueError):
    """The declaration facts handed to `assess` are incomplete or inconsistent (422)."""


class RuleSetError(RiskDomainError, ValueError):
    """A rule set, reference-value file or AEO register is malformed (a deployment error)."""


class DrawKeyError(RiskDomainError, ValueError):
    """The draw's secret key is missing, too short or malformed (a deployment error: the
    service does not start)."""


class InvalidRecord(RiskDomainError, ValueError):
    """A recorded decision or control event cannot be read back (malformed or tampered)."""


class ReferenceVersionMismatch(RiskDomainError):
    """A decision is replayed against reference data of another version than it recorded."""


class ControlConflict(RiskDomainError):
    """A control command that conflicts with the control's current state (409)."""


class NoOpenControl(ControlConflict):
    """A control result arrived while no control is open for the consignment (409)."""


class ControlAlreadyOpen(ControlConflict):
    """A control was ordered while another one is still open (409)."""


class ControlAlreadyCompleted(ControlConflict):
    """A second result for a control that already has one (409)."""


class NoControlForLane(RiskDomainError, ValueError):
    """A control was ordered for a lane that has none (only yellow and red have one) (409)."""


class InvalidControlResult(RiskDomainError, ValueError):
    """A control result whose findings contradict its outcome, or a negative amount (422)."""


class InvalidControlTransition(RiskDomainError):
    """An event applied to a control state that does not allow it (a corrupt stream)."""
