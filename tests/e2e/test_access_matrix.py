"""Who may call what: the full role x endpoint matrix (issue 10), against the four running
services, on SQLite and on PostgreSQL.

The routes are not listed here: they are collected from the `@api` declarations of the four
service classes (`shared.web.openapi.operations_of`), so a route added without a row in
`EXPECTED` fails `test_every_declared_route_has_a_row`, and its own matrix test. Each route is
called by each party of `parties.PARTIES` (no token; a declarant of the declaration's EORI and
one of another EORI; an officer at the declaration's office and one elsewhere; a cashier, and a
trader's cashier of another EORI; an auditor; an agency; an operator) and must answer the
status of its cell. Every refused request must leave the log's last position and the
prepared declarations' read models as they were; the one party a state-changing route accepts
is called last.

Also here: a party that may not see a declaration gets exactly the answer of an unknown MRN
(404, same body), and a state-changing request whose body is not `application/json` is 415
(storing nothing), even with a token the route accepts.

For the issue's note: `python -c "from tests.e2e.test_access_matrix import matrix_markdown;
print(matrix_markdown())"` prints the table.
"""

from __future__ import annotations

import json
import secrets
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from services.declaration.domain.identifiers import SERIAL_SPACE, format_mrn
from services.declaration.service import DeclarationService
from services.payment.service import PaymentService
from services.release.service import ReleaseService
from services.risk.service import RiskService
from shared.eventstore import EventStore
from shared.testing.waiting import wait_until
from shared.web.openapi import Operation, operations_of

from .conftest import Cluster
from .parties import (
    OWN_EORI,
    PARTIES,
    PARTY,
    Answer,
    lodge,
    log_of,
    sample,
    send,
    settle,
    snapshot,
    status_becomes,
    status_of,
)

SERVICE_CLASSES: dict[str, type[Any]] = {
    "declaration": DeclarationService,
    "risk": RiskService,
    "payment": PaymentService,
    "release": ReleaseService,
}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COLUMNS = tuple(party.name for party in PARTIES)
OPS_PATHS = ("/health", "/ready", "/metrics", "/openapi.json")  # every service's, public


def _row(*statuses: int) -> dict[str, int]:
    return dict(zip(COLUMNS, statuses, strict=True))


# route ("<service> <METHOD> <path>") -> party -> the status it gets. 404: answered exactly as
# an unknown MRN (not the party's to see or act on). The columns, in order: no token,
# declarant of the declaration's EORI, declarant of another EORI, officer at the declaration's
# office, officer elsewhere, cashier (no EORI: customs' own or a payment gateway), trader's
# cashier of another EORI, auditor, agency, operator.
EXPECTED: dict[str, dict[str, int]] = {
    #                                           anon decl d-oth off@  off-x cash c-oth audit agcy  oper
    "declaration POST /declarations":      _row(401, 201, 403, 403, 403, 403, 403, 403, 403, 403),
    "declaration GET /declarations/{mrn}": _row(401, 200, 404, 200, 404, 200, 404, 200, 403, 403),
    # The feed answers each reader with its own declarations' changes (perhaps none).
    "declaration GET /status-notifications": _row(401, 200, 200, 200, 200, 200, 200, 200, 403, 403),
    "declaration POST /declarations/{mrn}/amendments":
                                           _row(401, 201, 404, 403, 403, 403, 403, 403, 403, 403),
    "declaration POST /declarations/{mrn}/invalidation":
                                           _row(401, 200, 404, 403, 403, 403, 403, 403, 403, 403),
    "declaration POST /declarations/{mrn}/invalidation/decision":
                                           _row(401, 403, 403, 200, 404, 403, 403, 403, 403, 403),
    "declaration POST /declarations/{mrn}/amendments/decision":
                                           _row(401, 403, 403, 200, 404, 403, 403, 403, 403, 403),
    "risk POST /controls/{mrn}":           _row(401, 403, 403, 201, 404, 403, 403, 403, 403, 403),
    "payment POST /payments":              _row(401, 403, 403, 403, 403, 201, 404, 403, 403, 403),
    "release GET /notifications":          _row(401, 403, 403, 200, 200, 403, 403, 200, 200, 403),
    # Partner-agency holds: an agency lists its own, an officer those at its offices (an
    # officer elsewhere gets an empty list), an auditor every one; only the agency's staff
    # decide (the plant health agency GBPHA, on the bulbs it holds).
    "release GET /holds":                  _row(401, 403, 403, 200, 200, 403, 403, 200, 200, 403),
    "release POST /holds/{mrn}/{agency}":  _row(401, 403, 403, 403, 403, 403, 403, 403, 200, 403),
    # A post-clearance check's debt: an officer at the declaration's office.
    "payment POST /additional-debts":      _row(401, 403, 403, 201, 404, 403, 403, 403, 403, 403),
    # A write-off is the accounting office's: an operator.
    "payment POST /write-offs":            _row(401, 403, 403, 403, 403, 403, 403, 403, 403, 201),
    # Repayments are paid out by customs' own cashier (a trader's cashier: 403).
    "payment POST /repayments":            _row(401, 403, 403, 403, 403, 201, 403, 403, 403, 403),
    # Accounts: opened and managed by operators; read by the holder (a token naming its EORI),
    # officers, auditors and operators; anyone else's token finds no such account (404).
    "payment POST /accounts":              _row(401, 403, 403, 403, 403, 403, 403, 403, 403, 201),
    "payment GET /accounts/{number}":      _row(401, 200, 404, 200, 200, 404, 404, 200, 403, 200),
    "payment POST /accounts/{number}/limit":
                                           _row(401, 403, 403, 403, 403, 403, 403, 403, 403, 200),
    "payment POST /accounts/{number}/direct-debit":
                                           _row(401, 403, 403, 403, 403, 403, 403, 403, 403, 200),
    "payment POST /accounts/{number}/closure":
                                           _row(401, 403, 403, 403, 403, 403, 403, 403, 403, 200),
    **{f"{service} GET {path}":            _row(*[200] * len(COLUMNS))
       for service in SERVICE_CLASSES for path in OPS_PATHS},
}


@dataclass(frozen=True)
class Route:
    service: str
    operation: Operation

    @property
    def key(self) -> str:
        return f"{self.service} {self.operation.method} {self.operation.path}"

    @property
    def state_changing(self) -> bool:
        return self.operation.method.upper() in STATE_CHANGING

    @property
    def public(self) -> bool:
        return self.operation.roles is None


def declared_routes() -> list[Route]:
    """Every route the four services declare (`@api`), from their classes."""
    return [Route(service, operation) for service, cls in SERVICE_CLASSES.items()
            for operation in operations_of(cls)]


ROUTES = declared_routes()


# -- the table, for the note -----------------------------------------------------------

def matrix_markdown() -> str:
    """`EXPECTED` as a markdown table: one row per guarded route, then one per public path
    (each service declares it alike), with the roles each route declares."""
    header = ["route", "declared roles", *(party.label for party in PARTIES)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for route in sorted((r for r in ROUTES if not r.public),
                        key=lambda r: (r.service != "declaration", r.operation.path)):
        op = route.operation
        lines.append(_markdown_row(f"`{op.method} {op.path}` ({route.service})",
                                   ", ".join(op.roles or ()), EXPECTED.get(route.key)))
    public: dict[tuple[str, str], list[Route]] = {}
    for route in ROUTES:
        if route.public:
            public.setdefault((route.operation.method, route.operation.path), []).append(route)
    for (method, path), routes in public.items():
        rows = {tuple(sorted(EXPECTED.get(r.key, {}).items())) for r in routes}
        if len(rows) == 1 and len(routes) == len(SERVICE_CLASSES):
            lines.append(_markdown_row(f"`{method} {path}` (every service)", "public",
                                       EXPECTED.get(routes[0].key)))
        else:
            lines.extend(_markdown_row(f"`{method} {path}` ({r.service})", "public",
                                       EXPECTED.get(r.key)) for r in routes)
    return "\n".join(lines) + "\n"


def _markdown_row(name: str, roles: str, row: dict[str, int] | None) -> str:
    cells = [str(row[c]) if row and c in row else "**no row**" for c in COLUMNS]
    return "| " + " | ".join([name, roles, *cells]) + " |"


# -- what each route is called with ------------------------------------------------------------

@dataclass
class World:
    """Declarations prepared for the matrix: `yellow`, its documentary control open;
    `assessed`, a green one assessed and unpaid; `amendable`, a green one the amendment route
    amends (its document `amendable_document`); `spare`, a green one the invalidation route
    invalidates; `requested`, released with an invalidation requested, which the decision
    route decides; `applied`, released with a post-release amendment applied for, which its
    decision route decides; `accounts`: a deferment account of the declarant (`held`), and
    one the closure route closes (`closable`); and the bodies each route is called with."""

    cluster: Cluster
    store: EventStore
    mrns: dict[str, str]
    amount_due: str
    lrn: str
    reference: str
    amendable_document: dict[str, Any]
    accounts: dict[str, str]
    new_account: str
    repayable: str

    def target(self, route: Route) -> str:
        """The route's path, its `{mrn}` that of the declaration it acts on."""
        path = route.operation.path
        target = {"declaration POST /declarations/{mrn}/amendments": "amendable",
                  "declaration POST /declarations/{mrn}/invalidation": "spare",
                  "declaration POST /declarations/{mrn}/invalidation/decision": "requested",
                  "declaration POST /declarations/{mrn}/amendments/decision": "applied",
                  "release POST /holds/{mrn}/{agency}": "plants",
                  }.get(route.key, "yellow")
        if "{mrn}" in path:
            path = path.replace("{mrn}", self.mrns[target])
        path = path.replace("{agency}", "GBPHA")
        if "{number}" in path:
            path = path.replace("{number}", self.accounts[
                "closable" if route.key.endswith("/closure") else "held"])
        assert "{" not in path, f"{route.key}: no value for its path parameters"
        return path

    def body(self, route: Route) -> Any:
        bodies: dict[str, Callable[[], Any]] = {
            "declaration POST /declarations": lambda: sample("02-green-unpaid.json", self.lrn),
            "risk POST /controls/{mrn}": lambda: {
                "result": "compliant", "findings": "invoice and origin certificate checked"},
            "payment POST /payments": lambda: {
                "mrn": self.mrns["assessed"], "reference": self.reference,
                "amount": self.amount_due, "currency": "GBP"},
            "declaration POST /declarations/{mrn}/amendments": lambda: {
                "reason": "invoice corrected", "document": corrected(self.amendable_document)},
            "declaration POST /declarations/{mrn}/invalidation": lambda: {
                "reason": "lodged in error: the goods never left the exporter"},
            "declaration POST /declarations/{mrn}/invalidation/decision": lambda: {
                "decision": "granted", "reason": "goods re-exported unopened"},
            "declaration POST /declarations/{mrn}/amendments/decision": lambda: {
                "decision": "granted", "reason": "credit note checked"},
            "payment POST /accounts": lambda: {
                "number": self.new_account, "type": "guarantee", "holder_eori": OWN_EORI,
                "limit": "1000.00", "currency": "GBP"},
            "payment POST /accounts/{number}/limit": lambda: {"limit": "250000.00"},
            "payment POST /accounts/{number}/direct-debit": lambda: {"period_end": "2026-11-30"},
            "payment POST /accounts/{number}/closure": lambda: {"reason": "mandate cancelled"},
            "payment POST /additional-debts": lambda: {
                "mrn": self.mrns["checked"], "amount": "10.00",
                "finding": "royalties not added to the price"},
            "payment POST /write-offs": lambda: {
                "mrn": self.mrns["owing"], "amount": "1.00", "reason": "remitted in part"},
            "release POST /holds/{mrn}/{agency}": lambda: {
                "decision": "approved", "reference": "PHYTO-GB-2026-000123"},
            "payment POST /repayments": lambda: {
                "mrn": self.mrns["overpaid"], "reference": self.reference + "-REP",
                "amount": self.repayable, "currency": "GBP"},
        }
        if not route.state_changing:
            return None
        assert route.key in bodies, f"{route.key}: no request body to call it with"
        return bodies[route.key]()

    def after_success(self, route: Route, answer: Answer) -> None:
        """Wait for what an accepted request sets going, so the next route starts on a quiet
        log."""
        if route.key == "declaration POST /declarations":
            status_becomes(self.cluster, answer.body["mrn"], "tax_due")
        if route.key == "payment POST /payments":
            status_becomes(self.cluster, self.mrns["assessed"], "cleared")
        if route.key == "declaration POST /declarations/{mrn}/invalidation":
            status_becomes(self.cluster, self.mrns["spare"], "invalidated")
        if route.key == "declaration POST /declarations/{mrn}/invalidation/decision":
            status_becomes(self.cluster, self.mrns["requested"], "invalidated")
        if route.key == "release POST /holds/{mrn}/{agency}":
            status_becomes(self.cluster, self.mrns["plants"], "tax_due")
        if route.key == "payment POST /repayments":
            wait_until(lambda: (status_of(self.cluster, self.mrns["overpaid"]) or {}).get(
                "amount_repayable") == "0.00", timeout=30, interval=0.1,
                message="the repayment to show")
        if route.key == "declaration POST /declarations/{mrn}/amendments/decision":
            wait_until(lambda: (status_of(self.cluster, self.mrns["applied"]) or {}).get(
                "declaration_version") == 2, timeout=30, interval=0.1,
                message="the granted post-release amendment to show")
        settle(self.store)


def prepared(cluster: Cluster, store: EventStore) -> tuple[dict[str, str], str]:
    """({"yellow": MRN with its control open, "assessed": MRN assessed and unpaid}, the
    amount due of the assessed one), the log quiet."""
    mrns = {"yellow": lodge(cluster, "04-yellow-compliant.json"),
            "assessed": lodge(cluster, "02-green-unpaid.json")}
    status_becomes(cluster, mrns["yellow"], "documents_required")
    due = status_becomes(cluster, mrns["assessed"], "tax_due")["amount_due"]
    settle(store)
    return mrns, str(due)


def corrected(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its first item's value corrected (an amendment's body)."""
    items = [{**document["items"][0], "value": "1.00"}, *document["items"][1:]]
    return {**document, "items": items}


def released(cluster: Cluster, document: dict[str, Any]) -> str:
    """The MRN of `document` lodged, paid, released and cleared."""
    lodged = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=document)
    assert lodged.status == 201, str(lodged)
    mrn: str = lodged.body["mrn"]
    due = status_becomes(cluster, mrn, "tax_due")["amount_due"]
    paid = send(cluster, "payment", "POST", "/payments", token=PARTY["cashier"].token(cluster),
                body={"mrn": mrn, "reference": f"MATRIX-REQ-{uuid.uuid4().hex[:8]}",
                      "amount": due, "currency": "GBP"})
    assert paid.status == 201, str(paid)
    status_becomes(cluster, mrn, "cleared")
    return mrn


def released_with_a_request(cluster: Cluster, store: EventStore) -> str:
    """A green declaration released, and its invalidation requested (202)."""
    mrn = released(cluster, sample("02-green-unpaid.json"))
    asked = send(cluster, "declaration", "POST", f"/declarations/{mrn}/invalidation",
                 token=PARTY["declarant"].token(cluster),
                 body={"reason": "to be re-exported unopened"})
    assert asked.status == 202, str(asked)
    settle(store)
    return mrn


def released_with_an_application(cluster: Cluster, store: EventStore) -> str:
    """A green declaration released, and its post-release amendment applied for (202)."""
    document = sample("02-green-unpaid.json")
    mrn = released(cluster, document)
    asked = send(cluster, "declaration", "POST", f"/declarations/{mrn}/amendments",
                 token=PARTY["declarant"].token(cluster),
                 body={"reason": "credit note after release", "document": corrected(document)})
    assert asked.status == 202, str(asked)
    settle(store)
    return mrn


@pytest.fixture(scope="module")
def world(cluster: Cluster) -> Iterator[World]:
    with log_of(cluster) as store:
        mrns, due = prepared(cluster, store)
        mrns["spare"] = lodge(cluster, "02-green-unpaid.json")
        status_becomes(cluster, mrns["spare"], "tax_due")
        mrns["requested"] = released_with_a_request(cluster, store)
        mrns["applied"] = released_with_an_application(cluster, store)
        amendable = sample("02-green-unpaid.json")
        lodged = send(cluster, "declaration", "POST", "/declarations",
                      token=PARTY["declarant"].token(cluster), body=amendable)
        assert lodged.status == 201, str(lodged)
        mrns["amendable"] = lodged.body["mrn"]
        status_becomes(cluster, mrns["amendable"], "tax_due")
        accounts = {name: opened(cluster, "deferment") for name in ("held", "closable")}
        mrns["overpaid"], repayable = overpaid(cluster)
        mrns["checked"] = released(cluster, sample("02-green-unpaid.json"))
        mrns["owing"] = lodge(cluster, "02-green-unpaid.json")
        status_becomes(cluster, mrns["owing"], "tax_due")
        mrns["plants"] = held_bulbs(cluster)
        settle(store)
        yield World(cluster, store, mrns, due, f"MATRIX-{uuid.uuid4().hex[:8].upper()}",
                    f"MATRIX-PAY-{uuid.uuid4().hex[:8].upper()}", amendable, accounts,
                    f"MATRIX{uuid.uuid4().hex[:8].upper()}", repayable)


def overpaid(cluster: Cluster) -> tuple[str, str]:
    """A green declaration paid 10.00 beyond its duty: its MRN and what is repayable."""
    mrn = lodge(cluster, "02-green-unpaid.json")
    due = Decimal(status_becomes(cluster, mrn, "tax_due")["amount_due"])
    paid = send(cluster, "payment", "POST", "/payments", token=PARTY["cashier"].token(cluster),
                body={"mrn": mrn, "reference": f"MATRIX-OVER-{uuid.uuid4().hex[:8]}",
                      "amount": str(due + Decimal("10.00")), "currency": "GBP"})
    assert paid.status == 201, str(paid)
    wait_until(lambda: (status_of(cluster, mrn) or {}).get("amount_repayable") == "10.00",
               timeout=30, interval=0.1, message="the overpayment to be decided repayable")
    return mrn, "10.00"


def held_bulbs(cluster: Cluster) -> str:
    """Flower bulbs from the Netherlands, held by the plant health agency (GBPHA in the
    packaged agency register): the MRN."""
    document = sample("02-green-unpaid.json")
    document["items"][0].update(hs_code="0601100000", origin="NL",
                                description="Tulip bulbs, dormant")
    lodged = send(cluster, "declaration", "POST", "/declarations",
                  token=PARTY["declarant"].token(cluster), body=document)
    assert lodged.status == 201, str(lodged)
    mrn: str = lodged.body["mrn"]
    status_becomes(cluster, mrn, "held_by_agency")
    return mrn


def opened(cluster: Cluster, kind: str) -> str:
    """The number of a new account of `kind` held by the declarant (OWN_EORI)."""
    number = f"MATRIX{uuid.uuid4().hex[:8].upper()}"
    answer = send(cluster, "payment", "POST", "/accounts",
                  token=PARTY["operator"].token(cluster),
                  body={"number": number, "type": kind, "holder_eori": OWN_EORI,
                        "limit": "100000.00", "currency": "GBP"})
    assert answer.status == 201, str(answer)
    return number


# -- the tests -----------------------------------------------------------------------------------

def test_every_declared_route_has_a_row() -> None:
    declared = {route.key for route in ROUTES}
    missing = sorted(declared - set(EXPECTED))
    assert not missing, f"routes without a row in EXPECTED (add them): {missing}"
    stale = sorted(set(EXPECTED) - declared)
    assert not stale, f"rows of EXPECTED for routes no service declares: {stale}"
    for key, row in EXPECTED.items():
        assert set(row) == set(COLUMNS), f"{key}: a status for each party"
    for route in ROUTES:  # a public route answers everyone alike; a guarded one refuses 401
        row = EXPECTED[route.key]
        assert (row["anonymous"] == 401) != route.public, route.key


def test_the_markdown_table_has_every_route() -> None:
    table = matrix_markdown()
    assert "no row" not in table
    for route in ROUTES:
        assert f"`{route.operation.method} {route.operation.path}`" in table


@pytest.mark.parametrize("route", ROUTES, ids=[route.key for route in ROUTES])
def test_each_party_gets_the_status_of_its_cell(world: World, route: Route) -> None:
    assert route.key in EXPECTED, f"{route.key} has no row in EXPECTED: add one"
    row = EXPECTED[route.key]
    # The one party a state-changing route accepts goes last: the others find the state the
    # route would change, so that a refusal that was not one would show.
    order = sorted(PARTIES, key=lambda p: route.state_changing and row[p.name] < 300)
    wrong: list[str] = []
    for party in order:
        expected = row[party.name]
        token = party.token(world.cluster)
        before = (snapshot(world.cluster, world.store, world.mrns) if route.state_changing
                  else {"last_position": world.store.last_position()})
        answer = send(world.cluster, route.service, route.operation.method,
                      world.target(route), token=token, body=world.body(route))
        problems = cell_problems(answer, expected)
        if expected >= 300 or not route.state_changing:
            after = (snapshot(world.cluster, world.store, world.mrns) if route.state_changing
                     else {"last_position": world.store.last_position()})
            if after != before:
                problems.append(f"stored something: {before} -> {after}")
        elif answer.status == expected:
            world.after_success(route, answer)
        if problems:
            wrong.append(f"  {party.name} ({party.label}): " + "; ".join(problems))
    assert not wrong, f"{route.key}:\n" + "\n".join(wrong)


def cell_problems(answer: Answer, expected: int) -> list[str]:
    problems: list[str] = []
    if answer.status != expected:
        problems.append(f"expected {expected}, got {answer}")
    if answer.status >= 500:
        problems.append("a 5xx")
    if answer.status >= 400:
        if answer.content_type != "application/problem+json":
            problems.append(f"not problem+json: {answer}")
        elif not isinstance(answer.body, dict) or answer.body.get("status") != answer.status:
            problems.append(f"the problem's status is not the answer's: {answer}")
    if answer.status == 401 and 'Bearer error="invalid_token"' not in answer.headers.get(
            "www-authenticate", ""):
        problems.append(f"401 without the Bearer challenge: {answer}")
    return problems


# -- cross-party reads and writes: exactly an unknown MRN ----------------------------------------

def unknown_mrn() -> str:
    """A well-formed MRN (its check character right) that no declaration has."""
    return format_mrn(2026, "GB", secrets.randbelow(SERIAL_SPACE))


def _shape(answer: Answer, mrn: str) -> tuple[int, str, Any]:
    """The answer with the MRN it names replaced by a placeholder."""
    text = answer.raw.decode("utf-8", "replace").replace(mrn, "{mrn}")
    return answer.status, answer.content_type, text


CROSS_PARTY = [
    ("declaration GET /declarations/{mrn}", "declarant_other", "yellow"),
    ("declaration GET /declarations/{mrn}", "officer_elsewhere", "yellow"),
    ("declaration GET /declarations/{mrn}", "cashier_other", "yellow"),
    ("risk POST /controls/{mrn}", "officer_elsewhere", "yellow"),
    ("payment POST /payments", "cashier_other", "assessed"),
    ("declaration POST /declarations/{mrn}/amendments", "declarant_other", "yellow"),
    ("declaration POST /declarations/{mrn}/invalidation", "declarant_other", "yellow"),
    ("declaration POST /declarations/{mrn}/invalidation/decision", "officer_elsewhere",
     "yellow"),
]


@pytest.mark.parametrize(("route_key", "party_name", "target"), CROSS_PARTY,
                         ids=[f"{r} as {p}" for r, p, _ in CROSS_PARTY])
def test_another_partys_declaration_is_answered_as_an_unknown_mrn(
        cluster: Cluster, route_key: str, party_name: str, target: str) -> None:
    route = next(r for r in ROUTES if r.key == route_key)
    assert EXPECTED[route_key][party_name] == 404
    with log_of(cluster) as store:
        mrns, due = prepared(cluster, store)
        token = PARTY[party_name].token(cluster)
        answers = {}
        for mrn in (mrns[target], unknown_mrn()):
            path = route.operation.path.replace("{mrn}", mrn)
            body = None
            if route_key == "risk POST /controls/{mrn}":
                body = {"result": "compliant", "findings": "checked"}
            elif route_key == "payment POST /payments":
                body = {"mrn": mrn, "reference": f"X-{uuid.uuid4().hex[:8]}", "amount": due,
                        "currency": "GBP"}
            elif route_key.endswith("/amendments"):
                body = {"reason": "corrected",
                        "document": corrected(sample("04-yellow-compliant.json"))}
            elif route_key.endswith("/invalidation"):
                body = {"reason": "withdrawn"}
            elif route_key.endswith("/decision"):
                body = {"decision": "granted", "reason": "re-exported"}
            before = snapshot(cluster, store, mrns)
            answer = send(cluster, route.service, route.operation.method, path, token=token,
                          body=body)
            assert snapshot(cluster, store, mrns) == before, f"stored something: {answer}"
            answers[mrn] = answer
    (theirs, theirs_answer), (unknown, unknown_answer) = answers.items()
    assert theirs_answer.status == 404, str(theirs_answer)
    assert _shape(theirs_answer, theirs) == _shape(unknown_answer, unknown), (
        f"another party's MRN is told apart from an unknown one:\n  theirs:  "
        f"{theirs_answer.body}\n  unknown: {unknown_answer.body}")


# -- 415: a state-changing body that is not JSON -------------------------------------------------

def json_text(body: Any) -> bytes:
    return json.dumps(body).encode()


def multipart_text(body: Any) -> bytes:
    return (b"--xYzZY\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n"
            + json_text(body) + b"\r\n--xYzZY--\r\n")


def form_text(body: Any) -> bytes:
    flat = {k: v if isinstance(v, str) else json_text(v).decode() for k, v in body.items()}
    return urllib.parse.urlencode(flat).encode()


# A browser's "simple" requests (text/plain, a form) and the rest: each with the body the route
# would accept as JSON, so that letting one through would show in the log.
NOT_JSON: dict[str, tuple[str | None, Callable[[Any], bytes]]] = {
    "text/plain": ("text/plain", json_text),
    "text/plain; charset=utf-8": ("text/plain; charset=utf-8", json_text),
    "form": ("application/x-www-form-urlencoded", form_text),
    "multipart": ("multipart/form-data; boundary=xYzZY", multipart_text),
    "no Content-Type": (None, json_text),
}


GUARDED_WRITES = [r for r in ROUTES if r.state_changing and not r.public]
CASES_415 = [(route, kind) for route in GUARDED_WRITES for kind in NOT_JSON]


def test_every_guarded_write_is_in_the_415_cases() -> None:
    assert {r.key for r in GUARDED_WRITES} == {
        key for key in EXPECTED if key.split()[1] in STATE_CHANGING}


@pytest.mark.parametrize(("route", "kind"), CASES_415,
                         ids=[f"{route.key} {kind}" for route, kind in CASES_415])
def test_a_state_changing_body_that_is_not_json_is_415(world: World, route: Route,
                                                       kind: str) -> None:
    # The party the route accepts (its cell is 2xx), with the body it would accept as JSON.
    assert route.key in EXPECTED, f"{route.key} has no row in EXPECTED: add one"
    accepted = [PARTY[name] for name, status in EXPECTED[route.key].items() if status < 300]
    assert accepted, f"{route.key}: no party may call it, so no 415 to see"
    party = accepted[0]
    content_type, encode = NOT_JSON[kind]
    body = world.body(route)
    if route.key in ("risk POST /controls/{mrn}", "payment POST /payments",
                     "payment POST /repayments"):
        # On fresh declarations: the matrix's own may be controlled and paid already.
        mrns, due = prepared(world.cluster, world.store)
        path = route.operation.path.replace("{mrn}", mrns["yellow"])
        if route.key == "payment POST /payments":
            body = {**body, "mrn": mrns["assessed"], "amount": due,
                    "reference": f"X-{uuid.uuid4().hex[:8]}"}
    else:
        mrns, path = world.mrns, world.target(route)
        body = {**body, "lrn": f"X-{uuid.uuid4().hex[:8]}"}
    before = snapshot(world.cluster, world.store, mrns)
    answer = send(world.cluster, route.service, route.operation.method, path,
                  token=party.token(world.cluster), body=encode(body),
                  content_type=content_type)
    assert answer.status == 415, str(answer)
    assert answer.content_type == "application/problem+json", str(answer)
    assert answer.body["status"] == 415
    assert snapshot(world.cluster, world.store, mrns) == before, "a refused request stored"


if __name__ == "__main__":
    print(matrix_markdown(), end="")


def test_a_method_a_path_does_not_take_is_405_naming_the_ones_it_does(cluster: Cluster) -> None:
    for service, method, path, allowed in (("release", "DELETE", "/holds", "GET, HEAD"),
                                           ("payment", "GET", "/payments", "POST")):
        answer = send(cluster, service, method, path, token=PARTY["auditor"].token(cluster))
        assert answer.status == 405, str(answer)
        assert answer.content_type == "application/problem+json"
        assert answer.headers["allow"] == allowed, str(answer)

