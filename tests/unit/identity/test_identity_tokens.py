"""TokenVerifier against real keys (EC P-256, RSA 2048) and a real JWKS file: what is accepted,
and every way a token must be refused (CONTRACT.md, "Identity and access"; issue 10, "Bad
input and attacks")."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from identity_jose import (
    AUDIENCE,
    ISSUER,
    ROOT,
    Key,
    b64,
    by_hand,
    claims,
    new_key,
    write_jwks,
)

from shared.identity import Caller
from shared.identity import tokens as tokens_module
from shared.identity.tokens import (
    IdentityMisconfigured,
    InvalidToken,
    JwksFile,
    TokenVerifier,
)


class Now:
    """A moment `seconds` from when the test runs (a table is built at import time)."""

    def __init__(self, seconds: int, text: bool = False) -> None:
        self.seconds, self.text = seconds, text

    def value(self) -> int | str:
        moment = int(time.time()) + self.seconds
        return str(moment) if self.text else moment


def resolved(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value() if isinstance(v, Now) else v for k, v in overrides.items()}


def refused(verifier: TokenVerifier, token: str, reason: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        verifier.verify(token)
    assert reason in caught.value.description
    if len(token) >= 20:
        assert token[-20:] not in caught.value.description  # never the token's content
    return caught.value


# -- accepted -------------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_valid_token_names_its_caller(alg: str, verifier: TokenVerifier, ec_key: Key,
                                        rsa_key: Key) -> None:
    key = ec_key if alg == "ES256" else rsa_key
    token = key.sign(claims(sub="officer-117", jti="t-1", roles=["officer", "auditor"],
                            offices=["GBLHR001", "GBFXT001"]))
    assert jwt.get_unverified_header(token)["alg"] == alg
    caller = verifier.verify(token)
    assert caller == Caller(sub="officer-117", roles=frozenset({"officer", "auditor"}),
                            issuer=ISSUER, token_id="t-1",
                            offices=frozenset({"GBLHR001", "GBFXT001"}))
    assert caller.actor() == {"sub": "officer-117", "roles": ["auditor", "officer"],
                              "iss": ISSUER, "jti": "t-1"}


def test_declarant_and_agency_claims(verifier: TokenVerifier, ec_key: Key) -> None:
    declarant = verifier.verify(ec_key.sign(claims(roles=["declarant"], eori="GB123456789000",
                                                   offices=None, sub="broker-1")))
    assert (declarant.eori, declarant.offices, declarant.roles) == (
        "GB123456789000", frozenset(), frozenset({"declarant"}))
    agency = verifier.verify(ec_key.sign(claims(roles=["agency"], agency="APHA", offices=None)))
    assert agency.agency == "APHA" and agency.has("agency") and not agency.has("officer")


def test_roles_outside_the_contract_are_not_kept(verifier: TokenVerifier, ec_key: Key) -> None:
    caller = verifier.verify(ec_key.sign(claims(roles=["officer", "offline_access", "service"])))
    assert caller.roles == frozenset({"officer"})  # a token cannot claim a service's role


def test_no_roles_claim_is_no_role(verifier: TokenVerifier, ec_key: Key) -> None:
    assert verifier.verify(ec_key.sign(claims(roles=None))).roles == frozenset()


def test_an_audience_list_holding_ours(verifier: TokenVerifier, ec_key: Key) -> None:
    assert verifier.verify(ec_key.sign(claims(aud=["account", AUDIENCE]))).sub == "officer-117"


@pytest.mark.parametrize("header", ["Bearer {}", "bearer {}", "BEARER {}", "  Bearer   {}  "])
def test_the_authorization_header(header: str, verifier: TokenVerifier, ec_key: Key) -> None:
    assert verifier.from_header(header.format(ec_key.sign(claims()))).sub == "officer-117"


@pytest.mark.parametrize("moment", ["exp", "nbf", "iat"])
def test_within_the_leeway_is_accepted(moment: str, verifier: TokenVerifier,
                                       ec_key: Key) -> None:
    shift = {"exp": -45, "nbf": 45, "iat": 45}[moment]  # leeway 60 s
    at = int(time.time()) + shift
    assert verifier.verify(ec_key.sign(claims(**{moment: at}))).sub == "officer-117"


def test_roles_from_a_nested_claim_path(make_verifier: Callable[..., TokenVerifier],
                                        ec_key: Key) -> None:
    keycloak = make_verifier(roles_claim="realm_access.roles")
    token = ec_key.sign(claims(roles=None, realm_access={
        "roles": ["default-roles-customs", "officer", "offline_access"]}))
    assert keycloak.verify(token).roles == frozenset({"officer"})
    assert keycloak.verify(ec_key.sign(claims(roles=["officer"]))).roles == frozenset()
    assert keycloak.verify(ec_key.sign(claims(realm_access="x"))).roles == frozenset()


# -- refused: the header and the token's form ----------------------------------------------------

@pytest.mark.parametrize("header, reason", [
    (None, "no bearer token"),
    ("", "no bearer token"),
    ("   ", "no bearer token"),
    ("Basic b2ZmaWNlcjpwdw==", "not a Bearer token"),
    ("Bearer", "is empty"),
    ("Bearer    ", "is empty"),
    ("Token abc.def.ghi", "not a Bearer token"),
])
def test_no_bearer_token(header: str | None, reason: str, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken) as caught:
        verifier.from_header(header)
    assert reason in caught.value.description


def tampered(part: str) -> str:
    return ("B" if part[0] == "A" else "A") + part[1:]


def malformed_tokens(key: Key) -> list[tuple[str, str]]:
    good = key.sign(claims())
    head, payload, signature = good.split(".")
    return [
        ("", "malformed"),
        ("not-a-token", "malformed"),
        (f"{head}.{payload}", "malformed"),  # two parts
        (f"{head}.{payload}.{signature}.{signature}", "malformed"),  # four
        ("!!!.###.$$$", "malformed"),  # not base64url
        (f"{b64(b'not json')}.{payload}.{signature}", "malformed"),
        (f"{b64(b'[1, 2]')}.{payload}.{signature}", "malformed"),  # JSON, not an object
        (f"{head}.{b64(b'not json')}.{signature}", "signature"),  # the signature covers it
        (f"{head}.{b64(json.dumps(claims(roles=['operator'])).encode())}.{signature}",
         "signature"),  # a payload altered to claim another role
        (f"{head}.{payload}.{tampered(signature)}", "signature"),
        (f"{head}.{payload}.{signature[:-1]}", "malformed"),  # cut: not base64url any more
        (f"{head}.{payload}.", "signature"),
        (good[:-1] + "é", "malformed"),  # not ASCII
        (" ".join([head, payload, signature]), "malformed"),
    ]


def test_malformed_tokens(verifier: TokenVerifier, ec_key: Key) -> None:
    for token, reason in malformed_tokens(ec_key):
        refused(verifier, token, reason)


def test_a_payload_that_is_not_json_even_when_signed(verifier: TokenVerifier,
                                                     ec_key: Key) -> None:
    token = jwt.api_jws.encode(b"not json", ec_key.private, algorithm="ES256",
                               headers={"kid": ec_key.kid})
    refused(verifier, token, "malformed")
    token = jwt.api_jws.encode(b"[1]", ec_key.private, algorithm="ES256",
                               headers={"kid": ec_key.kid})
    refused(verifier, token, "malformed")


def test_a_huge_token_is_refused_before_it_is_read(verifier: TokenVerifier,
                                                   ec_key: Key) -> None:
    padded = ec_key.sign(claims(padding="x" * 9000))  # validly signed, but over 8192 bytes
    refused(verifier, padded, "too large")
    refused(verifier, "a" * 1_000_000, "too large")
    small = TokenVerifier(verifier.keys, issuer=ISSUER, audience=AUDIENCE, max_token_bytes=100)
    refused(small, ec_key.sign(claims()), "too large")


# -- refused: algorithms ----------------------------------------------------------------------------

def test_alg_none_is_refused(verifier: TokenVerifier, ec_key: Key) -> None:
    for alg in ("none", "None", "NONE", ""):
        refused(verifier, by_hand({"alg": alg, "kid": ec_key.kid, "typ": "JWT"}, claims()),
                "algorithm is not accepted")
    refused(verifier, by_hand({"kid": ec_key.kid}, claims()), "algorithm is not accepted")


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_is_refused(alg: str, verifier: TokenVerifier,
                                                    ec_key: Key, rsa_key: Key) -> None:
    """The classic confusion: HS256 "signed" with the public key's PEM (or JWK) bytes, which
    a verifier that lets the header choose the algorithm would check with that key."""
    for key in (ec_key, rsa_key):
        for secret in (key.public_pem, json.dumps(key.jwk()).encode()):
            token = by_hand({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims(),
                            hmac_secret=secret)
            refused(verifier, token, "algorithm is not accepted")


@pytest.mark.parametrize("alg", ["PS256", "ES384", "ES512", "RS512", "EdDSA", "RSA-OAEP",
                                 "dir"])
def test_other_algorithms_are_refused(alg: str, verifier: TokenVerifier, ec_key: Key) -> None:
    refused(verifier, by_hand({"alg": alg, "kid": ec_key.kid}, claims()) + "c2ln",
            "algorithm is not accepted")


def test_the_algorithm_is_refused_before_any_key_is_looked_up(tmp_path: Path,
                                                              ec_key: Key) -> None:
    """A token with a refused alg and an unknown kid does not make the keys be read again."""
    keys = JwksFile(write_jwks(tmp_path / "jwks.json", ec_key.jwk()), min_interval=0)
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    keys.load()
    for alg in ("none", "HS256", "PS256"):
        refused(verifier, by_hand({"alg": alg, "kid": "unknown-kid"}, claims(),
                                  hmac_secret=b"x"), "algorithm is not accepted")
    assert keys.reads == 1
    refused(verifier, new_key("ES256", kid="unknown-kid").sign(claims()), "not known")
    assert keys.reads == 2  # an acceptable alg with an unknown kid: read again (interval 0)


# -- refused: keys ----------------------------------------------------------------------------------

def test_signed_by_an_unknown_key(verifier: TokenVerifier) -> None:
    refused(verifier, new_key("ES256").sign(claims()), "not known")
    refused(verifier, new_key("ES256").sign(claims(), kid=None), "names no signing key")


def test_a_valid_key_but_no_kid(verifier: TokenVerifier, ec_key: Key) -> None:
    refused(verifier, ec_key.sign(claims(), kid=None), "names no signing key")
    refused(verifier, by_hand({"alg": "ES256", "kid": 17}, claims()) + "c2ln", "malformed")


def test_a_known_kid_with_a_wrong_key(verifier: TokenVerifier, ec_key: Key,
                                      rsa_key: Key) -> None:
    refused(verifier, new_key("ES256", kid=ec_key.kid).sign(claims()), "does not verify")
    refused(verifier, new_key("RS256", kid=rsa_key.kid).sign(claims()), "does not verify")


def test_a_kid_whose_key_is_of_another_type(verifier: TokenVerifier, ec_key: Key,
                                            rsa_key: Key) -> None:
    refused(verifier, new_key("RS256", kid=ec_key.kid).sign(claims()), "not an RS256 key")
    refused(verifier, new_key("ES256", kid=rsa_key.kid).sign(claims()), "not an ES256 key")


def test_keys_that_are_not_for_es256_or_rs256_signatures_are_left_out(tmp_path: Path) -> None:
    ec, rs, ec2 = new_key("ES256", kid="enc"), new_key("RS256", kid="ps"), new_key("ES256")
    secret = b"a shared secret of thirty-two bytes!"
    oct_jwk = {"kty": "oct", "kid": "hmac", "k": b64(secret), "alg": "HS256"}
    private_jwk = {**ec2.jwk(), "d": b64(b"\x01" * 32)}
    p384 = {**new_key("ES256").jwk(), "crv": "P-384", "kid": "p384"}
    keys = JwksFile(write_jwks(tmp_path / "jwks.json", ec.jwk(use="enc"), rs.jwk(alg="PS256"),
                               oct_jwk, private_jwk, p384, {"kty": "EC"}, "not a key",
                               {**new_key("ES256").jwk(), "kid": ""},
                               {**new_key("ES256").jwk(), "key_ops": ["encrypt"]}))
    keys.load()
    assert keys.kids == frozenset()
    verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    refused(verifier, ec.sign(claims()), "not known")
    refused(verifier, rs.sign(claims()), "not known")
    refused(verifier, by_hand({"alg": "HS256", "kid": "hmac"}, claims(), hmac_secret=secret),
            "algorithm is not accepted")


# -- refused: claims ----------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, reason", [
    ({"exp": Now(-61)}, "expired"),  # beyond the 60 s leeway
    ({"exp": Now(-3600)}, "expired"),
    ({"nbf": Now(120)}, "not yet valid"),
    ({"iat": Now(120)}, "not yet valid"),
    ({"iss": "https://idp.example.test/realms/other"}, "issuer"),
    ({"iss": ISSUER + "/"}, "issuer"),
    ({"aud": "account"}, "audience"),
    ({"aud": ["account", "other"]}, "audience"),
    ({"aud": AUDIENCE.upper()}, "audience"),
    ({"exp": None}, "no exp claim"),
    ({"iss": None}, "no iss claim"),
    ({"aud": None}, "no aud claim"),
    ({"sub": None}, "no sub claim"),
    ({"sub": ""}, "sub is not a name"),
    ({"sub": 17}, "malformed"),
    ({"exp": Now(300, text=True)}, "not a number"),
    ({"nbf": True}, "not a number"),
    ({"nbf": "soon"}, "malformed"),
    ({"iss": 1}, "issuer"),
    ({"jti": 5}, "malformed"),
    ({"roles": "officer"}, "roles claim is not a list"),
    ({"roles": ["officer", 7]}, "roles claim is not a list"),
    ({"roles": {"officer": True}}, "roles claim is not a list"),
    ({"offices": "GBLHR001"}, "offices claim is not a list"),
    ({"offices": ["GBLHR001", 1]}, "offices claim is not a list"),
    ({"offices": [""]}, "offices claim is not a list"),
    ({"eori": 123456789}, "eori claim is not a code"),
    ({"eori": ""}, "eori claim is not a code"),
    ({"agency": ["APHA"]}, "agency claim is not a code"),
])
def test_refused_claims(overrides: dict[str, Any], reason: str, verifier: TokenVerifier,
                        ec_key: Key) -> None:
    refused(verifier, ec_key.sign_raw(claims(**resolved(overrides))), reason)


def test_a_nested_roles_claim_that_is_not_a_list(make_verifier: Callable[..., TokenVerifier],
                                                 ec_key: Key) -> None:
    keycloak = make_verifier(roles_claim="realm_access.roles")
    refused(keycloak, ec_key.sign(claims(realm_access={"roles": "officer"})),
            "realm_access.roles claim is not a list")


# -- the verified-token cache -----------------------------------------------------------------------

def test_a_reused_token_is_checked_for_expiry_on_every_use(
        make_verifier: Callable[..., TokenVerifier], ec_key: Key) -> None:
    verifier = make_verifier(leeway=0)
    token = ec_key.sign(claims(exp=int(time.time()) + 1))
    first = verifier.verify(token)
    assert verifier.verify(token) is first  # from the cache
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"]
                   - time.time()) + 0.05)
    refused(verifier, token, "expired")
    refused(verifier, token, "expired")


def test_a_cached_token_is_not_used_before_its_nbf(
        make_verifier: Callable[..., TokenVerifier], ec_key: Key) -> None:
    verifier = make_verifier(leeway=0)
    token = ec_key.sign(claims(nbf=int(time.time()) + 2))
    refused(verifier, token, "not yet valid")  # a refused token is not cached
    assert token not in verifier._cache


def test_a_cached_token_whose_key_was_withdrawn_is_refused(
        jwks_path: Path, make_verifier: Callable[..., TokenVerifier], ec_key: Key,
        rsa_key: Key) -> None:
    verifier = make_verifier(min_interval=0)
    token = ec_key.sign(claims())
    verifier.verify(token)
    write_jwks(jwks_path, rsa_key.jwk())  # the EC key rotated out
    refused(verifier, new_key("ES256").sign(claims()), "not known")  # makes the file be read
    refused(verifier, token, "not known")


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch, verifier: TokenVerifier,
                              ec_key: Key) -> None:
    monkeypatch.setattr(tokens_module, "CACHE_SIZE", 8)
    tokens = [ec_key.sign(claims(jti=f"t-{n}")) for n in range(20)]
    for token in tokens:
        verifier.verify(token)
        assert len(verifier._cache) <= 8
    assert tokens[-1] in verifier._cache and tokens[0] not in verifier._cache
    assert verifier.verify(tokens[0]).token_id == "t-0"  # verified again


# -- key files ------------------------------------------------------------------------------------

def test_a_new_key_in_the_file_is_picked_up(jwks_path: Path,
                                            make_verifier: Callable[..., TokenVerifier],
                                            ec_key: Key) -> None:
    verifier = make_verifier(min_interval=0)
    rotated = new_key("ES256")
    write_jwks(jwks_path, ec_key.jwk(), rotated.jwk())
    assert verifier.verify(rotated.sign(claims())).sub == "officer-117"


def test_the_file_is_read_again_at_most_once_per_interval(
        jwks_path: Path, make_verifier: Callable[..., TokenVerifier], ec_key: Key) -> None:
    verifier = make_verifier(min_interval=60)
    verifier.verify(ec_key.sign(claims()))
    assert verifier.keys.reads == 1
    rotated = new_key("ES256")
    write_jwks(jwks_path, ec_key.jwk(), rotated.jwk())
    for _ in range(50):
        refused(verifier, rotated.sign(claims()), "not known")
    assert verifier.keys.reads == 1


def test_a_broken_file_keeps_the_keys_held(jwks_path: Path,
                                           make_verifier: Callable[..., TokenVerifier],
                                           ec_key: Key) -> None:
    verifier = make_verifier(min_interval=0)
    verifier.verify(ec_key.sign(claims()))
    jwks_path.write_text("{not json", encoding="utf-8")
    refused(verifier, new_key("ES256").sign(claims()), "not known")
    assert verifier.verify(ec_key.sign(claims())).sub == "officer-117"


# -- settings -------------------------------------------------------------------------------------

def settings(jwks_path: Path, **overrides: str) -> dict[str, str]:
    return {"AUTH_JWKS_FILE": str(jwks_path), "AUTH_ISSUER": ISSUER, **overrides}


def test_from_settings(jwks_path: Path, ec_key: Key) -> None:
    verifier = TokenVerifier.from_settings(settings(jwks_path))  # AUDIENCE is the default
    assert (verifier.issuer, verifier.audience, verifier.roles_claim, verifier.leeway) == (
        ISSUER, "clearance", "roles", 60)
    assert verifier.from_header("Bearer " + ec_key.sign(claims())).sub == "officer-117"
    keycloak = TokenVerifier.from_settings(settings(
        jwks_path, AUTH_ROLES_CLAIM="realm_access.roles", AUTH_AUDIENCE="customs-api"))
    token = ec_key.sign(claims(aud="customs-api", realm_access={"roles": ["auditor"]}))
    assert keycloak.verify(token).roles == frozenset({"auditor"})


@pytest.mark.parametrize("change, reason", [
    ({"AUTH_JWKS_FILE": ""}, "neither is set"),
    ({"AUTH_JWKS_URL": "https://idp.example.test/certs"}, "both are set"),
    ({"AUTH_ISSUER": ""}, "AUTH_ISSUER is not set"),
    ({"AUTH_ISSUER": "   "}, "AUTH_ISSUER is not set"),
    ({"AUTH_ALLOW_DEV_KEY": "yes"}, "AUTH_ALLOW_DEV_KEY is 1"),
    ({"AUTH_ROLES_CLAIM": "realm_access..roles"}, "AUTH_ROLES_CLAIM"),
    ({"AUTH_JWKS_FILE": "/no/such/jwks.json"}, "cannot be read"),
    ({"AUTH_JWKS_FILE": "", "AUTH_JWKS_URL": "file:///etc/passwd"}, "http or https"),
    ({"AUTH_ISSUER": "urn:open-clearance:development"}, "AUTH_ALLOW_DEV_KEY=1"),
])
def test_misconfigured(change: dict[str, str], reason: str, jwks_path: Path) -> None:
    with pytest.raises(IdentityMisconfigured) as caught:
        TokenVerifier.from_settings(settings(jwks_path, **change))
    assert reason in str(caught.value)


@pytest.mark.parametrize("content, reason", [
    ("{not json", "is not JSON"),
    ('{"keys": {}}', "is not a JWKS"),
    ('{"keys": []}', "holds no ES256 or RS256 signing key"),
    ('{"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}', "holds no ES256"),
])
def test_misconfigured_key_file(content: str, reason: str, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IdentityMisconfigured) as caught:
        TokenVerifier.from_settings(settings(path))
    assert reason in str(caught.value)


def test_a_development_key_needs_permission(tmp_path: Path, ec_key: Key) -> None:
    development = new_key("ES256", kid="clearance-dev-abc")
    path = write_jwks(tmp_path / "jwks.json", ec_key.jwk(), development.jwk())
    with pytest.raises(IdentityMisconfigured, match="development key clearance-dev-abc"):
        TokenVerifier.from_settings(settings(path))
    allowed = TokenVerifier.from_settings(settings(path, AUTH_ALLOW_DEV_KEY="1"))
    assert allowed.verify(development.sign(claims())).sub == "officer-117"


def test_a_development_key_appearing_later_is_not_trusted(tmp_path: Path, ec_key: Key) -> None:
    path = write_jwks(tmp_path / "jwks.json", ec_key.jwk())
    verifier = TokenVerifier.from_settings(settings(path))
    development = new_key("ES256", kid="clearance-dev-late")
    write_jwks(path, ec_key.jwk(), development.jwk())
    time.sleep(verifier.keys.min_interval)
    refused(verifier, development.sign(claims()), "not known")


@pytest.mark.parametrize("leeway", [-1, 61, 3600])
def test_the_leeway_is_at_most_60_seconds(leeway: int, verifier: TokenVerifier) -> None:
    with pytest.raises(IdentityMisconfigured, match="leeway"):
        TokenVerifier(verifier.keys, issuer=ISSUER, audience=AUDIENCE, leeway=leeway)


# -- the caller value ------------------------------------------------------------------------------

def test_caller() -> None:
    caller = Caller(sub="cashier-2", roles=frozenset({"cashier", "auditor"}), eori="GB1")
    assert caller.has("cashier") and caller.has("officer", "auditor") and not caller.has()
    assert not caller.has("officer")
    assert caller.actor() == {"sub": "cashier-2", "roles": ["auditor", "cashier"]}
    service = Caller.service("risk")
    assert service == Caller(sub="risk-service", roles=frozenset({"service"}))
    assert service.actor() == {"sub": "risk-service", "roles": ["service"]}
    with pytest.raises(AttributeError):
        caller.sub = "other"  # type: ignore[misc]


def test_the_caller_package_is_pure() -> None:
    """Domain packages import shared.identity: it loads neither PyJWT nor cryptography."""
    code = ("import sys, shared.identity\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('jwt', 'cryptography', 'nameko', 'sqlalchemy', 'werkzeug')))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    assert run.stdout.strip() == "[]"
