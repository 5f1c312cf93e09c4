"""A small JSON-over-HTTP client for the services (standard library only).

Every service endpoint but health, readiness, metrics and the OpenAPI document needs a bearer
token: the commands that call a service take `--token` (default: the `CLEARANCE_TOKEN`
environment variable; `clearance token --role ...` prints one signed with the development
key) and pass it to `call(..., token=...)`. A 401 or 403 answer is told as such by
`describe_problem`.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from shared.settings import http_address

from .output import UsageError

TOKEN_VARIABLE = "CLEARANCE_TOKEN"


def base_url(service: str) -> str:
    """`http://host:port` of a service, from `<SERVICE>_HTTP` (see shared/settings.py)."""
    address = http_address(service)
    return address if address.startswith("http") else f"http://{address}"


def shown_uri(uri: str) -> str:
    """A URI as it may be printed: its password, if any, as ***."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ServiceUnreachable(Exception):
    """A service or the broker cannot be reached (exit 1; the message says which and where)."""


def add_token_option(parser: argparse.ArgumentParser) -> None:
    """`--token TOKEN` (default: $CLEARANCE_TOKEN) on a command that calls a service."""
    parser.add_argument("--token", metavar="TOKEN",
                        help=f"the bearer token to call the service with (default: "
                             f"${TOKEN_VARIABLE}; `clearance token --role ROLE` prints one)")


def token_of(args: argparse.Namespace) -> str | None:
    """The command's token: `--token`, else $CLEARANCE_TOKEN, else None (the service will
    answer 401). UsageError for one that cannot be a token (spaces, control characters)."""
    option: str | None = getattr(args, "token", None)
    given = option if option is not None else os.environ.get(TOKEN_VARIABLE)
    if given is None or not given.strip():
        return None
    token = given.strip()
    if not token.isascii() or not token.isprintable() or " " in token:
        where = "--token" if option is not None else f"${TOKEN_VARIABLE}"
        raise UsageError(f"{where} is not a token (a JWT has no spaces or control characters)")
    return token


def call(service: str, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
         timeout: float = 30.0, token: str | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    """One request to a service; `token` is sent as `Authorization: Bearer <token>`, with
    any more `headers`."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base_url(service) + path, data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, _decode(response.read()))
    except urllib.error.HTTPError as error:
        return Reply(error.code, _decode(error.read()))
    except (urllib.error.URLError, OSError) as error:
        raise ServiceUnreachable(
            f"the {service} service at {base_url(service)} is not reachable ({error}); "
            "is it running (make start)?") from None


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return data.decode("utf-8", "replace")


def describe_problem(reply: Reply) -> str:
    body = reply.body
    if reply.status in (401, 403):
        detail = body.get("detail", "") if isinstance(body, dict) else str(body).strip()
        if reply.status == 401:
            return (f"HTTP 401 not authenticated: {detail or 'no valid token'}\n"
                    f"  pass a bearer token with --token or ${TOKEN_VARIABLE} "
                    "(with the development key: clearance token --role ROLE ...)")
        return (f"HTTP 403 not allowed: {detail or 'the token does not permit this'}\n"
                "  the token's roles (or its EORI, offices, agency) do not permit this request")
    if not isinstance(body, dict):
        return f"HTTP {reply.status}: {body}"
    lines = [f"HTTP {reply.status} {body.get('title', '')}: {body.get('detail', '')}"]
    for error in body.get("errors", []):
        lines.append(f"  {error.get('pointer') or '/'}: {error.get('message')}")
    return "\n".join(lines)
