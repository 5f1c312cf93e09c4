"""`clearance parked prune`: the former retry queues (`Q.retry.N`) an upgraded broker still
holds are deleted once empty; one with a message still on its way back is kept and said so;
the real command on the real broker (a private vhost)."""

from __future__ import annotations

import json

import amqp
import pytest
from clirun import clearance

from services.topology import TOPOLOGY
from shared.messaging.publisher import close_quietly, connect
from shared.messaging.topology import legacy_retry_queue_name
from shared.testing import rabbit

pytestmark = pytest.mark.rabbitmq


def test_prune_deletes_the_empty_former_retry_queues_and_keeps_a_busy_one() -> None:
    empty = legacy_retry_queue_name("risk.declarations", 1)
    busy = legacy_retry_queue_name("release.facts", 1)
    with rabbit.private_vhost("clearance_prune") as uri:
        connection = connect(uri)
        try:
            channel = connection.channel()
            for name in (empty, busy):  # as the previous version declared them
                channel.queue_declare(name, durable=True, auto_delete=False)
            channel.basic_publish(amqp.Message(b"in flight"), "", busy)
        finally:
            close_quietly(connection)
        wait = {"AMQP_URI": uri}

        run = clearance("parked", "prune", "--json", url=None, env=wait)
        assert run.code == 0, run.err
        assert json.loads(run.out) == {"deleted": [empty], "kept": [busy]}
        assert not rabbit.queue_exists(uri, empty) and rabbit.queue_exists(uri, busy)

        rabbit.drain(uri, busy)  # its message went home
        run = clearance("parked", "prune", url=None, env=wait)
        assert run.code == 0, run.err
        assert run.out.splitlines() == [f"deleted {busy}"]
        run = clearance("parked", "prune", url=None, env=wait)
        assert run.out.strip() == "no former retry queue left"
    assert set(TOPOLOGY.obsolete_queues()) >= {empty, busy}


def test_prune_takes_no_queue() -> None:
    run = clearance("parked", "prune", "risk.declarations", url=None)
    assert run.code == 2
    assert "prune takes no QUEUE" in run.err
