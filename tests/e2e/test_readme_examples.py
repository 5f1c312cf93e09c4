"""The README's example request bodies ("Trying it by hand"), sent exactly as written (only the
`{mrn}` and `{amount_due}` placeholders filled in) to the real services: a yellow declaration
controlled and paid is released, a red one found non-compliant with the outcome release
after payment waits for the assessed and the additional duty, then is released.

Each call carries the token of its party, taken as the README takes it: its
`NAME=$(.venv/bin/clearance token ...)` commands are run as written (with the cluster's var
folder, whose development key the services trust): `$TOKEN` the declarant's,
`$OFFICER_TOKEN` the officer's, `$CASHIER_TOKEN` the cashier's."""

from __future__ import annotations

import copy
import json
import re
import shlex
from decimal import Decimal
from typing import Any

import pytest

from cli.http import call
from shared.testing.waiting import wait_until

from .conftest import ROOT, Cluster

README = (ROOT / "README.md").read_text(encoding="utf-8")


PARTIES = {"TOKEN": "declarant", "OFFICER_TOKEN": "officer", "CASHIER_TOKEN": "cashier"}


def section() -> str:
    """The README's "Trying it by hand" section."""
    return README.split("### Trying it by hand", 1)[1].split("\n### ", 1)[0]


def examples() -> list[str]:
    """The JSON bodies of the README's "Trying it by hand" section, in order, as text."""
    return re.findall(r"```json\n(.*?)\n```", section(), flags=re.DOTALL)


def shell_commands() -> list[str]:
    """The commands of the section's bash blocks, continuation lines joined."""
    blocks = re.findall(r"```bash\n(.*?)\n```", section(), flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def token_commands() -> dict[str, list[str]]:
    """The section's `NAME=$(.venv/bin/clearance token ...)` lines: NAME -> the command."""
    found = [re.fullmatch(r"(\w+)=\$\((\.venv/bin/clearance token [^)]*)\)", command)
             for command in shell_commands()]
    return {match[1]: shlex.split(match[2]) for match in found if match}


def filled(text: str, **values: str) -> Any:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return json.loads(text)


@pytest.fixture
def services(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    for name in ("DECLARATION_HTTP", "RISK_HTTP", "PAYMENT_HTTP", "RELEASE_HTTP"):
        monkeypatch.setenv(name, cluster.env[name])
    return cluster


@pytest.fixture
def tokens(services: Cluster) -> dict[str, str]:
    """The README's tokens, by the name it gives them, from its own commands."""
    made = {}
    for name, command in token_commands().items():
        result = services.run(*command, timeout=60)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        made[name] = result.stdout.strip()
    return made


def lodge(sample: str, lrn: str, token: str) -> str:
    document = copy.deepcopy(json.loads((ROOT / "samples" / sample).read_text()))
    document["lrn"] = lrn
    reply = call("declaration", "POST", "/declarations", document, token=token)
    assert reply.status == 201, reply.body
    return str(reply.body["mrn"])


def status_becomes(mrn: str, name: str, token: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def reached() -> bool:
        reply = call("declaration", "GET", f"/declarations/{mrn}", token=token)
        found.update(reply.body if reply.ok else {})
        return reply.ok and found["status"]["name"] == name and found["amount_due"] is not None

    wait_until(reached, timeout=30, message=lambda: f"{mrn} never reached {name}: {found}")
    return found


def test_the_readme_lists_the_three_bodies() -> None:
    assert len(examples()) == 3


def test_the_readme_takes_a_token_for_each_party_and_sends_it_with_every_call() -> None:
    assert set(token_commands()) == set(PARTIES)
    for name, role in PARTIES.items():
        assert token_commands()[name][2:4] == ["--role", role]
    curls = [c for c in shell_commands() if c.startswith("curl ")]
    assert len(curls) == 4
    for command in curls:
        header = re.search(r'-H "Authorization: Bearer \$(\w+)"', command)
        assert header is not None and header[1] in PARTIES, command


def test_a_yellow_declaration_controlled_and_paid_with_the_readme_bodies_is_released(
        services: Cluster, tokens: dict[str, str]) -> None:
    compliant, _, payment = examples()
    broker = tokens["TOKEN"]
    mrn = lodge("04-yellow-compliant.json", "README-YELLOW", broker)
    due = status_becomes(mrn, "documents_required", broker)["amount_due"]
    reply = call("risk", "POST", f"/controls/{mrn}", raw=compliant.encode(),
                 token=tokens["OFFICER_TOKEN"])
    assert reply.status == 201, reply.body
    assert reply.body["result"] == "compliant" and reply.body["additional_duty"] == "0"
    assert reply.body["outcome"] is None
    assert reply.body["officer"] == "officer-117"  # the token's subject
    reply = call("payment", "POST", "/payments",
                 raw=json.dumps(filled(payment, mrn=mrn, amount_due=due)).encode(),
                 token=tokens["CASHIER_TOKEN"])
    assert reply.status == 201, reply.body
    assert status_becomes(mrn, "cleared", broker)["released_at"] is not None


def test_a_red_declaration_released_after_payment_with_the_readme_bodies(
        services: Cluster, tokens: dict[str, str]) -> None:
    _, non_compliant, payment = examples()
    broker = tokens["TOKEN"]
    mrn = lodge("05-red-non-compliant.json", "README-RED", broker)
    assessed = status_becomes(mrn, "examination_intended", broker)
    reply = call("risk", "POST", f"/controls/{mrn}", raw=non_compliant.encode(),
                 token=tokens["OFFICER_TOKEN"])
    assert reply.status == 201, reply.body
    assert reply.body["findings"] == [{"category": "valuation", "text": "invoice understated"}]
    assert reply.body["outcome"] == "release_after_payment"
    extra = Decimal(reply.body["additional_duty"])
    view = status_becomes(mrn, "tax_due", broker)
    assert Decimal(view["amount_due"]) == Decimal(assessed["amount_due"]) + extra
    # The assessed duty alone does not release the goods: the additional duty is owed too.
    first = {**filled(payment, mrn=mrn, amount_due=assessed["amount_due"]),
             "reference": f"README-RED-{mrn}"}  # the README's own is the yellow one's
    reply = call("payment", "POST", "/payments", raw=json.dumps(first).encode(),
                 token=tokens["CASHIER_TOKEN"])
    assert reply.status == 201, reply.body
    assert Decimal(reply.body["balance_due"]) == extra
    paid_part = {}

    def part_paid_heard() -> bool:
        reply = call("declaration", "GET", f"/declarations/{mrn}", token=broker)
        paid_part.update(reply.body)
        return reply.body["amount_paid"] == assessed["amount_due"]

    wait_until(part_paid_heard, timeout=30, message=lambda: f"payment never shown: {paid_part}")
    assert paid_part["status"]["name"] == "tax_due", paid_part
    rest = {**first, "reference": first["reference"] + "-ADD", "amount": str(extra)}
    reply = call("payment", "POST", "/payments", raw=json.dumps(rest).encode(),
                 token=tokens["CASHIER_TOKEN"])
    assert reply.status == 201 and reply.body["balance_due"] == "0.00", reply.body
    assert status_becomes(mrn, "cleared", broker)["amount_repayable"] == "0.00"
