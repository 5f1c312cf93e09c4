"""Who is calling: the bearer token of each request, verified once, as a `Caller`.

`Identity` is the container's one `TokenVerifier` (built in setup() from the service's config,
`AUTH_*`; a service whose identity settings are missing or name the development key without
`AUTH_ALLOW_DEV_KEY=1` does not start). The `@api` entrypoint asks it for the caller of every
request to a route that is not public, and checks the route's roles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nameko.extensions import DependencyProvider, SharedExtension

from shared.identity import Caller
from shared.identity.tokens import InvalidToken, TokenVerifier

from .problems import PROBLEM_TYPE_BASE, Problem

PUBLIC = "public"  # a route anyone may call (health, readiness, metrics, the OpenAPI document)


def unauthorized(description: str) -> Problem:
    """401 with the RFC 6750 challenge (the reason is ours, never the token's content)."""
    quoted = description.replace("\\", "").replace('"', "'")
    return Problem(401, "Unauthorized", description, PROBLEM_TYPE_BASE + "invalid-token",
                   headers={"WWW-Authenticate":
                            f'Bearer error="invalid_token", error_description="{quoted}"'})


def forbidden(roles: Sequence[str]) -> Problem:
    return Problem(403, "Forbidden", f"this needs one of the roles {', '.join(roles)}",
                   PROBLEM_TYPE_BASE + "forbidden")


def auth_settings(config: Mapping[str, Any]) -> dict[str, str]:
    """The AUTH_* entries of a nameko config as text (YAML reads `1` as a number)."""
    return {key: "" if value is None else str(value) for key, value in config.items()
            if key.startswith("AUTH_")}


class Identity(SharedExtension):  # type: ignore[misc]
    """The container's token verifier (see the module docstring)."""

    def __init__(self) -> None:
        self.verifier: TokenVerifier | None = None

    def setup(self) -> None:
        guarded = [ep for ep in self.container.entrypoints
                   if getattr(ep, "roles", PUBLIC) != PUBLIC]
        guarded += [d for d in self.container.dependencies if isinstance(d, Authenticator)]
        if guarded:  # a container of public routes only (a test service) needs no keys
            self.verifier = TokenVerifier.from_settings(auth_settings(self.container.config))

    def caller(self, authorization: str | None, roles: Sequence[str]) -> Caller:
        """The verified caller of a request allowed to any of `roles` (401 or 403 if not)."""
        if self.verifier is None:
            raise unauthorized("this service verifies no tokens")
        try:
            caller = self.verifier.from_header(authorization)
        except InvalidToken as exc:
            raise unauthorized(exc.description) from None
        if not caller.has(*roles):
            raise forbidden(roles)
        return caller


class Authenticator(DependencyProvider):  # type: ignore[misc]
    """Injects `authenticate(token, roles) -> Caller` for entrypoints that are not HTTP (RPC):
    the same verification and role check as an `@api` route (Problem 401 or 403 if refused)."""

    identity = Identity()

    def get_dependency(self, worker_ctx: Any) -> Any:
        def authenticate(token: str, roles: Sequence[str]) -> Caller:
            return self.identity.caller(f"Bearer {token}", tuple(roles))

        return authenticate
