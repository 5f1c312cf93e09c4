"""Identifiers: the MRN, and the payload fingerprint for idempotent lodgement.

(The consignment id is not drawn here: the application derives it from the declarant's EORI
and the LRN, `services.declaration.application.consignment_id_for`.)

MRN
---
18 characters, as in the EU's Union Customs Code (and the UK's CDS):

    26 GB 4TNV8LHQQPOA R 7
    |  |  |            | `- check digit: ISO 6346 over the first 17 characters
    |  |  |            `- procedure category: R (import declaration only), A (export), J (transit)
    |  |  `- serial: 12 base-36 digits (0-9, A-Z)
    |  `- country code of the office of declaration (its first two letters)
    `- last two digits of the year of acceptance

The ISO 6346 check digit (the container-number algorithm the UCC prescribes): each character
has a value (digits their own; letters 10 to 38, skipping the multiples of 11), weighted by
2**position; the sum modulo 11, with 10 written as 0. HMRC's published sample MRN
`25GB4TNV8LHQQPOAA5` validates. It misses what the algorithm misses: a substitution between
characters whose values differ by a multiple of 11 (`1` and `B`, for instance), and one that
moves the sum between residues 10 and 0.

Uniqueness without coordination
-------------------------------
An MRN must be unique per (year, country), and several replicas allocate concurrently
without talking to each other. Each `MrnAllocator` draws a uniformly random starting point
in the serial space N = 36**12 (about 4.7e18, 62 bits) when it is created (and again after a
fork), then hands out consecutive serials from there. Two allocators can only collide when
their runs of consecutive serials overlap: for runs of lengths a and b that probability is at
most (a + b) / N. Over k allocator lifetimes that together hand out n MRNs, the union bound
gives P(any collision) <= (k - 1) * n / N. Even at a billion MRNs a year through a million
process starts, that is under 3e-4 per year per country. Independent random draws
would be far worse (the birthday bound n**2 / 2N is already about 0.1 for a billion), and a
time prefix would spend serial digits on the clock and weaken the bound further.

The consecutive serials are passed through a fixed bijection of the serial space (an affine
map with a multiplier coprime to 36), so one process's MRNs do not look sequential. This is
cosmetic, not security: an MRN is not a secret, and access to a declaration must never rest
on its MRN being hard to guess.

The bound is small, not zero, so the application must still claim each MRN with a unique key
(e.g. its own stream at version 0, or a unique index) and allocate again on the rare
conflict.

Payload fingerprint
-------------------
`payload_fingerprint(declaration)` is the SHA-256 of the canonical JSON of the validated
document (sorted keys, no whitespace, every optional key present, decimals without trailing
zeros). The same declarant and LRN with the same fingerprint is the same request (200); with
another fingerprint it is a conflict (409). Key order, whitespace, "20.50" vs "20.5" and an
explicit null for an absent optional field do not change it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Callable
from datetime import date

from .declaration import Declaration, to_document

# use with fullmatch: year, country, serial, procedure category, check digit
MRN_PATTERN = re.compile(r"[0-9]{2}[A-Z]{2}[A-Z0-9]{12}[A-Z][0-9]", re.ASCII)
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERIAL_LENGTH = 12
SERIAL_SPACE: int = len(ALPHABET) ** SERIAL_LENGTH
# The procedure category letter of each declaration type (UCC Delegated Regulation, Annex B).
PROCEDURE_CATEGORIES = {"IM": "R", "EX": "A", "TR": "J"}

_M = len(ALPHABET)  # 36: the serial's base


def _iso6346_values() -> dict[str, int]:
    values = {str(digit): digit for digit in range(10)}
    value = 10
    for letter in ALPHABET[10:]:
        if value % 11 == 0:  # 11, 22 and 33 are skipped
            value += 1
        values[letter] = value
        value += 1
    return values


_VALUES = _iso6346_values()

# The cosmetic bijection of the serial space: serial -> (A * serial + B) mod N. A is about
# N / golden ratio (consecutive serials land far apart), odd and not a multiple of 3, so
# coprime to 36**12 and the map is a permutation.
_SCRAMBLE_A = 2928480718740973571
_SCRAMBLE_B = 0x5DEECE66D
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def check_character(text: str) -> str:
    """The ISO 6346 check digit of `text` (characters 0-9 and A-Z), as the UCC computes an
    MRN's over its first 17 characters."""
    total = sum(_VALUES[ch] << position for position, ch in enumerate(text))
    return str(total % 11 % 10)


def encode_serial(serial: int) -> str:
    """`serial` (0 <= serial < SERIAL_SPACE) as SERIAL_LENGTH base-36 digits."""
    if not 0 <= serial < SERIAL_SPACE:
        raise ValueError(f"serial {serial} is outside 0..36**{SERIAL_LENGTH}-1")
    digits = []
    for _ in range(SERIAL_LENGTH):
        serial, digit = divmod(serial, _M)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def format_mrn(year: int, country: str, serial: int, procedure: str = "R") -> str:
    """The MRN for a year (any; its last two digits are used), a country, a serial and a
    procedure category letter (R: an import declaration)."""
    if not _COUNTRY.match(country):
        raise ValueError(f"{country!r} is not a two-letter country code")
    if procedure not in PROCEDURE_CATEGORIES.values():
        raise ValueError(f"{procedure!r} is not a procedure category letter")
    body = f"{year % 100:02d}{country}{encode_serial(serial)}{procedure}"
    return body + check_character(body)


def is_valid_mrn(value: object) -> bool:
    """Whether `value` is an MRN: the format and the check digit (any procedure category)."""
    if not isinstance(value, str) or not MRN_PATTERN.fullmatch(value):
        return False
    return check_character(value[:17]) == value[17]


def scramble(serial: int) -> int:
    """The fixed bijection applied to consecutive serials (see the module docstring)."""
    return (_SCRAMBLE_A * serial + _SCRAMBLE_B) % SERIAL_SPACE


def _random_serial() -> int:
    return secrets.randbelow(SERIAL_SPACE)


class MrnAllocator:
    """Allocates MRNs without coordination between processes (see the module docstring).

    Create one per process (the composition root does); it is safe to share between
    threads and green threads, and draws a new starting point after a fork.
    `random_start` is for tests (a deterministic start).
    """

    def __init__(self, *, random_start: Callable[[], int] | None = None) -> None:
        self._random_start = random_start or _random_serial
        self._lock = threading.Lock()
        self._pid = -1
        self._next = 0

    def allocate(self, office: str, on_date: date, declaration_type: str = "IM") -> str:
        """A new MRN for a declaration of `declaration_type` accepted on `on_date` at `office`
        (e.g. "GBLHR001")."""
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._next = self._random_start() % SERIAL_SPACE
            serial = self._next
            self._next = (serial + 1) % SERIAL_SPACE
        return format_mrn(on_date.year, office[:2], scramble(serial),
                          PROCEDURE_CATEGORIES[declaration_type])


def canonical_json(value: object) -> str:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8 kept, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def payload_fingerprint(declaration: Declaration) -> str:
    """`"sha256:<hex>"` of the canonical document; equal for the same declaration content."""
    text = canonical_json(to_document(declaration, normalise_decimals=True))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
