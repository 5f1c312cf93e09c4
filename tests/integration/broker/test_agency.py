"""`clearance agency add|list|remove` end to end on the real broker (issue 11).

Strategy: the real command (`python -m cli.main agency ...` in a child process, AMQP_URI the
operator's in a private vhost, the real rabbitmqctl) adds two agencies: PHA with a password
from a file, VET with one generated and printed once. Then, connected as the agency users
with those passwords, a plain client checks what an agency may do: read its own queue
(where a release notification published on `clearance.releases` with a matching routing key
arrives, and a non-matching one does not), and nothing else: it cannot publish (on the
releases exchange, the events exchange or the default exchange into another queue), cannot
read the other agency's queue, cannot declare or bind. `list` shows both with their bindings;
`remove` deletes the user and the queue, after which the old password no longer connects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import amqp.exceptions
import pika.exceptions
import pytest

from services.release.notifications import EXCHANGE
from services.topology import TOPOLOGY
from shared.messaging.publisher import close_quietly, connect
from shared.testing import rabbit

pytestmark = pytest.mark.rabbitmq

ROOT = Path(__file__).resolve().parents[3]


def clearance(*args: str, uri: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CLEARANCE_AGENCY_PASSWORD"}
    environ.update(PYTHONPATH=str(ROOT), AMQP_URI=uri, **(env or {}))
    return subprocess.run([sys.executable, "-m", "cli.main", "agency", *args], cwd=ROOT,
                          env=environ, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def user_uri(admin: str, user: str, password: str) -> str:
    """The AMQP URI of `user` in the vhost of `admin`."""
    return rabbit.amqp_uri(rabbit.vhost_of(admin), user, password)


@pytest.fixture
def admin() -> Iterator[str]:
    with rabbit.private_vhost("clearance_agency") as uri:
        connection = connect(uri)  # the operator's topology, as the definitions make it
        try:
            TOPOLOGY.declare(connection.channel())
        finally:
            close_quietly(connection)
        try:
            yield uri
        finally:
            for code in ("pha", "vet"):
                subprocess.run(["rabbitmqctl", "-q", "delete_user", f"agency-{code}"],
                               capture_output=True, timeout=60, check=False)


def refused_publish(uri: str, exchange: str, key: str) -> None:
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
        rabbit.publish(uri, exchange, key, b"{}", message_id="forged")
    assert closed.value.reply_code == 403 and "ACCESS_REFUSED" in closed.value.reply_text


def test_agency_add_gives_a_read_only_user_on_its_own_queue(admin: str, tmp_path: Path) -> None:
    secret = tmp_path / "pha.password"
    secret.write_text("pha-s3cret\n")
    added = clearance("add", "PHA", "--bind", "GBLHR001.*", "--bind", "*.sea",
                      "--password-file", str(secret), uri=admin)
    assert added.returncode == 0, added
    assert "agency-pha" in added.stdout and "agency.pha" in added.stdout
    assert "pha-s3cret" not in added.stdout and "password" not in added.stdout

    generated = clearance("add", "VET", "--bind", "GBFXT001.#", "--json", uri=admin)
    assert generated.returncode == 0, generated
    vet = json.loads(generated.stdout)
    assert (vet["user"], vet["queue"], vet["bindings"]) == ("agency-vet", "agency.vet",
                                                            ["GBFXT001.#"])
    assert len(vet["password"]) >= 24

    again = clearance("add", "PHA", "--bind", "#", uri=admin)
    assert again.returncode == 1 and "exists already" in again.stderr

    pha = user_uri(admin, "agency-pha", "pha-s3cret")
    vet_uri = user_uri(admin, "agency-vet", vet["password"])

    # Notifications reach the queue whose patterns match.
    rabbit.publish(admin, EXCHANGE, "GBLHR001.air", b'{"n": 1}', message_id="n1")
    rabbit.publish(admin, EXCHANGE, "GBFXT001.sea", b'{"n": 2}', message_id="n2")
    rabbit.publish(admin, EXCHANGE, "GBFXT001.air", b'{"n": 3}', message_id="n3")
    # The agency reads its own queue.
    assert [m.body for m in rabbit.drain(pha, "agency.pha")] == [b'{"n": 1}', b'{"n": 2}']

    # It cannot publish anything anywhere...
    refused_publish(pha, EXCHANGE, "GBLHR001.air")
    refused_publish(pha, TOPOLOGY.exchange, "payment.PaymentReceived")
    refused_publish(pha, "", "agency.vet")
    refused_publish(pha, "", "release.facts")
    # ...nor read another agency's queue or a service's, nor declare or bind.
    connection = connect(pha)
    try:
        for attempt in (
            lambda c: c.basic_get("agency.vet"),
            lambda c: c.basic_get("release.facts"),
            lambda c: c.queue_declare("agency.pha.mine", durable=True, auto_delete=False),
            lambda c: c.queue_bind("agency.pha", EXCHANGE, "#"),
            lambda c: c.exchange_declare(EXCHANGE, "topic", durable=True, auto_delete=False),
        ):
            with pytest.raises(amqp.exceptions.AccessRefused):
                attempt(connection.channel())
    finally:
        close_quietly(connection)
    assert rabbit.message_count(admin, "agency.vet") == 2  # n2 and n3, untouched
    assert [m.body for m in rabbit.drain(vet_uri, "agency.vet")] == [b'{"n": 2}', b'{"n": 3}']

    listed = clearance("list", "--json", uri=admin)
    assert listed.returncode == 0, listed
    agencies = {a["agency"]: a for a in json.loads(listed.stdout)}
    assert agencies["pha"]["bindings"] == ["*.sea", "GBLHR001.*"]
    assert agencies["pha"]["feed"] == ["PHA.#"]  # its own feed on clearance.agencies
    assert agencies["vet"]["queue"] == "agency.vet"

    removed = clearance("remove", "VET", uri=admin)
    assert removed.returncode == 0, removed
    with pytest.raises(amqp.exceptions.AccessRefused):  # the user is gone: login refused
        rabbit.message_count(vet_uri, "agency.vet")
    connection = connect(admin)
    try:
        with pytest.raises(amqp.exceptions.NotFound):
            connection.channel().queue_declare("agency.vet", passive=True)
    finally:
        close_quietly(connection)
    assert clearance("remove", "VET", uri=admin).returncode == 1


def test_agency_add_usage_errors(admin: str) -> None:
    assert clearance("add", uri=admin).returncode == 2  # no CODE
    assert clearance("add", "P HA", "--bind", "#", uri=admin).returncode == 2
    assert clearance("add", "PHA", "--bind", "GB LHR", uri=admin).returncode == 2
    assert clearance("list", "PHA", uri=admin).returncode == 2


def test_agency_password_from_the_environment(admin: str) -> None:
    added = clearance("add", "PHA", "--bind", "GBLHR001.*", uri=admin,
                      env={"CLEARANCE_AGENCY_PASSWORD": "from-env-pw"})
    assert added.returncode == 0, added
    assert "from-env-pw" not in added.stdout
    assert rabbit.message_count(user_uri(admin, "agency-pha", "from-env-pw"), "agency.pha") == 0
