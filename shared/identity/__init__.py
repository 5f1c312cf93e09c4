"""Who is calling: the authenticated `Caller` and the roles of the contract ("Identity and
access").

This package's top level is pure (standard library only): the domain packages import
`Caller` from here. Verifying bearer tokens (`shared.identity.tokens`, PyJWT) and the
embedded development key (`shared.identity.development`) are imported by name where they are
needed: the HTTP edge, the runner and the command line.
"""

from __future__ import annotations

from .caller import ROLES, SERVICE_ROLE, Caller

__all__ = ["ROLES", "SERVICE_ROLE", "Caller"]
