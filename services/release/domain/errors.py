"""Named errors of the release domain (the edge maps them to HTTP/RPC problems)."""

from __future__ import annotations


class ReleaseDomainError(Exception):
    """Base class of every error raised by the release domain."""


class ConflictingFact(ReleaseDomainError):
    """Two different facts arrived under the same fact id (a corrupt or forged event)."""


class NotReleasable(ReleaseDomainError):
    """A release was asked for while a condition does not hold (409); `outcome` says which."""

    def __init__(self, message: str, outcome: object) -> None:
        super().__init__(message)
        self.outcome = outcome


class AlreadyReleased(NotReleasable):
    """The consignment was released already: exactly one release per consignment (409)."""


class NotRefusable(ReleaseDomainError):
    """A refusal was to be recorded while no control refused release, or it is recorded
    already; `outcome` says what the decision is."""

    def __init__(self, message: str, outcome: object) -> None:
        super().__init__(message)
        self.outcome = outcome


class NotificationUnavailable(ReleaseDomainError):
    """A release notification was asked for a consignment not (known to be) released."""
