"""The caller of an operation as a value: who (`sub`), with which roles, for which trader,
offices or agency. Pure: standard library only (the domain packages receive it).

A `Caller` is made from a verified token (`shared.identity.tokens.TokenVerifier`) or, for a
service's own decisions, by `Caller.service(name)`. `actor()` is what an appended event
records as its author.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The roles a token may carry (CONTRACT.md, "Identity and access"). A token's other roles (an
# identity provider's own, such as Keycloak's `offline_access`) are not kept.
ROLES = ("declarant", "officer", "cashier", "auditor", "agency", "operator")

# The role of a service acting on its own (risk assessment, release decisions...). Never taken
# from a token: the verifier keeps only `ROLES`.
SERVICE_ROLE = "service"


@dataclass(frozen=True)
class Caller:
    sub: str
    roles: frozenset[str]
    issuer: str | None = None
    token_id: str | None = None  # the token's jti, if any
    eori: str | None = None  # declarants, cashiers of a trader
    offices: frozenset[str] = frozenset()  # officers: the office codes they act at
    agency: str | None = None  # agency staff: their agency's code

    def has(self, *roles: str) -> bool:
        """Whether the caller holds any of `roles`."""
        return any(role in self.roles for role in roles)

    def actor(self) -> dict[str, Any]:
        """What an event records as its author: `sub`, `roles` (sorted), `iss`, `jti`; a value
        that is None is left out."""
        actor: dict[str, Any] = {"sub": self.sub, "roles": sorted(self.roles)}
        if self.issuer is not None:
            actor["iss"] = self.issuer
        if self.token_id is not None:
            actor["jti"] = self.token_id
        return actor

    @classmethod
    def service(cls, name: str) -> Caller:
        """A service's own decisions: `<name>-service`, role `service`."""
        return cls(sub=f"{name}-service", roles=frozenset({SERVICE_ROLE}))
