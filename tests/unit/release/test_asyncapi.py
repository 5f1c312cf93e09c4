"""The AsyncAPI document agencies write their consumers from is valid and matches what we
publish: the official AsyncAPI parser (`@asyncapi/parser`, run with node from
tests/tools/asyncapi/) reports no error and no warning on it, its message schema equals the
notification JSON Schema, its bindings say what the publisher does, and a notification
built from a real GoodsReleased event validates against it.

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
