"""Real keys for the token tests: EC P-256 and RSA 2048 keys made with cryptography, their JWKS,
tokens signed with PyJWT (or put together by hand where PyJWT would refuse to make them:
`alg: none`, an HMAC signed with a public key's bytes).

(A module of this folder, imported by its unique name: the folder has no `__init__.py`.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ROOT = Path(__file__).resolve().parents[3]
ISSUER = "https://idp.example.test/realms/customs"
AUDIENCE = "clearance"


@dataclass(frozen=True)
class Key:
    kid: str
    alg: str  # "ES256" or "RS256"
    private: Any  # a cryptography private key

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self, **extra: Any) -> dict[str, Any]:
        """The public key as a JWK (RFC 7517), with its kid, alg and use."""
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig", **extra}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.kid, **header}
        if headers["kid"] is None:
            del headers["kid"]
        return jwt.encode(claims, self.private, algorithm=self.alg, headers=headers)

    def sign_raw(self, claims: dict[str, Any], **header: Any) -> str:
        """Signed as given, without PyJWT's checks of the claims (e.g. a numeric `iss`)."""
        return jwt.api_jws.encode(json.dumps(claims).encode(), self.private,
                                  algorithm=self.alg, headers={"kid": self.kid, **header})


def new_key(alg: str = "ES256", kid: str | None = None) -> Key:
    private: Any = (ec.generate_private_key(ec.SECP256R1()) if alg == "ES256"
                    else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return Key(kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}", alg, private)


def claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid officer's token; an override of None leaves the claim out."""
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "officer-117",
                            "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()),
                            "roles": ["officer"], "offices": ["GBLHR001"]}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def by_hand(header: dict[str, Any], payload: dict[str, Any], *,
            hmac_secret: bytes | None = None) -> str:
    """A compact JWS put together without PyJWT: unsigned, or HMAC-SHA256 with a secret."""
    signing_input = (b64(json.dumps(header).encode()) + "."
                     + b64(json.dumps(payload).encode()))
    signature = b"" if hmac_secret is None else hmac.new(
        hmac_secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def write_jwks(path: Path, *jwks: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"keys": list(jwks)}), encoding="utf-8")
    return path
