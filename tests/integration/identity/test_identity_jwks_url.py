"""Keys from a JWKS URL (AUTH_JWKS_URL), served by a real HTTP server on 127.0.0.1: fetched
once and cached, fetched again for a new kid, never more than once per interval however many
tokens name unknown kids, and an unreachable or slow provider is a refused token within the
timeout, not a hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from identity_servers import AUDIENCE, ISSUER, JwksServer, free_port, new_key, serving

from shared.identity.tokens import (
    IdentityMisconfigured,
    InvalidToken,
    JwksUrl,
    TokenVerifier,
)


@pytest.fixture
def provider() -> Iterator[tuple[JwksServer, str]]:
    server = JwksServer()
    with serving(server) as base:
        yield server, base + "/realms/customs/protocol/openid-connect/certs"


def verifier_for(url: str, **options: float) -> TokenVerifier:
    return TokenVerifier(JwksUrl(url, **options), issuer=ISSUER, audience=AUDIENCE)


def settings(url: str, **extra: str) -> dict[str, str]:
    return {"AUTH_JWKS_URL": url, "AUTH_ISSUER": ISSUER, "AUTH_AUDIENCE": AUDIENCE, **extra}


def test_fetched_once_and_cached(provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    key = new_key()
    server.keys = [key.jwk()]
    verifier = TokenVerifier.from_settings(settings(url))
    assert server.requests == 1  # at start
    for n in range(20):  # twenty different tokens of the same key
        assert verifier.verify(key.sign(sub=f"officer-{n}")).sub == f"officer-{n}"
    assert server.requests == 1


def test_a_new_kid_is_fetched_once(provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    old, rotated = new_key(), new_key()
    server.keys = [old.jwk()]
    verifier = verifier_for(url, min_interval=0.2)
    verifier.verify(old.sign())
    assert server.requests == 1
    server.keys = [old.jwk(), rotated.jwk()]  # the provider rotates a key in
    time.sleep(0.25)
    for _ in range(5):
        assert verifier.verify(rotated.sign()).sub == "officer-117"
    assert verifier.verify(old.sign()).sub == "officer-117"
    assert server.requests == 2


def test_a_burst_of_unknown_kids_fetches_at_most_once_per_interval(
        provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    key = new_key()
    server.keys = [key.jwk()]
    verifier = verifier_for(url, min_interval=1.0)
    verifier.verify(key.sign())
    assert server.requests == 1
    time.sleep(1.05)  # the interval has passed: the next unknown kid may fetch, once
    refusals: list[str] = []
    lock = threading.Lock()

    def attack() -> None:
        for _ in range(50):
            try:
                verifier.verify(new_key(f"made-up-{threading.get_ident()}-{_}").sign())
            except InvalidToken as exc:
                with lock:
                    refusals.append(exc.description)

    threads = [threading.Thread(target=attack) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert len(refusals) == 400 and set(refusals) == {"the token's signing key (kid) is not known"}
    # One fetch for the burst, plus at most one per further interval it lasted.
    assert server.requests - 1 <= 1 + int(elapsed / 1.0), (server.requests, elapsed)
    assert verifier.verify(key.sign()).sub == "officer-117"  # the real key still works


def test_the_default_interval_holds_a_burst_to_one_request(
        provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    key = new_key()
    server.keys = [key.jwk()]
    verifier = TokenVerifier.from_settings(settings(url))  # defaults: 30 s between fetches
    for n in range(300):
        with pytest.raises(InvalidToken):
            verifier.verify(new_key(f"made-up-{n}").sign())
    assert server.requests == 1


def test_an_unreachable_provider_is_a_refused_token_not_a_hang() -> None:
    url = f"http://127.0.0.1:{free_port()}/certs"  # nothing listens there
    started = time.monotonic()
    verifier = TokenVerifier.from_settings(settings(url))  # starts all the same
    token = new_key().sign()
    with pytest.raises(InvalidToken, match="signing keys are unavailable"):
        verifier.verify(token)
    assert time.monotonic() - started < 3.0


def test_a_slow_provider_is_a_refused_token_within_the_timeout(
        provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    key = new_key()
    server.keys, server.delay = [key.jwk()], 30.0
    verifier = verifier_for(url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(InvalidToken, match="signing keys are unavailable"):
        verifier.verify(key.sign())
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed
    assert server.requests == 1


def test_the_provider_back_after_a_failed_start(provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    key = new_key()
    server.status = 503
    verifier = TokenVerifier.from_settings(settings(url))  # fetch failed: it starts with none
    with pytest.raises(InvalidToken, match="unavailable"):
        verifier.verify(key.sign())
    server.status, server.keys = 200, [key.jwk()]
    time.sleep(2.05)  # holding no key, it tries again sooner than the 30 s interval
    assert verifier.verify(key.sign()).sub == "officer-117"
    assert server.requests == 2


def test_a_failing_refetch_keeps_the_keys_held(provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    key = new_key()
    server.keys = [key.jwk()]
    verifier = verifier_for(url, min_interval=0.0)
    verifier.verify(key.sign())
    server.status = 500
    with pytest.raises(InvalidToken, match="not known"):
        verifier.verify(new_key().sign())
    assert verifier.verify(key.sign(sub="again")).sub == "again"
    assert server.requests == 2


def test_keys_older_than_max_age_are_fetched_again(provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    key = new_key()
    server.keys = [key.jwk()]
    verifier = verifier_for(url, min_interval=0.1, max_age=0.3)
    verifier.verify(key.sign())
    server.keys = []  # the key was revoked at the provider
    time.sleep(0.35)
    with pytest.raises(InvalidToken, match="not known"):
        verifier.verify(key.sign(sub="after-revocation"))
    assert server.requests == 2


def test_a_development_key_at_the_url_needs_permission(
        provider: tuple[JwksServer, str]) -> None:
    server, url = provider
    development = new_key("clearance-dev-xyz")
    server.keys = [development.jwk()]
    with pytest.raises(IdentityMisconfigured, match="development key clearance-dev-xyz"):
        TokenVerifier.from_settings(settings(url))
    allowed = TokenVerifier.from_settings(settings(url, AUTH_ALLOW_DEV_KEY="1"))
    assert allowed.verify(development.sign()).sub == "officer-117"
