"""Infrastructure outages seen from outside (issue 15), on the four real services on
PostgreSQL: while the database refuses connections, a request that needs it is a 503 problem
with `Retry-After` (not a 500), `/ready` says not ready (503) and `/health` still answers; the
broker's state does not decide `/ready`. When the database is back, the same request goes
through and the consignment is cleared, with no event parked and no step by hand. (Events
delivered during an outage, retried and never parked, are tested deterministically in
tests/integration/test_messaging_consumer.py, which publishes them while the database is
closed.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.topology import SUBSCRIPTIONS
from shared.messaging.parking import parked_count
from shared.testing.databases import database_closed
from shared.testing.waiting import wait_until

from .conftest import Cluster, running_cluster
from .parties import PARTY, pay, sample, send, status_becomes

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module",
                params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running_cluster(request, tmp_path_factory)


def test_a_database_outage_answers_503_then_heals_by_itself(cluster: Cluster) -> None:
    declarant = PARTY["declarant"].token(cluster)
    document = sample("01-green-paid.json")
    with database_closed(cluster.store_url):
        refused = send(cluster, "declaration", "POST", "/declarations", token=declarant,
                       body=document)
        assert refused.status == 503, str(refused)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert refused.body["type"].endswith("/unavailable")
        for service in ("declaration", "risk", "payment", "release"):
            ready = send(cluster, service, "GET", "/ready")
            assert ready.status == 503, (service, str(ready))
            assert ready.body["checks"]["store"].startswith("unreachable"), ready.body
            assert ready.body["checks"]["broker"] == "ok"
            assert send(cluster, service, "GET", "/health").status == 200
    wait_until(lambda: all(send(cluster, s, "GET", "/ready").status == 200
                           for s in ("declaration", "risk", "payment", "release")),
               timeout=30, message="every service ready again")
    lodged = send(cluster, "declaration", "POST", "/declarations", token=declarant,
                  body=document)
    assert lodged.status == 201, str(lodged)
    mrn = lodged.body["mrn"]
    view = status_becomes(cluster, mrn, "tax_due", timeout=60)
    pay(cluster, mrn, view["amount_due"])
    status_becomes(cluster, mrn, "cleared", timeout=60)
    assert all(parked_count(cluster.amqp_uri, queue) == 0 for queue in SUBSCRIPTIONS)
