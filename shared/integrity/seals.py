"""Seals: signed checkpoints of the event log's head, kept outside the database.

A seal vouches, with an Ed25519 signature, for the chain hash of every position it covers:

    {"format": 1, "algorithm": "Ed25519",
     "log": <the chain hash at position 1: which log this is>,
     "position": N, "hash": <the chain hash at N, in full>,
     "from_position": F (the previous seal's position + 1; 1 for the first seal),
     "fingerprints": base64 of the first 8 bytes of every chain hash F..N, in order,
     "sealed_at": <UTC time>, "key_id": "ed25519:<sha256 of the public key, base64url>",
     "signature": base64 Ed25519 signature over the canonical JSON of all the other keys}

Because each chain hash covers everything before it, a seal's full hash at N proves positions
1..N; the fingerprints let `clearance verify` name the FIRST position that differs after an
insider rewrote the chain consistently (recomputing every following hash and fixing the log
head), and a log that ends before N is a truncation. The private key never goes near the
database: `SEAL_KEY_FILE` (default: a development key pair made on first use,
`<var>/seal/seal.key` 0600 and `<var>/seal/seal.pub`); an auditor needs only the seals, the
public key (`SEAL_PUBLIC_KEY_FILE`) and a read-only copy of the log.

Seal files live in `SEAL_DIR`, by default `<var>/seals/<store>/` where `<store>` names the
database and a short hash of its URL (so seals of a development log are never checked against
another test or development database). File names sort by position:
`seal-<position, 12 digits>-<sealed_at>.json`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import make_url

from shared.files import create_once, write_atomically
from shared.identity.development import default_var
from shared.settings import setting

FORMAT = 1
ALGORITHM = "Ed25519"
FINGERPRINT_BYTES = 8
FINGERPRINT_HEX = FINGERPRINT_BYTES * 2
EXCHANGE = "clearance.seals"
EXCHANGE_TYPE = "fanout"
_FIELDS = ("algorithm", "fingerprints", "format", "from_position", "hash", "key_id", "log",
           "position", "sealed_at", "signature")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class SealError(Exception):
    """A key or seal file that cannot be used (missing, unreadable, not what it should be)."""


class SealInvalid(SealError):
    """A seal that is malformed or whose signature does not verify with the public key."""


# -- keys ------------------------------------------------------------------------------------

def dev_key_paths(var: Path | None = None) -> tuple[Path, Path]:
    """(private key, public key) of the development seal key pair under `<var>/seal/`."""
    folder = Path(var if var is not None else default_var()) / "seal"
    return folder / "seal.key", folder / "seal.pub"


def signing_key(environ: Mapping[str, str] | None = None) -> Ed25519PrivateKey:
    """The private key at `SEAL_KEY_FILE`; unset: the development key, made on first use (with
    its public key next to it). A configured file that is missing is an error, never made."""
    configured = setting("SEAL_KEY_FILE", environ)
    if configured:
        return _load_private(Path(configured))
    key_path, public_path = dev_key_paths()
    if not key_path.exists():
        _make_private(key_path)
    key = _load_private(key_path)
    public_pem = public_pem_of(key.public_key())
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        write_atomically(public_path, public_pem, 0o644)
    return key


def new_key_pair(key_path: Path) -> tuple[Path, Ed25519PublicKey]:
    """A new signing key at `key_path` (0600; SealError if something is there already) and its
    public key next to it (`<key_path>.pub`, the file auditors get): (public path, key)."""
    if key_path.exists():
        raise SealError(f"{key_path} exists: a seal key is never overwritten")
    if not _make_private(key_path):
        raise SealError(f"{key_path} was made by another process meanwhile")
    key = _load_private(key_path).public_key()
    public_path = key_path.with_name(key_path.name + ".pub")
    write_atomically(public_path, public_pem_of(key), 0o644)
    return public_path, key


def _make_private(key_path: Path) -> bool:
    """Write a new Ed25519 private key at `key_path` (0600, its folder 0700 if made) unless
    one is there (another process's key wins); True when this call made it."""
    key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    return create_once(key_path, pem, 0o600)


def public_key_path(explicit: str | None = None,
                    environ: Mapping[str, str] | None = None) -> Path | None:
    """`explicit`, else `SEAL_PUBLIC_KEY_FILE`, else the development public key if it exists."""
    if explicit:
        return Path(explicit)
    configured = setting("SEAL_PUBLIC_KEY_FILE", environ)
    if configured:
        return Path(configured)
    _, public_path = dev_key_paths()
    return public_path if public_path.exists() else None


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise SealError(f"cannot read the seal public key {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise SealError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SealError(f"{path} is not an Ed25519 public key")
    return key


def public_pem_of(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """"ed25519:" and the base64url SHA-256 of the raw public key (22 characters)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()
    return f"ed25519:{digest[:22]}"


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SealError(f"cannot read the seal key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SealError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealError(f"{path} is not an Ed25519 private key")
    return key


# -- the document ----------------------------------------------------------------------------

def fingerprint(chain_hash: str) -> bytes:
    return bytes.fromhex(chain_hash[:FINGERPRINT_HEX])


def signed_text(document: Mapping[str, Any]) -> bytes:
    """The canonical JSON of every key but the signature: what the signature covers."""
    body = {name: value for name, value in document.items() if name != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def make_seal(key: Ed25519PrivateKey, *, log: str, position: int, chain_hash: str,
              from_position: int, fingerprints: bytes, sealed_at: datetime) -> dict[str, Any]:
    """A signed seal document (see the module docstring)."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "algorithm": ALGORITHM,
        "log": log,
        "position": position,
        "hash": chain_hash,
        "from_position": from_position,
        "fingerprints": base64.b64encode(fingerprints).decode("ascii"),
        "sealed_at": sealed_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "key_id": key_id(key.public_key()),
    }
    _check_shape(document)
    signature = key.sign(signed_text(document))
    document["signature"] = base64.b64encode(signature).decode("ascii")
    return document


@dataclass(frozen=True)
class Seal:
    """A seal whose signature verified. `fingerprints` holds the hex fingerprints F..N
    (16 characters each) when loaded with them, else "" (see `SealSet`)."""

    source: str
    log: str
    position: int
    chain_hash: str
    from_position: int
    sealed_at: str
    key_id: str
    signature: str
    fingerprints: str = field(default="", repr=False)

    def fingerprint_at(self, position: int) -> str:
        start = (position - self.from_position) * FINGERPRINT_HEX
        return self.fingerprints[start:start + FINGERPRINT_HEX]

    @property
    def name(self) -> str:
        return Path(self.source).name


def open_seal(document: Any, public_key: Ed25519PublicKey, *, source: str,
              with_fingerprints: bool = True) -> Seal:
    """The seal in `document`, checked: its shape, its key id and its signature (SealInvalid
    saying what is wrong)."""
    fingerprints = _check_shape(document)
    expected = key_id(public_key)
    if document["key_id"] != expected:
        raise SealInvalid(f"signed by another key ({document['key_id']}; the public key is "
                          f"{expected})")
    try:
        signature = base64.b64decode(document["signature"], validate=True)
        public_key.verify(signature, signed_text(document))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SealInvalid("bad signature: the seal was altered or not signed by this key") \
            from None
    return Seal(source=source, log=document["log"], position=document["position"],
                chain_hash=document["hash"], from_position=document["from_position"],
                sealed_at=document["sealed_at"], key_id=document["key_id"],
                signature=document["signature"],
                fingerprints=fingerprints.hex() if with_fingerprints else "")


def _check_shape(document: Any) -> bytes:
    """SealInvalid unless `document` has the seal's keys, of the right kinds, consistent; the
    decoded fingerprints."""
    if not isinstance(document, dict):
        raise SealInvalid("not a seal: not a JSON object")
    keys = set(document) | {"signature"}
    if keys != set(_FIELDS):
        missing = sorted(set(_FIELDS) - keys)
        extra = sorted(keys - set(_FIELDS))
        raise SealInvalid(f"not a seal: missing {missing or 'nothing'}, unknown {extra or 'none'}")
    if document["format"] != FORMAT or document["algorithm"] != ALGORITHM:
        raise SealInvalid(f"unsupported seal format {document['format']!r} / "
                          f"{document['algorithm']!r}")
    position, start = document["position"], document["from_position"]
    if not (type(position) is int and type(start) is int and 1 <= start <= position):
        raise SealInvalid("not a seal: from_position and position must be 1 <= from <= to")
    for name in ("log", "hash"):
        if not (isinstance(document[name], str) and _HASH.match(document[name])):
            raise SealInvalid(f"not a seal: {name} is not a chain hash")
    for name in ("sealed_at", "key_id", "fingerprints"):
        if not isinstance(document[name], str):
            raise SealInvalid(f"not a seal: {name} is not text")
    try:
        fingerprints = base64.b64decode(document["fingerprints"], validate=True)
    except (binascii.Error, ValueError):
        raise SealInvalid("not a seal: fingerprints are not base64") from None
    if len(fingerprints) != (position - start + 1) * FINGERPRINT_BYTES:
        raise SealInvalid(f"not a seal: {len(fingerprints)} bytes of fingerprints for "
                          f"positions {start}..{position}")
    if fingerprints[-FINGERPRINT_BYTES:] != fingerprint(document["hash"]):
        raise SealInvalid("not a seal: the last fingerprint is not the sealed hash's")
    if start == 1 and fingerprints[:FINGERPRINT_BYTES] != fingerprint(document["log"]):
        raise SealInvalid("not a seal: the first fingerprint is not the log's first hash")
    return fingerprints


# -- files -----------------------------------------------------------------------------------

def store_key(store_url: str) -> str:
    """`<database name>-<12 hex of the URL's sha256>` (password left out; a SQLite path made
    absolute): the default seal folder of one store under `<var>/seals/`."""
    url = make_url(store_url)
    database = url.database or "store"
    if url.get_backend_name() == "sqlite":
        database = str(Path(database).resolve())
        url = url.set(database=database)
    text = url.set(password=None).render_as_string(hide_password=False)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(database).stem or "store")[:40]
    return f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def seal_dir(store_url: str, environ: Mapping[str, str] | None = None) -> Path:
    """`SEAL_DIR`, or `<var>/seals/<store_key(store_url)>`."""
    configured = setting("SEAL_DIR", environ)
    if configured:
        return Path(configured)
    return default_var() / "seals" / store_key(store_url)


def seal_filename(document: Mapping[str, Any]) -> str:
    when = re.sub(r"[^0-9]", "", str(document["sealed_at"]))[:20]
    return f"seal-{int(document['position']):012d}-{when}.json"


def seal_bytes(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_seal(directory: Path, document: Mapping[str, Any]) -> Path:
    """The seal written (atomically, then fsynced) in `directory`, made if missing."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / seal_filename(document)
    write_atomically(path, seal_bytes(document), 0o644)
    return path


def seal_files(directory: Path) -> list[Path]:
    """The `*.json` files in `directory`, by name (so by position); none if it is missing."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())


def read_seal(path: Path, public_key: Ed25519PublicKey, *, with_fingerprints: bool = True
              ) -> Seal:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise SealError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise SealInvalid("not a seal: not JSON") from None
    return open_seal(document, public_key, source=str(path), with_fingerprints=with_fingerprints)


def latest_seal(directory: Path, public_key: Ed25519PublicKey) -> Seal | None:
    """The seal of the highest position in `directory` that verifies with `public_key`."""
    best: Seal | None = None
    for path in reversed(seal_files(directory)):
        try:
            seal = read_seal(path, public_key, with_fingerprints=False)
        except SealError:
            continue
        if best is None or seal.position > best.position:
            best = seal
        if best.position >= _position_in_name(path):
            break  # names sort by position: nothing further down is higher
    return best


def _position_in_name(path: Path) -> int:
    match = re.match(r"seal-(\d+)-", path.name)
    return int(match.group(1)) if match else 1 << 62


@dataclass
class SealSet:
    """The seals `clearance verify` checks the log against: those that verified (without their
    fingerprints, which the walk loads seal by seal with `fingerprints_of`, so memory stays
    flat) and, per file that did not, why."""

    public_key: Ed25519PublicKey | None
    seals: list[Seal] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    unchecked: list[str] = field(default_factory=list)  # files, when there is no public key

    @classmethod
    def load(cls, paths: Iterable[Path], public_key: Ed25519PublicKey | None) -> SealSet:
        found = cls(public_key)
        seen: set[str] = set()
        for path in paths:
            if public_key is None:
                found.unchecked.append(str(path))
                continue
            try:
                seal = read_seal(path, public_key, with_fingerprints=False)
            except SealError as exc:
                found.invalid.append((str(path), str(exc)))
                continue
            if seal.signature not in seen:  # the same seal in two places counts once
                seen.add(seal.signature)
                found.seals.append(seal)
        found.seals.sort(key=lambda s: (s.from_position, s.position))
        return found

    def fingerprints_of(self, seal: Seal) -> Seal:
        """`seal` read again with its fingerprints (the same signature, checked again)."""
        assert self.public_key is not None
        again = read_seal(Path(seal.source), self.public_key)
        if again.signature != seal.signature:
            raise SealInvalid("the file changed while the log was being verified")
        return again

    @property
    def latest_position(self) -> int | None:
        return max((s.position for s in self.seals), default=None)
