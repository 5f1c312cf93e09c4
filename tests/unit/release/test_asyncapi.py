"""The AsyncAPI document agencies write their consumers from is valid and matches what we
publish: the official AsyncAPI parser (`@asyncapi/parser`, run with node from
tests/tools/asyncapi/) reports no error and no warning on it, its message schemas equal the
JSON Schemas beside services/release/domain/notification.py (release notification, agency hold
request, release refusal), its bindings say what the publisher does, and messages built from
real events (GoodsReleased, and the golden AgencyHoldPlaced and ReleaseRefused fixtures)
validate against them, while the schemas refuse a missing or an extra field.

The parser needs node (18 or newer) and npm; `npm ci` installs the pinned parser from
tests/tools/asyncapi/package-lock.json on first use. CI installs node (.ci/run)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.release.application import notification_body
from services.release.domain.notification import (
    AGENCY_MESSAGES_VERSION,
    HOLD_REQUEST_SCHEMA_PATH,
    REFUSAL_SCHEMA_PATH,
    agency_routing_key,
    hold_request,
    refusal_notice,
)
from services.release.notifications import EXCHANGE, notification_message
from shared.events.catalog import registry
from shared.events.envelope import RecordedEvent

ROOT = Path(__file__).parents[3]
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
SCHEMA = ROOT / "services" / "release" / "domain" / "notification.schema.json"
TOOL = ROOT / "tests" / "tools" / "asyncapi"
PARSER = "@asyncapi/parser"
INSTALL_HINT = ("install Node.js 18 or newer with npm, e.g. `apt-get install -y nodejs npm` "
                "(CI's .ci/run installs them)")


def released_event() -> RecordedEvent:
    now = datetime.now(UTC)
    return RecordedEvent(
        position=42, event_id="e1", type="GoodsReleased", version=1,
        stream="release-5f0c8e1e-6a1b-4d5e-9b1a-2f8e7d6c5b4a", stream_version=1,
        correlation_id="5f0c8e1e-6a1b-4d5e-9b1a-2f8e7d6c5b4a", causation_id=None,
        actor="release-service", occurred_at=now, recorded_at=now,
        data={"consignment_id": "5f0c8e1e-6a1b-4d5e-9b1a-2f8e7d6c5b4a",
              "mrn": "26GBK2M9Q4R8T1X5R5", "office": "GBLHR001", "lane": "green",
              "transport_mode": "air", "lodged_at": now.isoformat(),
              "released_at": now.isoformat()}, hash="h", decoder=registry().decode)


# -- the official parser ---------------------------------------------------------------------


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is required to validate docs/asyncapi.yaml with the AsyncAPI "
                    f"parser: {INSTALL_HINT}")
    return path


@pytest.fixture(scope="module")
def node() -> str:
    node = tool("node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                             check=True).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major.group(1)) < 18:
        pytest.fail(f"node {version} is too old for the AsyncAPI parser: {INSTALL_HINT}")
    wanted = json.loads((TOOL / "package.json").read_text())["dependencies"][PARSER]
    installed = TOOL / "node_modules" / PARSER / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        # Exactly what package-lock.json pins; no install scripts (none is needed).
        run = subprocess.run([tool("npm"), "ci", "--prefix", str(TOOL), "--ignore-scripts",
                              "--no-audit", "--no-fund"],
                             capture_output=True, text=True, timeout=240, check=False)
        assert run.returncode == 0, f"npm ci in {TOOL} failed:\n{run.stdout}{run.stderr}"
    return node


def parse(node: str, document: Path) -> tuple[int, dict[str, Any]]:
    run = subprocess.run([node, str(TOOL / "validate.mjs"), str(document)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.stdout, f"validate.mjs printed nothing (exit {run.returncode}):\n{run.stderr}"
    return run.returncode, json.loads(run.stdout)


def test_the_asyncapi_parser_finds_no_error_or_warning(node: str) -> None:
    code, report = parse(node, DOCUMENT)
    problems = [d for d in report["diagnostics"] if d["severity"] in ("error", "warning")]
    assert problems == [], json.dumps(problems, indent=2)
    assert code == 0 and report["parsed"] and report["asyncapi"] == "3.0.0", report


def test_the_parser_check_catches_a_misplaced_binding(node: str, tmp_path: Path) -> None:
    """The check can fail: `deliveryMode` in the message binding (where it once was) is an
    error for the parser, and validate.mjs then exits 1."""
    doc = yaml.safe_load(DOCUMENT.read_text())
    doc["components"]["messages"]["releaseNotification"]["bindings"]["amqp"]["deliveryMode"] = 2
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, report = parse(node, broken)
    assert code == 1 and not report["parsed"]
    assert any(d["severity"] == "error" and d["path"].endswith("amqp/deliveryMode")
               for d in report["diagnostics"]), report


# -- the document says what the release service publishes ------------------------------------


def test_asyncapi_schema_is_the_notification_schema() -> None:
    doc = yaml.safe_load(DOCUMENT.read_text())
    schema = json.loads(SCHEMA.read_text())
    schema.pop("$schema")
    assert doc["components"]["schemas"]["ReleaseNotification"] == schema
    exchange = doc["channels"]["releases"]["bindings"]["amqp"]["exchange"]
    assert exchange == {"name": "clearance.releases", "type": "topic", "durable": True,
                        "autoDelete": False, "vhost": "/"}
    jsonschema.validate(doc["components"]["messages"]["releaseNotification"]["examples"][0]
                        ["payload"], schema)


def test_asyncapi_bindings_are_what_the_publisher_sends() -> None:
    """Exchange, routing key, delivery mode (an operation binding) and message type."""
    doc = yaml.safe_load(DOCUMENT.read_text())
    channel = doc["channels"]["releases"]
    message = notification_message(released_event())
    properties = message.amqp_message().properties
    assert channel["bindings"]["amqp"]["exchange"]["name"] == EXCHANGE == message.exchange
    body = json.loads(message.body)
    assert channel["address"].format(**{name: body[name] for name in channel["parameters"]}) \
        == message.routing_key == "GBLHR001.air"
    assert set(channel["parameters"]) == {"office", "transport_mode"}
    assert message.headers == {"schema_version": 2} and "lane" not in body
    operation = doc["operations"]["receiveRelease"]
    assert operation["bindings"]["amqp"]["deliveryMode"] == properties["delivery_mode"] == 2
    binding = doc["components"]["messages"]["releaseNotification"]["bindings"]["amqp"]
    assert binding["messageType"] == properties["type"] == "ReleaseNotification"


def test_notification_from_an_event_validates() -> None:
    schema = json.loads(SCHEMA.read_text())
    body = notification_body(released_event())
    jsonschema.validate(body, schema)
    assert body["position"] == 42 and body["schema_version"] == 2 and "lane" not in body


def test_the_document_is_version_2_and_says_what_changed_from_version_1() -> None:
    doc = yaml.safe_load(DOCUMENT.read_text())
    assert doc["info"]["version"].startswith("2.")
    description = doc["info"]["description"]
    assert "## Changes from version 1" in description
    assert "`<office>.<transport_mode>.<lane>`" in description  # what was removed
    assert "risk information" in description  # and why
    schema = doc["components"]["schemas"]["ReleaseNotification"]
    assert "lane" not in schema["properties"] and "lane" not in schema["required"]
    example = doc["components"]["messages"]["releaseNotification"]["examples"][0]["payload"]
    assert "lane" not in example and example["schema_version"] == 2


# -- each agency's own feed: clearance.agencies ----------------------------------------------

FIXTURES = ROOT / "shared" / "events" / "fixtures"
# (components/schemas name, components/messages name, JSON Schema file, $id, AMQP type)
AGENCY_MESSAGES = [
    ("HoldRequest", "holdRequest", HOLD_REQUEST_SCHEMA_PATH,
     "urn:open-clearance:agency-hold-request:1", "HoldRequest"),
    ("ReleaseRefusal", "releaseRefusal", REFUSAL_SCHEMA_PATH,
     "urn:open-clearance:release-refusal:1", "ReleaseRefusal"),
]


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def check(body: dict[str, Any], schema: dict[str, Any]) -> None:
    """Valid, formats included (date-time is checked here: jsonschema needs an extra
    package for it)."""
    validator(schema).validate(body)
    for name, spec in schema["properties"].items():
        if spec.get("format") == "date-time":
            assert datetime.fromisoformat(body[name]).tzinfo is not None, name


def fixture_payload(event_type: str, version: int) -> Any:
    golden = json.loads((FIXTURES / f"{event_type}.v{version}.json").read_text())
    assert (golden["type"], golden["version"]) == (event_type, version)
    return registry().load(event_type, version, golden["data"])


def hold_request_body() -> dict[str, Any]:
    return hold_request(fixture_payload("AgencyHoldPlaced", 1), event_id="e7", position=977)


def refusal_bodies() -> list[dict[str, Any]]:
    """An agency's refusal (ReleaseRefused v2) and a control's (v1, upcast)."""
    return [refusal_notice(fixture_payload("ReleaseRefused", version), event_id="e9",
                           position=1013) for version in (2, 1)]


def undescribed(schema: dict[str, Any], path: str = "") -> list[str]:
    missing = []
    for name, spec in schema.get("properties", {}).items():
        if not spec.get("description"):
            missing.append(f"{path}/{name}")
        missing += undescribed(spec, f"{path}/{name}")
        if isinstance(spec.get("items"), dict):
            missing += undescribed(spec["items"], f"{path}/{name}[]")
    return missing


@pytest.mark.parametrize(("name", "message", "path", "schema_id", "amqp_type"), AGENCY_MESSAGES)
def test_asyncapi_agency_schemas_are_the_json_schemas(name: str, message: str, path: Path,
                                                      schema_id: str, amqp_type: str) -> None:
    doc = yaml.safe_load(DOCUMENT.read_text())
    schema = json.loads(path.read_text())
    assert schema.pop("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == schema_id and schema["additionalProperties"] is False
    assert schema["properties"]["schema_version"] == {
        "description": schema["properties"]["schema_version"]["description"],
        "const": AGENCY_MESSAGES_VERSION}
    assert set(schema["required"]) == set(schema["properties"])
    assert undescribed(schema) == [] and schema["description"]
    assert doc["components"]["schemas"][name] == schema
    component = doc["components"]["messages"][message]
    assert component["payload"] == {"$ref": f"#/components/schemas/{name}"}
    assert component["bindings"]["amqp"]["messageType"] == amqp_type
    assert component["contentType"] == "application/json"
    for example in component["examples"]:
        check(example["payload"], schema)


def test_asyncapi_agencies_channel_is_each_agencys_feed() -> None:
    doc = yaml.safe_load(DOCUMENT.read_text())
    channel = doc["channels"]["agencies"]
    assert channel["bindings"]["amqp"]["exchange"] == {
        "name": "clearance.agencies", "type": "topic", "durable": True, "autoDelete": False,
        "vhost": "/"}
    assert channel["bindings"]["amqp"]["is"] == "routingKey"
    assert set(channel["parameters"]) == {"agency", "kind"}
    kinds = channel["parameters"]["kind"]["enum"]
    assert kinds == ["hold_request", "release", "refusal"]
    for kind in kinds:
        assert channel["address"].format(agency="GBFSA", kind=kind) \
            == agency_routing_key("GBFSA", kind) == f"GBFSA.{kind}"
    assert {m["$ref"] for m in channel["messages"].values()} == {
        "#/components/messages/holdRequest", "#/components/messages/releaseNotification",
        "#/components/messages/releaseRefusal"}
    # one receive operation per message, persistent (delivery mode 2)
    received = {}
    for operation in doc["operations"].values():
        if operation["channel"] == {"$ref": "#/channels/agencies"}:
            assert operation["action"] == "receive"
            assert operation["bindings"]["amqp"]["deliveryMode"] == 2
            (ref,) = operation["messages"]
            received[ref["$ref"].rsplit("/", 1)[1]] = operation
    assert set(received) == set(channel["messages"])
    # what an agency needs to consume, decide and catch up is written down
    text = doc["info"]["description"] + channel["description"]
    for needed in ("`agency.<code in lower case>`", "`agency-<code in lower case>`",
                   "`<AGENCY>.#`", "POST /holds/{mrn}/{agency}", '"approved" | "refused"',
                   "GET /notifications?after=N&limit=M", '"hold_requests"', '"refusals"',
                   '"next_after"', "`message_id`", "`notification_id`", "`HoldRequest`",
                   "`ReleaseRefusal`", "`ReleaseNotification`", "`schema_version`"):
        assert needed in text, needed


def test_the_document_is_version_2_1_and_says_what_it_added() -> None:
    doc = yaml.safe_load(DOCUMENT.read_text())
    assert doc["info"]["version"] == "2.1.0"
    changes = doc["info"]["description"].split("## Changes in version 2.1", 1)[1]
    changes = changes.split("## Changes from version 1", 1)[0]
    assert "`clearance.agencies`" in changes and "unchanged" in changes
    assert doc["channels"]["releases"]["bindings"]["amqp"]["exchange"]["name"] \
        == "clearance.releases"


def test_hold_request_from_the_golden_event_validates() -> None:
    schema = json.loads(HOLD_REQUEST_SCHEMA_PATH.read_text())
    body = hold_request_body()
    check(body, schema)
    assert body["agency"] == "GBFSA" and body["position"] == 977
    assert body["items"][0]["hs_code"] == "0201300000"


def test_refusals_from_the_golden_events_validate() -> None:
    schema = json.loads(REFUSAL_SCHEMA_PATH.read_text())
    by_agency, by_control = refusal_bodies()
    check(by_agency, schema)
    check(by_control, schema)
    assert (by_agency["refused_by"], by_agency["agency"]) == ("agency", "GBFSA")
    assert (by_control["refused_by"], by_control["agency"]) == ("control", None)
    assert "reason" not in by_agency  # the agency's note to customs is not passed on


def bodies_and_schemas() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    hold_schema = json.loads(HOLD_REQUEST_SCHEMA_PATH.read_text())
    refusal_schema = json.loads(REFUSAL_SCHEMA_PATH.read_text())
    return [("hold request", hold_request_body(), hold_schema),
            *(("refusal", body, refusal_schema) for body in refusal_bodies())]


def test_agency_schemas_refuse_a_missing_field() -> None:
    for _, body, schema in bodies_and_schemas():
        for name in schema["required"]:
            broken = {k: v for k, v in body.items() if k != name}
            assert not validator(schema).is_valid(broken), name
    _, hold, schema = bodies_and_schemas()[0]
    for name in schema["properties"]["items"]["items"]["required"]:
        item = {k: v for k, v in hold["items"][0].items() if k != name}
        assert not validator(schema).is_valid({**hold, "items": [item]}), name
    assert not validator(schema).is_valid({**hold, "items": []})


def test_agency_schemas_refuse_an_extra_field() -> None:
    for _, body, schema in bodies_and_schemas():
        for extra in ({"lane": "red"}, {"reason": "No health certificate."}, {"x": 1}):
            assert not validator(schema).is_valid({**body, **extra}), extra
    _, hold, schema = bodies_and_schemas()[0]
    for extra in ({"value": "25000.00"}, {"consignor": "GB123456789000"}):
        item = {**hold["items"][0], **extra}
        assert not validator(schema).is_valid({**hold, "items": [item]}), extra


def test_agency_schemas_refuse_bad_values() -> None:
    (_, hold, hold_schema), (_, by_agency, refusal_schema), (_, by_control, _) = \
        bodies_and_schemas()
    bad_holds: list[dict[str, Any]] = [
        {"agency": "gbfsa"}, {"agency": "G"}, {"mrn": "26GB"}, {"message_id": "not-a-uuid"},
        {"schema_version": 2}, {"position": 0}, {"due_at": "2026-03-04"}]
    for change in bad_holds:
        assert not validator(hold_schema).is_valid({**hold, **change}), change
    bad_items: list[dict[str, Any]] = [{"hs_code": "0201.30"}, {"quantity": 1200}, {"item": 0},
                                       {"origin": "ar"}]
    for change in bad_items:
        item = {**hold["items"][0], **change}
        assert not validator(hold_schema).is_valid({**hold, "items": [item]}), change
    for body, change in ((by_agency, {"agency": None}), (by_control, {"agency": "GBFSA"}),
                         (by_agency, {"refused_by": "officer"}),
                         (by_agency, {"agency": "gbfsa"})):
        assert not validator(refusal_schema).is_valid({**body, **change}), change
