"""Real HTTP servers on 127.0.0.1 (free ports, in threads) for the identity tests, and real
keys.

* `JwksServer`: an identity provider's `jwks_uri`: serves the JWKS it is given, counts the
  requests it received, and can be told to answer slowly or with an error.
* `RecordingService`: stands where the declaration service would, to see what the command
  line sends: records each request's Authorization header and answers 401, 403 or 200 as a
  service would for that token.

(A module of this folder, imported by its unique name: the folder has no `__init__.py`.)
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[3]
ISSUER = "https://idp.example.test/realms/customs"
AUDIENCE = "clearance"


@dataclass(frozen=True)
class Key:
    kid: str
    private: ec.EllipticCurvePrivateKey

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def sign(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "officer-117", "iat": now,
                  "exp": now + 300, "roles": ["officer"], **overrides}
        return jwt.encode(claims, self.private, algorithm="ES256", headers={"kid": self.kid})


def new_key(kid: str | None = None) -> Key:
    return Key(kid or f"kid-{uuid.uuid4().hex[:8]}", ec.generate_private_key(ec.SECP256R1()))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@dataclass
class JwksServer:
    keys: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering
    status: int = 200
    requests: int = 0
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
        if self.delay:
            self._release.wait(self.delay)
        body = json.dumps({"keys": self.keys}).encode()
        try:
            handler.send_response(self.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # A slow provider's client gave up (its timeout is what the test is about): the
            # answer has no one to go to.
            return


@contextmanager
def serving(server: JwksServer | RecordingService) -> Iterator[str]:
    """Serve on a free port of 127.0.0.1 in a thread; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            server.answer(self)

        def do_POST(self) -> None:  # noqa: N802
            server.answer(self)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    httpd = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        if isinstance(server, JwksServer):
            server._release.set()  # a slow answer stops waiting
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@dataclass
class RecordingService:
    """Answers as a service would: no token 401 (with the RFC 6750 challenge), the token
    `forbidden` 403, the token `valid` 200/201 with `body`."""

    body: dict[str, Any] = field(default_factory=dict)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, auth

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        authorization = handler.headers.get("Authorization")
        self.seen.append((handler.command, handler.path, authorization))
        headers: dict[str, str] = {}
        if authorization == "Bearer valid":
            status, body = (201 if handler.command == "POST" else 200), self.body
        elif authorization == "Bearer forbidden":
            status, body = 403, {"type": "about:blank", "title": "Forbidden", "status": 403,
                                 "detail": "this needs one of the roles declarant"}
        else:
            status = 401
            body = {"type": "about:blank", "title": "Unauthorized", "status": 401,
                    "detail": "no bearer token (Authorization: Bearer <token>)"}
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        data = json.dumps(body).encode()
        handler.send_response(status)
        content_type = "application/json" if status < 400 else "application/problem+json"
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
