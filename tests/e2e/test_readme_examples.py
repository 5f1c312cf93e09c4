"""The README's example request bodies ("Trying it by hand"), sent exactly as written (only the
`{mrn}` and `{amount_due}` placeholders filled in) to the real services: a yellow declaration
controlled and paid is released, a red one found non-compliant is held. The optional
`revenue_recovered` is left out, as the README does."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from cli.http import call
from shared.testing.waiting import wait_until

from .conftest import ROOT, Cluster

README = (ROOT / "README.md").read_text(encoding="utf-8")


def examples() -> list[str]:
    """The JSON bodies of the README's "Trying it by hand" section, in order, as text."""
    section = README.split("### Trying it by hand", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```json\n(.*?)\n```", section, flags=re.DOTALL)


def filled(text: str, **values: str) -> Any:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return json.loads(text)


@pytest.fixture
def services(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    for name in ("DECLARATION_HTTP", "RISK_HTTP", "PAYMENT_HTTP", "RELEASE_HTTP"):
        monkeypatch.setenv(name, cluster.env[name])
    return cluster


def lodge(sample: str, lrn: str) -> str:
    document = copy.deepcopy(json.loads((ROOT / "samples" / sample).read_text()))
    document["lrn"] = lrn
    reply = call("declaration", "POST", "/declarations", document)
    assert reply.status == 201, reply.body
    return str(reply.body["mrn"])


def status_becomes(mrn: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        reply = call("declaration", "GET", f"/declarations/{mrn}")
        found.update(reply.body if reply.ok else {})
        return reply.ok and found["status"]["name"] == name and found["amount_due"] is not None

    wait_until(reached, timeout=30, message=lambda: f"{mrn} never reached {name}: {found}")
    return found


def test_the_readme_lists_the_three_bodies() -> None:
    assert len(examples()) == 3


def test_a_yellow_declaration_controlled_and_paid_with_the_readme_bodies_is_released(
        services: Cluster) -> None:
    compliant, _, payment = examples()
    mrn = lodge("04-yellow-compliant.json", "README-YELLOW")
    due = status_becomes(mrn, "documents_required")["amount_due"]
    reply = call("risk", "POST", f"/controls/{mrn}", raw=compliant.encode())
    assert reply.status == 201, reply.body
    assert reply.body["result"] == "compliant" and reply.body["revenue_recovered"] == "0"
    reply = call("payment", "POST", "/payments",
                 raw=json.dumps(filled(payment, mrn=mrn, amount_due=due)).encode())
    assert reply.status == 201, reply.body
    assert status_becomes(mrn, "released")["released_at"] is not None


def test_a_red_declaration_found_non_compliant_with_the_readme_body_is_held(
        services: Cluster) -> None:
    _, non_compliant, _ = examples()
    mrn = lodge("05-red-non-compliant.json", "README-RED")
    status_becomes(mrn, "examination_intended")
    reply = call("risk", "POST", f"/controls/{mrn}", raw=non_compliant.encode())
    assert reply.status == 201, reply.body
    assert reply.body["findings"] == "valuation: invoice understated"
    status_becomes(mrn, "held_by_other_agency")
