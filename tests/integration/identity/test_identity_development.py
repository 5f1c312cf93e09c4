"""The embedded default (shared/identity/development.py): the development key is made once,
private to its owner, the same for processes that ask at the same moment; the tokens minted
with it verify under `dev_environment`, and nowhere without AUTH_ALLOW_DEV_KEY=1."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from identity_servers import ROOT, new_key

from shared.identity import Caller
from shared.identity.development import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    DEV_KID_PREFIX,
    dev_environment,
    dev_paths,
    ensure_dev_keys,
    kid_of,
    mint,
)
from shared.identity.tokens import IdentityMisconfigured, InvalidToken, TokenVerifier


def jwks_kids(path: Path) -> list[str]:
    return [key["kid"] for key in json.loads(path.read_text(encoding="utf-8"))["keys"]]


def key_kid(var: Path) -> str:
    key = serialization.load_pem_private_key(dev_paths(var)[0].read_bytes(), password=None)
    return kid_of(key.public_key())  # type: ignore[arg-type]


def test_the_key_is_made_once_private_and_described_by_its_jwks(tmp_path: Path) -> None:
    var = tmp_path / "var"
    jwks = ensure_dev_keys(var)
    key_path, jwks_path = dev_paths(var)
    assert jwks == jwks_path and jwks.parent == var / "auth"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    (kid,) = jwks_kids(jwks)
    assert kid.startswith(DEV_KID_PREFIX) and kid == key_kid(var)
    public = json.loads(jwks.read_text(encoding="utf-8"))["keys"][0]
    assert public["kty"] == "EC" and public["crv"] == "P-256" and "d" not in public
    key_bytes, jwks_text = key_path.read_bytes(), jwks.read_text(encoding="utf-8")
    for _ in range(3):  # idempotent: nothing changes
        assert ensure_dev_keys(var) == jwks
    assert key_path.read_bytes() == key_bytes and jwks.read_text(encoding="utf-8") == jwks_text


def test_a_missing_or_stale_jwks_is_written_again_from_the_key(tmp_path: Path) -> None:
    var = tmp_path / "var"
    jwks = ensure_dev_keys(var)
    kid = jwks_kids(jwks)[0]
    jwks.unlink()
    assert jwks_kids(ensure_dev_keys(var)) == [kid]
    jwks.write_text('{"keys": []}', encoding="utf-8")
    assert jwks_kids(ensure_dev_keys(var)) == [kid]


def test_a_key_made_readable_to_others_is_made_private_again(tmp_path: Path) -> None:
    var = tmp_path / "var"
    ensure_dev_keys(var)
    key_path = dev_paths(var)[0]
    key_path.chmod(0o644)
    ensure_dev_keys(var)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


ENSURE = """
import sys, time
from pathlib import Path
from shared.identity.development import ensure_dev_keys
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
print(ensure_dev_keys(Path(sys.argv[1])).read_text())
"""


@pytest.mark.parametrize("round_", range(3))
def test_processes_asking_at_once_get_one_key(round_: int, tmp_path: Path) -> None:
    var, go = tmp_path / "var", tmp_path / "go"
    processes = [subprocess.Popen([sys.executable, "-c", ENSURE, str(var), str(go)],
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                 for _ in range(4)]
    time.sleep(1.0)  # all four started and waiting
    go.touch()
    results = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, results
    documents = {out for out, _ in results}
    assert len(documents) == 1  # every process saw the same JWKS...
    assert jwks_kids(dev_paths(var)[1]) == [key_kid(var)]  # ...of the one key on disk
    assert sorted(p.name for p in (var / "auth").iterdir()) == [
        "dev-jwks.json", "dev-signing-key.pem"]  # no temporary file left


def test_minted_tokens_verify_under_the_development_environment(tmp_path: Path) -> None:
    var = tmp_path / "var"
    environment = dev_environment(var)
    assert environment == {"AUTH_JWKS_FILE": str(dev_paths(var)[1]), "AUTH_ISSUER": DEV_ISSUER,
                           "AUTH_AUDIENCE": DEV_AUDIENCE, "AUTH_ROLES_CLAIM": "roles",
                           "AUTH_ALLOW_DEV_KEY": "1"}
    verifier = TokenVerifier.from_settings(environment)
    officer = mint(var, roles=["officer"], sub="officer-117", offices=["GBLHR001"],
                   token_id="t-1")
    assert verifier.from_header(f"Bearer {officer}") == Caller(
        sub="officer-117", roles=frozenset({"officer"}), issuer=DEV_ISSUER, token_id="t-1",
        offices=frozenset({"GBLHR001"}))
    declarant = verifier.verify(mint(var, roles=["declarant", "cashier"], eori="GB123"))
    assert (declarant.sub, declarant.eori, declarant.roles) == (
        "dev-declarant-cashier", "GB123", frozenset({"declarant", "cashier"}))
    assert declarant.token_id  # a jti of its own
    assert verifier.verify(mint(var, roles=["agency"], agency="APHA")).agency == "APHA"
    header = jwt.get_unverified_header(officer)
    assert header["alg"] == "ES256" and header["kid"] == key_kid(var)
    payload = jwt.decode(officer, options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == 3600


def test_the_ttl_is_honoured(tmp_path: Path) -> None:
    var = tmp_path / "var"
    verifier = TokenVerifier(TokenVerifier.from_settings(dev_environment(var)).keys,
                             issuer=DEV_ISSUER, audience=DEV_AUDIENCE, leeway=0)
    token = mint(var, roles=["auditor"], ttl=1)
    assert verifier.verify(token).has("auditor")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_the_development_key_is_refused_without_permission(tmp_path: Path) -> None:
    var = tmp_path / "var"
    environment = dev_environment(var)
    for allow in ("", "0"):
        with pytest.raises(IdentityMisconfigured, match="AUTH_ALLOW_DEV_KEY=1"):
            TokenVerifier.from_settings({**environment, "AUTH_ALLOW_DEV_KEY": allow})
    # ...under another issuer too: the key itself is what is refused
    with pytest.raises(IdentityMisconfigured, match="development key clearance-dev-"):
        TokenVerifier.from_settings({**environment, "AUTH_ALLOW_DEV_KEY": "",
                                     "AUTH_ISSUER": "https://idp.example.test/realms/x"})


def test_another_checkout_s_development_key_is_not_trusted(tmp_path: Path) -> None:
    verifier = TokenVerifier.from_settings(dev_environment(tmp_path / "mine"))
    with pytest.raises(InvalidToken, match="not known"):
        verifier.verify(mint(tmp_path / "theirs", roles=["operator"]))
    forged = new_key(key_kid(tmp_path / "mine"))  # the right kid, another key
    token = jwt.encode({"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": "x",
                        "exp": int(time.time()) + 60, "roles": ["operator"]},
                       forged.private, algorithm="ES256", headers={"kid": forged.kid})
    with pytest.raises(InvalidToken, match="does not verify"):
        verifier.verify(token)


@pytest.mark.parametrize("options, message", [
    ({"roles": ["wizard"]}, "unknown role"),
    ({"roles": ["officer", "service"]}, "unknown role"),
    ({"roles": ["officer"], "ttl": 0}, "ttl"),
])
def test_mint_refuses(options: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        mint(tmp_path / "var", **options)  # type: ignore[arg-type]
