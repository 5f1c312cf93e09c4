"""The partner-agency register (single window): which agencies hold which goods, and for how long.

An accepted declaration with an item in an agency's interest is held for that agency until it
decides (CONTRACT.md, "Partner agencies (single window)"). The register is versioned reference
data in YAML or JSON (by the file suffix: `.yaml`, `.yml` or `.json`), named by the setting
`AGENCY_REGISTER_FILE`, else the packaged sample `data/agencies/register-2026.1.yaml`. The
format is in `shared/reference/README.md` ("Partner agencies"):

    version: "2026.1"
    agencies:
      - code: GBFSA
        name: Food Standards Agency (port health)
        interest:
          hs_prefixes: ["0201", "0202"]   # 2 to 10 digits, quoted
          origins: []                     # ISO 3166 alpha-2; empty or missing: any
          offices: []                     # offices of declaration; empty or missing: any
          procedures: [IM]                # declaration types; empty or missing: any
        time_limit: PT48H                 # days, hours, minutes, seconds only

A malformed file raises `AgencyRegisterError` naming the file, the line and what is wrong
(`agencies.yaml:14: agencies[2].interest.hs_prefixes[0]: "02A1" is not 2 to 10 digits`).
Files are read with a safe YAML composer (nodes only, never constructed objects) or a strict
JSON parser that keeps line numbers; nothing in a file is executed or instantiated.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..settings import setting
from .errors import ReferenceDataInvalid
from .iso import countries

DEFAULT_REGISTER = Path(__file__).resolve().parent / "data" / "agencies" / "register-2026.1.yaml"
PACKAGED_SAMPLE = "packaged sample"
SETTING = "AGENCY_REGISTER_FILE"

_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")
_HS_PREFIX = re.compile(r"[0-9]{2,10}")
_OFFICE = re.compile(r"[A-Z]{2}[A-Z0-9]{6}")
_PROCEDURE = re.compile(r"[A-Z]{2}")
_DURATION = re.compile(
    r"P(?:(?P<days>[0-9]+)D)?(?:T(?=[0-9])(?:(?P<hours>[0-9]+)H)?(?:(?P<minutes>[0-9]+)M)?"
    r"(?:(?P<seconds>[0-9]+)S)?)?"
)
_CALENDAR_DURATION = re.compile(r"P(?:[0-9]+[YMW])")
_SHORTEST_PREFIX, _LONGEST_PREFIX = 2, 10

_STR = "tag:yaml.org,2002:str"
_NAMES = {
    _STR: "a string",
    "tag:yaml.org,2002:map": "a mapping",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date",
}

_QUOTABLE = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
             "tag:yaml.org,2002:timestamp"}  # scalars that quoting would make strings


class AgencyRegisterError(ReferenceDataInvalid):
    """The agency register file is unreadable or malformed (raised while loading, never later).

    `source` is the file, `line` the 1-based line of the offending node (None when the whole
    file is at fault, e.g. it does not exist), `message` what is wrong."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        where = source if line is None else f"{source}:{line}"
        Exception.__init__(self, f"{where}: {message}")
        self.source = source
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Interest:
    """What an agency regulates: an item whose code starts with one of `hs_prefixes`, of an
    origin in `origins`, lodged at an office in `offices` in a declaration whose type is in
    `procedures` (an empty set: any)."""

    hs_prefixes: tuple[str, ...]
    origins: frozenset[str] = frozenset()
    offices: frozenset[str] = frozenset()
    procedures: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    interest: Interest
    time_limit: timedelta  # how long the agency has to decide once the goods are held
    description: str = ""

    def regulates(self, *, hs_code: str, origin: str, office: str, procedure: str) -> bool:
        """Whether an item of `hs_code` from `origin`, declared at `office` in a declaration of
        type `procedure`, is in this agency's interest."""
        interest = self.interest
        return (
            (not interest.offices or office in interest.offices)
            and (not interest.procedures or procedure in interest.procedures)
            and (not interest.origins or origin in interest.origins)
            and hs_code.startswith(interest.hs_prefixes)
        )


@dataclass(frozen=True)
class AgencyRegister:
    version: str
    agencies: tuple[Agency, ...]
    source: str  # the file it was read from, or "packaged sample"
    description: str = ""
    # code -> agency, and HS prefix -> positions in `agencies` of the agencies interested in it
    _by_code: Mapping[str, Agency] = field(init=False, repr=False, compare=False)
    _by_prefix: Mapping[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code: dict[str, Agency] = {}
        by_prefix: dict[str, list[int]] = {}
        for position, agency in enumerate(self.agencies):
            if agency.code in by_code:
                raise ValueError(f"agency code {agency.code!r} repeated")
            by_code[agency.code] = agency
            for prefix in agency.interest.hs_prefixes:
                positions = by_prefix.setdefault(prefix, [])
                if position not in positions:
                    positions.append(position)
        object.__setattr__(self, "_by_code", by_code)
        object.__setattr__(self, "_by_prefix", {p: tuple(a) for p, a in by_prefix.items()})

    def agency(self, code: str) -> Agency | None:
        return self._by_code.get(code)

    def codes(self) -> tuple[str, ...]:
        return tuple(agency.code for agency in self.agencies)

    def interested(
        self, *, office: str, procedure: str, items: Sequence[Mapping[str, Any]]
    ) -> dict[str, tuple[int, ...]]:
        """Agency code -> the 1-based numbers of the declaration's items it regulates, for the
        agencies with at least one, in register order. `items` are declaration items
        (`hs_code`, `origin`, ...); an item without a string `hs_code` is nobody's.

        One dictionary look-up per prefix length (2 to 10) per item, whatever the size of
        the register."""
        by_prefix = self._by_prefix
        agencies = self.agencies
        admitted: dict[int, bool] = {}  # position -> passes the office and procedure filters
        found: dict[int, list[int]] = {}
        for number, item in enumerate(items, start=1):
            hs_code = item.get("hs_code")
            if not isinstance(hs_code, str):
                continue
            origin = item.get("origin")
            for length in range(_SHORTEST_PREFIX, min(len(hs_code), _LONGEST_PREFIX) + 1):
                positions = by_prefix.get(hs_code[:length])
                if positions is None:
                    continue
                for position in positions:
                    interest = agencies[position].interest
                    ok = admitted.get(position)
                    if ok is None:
                        ok = admitted[position] = (
                            (not interest.offices or office in interest.offices)
                            and (not interest.procedures or procedure in interest.procedures))
                    if not ok or (interest.origins and origin not in interest.origins):
                        continue
                    numbers = found.setdefault(position, [])
                    if not numbers or numbers[-1] != number:  # "02" and "0201" both match
                        numbers.append(number)
        return {agencies[p].code: tuple(found[p]) for p in sorted(found)}


def load_register(path: Path | str | None = None) -> AgencyRegister:
    """The register in `path` (YAML or JSON by its suffix), or the packaged sample (None).
    Parsed once per process and file: restart the services to load a new version."""
    if path is None:
        return _load(DEFAULT_REGISTER, str(DEFAULT_REGISTER), PACKAGED_SAMPLE)
    return _load(Path(path).resolve(), str(path), str(path))


def configured_register(environ: Mapping[str, str] | None = None) -> AgencyRegister:
    """The register named by the setting `AGENCY_REGISTER_FILE` (read from `environ`, else
    the process environment), else the packaged sample."""
    return load_register(setting(SETTING, environ).strip() or None)


@lru_cache(maxsize=8)
def _load(path: Path, name: str, source: str) -> AgencyRegister:
    """`name`: the file as messages show it; `source`: as the register records it."""
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise AgencyRegisterError(name, "the file name must end in .yaml, .yml or .json")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AgencyRegisterError(name, f"cannot be read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise AgencyRegisterError(name, "is not UTF-8 text",
                                  data.count(b"\n", 0, error.start) + 1) from None
    text = text.removeprefix("\ufeff")
    root = _compose_json(text, name) if suffix == ".json" else _compose_yaml(text, name)
    return _Reader(name).register(root, source)


# -- reading the file into nodes with their lines ----------------------------------------------


def _compose_yaml(text: str, source: str) -> Node:
    """The YAML document's node tree (`yaml.compose` with the safe loader: no object is ever
    constructed, so no tag can run code)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(p for p in (error.context, error.problem) if p)
        raise AgencyRegisterError(source, f"not valid YAML: {problem}",
                                  mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise AgencyRegisterError(source, f"not valid YAML: {error}") from None
    except RecursionError:
        raise AgencyRegisterError(source, "nested too deeply") from None
    if root is None:
        raise AgencyRegisterError(source, "the file is empty", 1)
    return root


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_JSON_DECODER = json.JSONDecoder()
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_LITERALS = (("true", "tag:yaml.org,2002:bool"), ("false", "tag:yaml.org,2002:bool"),
                  ("null", "tag:yaml.org,2002:null"), ("NaN", "tag:yaml.org,2002:float"),
                  ("Infinity", "tag:yaml.org,2002:float"),
                  ("-Infinity", "tag:yaml.org,2002:float"))  # the last three: json.loads's


def _compose_json(text: str, source: str) -> Node:
    """The JSON document as the same node tree `yaml.compose` gives, with the line of every
    value. Strict JSON (RFC 8259): PyYAML would refuse some valid JSON (surrogate-pair
    escapes, keys over 1024 characters) and accept much that is not JSON."""
    try:
        json.loads(text)  # the standard parser is the judge of validity, and says where
    except json.JSONDecodeError as error:
        raise AgencyRegisterError(source, f"not valid JSON: {error.msg}", error.lineno) from None
    except RecursionError:
        raise AgencyRegisterError(source, "nested too deeply") from None
    composer = _JsonComposer(text, source)
    try:
        node, _ = composer.value(composer.skip(0))
    except RecursionError:
        raise AgencyRegisterError(source, "nested too deeply") from None
    return node


class _JsonComposer:
    """Recursive descent over text `json.loads` has accepted, keeping positions."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.line_starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def mark(self, index: int) -> Mark:
        line = bisect_right(self.line_starts, index) - 1
        return Mark(self.source, index, line, index - self.line_starts[line], None, 0)

    def skip(self, index: int) -> int:
        """The index of the next character that is not JSON white space."""
        space = _JSON_SPACE.match(self.text, index)
        return space.end() if space else index

    def value(self, index: int) -> tuple[Node, int]:
        text, start = self.text, self.mark(index)
        char = text[index]
        if char == '"':
            string, end = _JSON_DECODER.raw_decode(text, index)
            return ScalarNode(_STR, string, start, self.mark(end), style='"'), end
        if char == "{":
            return self.mapping(index, start)
        if char == "[":
            return self.sequence(index, start)
        for literal, tag in _JSON_LITERALS:
            if text.startswith(literal, index):
                end = index + len(literal)
                return ScalarNode(tag, literal, start, self.mark(end)), end
        number = _JSON_NUMBER.match(text, index)
        assert number is not None  # json.loads accepted the text
        tag = "tag:yaml.org,2002:float" if number.group(1) or number.group(2) else \
            "tag:yaml.org,2002:int"
        return ScalarNode(tag, number.group(), start, self.mark(number.end())), number.end()

    def mapping(self, index: int, start: Mark) -> tuple[Node, int]:
        pairs: list[tuple[Node, Node]] = []
        index = self.skip(index + 1)
        while self.text[index] != "}":
            key, index = self.value(index)
            index = self.skip(self.skip(index) + 1)  # the colon
            item, index = self.value(index)
            pairs.append((key, item))
            index = self.skip(index)
            if self.text[index] == ",":
                index = self.skip(index + 1)
        return MappingNode("tag:yaml.org,2002:map", pairs, start, self.mark(index + 1)), index + 1

    def sequence(self, index: int, start: Mark) -> tuple[Node, int]:
        items: list[Node] = []
        index = self.skip(index + 1)
        while self.text[index] != "]":
            item, index = self.value(index)
            items.append(item)
            index = self.skip(index)
            if self.text[index] == ",":
                index = self.skip(index + 1)
        return SequenceNode("tag:yaml.org,2002:seq", items, start, self.mark(index + 1)), index + 1


# -- checking the nodes and building the register ----------------------------------------------


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _shown(node: Node) -> str:
    """How a scalar is quoted in a message (as written in the file, in double quotes)."""
    return json.dumps(node.value, ensure_ascii=False)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, where: str, problem: str) -> AgencyRegisterError:
        return AgencyRegisterError(self.source, f"{where}: {problem}" if where else problem,
                                   _line(node))

    def mapping(self, node: Node, where: str, required: Sequence[str],
                optional: Sequence[str]) -> dict[str, Node]:
        """The mapping's values by key: every required key present, no other than these, no
        key twice."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, where, f"must be a mapping with {', '.join(required)}, "
                            f"not {self.kind(node)}")
        allowed = (*required, *optional)
        values: dict[str, Node] = {}
        keys: dict[str, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key, where, "merge keys (<<) are not supported: write the "
                                "fields out")
            if not (isinstance(key, ScalarNode) and key.tag == _STR):
                raise self.fail(key, where, f"a key must be a field name, not {self.kind(key)}")
            name = str(key.value)
            if name in keys:
                raise self.fail(key, where, f'duplicate key "{name}" (first at line '
                                f"{_line(keys[name])})")
            if name not in allowed:
                raise self.fail(key, where, f'unknown field "{name}" (expected '
                                f"{', '.join(allowed)})")
            keys[name] = key
            values[name] = value
        missing = [name for name in required if name not in values]
        if missing:
            raise self.fail(node, where, "missing " + ", ".join(f'"{m}"' for m in missing))
        return values

    def kind(self, node: Node) -> str:
        """What the node is, for a message."""
        return _NAMES.get(str(node.tag), f"a value tagged {node.tag}")

    def string(self, node: Node, where: str, *, empty: bool = False) -> str:
        if not (isinstance(node, ScalarNode) and node.tag == _STR):
            if isinstance(node, ScalarNode) and node.tag in _QUOTABLE:
                raise self.fail(node, where, f"{node.value} is {self.kind(node)}, not a string: "
                                f'quote it ("{node.value}")')
            raise self.fail(node, where, f"must be a string, not {self.kind(node)}")
        value = str(node.value)
        if not empty and not value.strip():
            raise self.fail(node, where, "must not be empty")
        return value

    def strings(self, node: Node, where: str, valid: Callable[[str], object], what: str,
                *, empty: bool = True) -> list[str]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, where, f"must be a list, not {self.kind(node)}"
                            + (" (write [] for any)" if empty else ""))
        if not empty and not node.value:
            raise self.fail(node, where, "must not be empty")
        found: dict[str, Node] = {}
        for index, item in enumerate(node.value):
            here = f"{where}[{index}]"
            value = self.string(item, here, empty=True)
            if not valid(value):
                raise self.fail(item, here, f"{_shown(item)} is not {what}")
            if value in found:
                raise self.fail(item, here, f"{_shown(item)} repeated (first at line "
                                f"{_line(found[value])})")
            found[value] = item
        return list(found)

    def register(self, root: Node, source: str) -> AgencyRegister:
        top = self.mapping(root, "", ("version", "agencies"), ("description",))
        version = self.string(top["version"], "version").strip()
        description = self.string(top["description"], "description", empty=True).strip() \
            if "description" in top else ""
        listed = top["agencies"]
        if not isinstance(listed, SequenceNode):
            raise self.fail(listed, "agencies", f"must be a list, not {self.kind(listed)}")
        agencies: list[Agency] = []
        codes: dict[str, Node] = {}
        for index, node in enumerate(listed.value):
            agency, code_node = self.agency(node, f"agencies[{index}]")
            if agency.code in codes:
                raise self.fail(code_node, "", f'duplicate agency code "{agency.code}" (first '
                                f"at line {_line(codes[agency.code])})")
            codes[agency.code] = code_node
            agencies.append(agency)
        return AgencyRegister(version, tuple(agencies), source, description)

    def agency(self, node: Node, where: str) -> tuple[Agency, Node]:
        fields = self.mapping(node, where, ("code", "name", "interest", "time_limit"),
                              ("description",))
        code = self.string(fields["code"], f"{where}.code")
        if not _CODE.fullmatch(code):
            raise self.fail(fields["code"], f"{where}.code", f"{_shown(fields['code'])} is not "
                            "2 to 16 upper-case letters and digits starting with a letter")
        name = self.string(fields["name"], f"{where}.name").strip()
        description = self.string(fields["description"], f"{where}.description",
                                  empty=True).strip() if "description" in fields else ""
        interest = self.interest(fields["interest"], f"{where}.interest")
        time_limit = self.duration(fields["time_limit"], f"{where}.time_limit")
        return Agency(code, name, interest, time_limit, description), fields["code"]

    def interest(self, node: Node, where: str) -> Interest:
        fields = self.mapping(node, where, ("hs_prefixes",), ("origins", "offices", "procedures"))
        prefixes = self.strings(fields["hs_prefixes"], f"{where}.hs_prefixes",
                                _HS_PREFIX.fullmatch, "2 to 10 digits", empty=False)
        origins = self.strings(fields["origins"], f"{where}.origins", countries().__contains__,
                               "an ISO 3166 alpha-2 country code") \
            if "origins" in fields else []
        offices = self.strings(fields["offices"], f"{where}.offices", _OFFICE.fullmatch,
                               "an office code (two letters, then six letters or digits)") \
            if "offices" in fields else []
        procedures = self.strings(fields["procedures"], f"{where}.procedures",
                                  _PROCEDURE.fullmatch,
                                  "a declaration type (two upper-case letters, e.g. IM)") \
            if "procedures" in fields else []
        return Interest(tuple(prefixes), frozenset(origins), frozenset(offices),
                        frozenset(procedures))

    def duration(self, node: Node, where: str) -> timedelta:
        text = self.string(node, where)
        match = _DURATION.fullmatch(text)
        if match is None or text == "P":
            if _CALENDAR_DURATION.match(text):
                problem = "years, months and weeks are not allowed (write days, e.g. P14D)"
            else:
                problem = ("is not an ISO 8601 duration of days, hours, minutes and seconds "
                           "(e.g. P2D, PT48H, PT90M, P1DT12H)")
            raise self.fail(node, where, f"{_shown(node)}: {problem}")
        try:
            limit = timedelta(**{unit: int(amount) for unit, amount in match.groupdict().items()
                                 if amount is not None})
        except OverflowError:
            raise self.fail(node, where, f"{_shown(node)} is too long") from None
        if limit <= timedelta(0):
            raise self.fail(node, where, f"{_shown(node)} must be longer than zero")
        return limit
