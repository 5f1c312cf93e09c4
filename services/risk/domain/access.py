"""Who may record a control result (pure: the caller arrives as a value): an officer at the
declaration's office. Anyone else is answered as if the declaration did not exist."""

from __future__ import annotations

from shared.identity import Caller


def may_control(caller: Caller, office: str) -> bool:
    return caller.has("officer") and office in caller.offices
