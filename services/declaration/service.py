"""The declaration service: lodgement, acceptance (MRN) and the trader-facing status.

    nameko run --config services/declaration/config.yaml services.declaration.service

HTTP: `POST /declarations`, `GET /declarations/{mrn}`, `POST /declarations/{mrn}/amendments`,
`POST /declarations/{mrn}/invalidation` (and its `/decision`), `GET /status-notifications`;
RPC: `lodge`, `status`. It appends only `declaration-*` streams; its relay publishes them. It
follows the whole log (every service's events, read from the store, not the broker) to keep
the status projection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko.dependency_providers import Config
from nameko.rpc import rpc
from werkzeug.wrappers import Request

from services.topology import TOPOLOGY
from services.wiring import Application, reference_data
from shared.events.catalog import registry
from shared.eventstore import EventStore
from shared.identity import Caller
from shared.messaging.follower import FollowerProvider
from shared.messaging.relay import RelayProvider
from shared.messaging.store_provider import EventStoreProvider
from shared.settings import DEFAULTS
from shared.web import api, json_body, log_window, ops
from shared.web.entrypoint import read_body, window_parameters
from shared.web.fields import nonzero_digits_pattern
from shared.web.identity import Authenticator
from shared.web.openapi import Parameter

from .application import Declarations
from .domain.status_view import KEPT_FIELDS
from .errors import ERRORS
from .intake import MAX_BODY_BYTES, amended_version, amendment_request, parse_json_body
from .projections import NAME, project_scanned
from .schemas import (
    AmendedSchema,
    AmendmentDecidedSchema,
    AmendmentSchema,
    DecisionSchema,
    DeclarationSchema,
    DeclarationStatusSchema,
    InvalidationAnswerSchema,
    InvalidationDecidedSchema,
    InvalidationRequestSchema,
    LodgedSchema,
    StatusNotificationsSchema,
)

LODGE = ("declarant",)
READ = ("declarant", "officer", "cashier", "auditor")  # each sees its own (domain/access.py)
DECIDE = ("officer",)  # at the declaration's office
INVALIDATION_REQUEST = InvalidationRequestSchema()
DECISION = DecisionSchema()
# The declaration version amended (optional), as `intake.amended_version` reads it.
_VERSION = nonzero_digits_pattern(9)  # 1 to 9 digits, not zero
IF_MATCH = Parameter("If-Match", {"type": "string", "pattern":
                                  f'^[ \\t]*(?:W/)?"*(?:{_VERSION})"*[ \\t]*$'},
                     "the declaration version amended, as GET /declarations/{mrn} shows it",
                     location="header")
GROUNDS = "a ground of UCC art. 174 forbids it (the problem's type names it)"


def build(store: EventStore, config: Mapping[str, Any]) -> Declarations:
    return Declarations(store, reference_data(config), post_release_amendment_days=int(
        config.get("POST_RELEASE_AMENDMENT_DAYS", DEFAULTS["POST_RELEASE_AMENDMENT_DAYS"])))


class DeclarationService(ops.OpsEndpoints):
    """Lodges declarations and answers their status.

    Example `POST /declarations` body: see CONTRACT.md ("lrn", "type": "IM", "declarant",
    "importer", "exporter", "office", "transport", "currency", "incoterm", "freight",
    "insurance", "gross_mass_kg", "items": [...]); amounts are decimal strings.
    """

    name = "declaration"

    config = Config()
    authenticate = Authenticator()
    store = EventStoreProvider(registry())
    app: Declarations = Application(build)
    relay = RelayProvider(TOPOLOGY, "declaration")
    status_projection = FollowerProvider(NAME, KEPT_FIELDS, project_scanned)

    @api("POST", "/declarations", roles=LODGE, errors=ERRORS, summary="Lodge a declaration",
         request=DeclarationSchema,
         responses={201: LodgedSchema, 200: LodgedSchema, 403: "another declarant's document",
                    409: "LRN reused for another payload", 413: "body too large",
                    422: "invalid document (field pointers)"})
    def post_declaration(self, request: Request, caller: Caller) -> Any:
        document = parse_json_body(read_body(request, MAX_BODY_BYTES + 1))
        lodged = self.app.lodge(document, caller)
        return (201 if lodged.created else 200), lodged.body()

    @api("GET", "/declarations/<string:mrn>", roles=READ, errors=ERRORS,
         summary="A declaration's current status",
         responses={200: DeclarationStatusSchema, 404: "unknown MRN, or not yours to see"})
    def get_declaration(self, request: Request, caller: Caller, mrn: str) -> Any:
        return self.app.status(mrn, caller)

    @api("POST", "/declarations/<string:mrn>/amendments", roles=LODGE, errors=ERRORS,
         summary="Amend a declaration: a new version with the whole corrected document "
                 "(after release: apply for the post-release amendment)",
         request=AmendmentSchema,
         responses={201: AmendedSchema,
                    202: AmendedSchema,  # after release: applied for, an officer decides
                    404: "unknown MRN, or not your declaration",
                    409: "UCC art. 173 forbids it (the problem's type names the ground), or "
                         "another amendment was recorded at the same time",
                    412: "If-Match names a declaration version that is no longer current",
                    413: "body too large",
                    422: "invalid document, or one that changes the LRN, declarant or office, "
                         "or nothing; or an If-Match that is not a version number"},
         query=[IF_MATCH])
    def post_amendment(self, request: Request, caller: Caller, mrn: str) -> Any:
        of_version = amended_version(request.headers.get("If-Match"))
        body = parse_json_body(read_body(request, MAX_BODY_BYTES + 1))
        reason, document = amendment_request(body)
        answer = self.app.amend(mrn, caller, reason, document, of_version=of_version)
        return (202 if answer["amendment"] == "requested" else 201), answer

    @api("POST", "/declarations/<string:mrn>/amendments/decision", roles=DECIDE,
         errors=ERRORS, summary="Decide the post-release amendment applied for",
         request=DecisionSchema,
         responses={200: AmendmentDecidedSchema,
                    404: "unknown MRN, or not at one of the officer's offices",
                    409: "no post-release amendment waits, or the declaration is final",
                    422: "invalid decision"})
    def post_amendment_decision(self, request: Request, caller: Caller, mrn: str) -> Any:
        body = DECISION.load(json_body(request))
        return 200, self.app.decide_amendment(mrn, caller, body["decision"] == "granted",
                                              body["reason"])

    @api("POST", "/declarations/<string:mrn>/invalidation", roles=LODGE, errors=ERRORS,
         summary="Invalidate a declaration (before release) or ask for it (after release)",
         request=InvalidationRequestSchema,
         responses={200: InvalidationAnswerSchema, 202: InvalidationAnswerSchema,
                    404: "unknown MRN, or not your declaration", 409: GROUNDS,
                    422: "invalid request"})
    def post_invalidation(self, request: Request, caller: Caller, mrn: str) -> Any:
        body = INVALIDATION_REQUEST.load(json_body(request))
        return self.app.invalidate(mrn, caller, body["reason"])

    @api("POST", "/declarations/<string:mrn>/invalidation/decision", roles=DECIDE,
         errors=ERRORS, summary="Decide the invalidation requested after release",
         request=DecisionSchema,
         responses={200: InvalidationDecidedSchema,
                    404: "unknown MRN, or not at one of the officer's offices",
                    409: "no invalidation request waits, or the declaration is final",
                    422: "invalid decision"})
    def post_invalidation_decision(self, request: Request, caller: Caller, mrn: str) -> Any:
        body = DECISION.load(json_body(request))
        return 200, self.app.decide_invalidation(mrn, caller, body["decision"] == "granted",
                                                 body["reason"])

    @api("GET", "/status-notifications", roles=READ, errors=ERRORS,
         summary="The caller's status changes after a log position (query: after, limit)",
         responses={200: StatusNotificationsSchema, 400: "after or limit out of range"},
         query=window_parameters())
    def get_status_notifications(self, request: Request, caller: Caller) -> Any:
        after, limit = log_window(request)
        found, next_after = self.app.status_notifications(caller, after, limit)
        return {"notifications": found, "next_after": next_after}

    @rpc  # type: ignore[untyped-decorator]
    def lodge(self, document: dict[str, Any], token: str) -> dict[str, Any]:
        """RPC twin of POST /declarations (the caller's bearer token as `token`); returns
        {"created", "mrn", "consignment_id", "status"}."""
        lodged = self.app.lodge(document, self.authenticate(token, LODGE))
        return {"created": lodged.created, **lodged.body()}

    @rpc  # type: ignore[untyped-decorator]
    def status(self, mrn: str, token: str) -> dict[str, Any]:
        """RPC twin of GET /declarations/{mrn} (the caller's bearer token as `token`)."""
        return self.app.status(mrn, self.authenticate(token, READ))

