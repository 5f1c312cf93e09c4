"""The random draw: deterministic from recorded inputs and a secret key, so a decision replays
exactly for whoever holds the key, and nobody else can foresee it.

Keyed draw (every new decision)::

    seed  = HMAC-SHA256(key, "open-clearance/risk/draw/v2|<consignment id>|<rule-set version>")
    value = (the seed as an integer) mod 10**6, scaled to [0, 1) with six decimals

The key (`RISK_DRAW_KEY`, at least 32 random bytes as hexadecimal) is held by the risk service
and by the auditors who re-derive decisions (`clearance verify --decisions`); the decision
records the key's id (`RISK_DRAW_KEY_ID`, by default derived from the key by a one-way
function), never the key. Without the key the seed of a consignment cannot be computed, so a
trader cannot test LRNs offline for the ones the minimum random rate would not pick.

Legacy draw (decisions recorded before the key, whose key id is None): the same with
sha256("<consignment id>|<rule-set version>|<public salt>"). It is kept only to re-derive
those old decisions: anyone could compute it in advance.

Because neither seed includes the declaration version, an amendment re-uses the same draw under
the same rule set: amending cannot re-roll a random selection. Per-rule draws (for a rule's
probability of selection) are derived from the seed and the rule id, as before.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .errors import DrawKeyError, InvalidRecord

DEFAULT_SALT = "open-clearance/risk/draw/v1"  # the legacy, public salt
DEV_KEY_ID_PREFIX = "dev-"  # the id of a development key (services/risk/development.py)
KEYED_CONTEXT = "open-clearance/risk/draw/v2"
_KEY_ID_CONTEXT = b"open-clearance/risk/draw/key-id"
MIN_KEY_BYTES = 32
_SCALE = 10**6
MISSING_KEY = (
    "RISK_DRAW_KEY is not set: the risk service draws its random selection with a secret key "
    "(64 hex digits, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`), "
    "without which any trader could compute the draw in advance; `make run` makes a "
    "development key under var/risk/")
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def _value_of(seed: str) -> Decimal:
    return Decimal(int(seed, 16) % _SCALE).scaleb(-6)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Draw:
    """A seed and the value in [0, 1) it yields. Build with `keyed_draw` or `Draw.from_seed`."""

    seed: str
    value: Decimal

    def __post_init__(self) -> None:
        try:
            expected = _value_of(self.seed)
        except ValueError:
            raise InvalidRecord(f"draw seed {self.seed!r} is not hexadecimal") from None
        if self.value != expected:
            raise InvalidRecord(f"draw value {self.value} does not follow from its seed")

    @classmethod
    def from_seed(cls, seed: str) -> Draw:
        return cls(seed=seed, value=_value_of(seed))

    def for_rule(self, rule_id: str) -> Draw:
        """An independent draw for one rule's probability of selection."""
        return Draw.from_seed(_sha256(f"{self.seed}|rule|{rule_id}"))


@dataclass(frozen=True)
class DrawKey:
    """The secret key of the draw and its public id. Build with `DrawKey.parse` (or
    `from_settings`); `repr` never shows the secret."""

    secret: bytes = field(repr=False)
    key_id: str

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_BYTES:
            raise DrawKeyError(f"the draw key has {len(self.secret)} bytes; at least "
                               f"{MIN_KEY_BYTES} are needed")
        if not _KEY_ID.fullmatch(self.key_id):
            raise DrawKeyError(
                f"RISK_DRAW_KEY_ID {self.key_id!r} is not a key id: 1 to 64 letters, digits "
                "and . _ : - (starting with a letter or digit)")
        if self.secret.hex() in self.key_id.lower():
            raise DrawKeyError("RISK_DRAW_KEY_ID must not contain the key")

    @classmethod
    def parse(cls, text: str, key_id: str | None = None) -> DrawKey:
        """The key from its hexadecimal text (at least 64 hex digits: 32 bytes) and an
        optional id (default: `derived_key_id`). DrawKeyError names what is wrong."""
        if not isinstance(text, str):
            raise DrawKeyError(
                "RISK_DRAW_KEY must be hexadecimal text (it was read as a "
                f"{type(text).__name__}: quote it, or generate another key)")
        cleaned = text.strip()
        if not cleaned:
            raise DrawKeyError(MISSING_KEY)
        if not re.fullmatch(r"[0-9A-Fa-f]+", cleaned) or len(cleaned) % 2:
            raise DrawKeyError(
                "RISK_DRAW_KEY is malformed: it must be hexadecimal digits only, an even "
                f"number of them (got {len(cleaned)} characters)")
        secret = bytes.fromhex(cleaned)
        if len(secret) < MIN_KEY_BYTES:
            raise DrawKeyError(
                f"RISK_DRAW_KEY is too short: {len(secret)} bytes ({len(cleaned)} hex digits); "
                f"at least {MIN_KEY_BYTES} random bytes ({2 * MIN_KEY_BYTES} hex digits) are "
                "needed")
        if len(set(secret)) == 1:
            raise DrawKeyError("RISK_DRAW_KEY is one byte repeated: not a random key")
        chosen = (key_id or "").strip() or derived_key_id(secret)
        return cls(secret, chosen)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> DrawKey | None:
        """The key of `RISK_DRAW_KEY` / `RISK_DRAW_KEY_ID`, or None when no key is set."""
        text = settings.get("RISK_DRAW_KEY")
        if text is None or (isinstance(text, str) and not text.strip()):
            return None
        key_id = settings.get("RISK_DRAW_KEY_ID")
        return cls.parse(text, None if key_id is None else str(key_id))

    @classmethod
    def generate(cls, key_id: str | None = None) -> DrawKey:
        """A new random key (a development key, a test's key)."""
        return cls.parse(new_key_text(), key_id)

    def answers_to(self, key_id: str) -> bool:
        """Whether a decision recorded with `key_id` was drawn under this key's id: its id,
        or one derived from it (with or without the development prefix), which no other key
        can have."""
        derived = derived_key_id(self.secret)
        return key_id in (self.key_id, derived, DEV_KEY_ID_PREFIX + derived)

    def text(self) -> str:
        """The key as `RISK_DRAW_KEY` holds it."""
        return self.secret.hex()


def new_key_text() -> str:
    """A new random key's text: 64 hex digits (32 bytes from the system's CSPRNG)."""
    while True:
        text = secrets.token_hex(MIN_KEY_BYTES)
        if not text.isdigit():  # never read back as a number by a YAML config
            return text


def derived_key_id(secret: bytes) -> str:
    """The default id of a key: `draw-` and 12 hex digits of an HMAC of a fixed label under the
    key (one-way: it names the key without revealing anything of it)."""
    return "draw-" + hmac.new(secret, _KEY_ID_CONTEXT, hashlib.sha256).hexdigest()[:12]


def keyed_draw(key: DrawKey, consignment_id: str, ruleset_version: str) -> Draw:
    """The draw for a consignment assessed under a rule-set version, under the secret key."""
    message = f"{KEYED_CONTEXT}|{consignment_id}|{ruleset_version}".encode()
    return Draw.from_seed(hmac.new(key.secret, message, hashlib.sha256).hexdigest())


def seeded_draw(consignment_id: str, ruleset_version: str, salt: str = DEFAULT_SALT) -> Draw:
    """The legacy public-salt draw (decisions recorded with no key id). Anyone can compute it:
    used to re-derive old decisions and, in tests of the pure domain, as any fixed draw."""
    return Draw.from_seed(_sha256(f"{consignment_id}|{ruleset_version}|{salt}"))
