"""The AEO (authorised economic operator) register, versioned like every reference data set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

from .errors import RuleSetError


class AeoStatus(Enum):
    """AEOC customs simplifications, AEOS security and safety, AEOF both (full)."""

    AEOC = "AEOC"
    AEOS = "AEOS"
    AEOF = "AEOF"


# When one operator holds several authorisations valid on a date, the fullest one applies.
_RANK = {AeoStatus.AEOS: 0, AeoStatus.AEOC: 1, AeoStatus.AEOF: 2}


@dataclass(frozen=True)
class AeoEntry:
    eori: str
    status: AeoStatus
    valid_from: date
    valid_to: date | None = None  # inclusive; None while the authorisation runs

    def __post_init__(self) -> None:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise RuleSetError(f"AEO entry {self.eori}: valid_to is before valid_from")

    def valid_on(self, on_date: date) -> bool:
        return self.valid_from <= on_date and (self.valid_to is None or on_date <= self.valid_to)


@dataclass(frozen=True)
class AeoRegister:
    version: str
    entries: tuple[AeoEntry, ...]

    def status_of(self, eori: str, on_date: date) -> AeoStatus | None:
        """The operator's AEO status valid on the date (the fullest one), or None."""
        valid = [e.status for e in self.entries if e.eori == eori and e.valid_on(on_date)]
        return max(valid, key=_RANK.__getitem__, default=None)
