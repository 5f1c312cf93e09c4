"""The `@api` HTTP entrypoint: nameko's HTTP handler with JSON results and problem errors, and
who may call each route, declared beside it.

    @api("POST", "/payments", roles=("cashier",), errors=ERRORS, summary="Record a payment")
    def pay(self, request, caller):           # the verified caller (shared.identity.Caller)
        body = json_body(request)             # size-limited, floats refused
        return 201, self.app.pay(body, caller)  # dict -> JSON

A route that is not `roles=PUBLIC` needs a valid bearer token of one of its roles (401 with
`WWW-Authenticate` without one, 403 with another role) and gets the caller as `caller`; a
state-changing request whose body is not `application/json` is refused with 415, so a web
page in a user's browser cannot post a form or text to the API.

Unknown routes, wrong methods and oversized bodies answer problem+json too (the server below
replaces werkzeug's HTML error pages).
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypeVar, cast

import marshmallow
from eventlet import wsgi as eventlet_wsgi
from eventlet.semaphore import Semaphore
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from shared.failures import is_transient

from .identity import PUBLIC, Identity
from .openapi import Operation, Parameter, openapi_path, path_parameters
from .problems import PROBLEM_TYPE_BASE, ErrorTable, Problem

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Roles = tuple[str, ...] | str  # the roles allowed, or PUBLIC

MAX_BODY_BYTES = 1024 * 1024
HEADER_LIMIT = 128 * 1024  # the longest header line a request may carry (see get_wsgi_server)
_log = logging.getLogger(__name__)
# One record per request ("http request", with method, path, status, bytes, seconds, client),
# in place of eventlet's access line of text.
_access_log = logging.getLogger("shared.web.access")
_wsgi_log = logging.getLogger("eventlet.wsgi")


class _FloatRefused(ValueError):
    pass


class _ValueRefused(ValueError):
    """A JSON value no route takes: NaN or an infinity (not JSON at all), or an integer longer
    than `MAX_INTEGER_DIGITS` (Python would refuse past 4,300 digits with a ValueError)."""


MAX_INTEGER_DIGITS = 30
MAX_DEPTH = 32  # objects and arrays within one another: no route's body needs more


def _refuse_float(text: str) -> Any:
    raise _FloatRefused(text)


def _refuse_constant(text: str) -> Any:
    raise _ValueRefused(f"{text} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _ValueRefused(f"an integer of {len(text.lstrip('-')):,} digits (at most "
                            f"{MAX_INTEGER_DIGITS})")
    return int(text)


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in `value` (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise Problem(422, "The document is not valid", f"duplicate key {key!r}",
                          PROBLEM_TYPE_BASE + "validation",
                          errors=[{"pointer": "", "message": f"duplicate key {key!r}"}])
        result[key] = value
    return result


def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, "Body too large", f"the body exceeds {limit} bytes",
                      PROBLEM_TYPE_BASE + "body-too-large")
    data: bytes = request.stream.read(limit + 1)
    if len(data) > limit:
        raise Problem(413, "Body too large", f"the body exceeds {limit} bytes",
                      PROBLEM_TYPE_BASE + "body-too-large")
    return data


def json_body(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object. Refused with a 4xx problem: numbers with a fraction or
    exponent (JSON floats), NaN and infinities, integers of more than `MAX_INTEGER_DIGITS`
    digits, duplicate keys, nesting deeper than `MAX_DEPTH`, and anything but an object."""
    data = read_body(request, limit)
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_refuse_float,
                           parse_int=_bounded_int, parse_constant=_refuse_constant,
                           object_pairs_hook=_no_duplicate_keys)
    except _FloatRefused as exc:
        raise Problem(422, "The document is not valid",
                      f"the number {exc} is a JSON float: give amounts and masses as decimal "
                      "strings, e.g. \"12.50\"", PROBLEM_TYPE_BASE + "validation",
                      errors=[{"pointer": "", "message": f"JSON float {exc} refused"}]) from None
    except _ValueRefused as exc:
        raise Problem(422, "The document is not valid", f"{exc}: refused",
                      PROBLEM_TYPE_BASE + "validation",
                      errors=[{"pointer": "", "message": f"{exc}: refused"}]) from None
    except RecursionError:
        raise Problem(400, "Malformed JSON", f"nested deeper than {MAX_DEPTH} levels",
                      PROBLEM_TYPE_BASE + "malformed-json") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Problem(400, "Malformed JSON", str(exc), PROBLEM_TYPE_BASE + "malformed-json") from None
    if _depth(value) > MAX_DEPTH:
        raise Problem(400, "Malformed JSON", f"nested deeper than {MAX_DEPTH} levels",
                      PROBLEM_TYPE_BASE + "malformed-json")
    if not isinstance(value, dict):
        raise Problem(422, "The document is not valid", "the body must be a JSON object",
                      PROBLEM_TYPE_BASE + "validation",
                      errors=[{"pointer": "", "message": "expected a JSON object"}])
    return value


MAX_POSITION = 2**63 - 1


def window_parameters(*, default_limit: int = 100, max_limit: int = 1000) -> tuple[Parameter, ...]:
    """The `after` and `limit` query parameters `log_window` reads, for the route's document."""
    return (Parameter("after", {"type": "integer", "minimum": 0, "maximum": MAX_POSITION,
                                "default": 0}, "the log position to continue after"),
            Parameter("limit", {"type": "integer", "minimum": 1, "maximum": max_limit,
                                "default": default_limit}, "at most this many items"))


def log_window(request: Request, *, default_limit: int = 100,
               max_limit: int = 1000) -> tuple[int, int]:
    """`after` (a log position: an integer >= 0, default 0) and `limit` (1 to `max_limit`,
    default `default_limit`) from the query string of a feed request; `Problem` 400 naming
    the parameter otherwise."""
    found: dict[str, int] = {}
    for name, default, low, high in (("after", 0, 0, MAX_POSITION),
                                     ("limit", default_limit, 1, max_limit)):
        text = request.args.get(name)
        if text is None:
            found[name] = default
            continue
        if not (text.isascii() and text.isdigit() and len(text) <= 19) \
                or not low <= int(text) <= high:
            raise Problem(400, "Bad query", f"{name} must be an integer from {low} to {high}",
                          PROBLEM_TYPE_BASE + "bad-query")
        found[name] = int(text)
    return found["after"], found["limit"]


class _LoggingProtocol(HttpOnlyProtocol):  # type: ignore[misc]
    """nameko's HTTP protocol, whose `http.server` messages (a malformed request's 400) go to
    the `eventlet.wsgi` logger rather than straight to stderr, and whose own error answers
    (a malformed request line, headers over the limits) are problem+json too."""

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        problem = Problem(code, message or HTTPStatus(code).phrase, explain or "",
                          PROBLEM_TYPE_BASE + f"http-{code}")
        body = json.dumps(problem.body(), sort_keys=True).encode()
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_error(self, format: str, *args: Any) -> None:
        _wsgi_log.warning("%s " + format, self.address_string(), *args)

    def log_message(self, format: str, *args: Any) -> None:
        _wsgi_log.info("%s " + format, self.address_string(), *args)


class ProblemWebServer(WebServer):  # type: ignore[misc]
    """nameko's web server, answering routing errors (404, 405) as problem+json, and logging
    each request as one structured record; with limits, so that slow or idle clients cannot
    hold the service (nameko's own has none):

    * every read or write on a client's socket times out after `HTTP_SOCKET_TIMEOUT` seconds
      (a request sent a byte at a time, or a kept-alive connection left idle, is closed);
    * at most `HTTP_MAX_CONNECTIONS` connections are served at once: the next ones wait in the
      listen backlog (accepted as soon as one closes), they do not pile up in memory.
    """

    @functools.cached_property
    def limits(self) -> tuple[float, int]:
        """(socket timeout, connections served at once), read from the settings once."""
        from shared.settings import setting

        timeout = float(setting("HTTP_SOCKET_TIMEOUT"))
        connections = int(setting("HTTP_MAX_CONNECTIONS"))
        if timeout <= 0 or connections < 1:
            raise ValueError("HTTP_SOCKET_TIMEOUT must be positive and HTTP_MAX_CONNECTIONS"
                             " at least 1")
        return timeout, connections

    def run(self) -> None:
        """nameko's accept loop, with a bound on the connections served at once."""
        _timeout, connections = self.limits
        slots = Semaphore(connections)
        while self._is_accepting:
            slots.acquire()
            try:
                sock, address = self._sock.accept()
            except BaseException:
                slots.release()
                raise
            sock.settimeout(self._serv.socket_timeout)
            self.container.spawn_managed_thread(
                functools.partial(self._serve, slots, sock, address))

    def _serve(self, slots: Semaphore, sock: Any, address: Any) -> None:
        try:
            self.process_request(sock, address)
        finally:
            slots.release()

    def get_wsgi_server(self, sock: Any, wsgi_app: Callable[..., Any],
                        protocol: type = _LoggingProtocol, debug: bool = False) -> Any:
        # eventlet refuses a header line over 8 KiB with a bare 400 before any app sees it;
        # an oversized bearer token must get the API's own answer (401 with its challenge,
        # the verifier refusing tokens over 8 KiB), so header lines up to HEADER_LIMIT get
        # through. eventlet reads these limits from its module at each request.
        eventlet_wsgi.MAX_HEADER_LINE = max(eventlet_wsgi.MAX_HEADER_LINE, HEADER_LIMIT)
        eventlet_wsgi.MAX_TOTAL_HEADER_SIZE = max(eventlet_wsgi.MAX_TOTAL_HEADER_SIZE,
                                                  2 * HEADER_LIMIT)
        # ... and http.server, which parses the header lines with http.client's limit.
        http.client._MAXLINE = max(http.client._MAXLINE, HEADER_LIMIT)  # type: ignore[attr-defined]
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.log_output = False  # the access log is written by the app below
        server.socket_timeout, _connections = self.limits
        return server

    def get_wsgi_app(self) -> Callable[..., Any]:
        app = super().get_wsgi_app()

        def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            request = Request(environ, shallow=True)
            adapter = app.url_map.bind_to_environ(environ)
            try:
                provider, values = adapter.match()
            except HTTPException as exc:
                # 405 names the methods the path takes (RFC 9110, 15.5.6).
                allowed = getattr(exc, "valid_methods", None)
                problem = Problem(exc.code or 500, exc.name, exc.description or "",
                                  PROBLEM_TYPE_BASE + f"http-{exc.code}",
                                  headers={"Allow": ", ".join(sorted(allowed))}
                                  if allowed else {})
                return problem.response()(environ, start_response)
            request.path_values = values  # type: ignore[attr-defined]
            response = provider.handle_request(request)
            return response(environ, start_response)

        return _access_logged(wsgi)


def _access_logged(wsgi: Callable[..., Any]) -> Callable[..., Any]:
    """`wsgi`, writing one access record per request when `shared.web.access` logs INFO."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not _access_log.isEnabledFor(logging.INFO):
            return wsgi(environ, start_response)
        started = time.perf_counter()
        answer: list[Any] = []

        def starting(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            answer[:] = [status, headers]
            return start_response(status, headers, *exc_info)

        result = wsgi(environ, starting)
        status, headers = answer
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        _access_log.info("http request", extra={
            "method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"),
            "status": int(status[:3]), "bytes": int(length) if length else None,
            "seconds": round(time.perf_counter() - started, 6),
            "client": environ.get("REMOTE_ADDR"),
        })
        return result

    return logged


class ApiHandler(HttpRequestHandler):  # type: ignore[misc]
    server = ProblemWebServer()
    identity = Identity()

    def __init__(self, method: str, url: str, errors: ErrorTable | None = None, *,
                 roles: Roles, **kwargs: Any) -> None:
        self.errors = errors or ErrorTable({})
        self.roles = roles
        super().__init__(method, url, **kwargs)

    def get_entrypoint_parameters(self, request: Request) -> tuple[tuple[Any, ...],
                                                                   dict[str, Any]]:
        args, kwargs = super().get_entrypoint_parameters(request)
        if self.roles == PUBLIC:
            return args, kwargs
        caller = self.identity.caller(request.headers.get("Authorization"),
                                      tuple(self.roles))
        if self.method in STATE_CHANGING and request.mimetype != "application/json":
            raise Problem(415, "Unsupported media type",
                          f"the body must be application/json, not {request.mimetype or 'none'}",
                          PROBLEM_TYPE_BASE + "unsupported-media-type")
        return args, {**kwargs, "caller": caller}

    def response_from_result(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        status, payload = result if isinstance(result, tuple) else (200, result)
        if isinstance(payload, str):
            return Response(payload, status=status, mimetype="text/plain")
        return Response(json.dumps(payload, sort_keys=True, default=str), status=status,
                        mimetype="application/json")

    def response_from_exception(self, exc: BaseException) -> Response:
        problem = self.errors.problem(exc)
        if problem is None and is_transient(exc):
            # The database or the broker failed, not the request: 503, try again shortly.
            _log.warning("%s %s: infrastructure unavailable: %s: %s", self.method, self.url,
                         type(exc).__name__, exc)
            problem = Problem(503, "Service unavailable", "the store or the broker did not "
                              "answer: send the same request again shortly (if it took effect "
                              "after all, the repeat answers so)",
                              PROBLEM_TYPE_BASE + "unavailable", headers={"Retry-After": "1"})
        if problem is None:
            _log.error("unhandled error in %s %s", self.method, self.url, exc_info=exc)
            problem = Problem(500, "Internal error", "the request could not be completed; "
                              "it has been logged", PROBLEM_TYPE_BASE + "internal")
        return problem.response()


F = TypeVar("F", bound=Callable[..., Any])


def api(method: str, url: str, errors: ErrorTable | None = None, *, roles: Roles,
        summary: str, request: type[marshmallow.Schema] | None = None,
        responses: Mapping[int, type[marshmallow.Schema] | str] | None = None,
        query: Sequence[Parameter] = ()) -> Callable[[F], F]:
    """Declare an HTTP entrypoint answering JSON, who may call it (`roles`, or PUBLIC), its
    errors mapped through `errors`, and its OpenAPI operation (the one declaration of the
    route: `/openapi.json` is built from these; `query` its query and header parameters)::

        @api("POST", "/payments", roles=("cashier",), errors=ERRORS,
             summary="Record a payment", request=PaymentSchema,
             responses={201: PaymentRecordedSchema, 409: "reused"})
    """
    if roles != PUBLIC and (isinstance(roles, str) or not roles):
        raise ValueError(f"{method} {url}: roles is a tuple of roles, or PUBLIC")
    operation = Operation(method, openapi_path(url), summary, request, dict(responses or {}),
                          path_parameters(url), roles=None if roles == PUBLIC else tuple(roles),
                          query=tuple(query))
    register = ApiHandler.decorator(method, url, errors=errors, roles=roles)

    def decorate(fn: F) -> F:
        fn.operation = operation  # type: ignore[attr-defined]
        return cast(F, register(fn))

    return decorate
