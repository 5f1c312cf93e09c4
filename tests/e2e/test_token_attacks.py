"""Bad bearer tokens against the running services (issue 10, "Bad input and attacks"), on
SQLite and on PostgreSQL.

Each token is built here with real cryptography (PyJWT, `cryptography`, base64 by hand for
what PyJWT will not write): missing, empty or not Bearer; malformed; expired beyond the 60 s
leeway, not yet valid; the wrong issuer or audience; a claim missing or malformed; signed by
an unknown EC key, or by another key under the development key's kid; `alg: none`; HS256
"signed" with the development key's public JWKS or PEM bytes as the secret; RS256 with an
unknown RSA key; the claims tampered with after signing; and tokens too large to be one.

Every one is sent to `GET /declarations/{mrn}` (a declaration the token's claims could read)
and to `POST /payments` (a payment that would be recorded) and must be answered 401
`application/problem+json` with `WWW-Authenticate: Bearer error="invalid_token", ...`, never
a 5xx, never quoting the token, and nothing stored: the log's last position and the
declaration's status are as they were. The same requests with a good token are accepted
(last), so the refusals are the tokens'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.eventstore import EventStore
from shared.identity.development import DEV_AUDIENCE, DEV_ISSUER, dev_paths, kid_of

from .conftest import Cluster
from .parties import (
    OWN_EORI,
    UNSET,
    Answer,
    lodge,
    log_of,
    send,
    settle,
    snapshot,
    status_becomes,
)


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")))


@dataclass
class Keys:
    """The development key the services trust, and keys they do not know."""

    dev: ec.EllipticCurvePrivateKey
    dev_kid: str
    dev_jwks: bytes  # the public JWKS file, as served to the services
    dev_public_pem: bytes
    stranger_ec: ec.EllipticCurvePrivateKey
    stranger_rsa: rsa.RSAPrivateKey

    def claims(self, **changes: Any) -> dict[str, Any]:
        """Claims the services would accept (a declarant of the declaration's EORI and a
        cashier), with `changes` (None: the claim left out)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "e2e-attacker", "iat": now,
            "exp": now + 600, "jti": str(uuid.uuid4()), "roles": ["declarant", "cashier"],
            "eori": OWN_EORI}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def signed(self, claims: dict[str, Any] | None = None, *, key: Any = None,
               alg: str = "ES256", kid: str | None = "dev") -> str:
        headers = {} if kid is None else {"kid": self.dev_kid if kid == "dev" else kid}
        return jwt.encode(self.claims() if claims is None else claims,
                          self.dev if key is None else key, algorithm=alg, headers=headers)

    def good(self) -> str:
        return self.signed()


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWS made by hand (PyJWT refuses a PEM or JWK text as an HMAC secret)."""
    signing_input = f"{b64json(header)}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def tampered(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64json(claims)}.{signature}"


def padded(keys: Keys, size: int) -> str:
    """A token signed with the trusted key, of about `size` characters (a claim of filler)."""
    token = keys.signed(keys.claims(filler=""))
    return keys.signed(keys.claims(filler="x" * max(0, (size - len(token)) * 3 // 4)))


Authorization = Callable[[Keys], str]  # the Authorization header's value (UNSET: no header)

ATTACKS: dict[str, Authorization] = {
    # no credential, or not a Bearer one
    "no Authorization header": lambda k: UNSET,
    "empty Authorization header": lambda k: "",
    "Bearer and no token": lambda k: "Bearer ",
    "Basic credentials": lambda k: "Basic " + base64.b64encode(b"officer:secret").decode(),
    "a good token without the Bearer scheme": lambda k: k.good(),
    "a good token under another scheme": lambda k: "Token " + k.good(),
    # malformed
    "not three parts (two)": lambda k: "Bearer " + ".".join(k.good().split(".")[:2]),
    "not three parts (four)": lambda k: "Bearer " + k.good() + "." + b64("more"),
    "one word": lambda k: "Bearer not-a-jwt",
    "header not base64url": lambda k: "Bearer !!!*." + k.good().split(".", 1)[1],
    "header not JSON": lambda k: "Bearer " + b64("{not json") + "." + k.good().split(".", 1)[1],
    "header a JSON list": lambda k: "Bearer " + b64json(["ES256"]) + "."
                                    + k.good().split(".", 1)[1],
    "claims not JSON, validly signed": lambda k: "Bearer " + jwt.api_jws.encode(
        b"{not json", k.dev, algorithm="ES256", headers={"kid": k.dev_kid}),
    "not ASCII": lambda k: "Bearer " + k.good()[:-4] + "\u00e9\u00e9\u00e9\u00e9",
    # the times
    "expired beyond the 60 s leeway": lambda k: "Bearer " + k.signed(k.claims(
        iat=int(time.time()) - 3600, exp=int(time.time()) - 61 - 30)),
    "not yet valid (nbf beyond the leeway)": lambda k: "Bearer " + k.signed(k.claims(
        nbf=int(time.time()) + 300)),
    "issued in the future (iat beyond the leeway)": lambda k: "Bearer " + k.signed(k.claims(
        iat=int(time.time()) + 300)),
    "no exp": lambda k: "Bearer " + k.signed(k.claims(exp=None)),
    "exp not a number": lambda k: "Bearer " + k.signed(k.claims(exp="tomorrow")),
    # who issued it, for whom, about whom
    "wrong issuer": lambda k: "Bearer " + k.signed(k.claims(iss="https://idp.example/evil")),
    "no issuer": lambda k: "Bearer " + k.signed(k.claims(iss=None)),
    "wrong audience": lambda k: "Bearer " + k.signed(k.claims(aud="another-api")),
    "no audience": lambda k: "Bearer " + k.signed(k.claims(aud=None)),
    "no sub": lambda k: "Bearer " + k.signed(k.claims(sub=None)),
    "sub empty": lambda k: "Bearer " + k.signed(k.claims(sub=" ")),
    "roles not a list": lambda k: "Bearer " + k.signed(k.claims(roles="auditor")),
    "offices not a list": lambda k: "Bearer " + k.signed(k.claims(offices="GBDEM001")),
    # the key
    "unknown EC key, unknown kid": lambda k: "Bearer " + k.signed(
        key=k.stranger_ec, kid="attacker-key-1"),
    "unknown EC key under the development key's kid": lambda k: "Bearer " + k.signed(
        key=k.stranger_ec),
    "no kid": lambda k: "Bearer " + k.signed(kid=None),
    "claims tampered after signing (roles raised)": lambda k: "Bearer " + tampered(
        k.good(), k.claims(roles=["auditor", "officer", "cashier"], offices=["GBDEM001"])),
    "signature stripped": lambda k: "Bearer " + k.good().rsplit(".", 1)[0] + ".",
    "signature of another token": lambda k: "Bearer " + k.good().rsplit(".", 1)[0] + "."
                                            + k.good().rsplit(".", 1)[1],
    # the algorithm
    "alg none": lambda k: "Bearer " + b64json({"alg": "none", "typ": "JWT", "kid": k.dev_kid})
                          + "." + b64json(k.claims()) + ".",
    "alg None, a signature": lambda k: "Bearer " + b64json({"alg": "None", "kid": k.dev_kid})
                                       + "." + b64json(k.claims()) + "." + b64("sig"),
    "HS256 with the JWKS bytes as the secret": lambda k: "Bearer " + hs256(
        {"alg": "HS256", "typ": "JWT", "kid": k.dev_kid}, k.claims(), k.dev_jwks),
    "HS256 with the public key's PEM as the secret": lambda k: "Bearer " + hs256(
        {"alg": "HS256", "typ": "JWT", "kid": k.dev_kid}, k.claims(), k.dev_public_pem),
    "RS256 with an unknown RSA key, unknown kid": lambda k: "Bearer " + k.signed(
        key=k.stranger_rsa, alg="RS256", kid="attacker-rsa-1"),
    "RS256 with an unknown RSA key under the development key's kid": lambda k: (
        "Bearer " + k.signed(key=k.stranger_rsa, alg="RS256")),
    "PS256 with an unknown RSA key": lambda k: "Bearer " + k.signed(
        key=k.stranger_rsa, alg="PS256", kid="attacker-rsa-1"),
    # too large to be a token (the verifier's limit is 8 KB)
    "a 9 KB token, validly signed": lambda k: "Bearer " + padded(k, 9 * 1024),
    "a 64 KB token, validly signed": lambda k: "Bearer " + padded(k, 64 * 1024),
}


@dataclass
class Target:
    cluster: Cluster
    store: EventStore
    keys: Keys
    mrn: str  # assessed, unpaid: a good cashier's payment would be recorded
    amount_due: str

    def request(self, endpoint: str, authorization: str) -> Answer:
        if endpoint == "GET /declarations/{mrn}":
            return send(self.cluster, "declaration", "GET", f"/declarations/{self.mrn}",
                        authorization=authorization)
        return send(self.cluster, "payment", "POST", "/payments", authorization=authorization,
                    body={"mrn": self.mrn, "reference": f"ATTACK-{uuid.uuid4().hex[:8]}",
                          "amount": self.amount_due, "currency": "GBP"})


@pytest.fixture(scope="module")
def target(cluster: Cluster) -> Iterator[Target]:
    key_path, jwks_path = dev_paths(cluster.var)
    dev = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(dev, ec.EllipticCurvePrivateKey)
    keys = Keys(
        dev=dev, dev_kid=kid_of(dev.public_key()), dev_jwks=jwks_path.read_bytes(),
        dev_public_pem=dev.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        stranger_ec=ec.generate_private_key(ec.SECP256R1()),
        stranger_rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert keys.dev_kid in keys.dev_jwks.decode(), "the services' JWKS holds the key"
    with log_of(cluster) as store:
        mrn = lodge(cluster, "02-green-unpaid.json")
        due = status_becomes(cluster, mrn, "tax_due")["amount_due"]
        settle(store)
        yield Target(cluster, store, keys, mrn, str(due))


ENDPOINTS = ("GET /declarations/{mrn}", "POST /payments")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_bad_token_is_401_with_the_bearer_challenge_and_stores_nothing(
        target: Target, attack: str, endpoint: str) -> None:
    authorization = ATTACKS[attack](target.keys)
    before = snapshot(target.cluster, target.store, {"target": target.mrn})
    answer = target.request(endpoint, authorization)
    after = snapshot(target.cluster, target.store, {"target": target.mrn})
    assert answer.status < 500, str(answer)
    assert after == before, f"a refused request stored something: {before} -> {after}"
    assert answer.status == 401, str(answer)
    challenge = answer.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, str(answer)
    assert answer.content_type == "application/problem+json", str(answer)
    assert answer.body["status"] == 401 and answer.body["title"], answer.body
    token = authorization.partition(" ")[2] if authorization is not UNSET else ""
    if len(token) > 16:  # the answer never quotes the token
        assert token not in challenge and token not in answer.raw.decode("utf-8", "replace")


def test_the_same_requests_with_a_good_token_are_accepted(target: Target) -> None:
    """The requests above were refused for their tokens alone (last: the payment releases
    the declaration)."""
    good = "Bearer " + target.keys.good()
    answer = target.request("GET /declarations/{mrn}", good)
    assert answer.status == 200 and answer.body["mrn"] == target.mrn, str(answer)
    answer = target.request("POST /payments", good)
    assert answer.status == 201, str(answer)
    status_becomes(target.cluster, target.mrn, "cleared")
