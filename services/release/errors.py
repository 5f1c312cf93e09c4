"""The release service's one table from errors to HTTP problems."""

from marshmallow import ValidationError

from shared.web.problems import ErrorTable, ProblemSpec, schema_pointers

from .application import (
    ChangedMeanwhile,
    HoldAlreadyDecided,
    HoldClosed,
    NotYourHold,
    UnknownHold,
)

ERRORS = ErrorTable({
    ValidationError: ProblemSpec(422, "validation", "The decision is not valid", schema_pointers,
                                 lambda e: "see errors; nothing was recorded"),
    UnknownHold: ProblemSpec(404, "not-found", "No such hold"),
    NotYourHold: ProblemSpec(403, "forbidden", "Not your agency's hold"),
    HoldAlreadyDecided: ProblemSpec(409, "hold-decided", "The hold was decided already"),
    HoldClosed: ProblemSpec(409, "hold-closed", "Nothing left to decide"),
    ChangedMeanwhile: ProblemSpec(409, "concurrent-update", "Changed meanwhile; try again"),
})
