"""The risk service's one table from errors to HTTP problems."""

from marshmallow import ValidationError

from shared.eventstore import WrongExpectedVersion
from shared.web.problems import ErrorTable, ProblemSpec, schema_pointers

from .application import InvalidatedDeclaration, UnknownDeclaration
from .domain import ControlConflict, InvalidControlResult

ERRORS = ErrorTable({
    ValidationError: ProblemSpec(422, "validation", "The control result is not valid",
                                 schema_pointers, lambda e: "see errors; nothing was recorded"),
    InvalidControlResult: ProblemSpec(422, "invalid-control-result",
                                      "The control result is not valid"),
    UnknownDeclaration: ProblemSpec(404, "not-found", "Declaration not found"),
    ControlConflict: ProblemSpec(409, "no-open-control", "No control is open"),
    InvalidatedDeclaration: ProblemSpec(409, "invalidated", "The declaration was invalidated"),
    WrongExpectedVersion: ProblemSpec(409, "concurrent-update",
                                      "Another result was recorded at the same time"),
})
