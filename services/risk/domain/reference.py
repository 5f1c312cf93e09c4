"""Reading the versioned reference data of risk: rule sets, reference unit values and the AEO
register. The formats are documented in services/risk/reference/README.md.

`parse_*` functions are pure (text or parsed documents in, frozen values out); `load_*`
functions read the files named by version from a directory the service is configured with.
Any malformed content raises `RuleSetError` naming where it is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ._codec import to_date, to_decimal, to_int, to_optional_date, to_str
from .aeo import AeoEntry, AeoRegister, AeoStatus
from .errors import RuleSetError
from .lanes import Lane
from .rules import (
    AllOf,
    AnyOf,
    HsPrefix,
    LowUnitValue,
    OfficeSelection,
    OriginIn,
    PartyRole,
    Predicate,
    Rule,
    RuleSet,
    Thresholds,
    WatchlistedParty,
)

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
SAMPLE_RULESET_DIR = REFERENCE_DIR / "rulesets"
SAMPLE_AEO_DIR = REFERENCE_DIR / "aeo"

_RULESET_KEYS = {
    "version",
    "description",
    "currency",
    "thresholds",
    "aeo_discounts",
    "random_selection",
    "watchlists",
    "rules",
}
_RULE_KEYS = {
    "id",
    "description",
    "rationale",
    "predicate",
    "lane",
    "score",
    "probability",
    "valid_from",
    "valid_to",
    "offices",
}
_WATCHLIST_ROLES = {"importers": PartyRole.IMPORTER, "declarants": PartyRole.DECLARANT}


# -- rule sets ---------------------------------------------------------------------------------


def load_ruleset(directory: Path | str, version: str) -> RuleSet:
    """`<directory>/ruleset-<version>.yaml` (or `.json`) with `reference-values-<version>.csv`."""
    directory = Path(directory)
    candidates = [directory / f"ruleset-{version}.{ext}" for ext in ("yaml", "yml", "json")]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise RuleSetError(f"no rule set {version} in {directory}")
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    values_path = directory / f"reference-values-{version}.csv"
    if not values_path.exists():
        raise RuleSetError(f"{values_path} is missing (it may have a header line only)")
    values = parse_reference_values(values_path.read_text(encoding="utf-8"), where=str(values_path))
    ruleset = parse_ruleset(document, values)
    if ruleset.version != version:
        raise RuleSetError(
            f"{path}: declares version {ruleset.version!r}, file name says {version!r}"
        )
    return ruleset


def parse_ruleset(
    document: Any, reference_values: Mapping[tuple[str, str], Decimal] | None = None
) -> RuleSet:
    """A rule set from its parsed YAML/JSON document and its reference unit values."""
    doc = _mapping(document, "rule set", _RULESET_KEYS)
    version = str(_required(doc, "version", "rule set"))
    where = f"rule set {version}"

    thresholds_doc = _mapping(
        _required(doc, "thresholds", where), f"{where}: thresholds", {"red", "yellow"}
    )
    thresholds = Thresholds(
        red=to_int(
            _required(thresholds_doc, "red", where), f"{where}: thresholds.red", RuleSetError
        ),
        yellow=to_int(
            _required(thresholds_doc, "yellow", where), f"{where}: thresholds.yellow", RuleSetError
        ),
    )

    discounts: dict[AeoStatus, int] = {}
    for status, points in _mapping(doc.get("aeo_discounts", {}), f"{where}: aeo_discounts").items():
        try:
            key = AeoStatus(status)
        except ValueError:
            raise RuleSetError(f"{where}: aeo_discounts: unknown status {status!r}") from None
        discounts[key] = to_int(points, f"{where}: aeo_discounts.{status}", RuleSetError)
        if discounts[key] < 0:
            raise RuleSetError(f"{where}: aeo_discounts.{status} must not be negative")

    offices: dict[str, OfficeSelection] = {}
    selection_doc = _mapping(
        _required(doc, "random_selection", where), f"{where}: random_selection"
    )
    for office, config in selection_doc.items():
        here = f"{where}: random_selection.{office}"
        entry = _mapping(config, here, {"rate", "red_share"})
        offices[str(office)] = OfficeSelection(
            rate=to_decimal(_required(entry, "rate", here), f"{here}.rate", RuleSetError),
            red_share=to_decimal(entry.get("red_share", "0"), f"{here}.red_share", RuleSetError),
        )

    watchlists: dict[PartyRole, frozenset[str]] = {}
    for name, eoris in _mapping(
        doc.get("watchlists", {}), f"{where}: watchlists", set(_WATCHLIST_ROLES)
    ).items():
        watchlists[_WATCHLIST_ROLES[name]] = frozenset(
            _strings(eoris, f"{where}: watchlists.{name}")
        )

    rules_doc = _required(doc, "rules", where)
    if not isinstance(rules_doc, list):
        raise RuleSetError(f"{where}: rules must be a list")
    rules = tuple(_rule(rule, where) for rule in rules_doc)

    return RuleSet(
        version=version,
        thresholds=thresholds,
        rules=rules,
        offices=offices,
        aeo_discounts=discounts,
        watchlists=watchlists,
        reference_values=dict(reference_values or {}),
        currency=str(doc.get("currency", "")),
        description=str(doc.get("description", "")),
    )


def _rule(document: Any, where: str) -> Rule:
    doc = _mapping(document, f"{where}: rule", _RULE_KEYS)
    rule_id = str(_required(doc, "id", f"{where}: rule"))
    here = f"{where}: rule {rule_id}"
    lane_text = _required(doc, "lane", here)
    try:
        lane = Lane(lane_text)
    except ValueError:
        raise RuleSetError(f"{here}: unknown lane {lane_text!r}") from None
    return Rule(
        id=rule_id,
        description=str(doc.get("description", "")),
        rationale=to_str(_required(doc, "rationale", here), f"{here}: rationale", RuleSetError),
        predicate=_predicate(_required(doc, "predicate", here), f"{here}: predicate"),
        lane=lane,
        score=to_int(_required(doc, "score", here), f"{here}: score", RuleSetError),
        probability=to_decimal(doc.get("probability", "1"), f"{here}: probability", RuleSetError),
        valid_from=to_optional_date(doc.get("valid_from"), f"{here}: valid_from", RuleSetError),
        valid_to=to_optional_date(doc.get("valid_to"), f"{here}: valid_to", RuleSetError),
        offices=frozenset(_strings(doc.get("offices", []), f"{here}: offices")),
    )


def _predicate(document: Any, where: str) -> Predicate:
    doc = _mapping(document, where)
    kind = doc.get("kind")
    if kind == "hs_prefix":
        _mapping(doc, where, {"kind", "prefixes"})
        prefixes = tuple(_strings(_required(doc, "prefixes", where), f"{where}.prefixes"))
        if not prefixes or not all(p.isdigit() for p in prefixes):
            raise RuleSetError(f"{where}.prefixes: expected a list of digit strings")
        return HsPrefix(prefixes=prefixes)
    if kind == "origin":
        _mapping(doc, where, {"kind", "countries"})
        countries = _strings(_required(doc, "countries", where), f"{where}.countries")
        if not countries:
            raise RuleSetError(f"{where}.countries: expected at least one country")
        return OriginIn(countries=frozenset(countries))
    if kind == "watchlisted_party":
        _mapping(doc, where, {"kind", "roles"})
        roles = _strings(doc.get("roles", ["importer", "declarant"]), f"{where}.roles")
        try:
            return WatchlistedParty(roles=frozenset(PartyRole(role) for role in roles))
        except ValueError:
            raise RuleSetError(f"{where}.roles: expected importer and/or declarant") from None
    if kind == "low_unit_value":
        _mapping(doc, where, {"kind", "factor"})
        factor = to_decimal(_required(doc, "factor", where), f"{where}.factor", RuleSetError)
        if factor <= 0:
            raise RuleSetError(f"{where}.factor must be positive")
        return LowUnitValue(factor=factor)
    if kind in ("all_of", "any_of"):
        _mapping(doc, where, {"kind", "predicates"})
        parts = _required(doc, "predicates", where)
        if not isinstance(parts, list) or not parts:
            raise RuleSetError(f"{where}.predicates: expected a non-empty list")
        predicates = tuple(_predicate(p, f"{where}.predicates[{i}]") for i, p in enumerate(parts))
        return AllOf(predicates) if kind == "all_of" else AnyOf(predicates)
    raise RuleSetError(f"{where}: unknown predicate kind {kind!r}")


# -- reference unit values ---------------------------------------------------------------------


def parse_reference_values(
    text: str, where: str = "reference values"
) -> dict[tuple[str, str], Decimal]:
    """CSV `hs6,origin,value_per_kg` (national currency per kg) -> {(hs6, origin): value}."""
    values: dict[tuple[str, str], Decimal] = {}
    for line, row in _csv_rows(text, where, ("hs6", "origin", "value_per_kg")):
        here = f"{where}, line {line}"
        hs6, origin = row["hs6"].strip(), row["origin"].strip()
        if len(hs6) != 6 or not hs6.isdigit():
            raise RuleSetError(f"{here}: hs6 {hs6!r} is not six digits")
        if (hs6, origin) in values:
            raise RuleSetError(f"{here}: ({hs6}, {origin}) appears twice")
        value = to_decimal(row["value_per_kg"].strip(), f"{here}: value_per_kg", RuleSetError)
        if value <= 0:
            raise RuleSetError(f"{here}: value_per_kg must be positive")
        values[(hs6, origin)] = value
    return values


# -- the AEO register ------------------------------------------------------------------------


def load_aeo_register(directory: Path | str, version: str) -> AeoRegister:
    """`<directory>/aeo-<version>.csv`."""
    path = Path(directory) / f"aeo-{version}.csv"
    if not path.exists():
        raise RuleSetError(f"no AEO register {version} in {directory}")
    return parse_aeo_register(version, path.read_text(encoding="utf-8"), where=str(path))


def parse_aeo_register(version: str, text: str, where: str = "AEO register") -> AeoRegister:
    """CSV `eori,status,valid_from,valid_to` (valid_to empty while the authorisation runs)."""
    entries = []
    for line, row in _csv_rows(text, where, ("eori", "status", "valid_from", "valid_to")):
        here = f"{where}, line {line}"
        try:
            status = AeoStatus(row["status"].strip())
        except ValueError:
            raise RuleSetError(f"{here}: unknown AEO status {row['status']!r}") from None
        entries.append(
            AeoEntry(
                eori=to_str(row["eori"].strip(), f"{here}: eori", RuleSetError),
                status=status,
                valid_from=to_date(row["valid_from"].strip(), f"{here}: valid_from", RuleSetError),
                valid_to=to_optional_date(
                    row["valid_to"].strip(), f"{here}: valid_to", RuleSetError
                ),
            )
        )
    return AeoRegister(version=version, entries=tuple(entries))


# -- helpers -----------------------------------------------------------------------------------


def _csv_rows(text: str, where: str, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV with a header; blank lines and `#` comments are skipped."""
    numbered = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered or tuple(c.strip() for c in next(csv.reader([numbered[0][1]]))) != columns:
        raise RuleSetError(f"{where}: expected the header {','.join(columns)}")
    rows = []
    for number, line in numbered[1:]:
        cells = next(csv.reader([line]))
        if len(cells) != len(columns):
            raise RuleSetError(f"{where}, line {number}: expected {len(columns)} columns")
        rows.append((number, dict(zip(columns, cells, strict=True))))
    return rows


def _mapping(value: Any, where: str, allowed: set[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleSetError(f"{where}: expected a mapping")
    if allowed is not None:
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise RuleSetError(f"{where}: unknown keys {unknown}")
    return value


def _required(doc: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in doc or doc[key] is None:
        raise RuleSetError(f"{where}: {key} is required")
    return doc[key]


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleSetError(f"{where}: expected a list of strings")
    return list(value)
