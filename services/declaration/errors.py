"""The declaration service's one table from errors to HTTP problems."""

from marshmallow import ValidationError

from shared.eventstore import WrongExpectedVersion
from shared.web.problems import ErrorTable, ProblemSpec, schema_pointers

from .application import ConcurrentChange, DeclarationNotFound, LrnConflict, VersionMismatch
from .domain import amendment, invalidation, lifecycle
from .domain.access import NotYourDeclarant
from .domain.validation import DeclarationInvalid
from .intake import BodyTooLarge, MalformedBody


def _pointers(exc: BaseException) -> list[dict[str, str]]:
    assert isinstance(exc, DeclarationInvalid)
    return [{"pointer": p.pointer, "message": p.message} for p in exc.problems]


def _summary(exc: BaseException) -> str:
    assert isinstance(exc, DeclarationInvalid)
    count = len(exc.problems)
    return f"{count} problem{'s' if count != 1 else ''} in the document; nothing was stored"


ERRORS = ErrorTable({
    BodyTooLarge: ProblemSpec(413, "body-too-large", "Body too large", _pointers, _summary),
    MalformedBody: ProblemSpec(400, "malformed-json", "Malformed JSON", _pointers, _summary),
    DeclarationInvalid: ProblemSpec(422, "validation", "The declaration is not valid",
                                    _pointers, _summary),
    LrnConflict: ProblemSpec(409, "lrn-conflict", "LRN already used"),
    DeclarationNotFound: ProblemSpec(404, "not-found", "Declaration not found"),
    NotYourDeclarant: ProblemSpec(403, "not-your-declarant", "Lodged for another declarant"),
    # The small request bodies (invalidation and its decision); nothing stored.
    ValidationError: ProblemSpec(422, "validation", "The request is not valid",
                                 schema_pointers, lambda e: "see errors; nothing was recorded"),
    # Each ground of UCC arts. 173 and 174 its own problem type.
    **{ground: ProblemSpec(409, ground.ground, title) for ground, title in (
        (lifecycle.ExaminationNotified, "An examination was notified"),
        (lifecycle.ReleaseWasRefused, "Release was refused"),
        (lifecycle.Invalidated, "The declaration is invalidated"),
        (amendment.ParticularsIncorrect, "Particulars were found incorrect"),
        (amendment.AlreadyReleased, "The goods are released"),
        (amendment.AmendmentAlreadyRequested, "Post-release amendment already applied for"),
        (amendment.NoAmendmentRequest, "No post-release amendment to decide"),
        (invalidation.InvalidationAlreadyRequested, "Invalidation already requested"),
        (invalidation.NoInvalidationRequest, "No invalidation request to decide"),
        (lifecycle.NotAllowed, "Not allowed now"),
    )},
    ConcurrentChange: ProblemSpec(409, "concurrent-update", "The declaration kept changing"),
    VersionMismatch: ProblemSpec(412, "version-mismatch",
                                 "The declaration version amended is no longer current"),
    WrongExpectedVersion: ProblemSpec(409, "concurrent-update",
                                      "Another change to the declaration was recorded at the "
                                      "same time; read it and send yours again"),
})
