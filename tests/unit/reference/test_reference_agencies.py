"""The partner-agency register (`shared/reference/agencies.py`, issue 14).

Strategy: load the packaged SAMPLE as shipped and check what the release service relies on:
beef is the port health authority's, the demo samples' goods are nobody's, the filters on
origin, office and declaration type narrow an interest. Every other register is a small file
written to tmp_path, in YAML and in JSON, parsed by the real loader; each malformed one must
fail with the file, the 1-based line of the offending node and what is wrong.

The folder has no `__init__.py`: test modules are named `test_reference_*.py` so their names
stay unique across `tests/`.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from shared.reference import ReferenceDataInvalid
from shared.reference.agencies import (
    DEFAULT_REGISTER,
    Agency,
    AgencyRegister,
    AgencyRegisterError,
    Interest,
    configured_register,
    load_register,
)
from shared.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[3]

# Commodity codes the demo samples, the tests and the benchmark declare: they must clear
# without any agency's hold (the other services' tests and the demo depend on it).
CODES_IN_USE = ("8517130000", "8517120000", "9303201000", "9304000000", "6109100010",
                "2402100000", "2402200000", "2203000100", "2204210000", "2208301100",
                "1234560000")


def item(hs_code: str, origin: str = "CN") -> dict[str, str]:
    return {"hs_code": hs_code, "origin": origin, "description": "goods", "value": "100.00"}


def write(tmp_path: Path, text: str, name: str = "agencies.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str, name: str = "agencies.yaml") -> AgencyRegisterError:
    path = write(tmp_path, text, name)
    with pytest.raises(AgencyRegisterError) as caught:
        load_register(path)
    return caught.value


# -- the packaged sample ------------------------------------------------------------------------


def test_the_packaged_sample_loads() -> None:
    register = load_register()
    assert register.version == "2026.1"
    assert register.source == "packaged sample"
    assert register.codes() == ("GBFSA", "GBPHA", "GBCITES", "GBFIR", "GBEA")
    assert DEFAULT_REGISTER == ROOT / "shared/reference/data/agencies/register-2026.1.yaml"
    fsa = register.agency("GBFSA")
    assert fsa is not None and fsa.time_limit == timedelta(hours=48)
    assert {a.code: a.time_limit for a in register.agencies} == {
        "GBFSA": timedelta(hours=48), "GBPHA": timedelta(hours=24),
        "GBCITES": timedelta(days=3), "GBFIR": timedelta(days=5), "GBEA": timedelta(days=7)}
    assert register.agency("NOSUCH") is None
    assert load_register() is register  # parsed once per process
    assert "SAMPLE" in DEFAULT_REGISTER.read_text(encoding="utf-8")


def test_beef_from_argentina_is_held_by_port_health() -> None:
    register = load_register()
    assert register.interested(office="GBDEM001", procedure="IM",
                               items=[item("0201300000", "AR")]) == {"GBFSA": (1,)}
    assert register.interested(
        office="GBDEM001", procedure="IM",
        items=[item("8517130000"), item("0201300000", "AR"), item("0202300000", "AR")],
    ) == {"GBFSA": (2, 3)}
    fsa = register.agency("GBFSA")
    assert fsa is not None
    assert fsa.regulates(hs_code="0201300000", origin="AR", office="GBDEM001", procedure="IM")
    # Import controls only: the same beef exported is not port health's.
    assert register.interested(office="GBDEM001", procedure="EX",
                               items=[item("0201300000", "AR")]) == {}


def test_a_smartphone_is_nobodys() -> None:
    register = load_register()
    assert register.interested(office="GBDEM001", procedure="IM",
                               items=[item("8517130000")]) == {}
    assert not any(a.regulates(hs_code="8517130000", origin="CN", office="GBDEM001",
                               procedure="IM") for a in register.agencies)


def test_the_codes_of_the_samples_tests_and_benchmark_are_nobodys() -> None:
    """Only the samples whose demo plan names an agency are held, each by that agency."""
    register = load_register()
    plan = json.loads((ROOT / "samples" / "plan.json").read_text(encoding="utf-8"))
    held_samples = {entry["file"]: entry["agency"]["code"] for entry in plan["samples"]
                    if entry.get("agency")}
    assert held_samples, "the demo shows an agency hold"
    for name, code in held_samples.items():
        document = json.loads((ROOT / "samples" / name).read_text(encoding="utf-8"))
        assert set(register.interested(office=document["office"], procedure=document["type"],
                                       items=document["items"])) == {code}, name
    declared = set(CODES_IN_USE)
    for folder in ("samples", "tests/e2e", "tests/integration", "bench"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".json", ".py", ".yaml") and path.is_file() \
                    and path.name not in held_samples:
                declared.update(re.findall(r'"hs_code": *"([0-9]+)"',
                                           path.read_text(encoding="utf-8")))
    for procedure in ("IM", "EX"):
        held = register.interested(office="GBDEM001", procedure=procedure,
                                   items=[item(code) for code in sorted(declared)])
        assert held == {}, (procedure, held)
    firearms = register.agency("GBFIR")
    assert firearms is not None and firearms.interest.hs_prefixes == ("9301", "9302")


def test_goods_of_several_agencies_and_several_items() -> None:
    register = load_register()
    items = [item("0106390000", "FR"),   # live birds: CITES
             item("0301110000", "SG"),   # ornamental fish: port health and CITES
             item("0808108000", "ZA"),   # apples: plant health
             item("9302000000", "US"),   # pistols: prohibited weapons
             item("8549110000", "IE"),   # electronic waste: Environment Agency
             item("6109100010", "BD")]   # T-shirts: nobody
    assert register.interested(office="GBFXT001", procedure="IM", items=items) == {
        "GBFSA": (2,), "GBPHA": (3,), "GBCITES": (1, 2), "GBFIR": (4,), "GBEA": (5,)}
    # Exports: plant and port health check imports only.
    assert register.interested(office="GBFXT001", procedure="EX", items=items) == {
        "GBCITES": (1, 2), "GBFIR": (4,), "GBEA": (5,)}


# -- interests and filters ----------------------------------------------------------------------

FILTERED = """\
version: "9.1"
agencies:
  - code: VET
    name: Veterinary service
    interest:
      hs_prefixes: ["02", "0201", "020130"]
      origins: [AR, BR]
      offices: [GBFXT001]
      procedures: [IM]
    time_limit: P1DT12H
  - code: ANY
    name: Anything of chapter 2, anywhere
    interest:
      hs_prefixes: ["0201300000"]
    time_limit: PT90M
"""


def test_origins_offices_and_procedures_narrow_an_interest(tmp_path: Path) -> None:
    register = load_register(write(tmp_path, FILTERED))
    beef = [item("0201300000", "AR")]
    assert register.interested(office="GBFXT001", procedure="IM", items=beef) == {
        "VET": (1,), "ANY": (1,)}
    assert register.interested(office="GBFXT001", procedure="IM",
                               items=[item("0201300000", "US")]) == {"ANY": (1,)}
    assert register.interested(office="GBDVR001", procedure="IM", items=beef) == {"ANY": (1,)}
    assert register.interested(office="GBFXT001", procedure="EX", items=beef) == {"ANY": (1,)}
    # "02", "0201" and "020130" all prefix the code: the item is listed once.
    assert register.interested(office="GBFXT001", procedure="IM",
                               items=[item("0201300000", "BR"), item("0203110000", "AR"),
                                      item("0203110000", "CN")]) == {"VET": (1, 2), "ANY": (1,)}
    vet = register.agency("VET")
    assert vet is not None
    assert vet.time_limit == timedelta(days=1, hours=12)
    assert vet.interest == Interest(("02", "0201", "020130"), frozenset({"AR", "BR"}),
                                    frozenset({"GBFXT001"}), frozenset({"IM"}))
    assert vet.regulates(hs_code="0209000000", origin="BR", office="GBFXT001", procedure="IM")
    assert not vet.regulates(hs_code="0209000000", origin="BR", office="GBFXT001",
                             procedure="EX")
    assert not vet.regulates(hs_code="0309000000", origin="BR", office="GBFXT001",
                             procedure="IM")
    assert register.agency("ANY") is not None
    assert register.agency("ANY").time_limit == timedelta(minutes=90)  # type: ignore[union-attr]


def test_an_item_without_a_code_or_shorter_than_every_prefix_is_nobodys(tmp_path: Path) -> None:
    register = load_register(write(tmp_path, FILTERED))
    items = [{"origin": "AR"}, {"hs_code": None, "origin": "AR"}, item("0", "AR"),
             item("", "AR"), item("020130000012", "AR")]
    # A code longer than 10 digits is looked up by its first 10.
    assert register.interested(office="GBFXT001", procedure="IM", items=items) == {
        "VET": (5,), "ANY": (5,)}


def test_an_empty_register_holds_nothing(tmp_path: Path) -> None:
    register = load_register(write(tmp_path, 'version: "0"\nagencies: []\n'))
    assert register.codes() == ()
    assert register.interested(office="GBDEM001", procedure="IM",
                               items=[item("0201300000")]) == {}


def test_the_register_refuses_an_agency_twice_when_built_in_code() -> None:
    agency = Agency("VET", "Vet", Interest(("02",)), timedelta(hours=1))
    with pytest.raises(ValueError, match="repeated"):
        AgencyRegister("1", (agency, agency), "test")


# -- YAML and JSON ------------------------------------------------------------------------------


def test_json_and_yaml_give_the_same_register(tmp_path: Path) -> None:
    document = {
        "version": "9.1",
        "agencies": [
            {"code": "VET", "name": "Veterinary service",
             "interest": {"hs_prefixes": ["02", "0201", "020130"], "origins": ["AR", "BR"],
                          "offices": ["GBFXT001"], "procedures": ["IM"]},
             "time_limit": "P1DT12H"},
            {"code": "ANY", "name": "Anything of chapter 2, anywhere",
             "interest": {"hs_prefixes": ["0201300000"]}, "time_limit": "PT90M"},
        ],
    }
    from_yaml = load_register(write(tmp_path, FILTERED))
    compact = load_register(write(tmp_path, json.dumps(document), "compact.json"))
    indented = load_register(write(tmp_path, json.dumps(document, indent="\t"), "tabs.json"))
    for register in (compact, indented):
        assert (register.version, register.agencies) == (from_yaml.version, from_yaml.agencies)
    assert compact.source.endswith("compact.json")
    yml = load_register(write(tmp_path, FILTERED, "agencies.yml"))
    assert yml.agencies == from_yaml.agencies


def test_json_that_the_yaml_parser_cannot_read_still_loads(tmp_path: Path) -> None:
    # A surrogate-pair escape and a key over 1024 characters: valid JSON, refused by PyYAML.
    text = ('{"version": "1", "description": "\\ud83d\\udc04 cattle", "agencies": [\n'
            '  {"code": "VET", "name": "Vet", "interest": {"hs_prefixes": ["0102"]},\n'
            '   "time_limit": "P1D"}]}\n')
    register = load_register(write(tmp_path, text, "agencies.json"))
    assert register.description == "\U0001f404 cattle"
    long_key = text.replace('"time_limit": "P1D"', f'"{"x" * 1100}": 1, "time_limit": "P1D"')
    error = refused(tmp_path, long_key, "long.json")
    assert error.line == 3 and "unknown field" in str(error)


def test_configured_register_honours_the_setting(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert DEFAULTS["AGENCY_REGISTER_FILE"] == ""
    path = write(tmp_path, FILTERED, "configured.yaml")
    assert configured_register({"AGENCY_REGISTER_FILE": str(path)}).codes() == ("VET", "ANY")
    assert configured_register({"AGENCY_REGISTER_FILE": "  "}).source == "packaged sample"
    assert configured_register({}) is load_register()
    monkeypatch.setenv("AGENCY_REGISTER_FILE", str(path))
    assert configured_register().version == "9.1"
    monkeypatch.delenv("AGENCY_REGISTER_FILE")
    assert configured_register().source == "packaged sample"
    with pytest.raises(AgencyRegisterError, match="cannot be read"):
        configured_register({"AGENCY_REGISTER_FILE": str(tmp_path / "missing.yaml")})


# -- malformed files: the file, the line, what is wrong ------------------------------------------

GOOD_AGENCY = """\
  - code: VET
    name: Vet
    interest:
      hs_prefixes: ["0201"]
    time_limit: PT48H
"""


def register_text(agency: str, *, head: str = 'version: "1"\nagencies:\n') -> str:
    """A register whose second agency is `agency`: its first line is line 8."""
    return head + GOOD_AGENCY + agency


@pytest.mark.parametrize(("agency", "line", "message"), [
    pytest.param('  - code: GB-FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 8,
                 'agencies[1].code: "GB-FSA" is not 2 to 16 upper-case letters', id="bad-code"),
    pytest.param('  - code: gbfsa\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 8, 'agencies[1].code: "gbfsa" is not', id="lower-code"),
    pytest.param('  - code: G\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 8, 'agencies[1].code: "G" is not', id="short-code"),
    pytest.param('  - code: ABCDEFGHIJKLMNOPQ\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 8, "agencies[1].code:", id="long-code"),
    pytest.param('  - code: VET\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 8, 'duplicate agency code "VET" (first at line 3)',
                 id="duplicate-code"),
    pytest.param('  - code: FSA\n    name: "  "\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 9, "agencies[1].name: must not be empty",
                 id="empty-name"),
    pytest.param('  - code: FSA\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 8, 'agencies[1]: missing "name"', id="no-name"),
    pytest.param('  - code: FSA\n    name: x\n    time_limit: P1D\n', 8,
                 'agencies[1]: missing "interest"', id="no-interest"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n', 8,
                 'agencies[1]: missing "time_limit"', id="no-time-limit"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {origins: [AR]}\n'
                 "    time_limit: P1D\n", 10, 'agencies[1].interest: missing "hs_prefixes"',
                 id="no-prefixes"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: []\n'
                 "    time_limit: P1D\n", 11, "agencies[1].interest.hs_prefixes: must not be "
                 "empty", id="empty-prefixes"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes:\n'
                 '        - "0201"\n        - "02A1"\n    time_limit: P1D\n', 13,
                 'agencies[1].interest.hs_prefixes[1]: "02A1" is not 2 to 10 digits',
                 id="non-digit-prefix"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["2"]\n'
                 "    time_limit: P1D\n", 11, '"2" is not 2 to 10 digits', id="short-prefix"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n'
                 '      hs_prefixes: ["02013000001"]\n    time_limit: P1D\n', 11,
                 '"02013000001" is not 2 to 10 digits', id="long-prefix"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: [0201]\n'
                 "    time_limit: P1D\n", 11, 'hs_prefixes[0]: 0201 is a number, not a string: '
                 'quote it ("0201")', id="octal-int-prefix"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: [8517]\n'
                 "    time_limit: P1D\n", 11, 'quote it ("8517")', id="int-prefix"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: "0201"\n'
                 "    time_limit: P1D\n", 11, "hs_prefixes: must be a list, not a string",
                 id="prefixes-not-a-list"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02", "02"]\n'
                 "    time_limit: P1D\n", 11, 'hs_prefixes[1]: "02" repeated (first at line 11)',
                 id="repeated-prefix"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02"]\n'
                 "      origins: [AR, ZZ]\n    time_limit: P1D\n", 12,
                 'agencies[1].interest.origins[1]: "ZZ" is not an ISO 3166 alpha-2 country code',
                 id="unknown-origin"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02"]\n'
                 "      origins: [ar]\n    time_limit: P1D\n", 12, '"ar" is not an ISO 3166',
                 id="lower-case-origin"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02"]\n'
                 "      origins: [NO]\n    time_limit: P1D\n", 12,
                 'NO is a boolean, not a string: quote it ("NO")', id="norway-unquoted"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02"]\n'
                 "      origins:\n    time_limit: P1D\n", 12,
                 "origins: must be a list, not null (write [] for any)", id="null-origins"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02"]\n'
                 "      offices: [GBDEM01]\n    time_limit: P1D\n", 12,
                 'offices[0]: "GBDEM01" is not an office code', id="bad-office"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02"]\n'
                 "      procedures: [IM, import]\n    time_limit: P1D\n", 12,
                 'procedures[1]: "import" is not a declaration type', id="bad-procedure"),
    pytest.param('  - code: FSA\n    name: x\n    interest:\n      hs_prefixes: ["02"]\n'
                 "      hs_codes: [\"02\"]\n    time_limit: P1D\n", 12,
                 'agencies[1].interest: unknown field "hs_codes"', id="unknown-interest-field"),
    pytest.param('  - code: FSA\n    name: x\n    nmae: y\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 10, 'agencies[1]: unknown field "nmae"',
                 id="unknown-agency-field"),
    pytest.param('  - code: FSA\n    name: x\n    name: y\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1D\n", 10, 'agencies[1]: duplicate key "name" (first at '
                 "line 9)", id="duplicate-key"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1M\n", 11, '"P1M": years, months and weeks are not allowed',
                 id="months"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P2W\n", 11, "years, months and weeks", id="weeks"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: PT0H\n", 11, '"PT0H" must be longer than zero', id="zero"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: 48h\n", 11, '"48h": is not an ISO 8601 duration', id="48h"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: PT\n", 11, "is not an ISO 8601 duration", id="PT"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P\n", 11, "is not an ISO 8601 duration", id="P"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P1.5D\n", 11, "is not an ISO 8601 duration", id="fraction"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: 48\n", 11, "time_limit: 48 is a number, not a string",
                 id="number-limit"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {hs_prefixes: ["02"]}\n'
                 "    time_limit: P9999999999D\n", 11, "is too long", id="overflow"),
    pytest.param("  - [FSA]\n", 8, "agencies[1]: must be a mapping with code, name, interest, "
                 "time_limit, not a list", id="agency-not-a-mapping"),
    pytest.param('  - code: FSA\n    name: x\n    interest: {<<: {hs_prefixes: ["02"]}}\n'
                 "    time_limit: P1D\n", 10, "merge keys (<<) are not supported",
                 id="merge-key"),
    pytest.param('  - code: FSA\n    name: !!python/object/apply:os.system ["echo owned"]\n'
                 '    interest: {hs_prefixes: ["02"]}\n    time_limit: P1D\n', 9,
                 "agencies[1].name: must be a string, not a value tagged "
                 "tag:yaml.org,2002:python/object/apply:os.system", id="python-tag"),
])
def test_a_malformed_agency_names_the_file_and_line(tmp_path: Path, agency: str, line: int,
                                                    message: str) -> None:
    error = refused(tmp_path, register_text(agency))
    assert isinstance(error, ReferenceDataInvalid)
    assert error.line == line, str(error)
    assert str(error).startswith(f"{tmp_path / 'agencies.yaml'}:{line}: "), str(error)
    assert message in str(error), str(error)


@pytest.mark.parametrize(("text", "line", "message"), [
    pytest.param("", 1, "the file is empty", id="empty"),
    pytest.param("- 1\n", 1, "must be a mapping with version, agencies, not a list",
                 id="a-list"),
    pytest.param("agencies: []\n", 1, 'missing "version"', id="no-version"),
    pytest.param('version: "1"\n', 1, 'missing "agencies"', id="no-agencies"),
    pytest.param("version: 2026.1\nagencies: []\n", 1,
                 'version: 2026.1 is a number, not a string: quote it ("2026.1")',
                 id="unquoted-version"),
    pytest.param('version: ""\nagencies: []\n', 1, "version: must not be empty",
                 id="empty-version"),
    pytest.param('version: "1"\nagencies: {}\n', 2, "agencies: must be a list, not a mapping",
                 id="agencies-mapping"),
    pytest.param('version: "1"\nagencies: []\nowner: me\n', 3, 'unknown field "owner"',
                 id="unknown-top-field"),
    pytest.param('version: "1"\nagencies: []\nversion: "2"\n', 3,
                 'duplicate key "version" (first at line 1)', id="duplicate-top-key"),
    pytest.param('version: "1"\nagencies: [\n', 3, "not valid YAML", id="unclosed"),
    pytest.param('version: "1"\nagencies: []\n---\nversion: "2"\n', 3, "not valid YAML",
                 id="two-documents"),
    pytest.param('version: "1"\n1: x\nagencies: []\n', 2,
                 "a key must be a field name, not a number", id="int-key"),
])
def test_a_malformed_register_names_the_file_and_line(tmp_path: Path, text: str, line: int,
                                                      message: str) -> None:
    error = refused(tmp_path, text)
    assert error.line == line, str(error)
    assert str(error).startswith(f"{tmp_path / 'agencies.yaml'}:{line}: "), str(error)
    assert message in str(error), str(error)


@pytest.mark.parametrize(("text", "line", "message"), [
    pytest.param('{"version": "1",\n "agencies": [\n  {"code": "VET",\n   "name": "Vet",\n'
                 '   "interest": {"hs_prefixes": [201]},\n   "time_limit": "P1D"}]}\n', 5,
                 "agencies[0].interest.hs_prefixes[0]: 201 is a number, not a string",
                 id="number-prefix"),
    pytest.param('{"version": "1",\n "agencies": [\n  {"code": "VET",\n   "code": "VET2"}]}\n',
                 4, 'agencies[0]: duplicate key "code" (first at line 3)', id="duplicate-key"),
    pytest.param('{"version": "1",\n "agencies": [\n  {"code": "VET", }]}\n', 3,
                 "not valid JSON", id="trailing-comma"),
    pytest.param('{"version": "1",\n "agencies": []\n}\n{}\n', 4, "not valid JSON: Extra data",
                 id="extra-data"),
    pytest.param("# a comment\n{\"version\": \"1\", \"agencies\": []}\n", 1, "not valid JSON",
                 id="yaml-comment"),
    pytest.param('{"version": NaN,\n "agencies": []}\n', 1, "version: NaN is a number",
                 id="nan"),
    pytest.param('{"version": true,\n "agencies": []}\n', 1, "version: true is a boolean",
                 id="boolean"),
    pytest.param('{"version": null,\n "agencies": []}\n', 1,
                 "version: must be a string, not null", id="null"),
    pytest.param("", 1, "not valid JSON", id="empty"),
])
def test_a_malformed_json_register_names_the_file_and_line(tmp_path: Path, text: str,
                                                           line: int, message: str) -> None:
    error = refused(tmp_path, text, "agencies.json")
    assert error.line == line, str(error)
    assert str(error).startswith(f"{tmp_path / 'agencies.json'}:{line}: "), str(error)
    assert message in str(error), str(error)


def test_a_file_that_cannot_be_read_or_is_no_register(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(AgencyRegisterError, match=rf"^{re.escape(str(missing))}: cannot be read"):
        load_register(missing)
    error = refused(tmp_path, 'version: "1"\nagencies: []\n', "agencies.toml")
    assert "must end in .yaml, .yml or .json" in str(error) and error.line is None
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b'version: "1"\ndescription: "caf\xe9"\nagencies: []\n')
    with pytest.raises(AgencyRegisterError) as caught:
        load_register(path)
    assert caught.value.line == 2 and "is not UTF-8" in str(caught.value)


def test_a_bom_is_allowed(tmp_path: Path) -> None:
    for name in ("bom.yaml", "bom.json"):
        path = tmp_path / name
        path.write_bytes(b'\xef\xbb\xbf{"version": "1", "agencies": []}\n')
        assert load_register(path).version == "1"
