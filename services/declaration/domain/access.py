"""Who may see and act on a declaration (pure: the caller arrives as a value).

- a declarant: the declarations it lodged (its `eori` is the declarant's), and it lodges only
  as itself;
- an officer: the declarations of its offices;
- a cashier: those of the trader it pays for (its `eori`), or any when it has no `eori` (a
  customs cashier or a payment gateway);
- an auditor: every declaration.

Anything else is answered as if the declaration did not exist (404): MRNs must not be probed.
"""

from __future__ import annotations

from shared.identity import Caller


class NotYourDeclarant(PermissionError):
    """A declarant lodging a document whose declarant is another party."""


def may_lodge_as(caller: Caller, declarant_eori: object) -> None:
    """Raise NotYourDeclarant unless the caller lodges as itself (a document without a
    declarant EORI is left to validation)."""
    if isinstance(declarant_eori, str) and declarant_eori != caller.eori:
        raise NotYourDeclarant(
            f"you lodge as EORI {caller.eori or '(none in your token)'}, not as {declarant_eori}")


def may_see(caller: Caller, declarant_eori: str, office: str | None) -> bool:
    if caller.has("auditor"):
        return True
    if caller.has("declarant") and caller.eori and caller.eori == declarant_eori:
        return True
    if caller.has("officer") and office is not None and office in caller.offices:
        return True
    if caller.has("cashier") and (caller.eori is None or caller.eori == declarant_eori):
        return True
    return False
