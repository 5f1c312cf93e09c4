"""Fixtures of the token tests: one EC and one RSA key per session, their JWKS in a real file,
verifiers reading it (helpers in identity_jose.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from identity_jose import AUDIENCE, ISSUER, Key, new_key, write_jwks

from shared.identity.tokens import JwksFile, TokenVerifier


@pytest.fixture(scope="session")
def ec_key() -> Key:
    return new_key("ES256")


@pytest.fixture(scope="session")
def rsa_key() -> Key:
    return new_key("RS256")


@pytest.fixture
def jwks_path(tmp_path: Path, ec_key: Key, rsa_key: Key) -> Path:
    return write_jwks(tmp_path / "jwks.json", ec_key.jwk(), rsa_key.jwk())


@pytest.fixture
def verifier(jwks_path: Path) -> TokenVerifier:
    return TokenVerifier(JwksFile(jwks_path), issuer=ISSUER, audience=AUDIENCE)


MakeVerifier = Callable[..., TokenVerifier]


@pytest.fixture
def make_verifier(jwks_path: Path) -> MakeVerifier:
    def make(*, min_interval: float = 2.0, **options: Any) -> TokenVerifier:
        return TokenVerifier(JwksFile(jwks_path, min_interval=min_interval), issuer=ISSUER,
                             audience=AUDIENCE, **options)
    return make
