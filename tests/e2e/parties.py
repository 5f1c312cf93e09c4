"""Helpers of the identity and access e2e tests (test_access_matrix, test_token_attacks,
test_five_identities): the parties that call the services with their development-key tokens,
raw HTTP requests (any header, any body, any content type) and the log's last position, to
show that a refused request stored nothing.

The tokens are minted directly with the development key under the cluster's `var` (the key
the runner made the services trust), as `clearance token` does.
"""

from __future__ import annotations

import copy
import http.client
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shared.events.envelope import RecordedEvent
from shared.eventstore import EventStore
from shared.identity.development import mint
from shared.testing.waiting import wait_until

from .conftest import ROOT, Cluster

OWN_EORI = "GB123456789000"  # the declarant of the samples used here (01, 02, 04)
OTHER_EORI = "GB999999999000"  # a trader who declared none of them
OFFICE = "GBDEM001"  # the office of declaration of every sample
ELSEWHERE = "GBLHR001"
UNSET: Any = object()  # no Authorization header at all


@dataclass(frozen=True)
class Party:
    """Who calls: the claims of its token (None: no token at all)."""

    name: str
    label: str  # as shown in the table
    roles: tuple[str, ...] | None
    eori: str | None = None
    offices: tuple[str, ...] = ()
    agency: str | None = None

    def token(self, cluster: Cluster, *, sub: str | None = None,
              token_id: str | None = None) -> str | None:
        if self.roles is None:
            return None
        return mint(cluster.var, roles=list(self.roles), sub=sub or f"e2e-{self.name}",
                    eori=self.eori, offices=list(self.offices), agency=self.agency,
                    token_id=token_id)


PARTIES = (
    Party("anonymous", "no token", None),
    Party("declarant", "declarant (own EORI)", ("declarant",), eori=OWN_EORI),
    Party("declarant_other", "declarant (other EORI)", ("declarant",), eori=OTHER_EORI),
    Party("officer_here", "officer at the office", ("officer",), offices=(OFFICE,)),
    Party("officer_elsewhere", "officer elsewhere", ("officer",), offices=(ELSEWHERE,)),
    Party("cashier", "cashier", ("cashier",)),
    Party("cashier_other", "trader's cashier (other EORI)", ("cashier",), eori=OTHER_EORI),
    Party("auditor", "auditor", ("auditor",)),
    Party("agency", "agency", ("agency",), agency="GBPHA"),
    Party("operator", "operator", ("operator",)),
)
PARTY = {party.name: party for party in PARTIES}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(repr=False)  # names in lower case
    raw: bytes = field(repr=False)
    reason: str = ""

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return self.raw.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def __str__(self) -> str:
        shown = {k: v for k, v in self.headers.items() if k in ("content-type",
                                                                 "www-authenticate")}
        return f"HTTP {self.status} {self.reason} {shown} {self.raw[:300]!r}"


def send(cluster: Cluster, service: str, method: str, path: str, *, token: str | None = None,
         authorization: str | None = UNSET, body: Any = None,
         content_type: str | None = "application/json", timeout: float = 30,
         headers: Mapping[str, str] | None = None) -> Answer:
    """One request, exactly as given: `authorization` is the raw header (UNSET: none, or
    `Bearer <token>` when `token` is given); `body` bytes are sent as they are, anything else
    as JSON; `content_type` None sends no Content-Type; `headers` more headers."""
    host, _, port = cluster.env[f"{service.upper()}_HTTP"].rpartition(":")
    headers = dict(headers or {})
    if authorization is not UNSET:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data: bytes | None = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if content_type is not None:
            headers["Content-Type"] = content_type
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, raw,
                      response.reason)
    finally:
        connection.close()


def sample(name: str, lrn: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(
        json.loads((ROOT / "samples" / name).read_text(encoding="utf-8")))
    document["lrn"] = lrn or f"E2E-{uuid.uuid4().hex[:10].upper()}"
    return document


def lodge(cluster: Cluster, sample_name: str, token: str | None = None) -> str:
    """The MRN of a new declaration made from a sample, lodged by its declarant."""
    token = token or PARTY["declarant"].token(cluster)
    answer = send(cluster, "declaration", "POST", "/declarations", token=token,
                  body=sample(sample_name))
    assert answer.status == 201, str(answer)
    return str(answer.body["mrn"])


def status_of(cluster: Cluster, mrn: str, token: str | None = None) -> dict[str, Any] | None:
    """The declaration's status as the auditor reads it (None: not there)."""
    answer = send(cluster, "declaration", "GET", f"/declarations/{mrn}",
                  token=token or PARTY["auditor"].token(cluster))
    return answer.body if answer.status == 200 else None


def status_becomes(cluster: Cluster, mrn: str, name: str, timeout: float = 30,
                   token: str | None = None) -> dict[str, Any]:
    """Wait until the declaration's status is `name`, its amount due known; the status."""
    seen: dict[str, Any] = {}
    token = token or PARTY["auditor"].token(cluster)

    def reached() -> bool:
        view = status_of(cluster, mrn, token)
        seen.clear()
        seen.update(view or {})
        return bool(view) and view["status"]["name"] == name and view["amount_due"] is not None

    wait_until(reached, timeout=timeout, interval=0.1,
               message=lambda: f"{mrn} to reach {name} (seen {seen})")
    return dict(seen)


def pay(cluster: Cluster, mrn: str, amount: str) -> Any:
    """A payment of `amount` GBP by customs' cashier under a new reference (201); its body."""
    answer = send(cluster, "payment", "POST", "/payments", token=PARTY["cashier"].token(cluster),
                  body={"mrn": mrn, "reference": f"E2E-PAY-{uuid.uuid4().hex[:10]}",
                        "amount": amount, "currency": "GBP"})
    assert answer.status == 201, str(answer)
    return answer.body


def events_of(cluster: Cluster, mrn: str) -> list[RecordedEvent]:
    """The consignment's events in log order, once the log is quiet."""
    consignment = status_of(cluster, mrn)["consignment_id"]  # type: ignore[index]
    with log_of(cluster) as store:
        settle(store)
        return store.read_correlation(consignment)


def types_of(cluster: Cluster, mrn: str) -> list[str]:
    return [e.type for e in events_of(cluster, mrn)]


@contextmanager
def log_of(cluster: Cluster) -> Iterator[EventStore]:
    """The cluster's store, to read (never created or migrated here)."""
    store = EventStore.open_existing(cluster.store_url)
    try:
        yield store
    finally:
        store.close()


def settle(store: EventStore, quiet: float = 0.6, timeout: float = 30) -> int:
    """Wait until the log's last position has not moved for `quiet` seconds; that position
    (the services have finished with what they heard)."""
    deadline = time.monotonic() + timeout
    position = store.last_position()
    since = time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, f"the log kept moving for {timeout}s"
        time.sleep(0.1)
        now = store.last_position()
        if now != position:
            position, since = now, time.monotonic()
    return position


def snapshot(cluster: Cluster, store: EventStore, mrns: Mapping[str, str]) -> dict[str, Any]:
    """What a refused request must leave as it was: the log's last position and the read
    models of the prepared declarations (their status as the auditor reads it)."""
    auditor = PARTY["auditor"].token(cluster)
    return {"last_position": store.last_position(),
            **{name: status_of(cluster, mrn, auditor) for name, mrn in mrns.items()}}
