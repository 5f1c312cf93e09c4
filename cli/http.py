"""A small JSON-over-HTTP client for the services (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from shared.settings import http_address


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


def call(service: str, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
         timeout: float = 30.0) -> Reply:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base_url(service) + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
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
    if not isinstance(body, dict):
        return f"HTTP {reply.status}: {body}"
    lines = [f"HTTP {reply.status} {body.get('title', '')}: {body.get('detail', '')}"]
    for error in body.get("errors", []):
        lines.append(f"  {error.get('pointer') or '/'}: {error.get('message')}")
    return "\n".join(lines)
