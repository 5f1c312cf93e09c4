"""Bearer tokens (JWT, RFC 7519) verified with the public keys of a JWKS document (RFC 7517),
with PyJWT and cryptography.

    verifier = TokenVerifier.from_settings()          # AUTH_* (shared/settings.py)
    caller = verifier.from_header(request.headers.get("Authorization"))   # or InvalidToken

What is accepted (CONTRACT.md, "Identity and access"):

* a token of at most `max_token_bytes`, refused before it is parsed otherwise;
* signed with ES256 or RS256 only: any other `alg` in the header (`none`, HS*, PS*, EdDSA...)
  is refused before any key is looked up, so an HMAC token "signed" with a public key's bytes
  can never be checked against that key;
* by the key of the JWKS named by the header's `kid` (required), whose type and algorithm are
  those of the header's `alg`;
* with `iss` equal to the issuer, `aud` equal to (or, a list, holding) the audience, `exp`
  and `sub` present, `exp`, `nbf` and `iat` checked with `leeway` seconds (60 at most);
* with well-formed claims: the roles at `roles_claim` (a dotted path, e.g.
  `realm_access.roles`) a list of strings (absent: none), `offices` a list of strings, `eori`
  and `agency` strings. Of the roles, those of `ROLES` are kept.

Keys come from a `KeySource`: `JwksFile` (re-read when a token names an unknown `kid`, at most
once every `min_interval` seconds) or `JwksUrl` (fetched with a timeout, cached, refetched on
an unknown `kid` at most once every `min_interval` seconds, and when older than `max_age`).
Each key is parsed once, when its document is loaded.

A verified token is remembered (raw token -> its caller, up to `CACHE_SIZE` tokens): a client
that sends the same token again costs a dictionary look-up, with `exp`, `nbf` and its key's
presence checked again on every use.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidJTIError,
    InvalidSignatureError,
    InvalidSubjectError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWTError,
)

from shared.settings import setting

from .caller import ROLES, Caller
from .development import DEV_ISSUER, DEV_KID_PREFIX

ALGORITHMS = ("ES256", "RS256")
MAX_LEEWAY = 60
CACHE_SIZE = 4096  # verified tokens remembered (each at most max_token_bytes)
MAX_JWKS_BYTES = 1 << 20
EMPTY_RETRY = 2.0  # seconds between reads while a key source holds no key at all


class InvalidToken(Exception):
    """The request's token is missing or not acceptable (401). `description` is a short
    reason that may be shown to the caller: it never quotes the token."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class IdentityMisconfigured(Exception):
    """The identity settings are missing or contradictory, the keys cannot be read, or they
    include the development key without `AUTH_ALLOW_DEV_KEY=1`: the service does not start."""


class KeysUnavailable(Exception):
    """A JWKS document could not be read or fetched, or is not a JWKS."""


# -- keys ------------------------------------------------------------------------------------------

class KeySource:
    """The signing keys of a JWKS document by (kid, alg), each parsed once (a `jwt.PyJWK`).

    Subclasses say how the document is read (`_read`). The document is read again when a
    token names a kid it does not hold, at most once every `min_interval` seconds (attempts
    count, failed ones too), and when the last good read is older than `max_age`. A read that
    fails keeps the keys already held. Keys that are not for signing with ES256 or RS256 (an
    encryption key, a symmetric key, another curve) and keys without a kid are left out; so
    are development keys (kid `clearance-dev-...`) when `refuse_development_keys`.
    """

    def __init__(self, *, min_interval: float, max_age: float | None = None,
                 refuse_development_keys: bool = False) -> None:
        self.min_interval = min_interval
        self.max_age = max_age
        self.refuse_development_keys = refuse_development_keys
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}
        self._kids: frozenset[str] = frozenset()
        # The development keys (kid `clearance-dev-...`) the last document held, kept or not.
        self.development_kids: frozenset[str] = frozenset()
        self._attempted = float("-inf")  # time.monotonic() of the last read attempt
        self._loaded = float("-inf")  # ... and of the last good one
        self._lock = threading.Lock()
        self.reads = 0  # attempts, for tests and metrics

    def describe(self) -> str:
        raise NotImplementedError

    def _read(self) -> bytes:
        """The JWKS document (KeysUnavailable if it cannot be had)."""
        raise NotImplementedError

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the keys held now."""
        return self._kids

    def holds(self, kid: str, alg: str) -> bool:
        """Whether the key (kid, alg) is held now and the keys are not older than `max_age`
        (no read)."""
        return (kid, alg) in self._keys and not (
            self.max_age is not None and time.monotonic() - self._loaded > self.max_age)

    def load(self) -> None:
        """Read the document now (KeysUnavailable if it cannot be read or is not a JWKS)."""
        with self._lock:
            self._load()

    def key(self, kid: str, alg: str) -> jwt.PyJWK:
        """The key named `kid` for `alg` (InvalidToken if there is none, even after a read)."""
        found = self._keys.get((kid, alg))
        now = time.monotonic()
        stale = self.max_age is not None and now - self._loaded > self.max_age
        if found is not None and not stale:
            return found
        # Holding no key at all (the provider was down when the service started), try sooner.
        interval = self.min_interval if self._keys else min(self.min_interval, EMPTY_RETRY)
        if now - self._attempted >= interval:
            with self._lock:
                # Another thread may have read it while this one waited for the lock.
                if time.monotonic() - self._attempted >= interval:
                    try:
                        self._load()
                    except KeysUnavailable:
                        pass  # the keys held, if any, still serve
            found = self._keys.get((kid, alg))
        if found is not None:
            return found
        if self._loaded == float("-inf"):  # never read (the provider has been unreachable)
            raise InvalidToken("the signing keys are unavailable")
        if kid in self._kids:
            raise InvalidToken(f"the key named by kid is not an {alg} key")
        raise InvalidToken("the token's signing key (kid) is not known")

    def _load(self) -> None:
        self._attempted = time.monotonic()
        self.reads += 1
        keys = self._parse(self._read())
        self._keys = keys
        self._kids = frozenset(kid for kid, _ in keys)
        self._loaded = time.monotonic()

    def _parse(self, raw: bytes) -> dict[tuple[str, str], jwt.PyJWK]:
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            raise KeysUnavailable(f"{self.describe()} is not JSON") from None
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise KeysUnavailable(f"{self.describe()} is not a JWKS (no \"keys\" list)")
        keys: dict[tuple[str, str], jwt.PyJWK] = {}
        development: set[str] = set()
        for entry in entries:
            parsed = _signing_key(entry)
            if parsed is None:
                continue
            kid, key = parsed
            if kid.startswith(DEV_KID_PREFIX):
                development.add(kid)
                if self.refuse_development_keys:
                    continue
            keys.setdefault((kid, key.algorithm_name), key)
        self.development_kids = frozenset(development)
        return keys


def _signing_key(entry: Any) -> tuple[str, jwt.PyJWK] | None:
    """(kid, key) of a JWKS entry usable to verify ES256 or RS256, or None."""
    if not isinstance(entry, dict):
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid or entry.get("kty") not in ("EC", "RSA"):
        return None
    if entry.get("use", "sig") != "sig":
        return None
    operations = entry.get("key_ops")
    if operations is not None and (not isinstance(operations, list)
                                   or "verify" not in operations):
        return None
    if any(name in entry for name in ("d", "p", "q", "dp", "dq", "qi")):
        return None  # a private key published by mistake: not trusted
    try:
        key = jwt.PyJWK(entry)
    except (PyJWTError, ValueError, TypeError):
        return None
    if key.algorithm_name not in ALGORITHMS:
        return None
    return kid, key


class JwksFile(KeySource):
    """A JWKS document in a file, read again on an unknown kid (at most every
    `min_interval` seconds: a key rotated in by replacing the file is picked up)."""

    def __init__(self, path: Path | str, *, min_interval: float = 2.0,
                 refuse_development_keys: bool = False) -> None:
        super().__init__(min_interval=min_interval,
                         refuse_development_keys=refuse_development_keys)
        self.path = Path(path)

    def describe(self) -> str:
        return f"the JWKS file {self.path}"

    def _read(self) -> bytes:
        try:
            with self.path.open("rb") as file:
                data = file.read(MAX_JWKS_BYTES + 1)
        except OSError as exc:
            raise KeysUnavailable(f"{self.describe()} cannot be read: {exc.strerror}") from None
        if len(data) > MAX_JWKS_BYTES:
            raise KeysUnavailable(f"{self.describe()} is larger than {MAX_JWKS_BYTES} bytes")
        return data


class JwksUrl(KeySource):
    """A JWKS document at an http(s) URL (an identity provider's `jwks_uri`): fetched with a
    `timeout` (seconds, for connecting and for each wait for data, and the whole body read
    within it), cached, fetched again on an unknown kid at most every `min_interval` seconds
    (so a burst of tokens naming made-up kids costs the provider one request per interval) and
    when the keys are older than `max_age`."""

    def __init__(self, url: str, *, timeout: float = 3.0, min_interval: float = 30.0,
                 max_age: float | None = 3600.0, refuse_development_keys: bool = False) -> None:
        super().__init__(min_interval=min_interval, max_age=max_age,
                         refuse_development_keys=refuse_development_keys)
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"a JWKS URL is http or https, not {scheme or 'relative'}: {url}")
        self.url = url
        self.timeout = timeout

    def describe(self) -> str:
        return f"the JWKS at {self.url}"

    def _read(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                if response.status != 200:
                    raise KeysUnavailable(f"{self.describe()} answered HTTP {response.status}")
                chunks: list[bytes] = []
                size = 0
                while True:
                    if time.monotonic() > deadline:
                        raise KeysUnavailable(f"{self.describe()} took over {self.timeout} s")
                    chunk = response.read1(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_JWKS_BYTES:
                        raise KeysUnavailable(
                            f"{self.describe()} is larger than {MAX_JWKS_BYTES} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except urllib.error.HTTPError as exc:
            raise KeysUnavailable(f"{self.describe()} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise KeysUnavailable(f"{self.describe()} cannot be fetched: {exc}") from None


# -- tokens ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Verified:
    caller: Caller
    expires: float  # exp
    not_before: float  # the later of nbf and iat (-inf if neither)
    kid: str
    alg: str


class TokenVerifier:
    """Verifies bearer tokens against `keys` (see the module docstring)."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str,
                 roles_claim: str = "roles", leeway: int = 60,
                 max_token_bytes: int = 8192) -> None:
        if not issuer or not audience:
            raise IdentityMisconfigured("the issuer and the audience must be given")
        if not 0 <= leeway <= MAX_LEEWAY:
            raise IdentityMisconfigured(f"the leeway is 0 to {MAX_LEEWAY} seconds, not {leeway}")
        path = tuple(roles_claim.split("."))
        if not all(path):
            raise IdentityMisconfigured(f"the roles claim {roles_claim!r} is not a claim path")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.roles_claim = roles_claim
        self.leeway = leeway
        self.max_token_bytes = max_token_bytes
        self._roles_path = path
        self._cache: dict[str, _Verified] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def from_settings(cls, environ: Mapping[str, str] | None = None) -> TokenVerifier:
        """The verifier the AUTH_* settings describe (`environ`, or the process's environment;
        defaults from shared/settings.py). IdentityMisconfigured: neither or both of
        AUTH_JWKS_FILE and AUTH_JWKS_URL, no AUTH_ISSUER or AUTH_AUDIENCE, a JWKS file that
        cannot be read or holds no ES256/RS256 signing key, or the development key or issuer
        without AUTH_ALLOW_DEV_KEY=1. A JWKS URL is fetched once here; if the provider cannot
        be reached the service still starts and fetches it on the first token."""
        def get(name: str) -> str:
            return setting(name, environ).strip()

        jwks_file, jwks_url = get("AUTH_JWKS_FILE"), get("AUTH_JWKS_URL")
        issuer, audience = get("AUTH_ISSUER"), get("AUTH_AUDIENCE")
        allow_dev_text = get("AUTH_ALLOW_DEV_KEY")
        if allow_dev_text not in ("", "0", "1"):
            raise IdentityMisconfigured(
                f"AUTH_ALLOW_DEV_KEY is 1 (trust the development key) or empty, not "
                f"{allow_dev_text!r}")
        allow_dev = allow_dev_text == "1"
        if bool(jwks_file) == bool(jwks_url):
            raise IdentityMisconfigured(
                "set exactly one of AUTH_JWKS_FILE (a path) and AUTH_JWKS_URL (a URL): "
                + ("both are set" if jwks_file else "neither is set"))
        if not issuer:
            raise IdentityMisconfigured("AUTH_ISSUER is not set (the tokens' `iss`)")
        if not audience:
            raise IdentityMisconfigured("AUTH_AUDIENCE is not set (the tokens' `aud`)")
        if issuer == DEV_ISSUER and not allow_dev:
            raise IdentityMisconfigured(
                f"AUTH_ISSUER is the development issuer {DEV_ISSUER}: set AUTH_ALLOW_DEV_KEY=1 "
                "to trust the development key (never in production)")
        keys: KeySource
        if jwks_file:
            keys = JwksFile(jwks_file, refuse_development_keys=not allow_dev)
        else:
            try:
                keys = JwksUrl(jwks_url, refuse_development_keys=not allow_dev)
            except ValueError as exc:
                raise IdentityMisconfigured(f"AUTH_JWKS_URL: {exc}") from None
        try:
            keys.load()
        except KeysUnavailable as exc:
            if jwks_file:
                raise IdentityMisconfigured(str(exc)) from None
        else:
            if keys.development_kids and not allow_dev:
                raise IdentityMisconfigured(
                    f"{keys.describe()} holds the development key "
                    f"{min(keys.development_kids)}: set AUTH_ALLOW_DEV_KEY=1 to trust it "
                    "(never in production)")
            if not keys.kids:
                raise IdentityMisconfigured(
                    f"{keys.describe()} holds no ES256 or RS256 signing key with a kid")
        try:
            return cls(keys, issuer=issuer, audience=audience,
                       roles_claim=get("AUTH_ROLES_CLAIM") or "roles")
        except IdentityMisconfigured as exc:
            raise IdentityMisconfigured(f"AUTH_ROLES_CLAIM: {exc}") from None

    def from_header(self, authorization: str | None) -> Caller:
        """The caller of an `Authorization: Bearer <token>` header (the scheme in any case)."""
        if authorization is None or not authorization.strip():
            raise InvalidToken("no bearer token (Authorization: Bearer <token>)")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise InvalidToken("the Authorization header is not a Bearer token")
        token = token.strip()
        if not token:
            raise InvalidToken("the Bearer token is empty")
        return self.verify(token)

    def verify(self, token: str) -> Caller:
        """The caller a token names (InvalidToken if it is not acceptable)."""
        if not isinstance(token, str) or len(token) > self.max_token_bytes:
            raise InvalidToken("the token is too large" if isinstance(token, str)
                               else "the token is not text")
        known = self._cache.get(token)
        now = time.time()
        if known is not None:
            if known.expires <= now - self.leeway:
                self._cache.pop(token, None)
                raise InvalidToken("the token has expired")
            if known.not_before > now + self.leeway:
                raise InvalidToken("the token is not yet valid")
            if self.keys.holds(known.kid, known.alg):
                return known.caller
            self._cache.pop(token, None)  # its key was withdrawn: verify it afresh
        verified = self._verify(token)
        with self._cache_lock:
            while len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[token] = verified
        return verified.caller

    def _verify(self, token: str) -> _Verified:
        if not token.isascii() or token.count(".") != 2:
            raise InvalidToken("the token is malformed (not a JWS compact serialization)")
        try:
            header = jwt.get_unverified_header(token)
        except (DecodeError, InvalidTokenError):
            raise InvalidToken("the token is malformed (its header cannot be read)") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:  # before any key is looked up: none, HS*, PS*, EdDSA...
            raise InvalidToken("the token's algorithm is not accepted (ES256 or RS256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key (kid)")
        key = self.keys.key(kid, alg)
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"], "strict_aud": False})
        except ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except ImmatureSignatureError:
            raise InvalidToken("the token is not yet valid") from None
        except InvalidIssuerError:
            raise InvalidToken("the token's issuer is not accepted") from None
        except InvalidAudienceError:
            raise InvalidToken("the token's audience is not accepted") from None
        except MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token has no {exc.claim} claim") from None
        except InvalidSignatureError:
            raise InvalidToken("the token's signature does not verify") from None
        except InvalidAlgorithmError:
            raise InvalidToken("the token's algorithm is not that of its key") from None
        except (InvalidSubjectError, InvalidJTIError, InvalidIssuedAtError):
            raise InvalidToken("the token's claims are malformed") from None
        except (DecodeError, InvalidTokenError):
            raise InvalidToken("the token is malformed") from None
        moments = {name: claims[name] for name in ("exp", "nbf", "iat") if name in claims}
        if not all(isinstance(v, int | float) and not isinstance(v, bool)
                   for v in moments.values()):
            raise InvalidToken("the token's exp, nbf or iat is not a number")
        not_before = max((float(moments[n]) for n in ("nbf", "iat") if n in moments),
                         default=float("-inf"))
        return _Verified(self._caller(claims), float(moments["exp"]), not_before, kid, alg)

    def _caller(self, claims: dict[str, Any]) -> Caller:
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub.strip():
            raise InvalidToken("the token's sub is not a name")
        value: Any = claims
        for name in self._roles_path:
            value = value.get(name) if isinstance(value, dict) else None
        if value is None:
            value = []
        roles = _strings(value, f"the token's {self.roles_claim} claim is not a list of names")
        offices = _strings(claims.get("offices", []),
                           "the token's offices claim is not a list of office codes")
        eori, agency, jti = claims.get("eori"), claims.get("agency"), claims.get("jti")
        for name, text in (("eori", eori), ("agency", agency)):
            if text is not None and (not isinstance(text, str) or not text.strip()):
                raise InvalidToken(f"the token's {name} claim is not a code")
        return Caller(sub=sub, roles=frozenset(role for role in roles if role in ROLES),
                      issuer=claims["iss"], token_id=jti, eori=eori,
                      offices=frozenset(offices), agency=agency)


def _strings(value: Any, message: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidToken(message)
    return value
