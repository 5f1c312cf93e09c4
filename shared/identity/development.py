"""The embedded default: a development signing key under `var/auth/`, trusted by the services
that `make run` starts, and the tokens `clearance token` signs with it.

    var/auth/dev-signing-key.pem   the EC P-256 private key (mode 0600; var/ is not in git)
    var/auth/dev-jwks.json         its public key as a JWKS, kid "clearance-dev-<thumbprint>"

The key is made once, by whichever process first needs it; several processes may ask at once
(the key file is created exclusively, the JWKS is derived from whichever key won and written
to a temporary file then renamed). A JWKS holding a key whose kid starts with
`DEV_KID_PREFIX` is refused by `TokenVerifier.from_settings` unless `AUTH_ALLOW_DEV_KEY=1`,
so a production deployment cannot trust this key by mistake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.files import create_once, write_atomically

from .caller import ROLES

DEV_ISSUER = "urn:open-clearance:development"
DEV_AUDIENCE = "clearance"
DEV_KID_PREFIX = "clearance-dev-"
DEV_ALGORITHM = "ES256"

# The checkout's root (services/runner.py's ROOT): `<repo>/var` is the default var folder.
ROOT = Path(__file__).resolve().parents[2]


def default_var() -> Path:
    """The var folder, as services/runner.py finds it: `CLEARANCE_VAR` or `<repo>/var`."""
    return Path(os.environ.get("CLEARANCE_VAR", ROOT / "var"))


def dev_paths(var: Path) -> tuple[Path, Path]:
    """(private key PEM, public JWKS) of the development key under `var/auth/`."""
    folder = Path(var) / "auth"
    return folder / "dev-signing-key.pem", folder / "dev-jwks.json"


def ensure_dev_keys(var: Path) -> Path:
    """Create the development key and its JWKS if missing (see the module docstring); the
    JWKS path. A JWKS that does not describe the key file's key is written again."""
    key_path, jwks_path = dev_paths(var)
    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not key_path.exists():
        _create_key(key_path)
    elif stat.S_IMODE(key_path.stat().st_mode) & 0o077:
        key_path.chmod(0o600)  # a key someone made readable to others: only ours again
    private_key = _load_private_key(key_path)
    document = _jwks(private_key)
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    try:
        current = jwks_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current != text:
        write_atomically(jwks_path, text.encode("utf-8"), 0o644)
    return jwks_path


def dev_environment(var: Path) -> dict[str, str]:
    """The AUTH_* variables under which a service trusts the development key (made here if
    missing)."""
    jwks_path = ensure_dev_keys(var)
    return {
        "AUTH_JWKS_FILE": str(jwks_path),
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
        "AUTH_ROLES_CLAIM": "roles",
        "AUTH_ALLOW_DEV_KEY": "1",
    }


def mint(var: Path, *, roles: Sequence[str], sub: str | None = None, eori: str | None = None,
         offices: Sequence[str] = (), agency: str | None = None, ttl: int = 3600,
         token_id: str | None = None) -> str:
    """A token signed with the development key (made if missing): ES256, its kid in the
    header; `iss`, `aud`, `sub`, `iat`, `exp` (now + `ttl` seconds), `jti` (`token_id` or a
    new UUID), `roles`, and `eori`, `offices`, `agency` when given. ValueError: a role not in
    `ROLES`, or `ttl` < 1."""
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; the roles are {', '.join(ROLES)}")
    if ttl < 1:
        raise ValueError("ttl must be at least 1 second")
    ensure_dev_keys(var)
    key_path, _ = dev_paths(var)
    private_key = _load_private_key(key_path)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": sub or f"dev-{'-'.join(roles) or 'nobody'}",
        "iat": now,
        "exp": now + ttl,
        "jti": token_id or str(uuid.uuid4()),
        "roles": list(dict.fromkeys(roles)),
    }
    if eori is not None:
        claims["eori"] = eori
    if offices:
        claims["offices"] = list(offices)
    if agency is not None:
        claims["agency"] = agency
    return jwt.encode(claims, private_key, algorithm=DEV_ALGORITHM,
                      headers={"kid": kid_of(private_key.public_key())})


def kid_of(public_key: ec.EllipticCurvePublicKey) -> str:
    """`clearance-dev-` and the key's RFC 7638 thumbprint (SHA-256, base64url, 22 characters)."""
    jwk = _public_jwk(public_key)
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")},
                           separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return DEV_KID_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:22]


# -- files ---------------------------------------------------------------------------------------

def _create_key(key_path: Path) -> None:
    """A new P-256 key at `key_path`, unless another process made one first (then theirs)."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    create_once(key_path, pem, 0o600)


def _load_private_key(key_path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve,
                                                                         ec.SECP256R1):
        raise ValueError(f"{key_path} is not an EC P-256 private key")
    return key


# -- the JWKS ------------------------------------------------------------------------------------

def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x), "y": _b64(numbers.y)}


def _jwks(private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    public_key = private_key.public_key()
    jwk = {**_public_jwk(public_key), "kid": kid_of(public_key), "alg": DEV_ALGORITHM,
           "use": "sig"}
    return {"keys": [jwk]}


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode("ascii")
