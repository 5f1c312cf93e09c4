"""The payment service's one table from errors to HTTP problems."""

from marshmallow import ValidationError

from shared.web.problems import ErrorTable, ProblemSpec, schema_pointers

from .accounting import NotDeferment, UnknownAccount
from .application import (
    ConcurrentUpdate,
    InvalidatedDeclaration,
    NotCustoms,
    NotReleased,
    UnknownDeclaration,
)
from .domain.accounts import AccountClosedError, AccountError, AccountExists, InvalidLimit
from .domain.errors import (
    InvalidPaymentAmount,
    PaymentCurrencyNotAccepted,
    PaymentReferenceConflict,
)
from .domain.revenue import RepaymentRefused, WriteOffRefused

ERRORS = ErrorTable({
    ValidationError: ProblemSpec(422, "validation", "The payment is not valid", schema_pointers,
                                 lambda e: "see errors; nothing was recorded"),
    PaymentReferenceConflict: ProblemSpec(409, "payment-reference-conflict",
                                          "Payment reference already used"),
    PaymentCurrencyNotAccepted: ProblemSpec(422, "currency-not-accepted",
                                            "Payments are taken in the national currency"),
    InvalidPaymentAmount: ProblemSpec(422, "invalid-amount", "The amount is not valid"),
    UnknownDeclaration: ProblemSpec(404, "not-found", "No assessed declaration"),
    InvalidatedDeclaration: ProblemSpec(409, "invalidated", "The declaration was invalidated"),
    NotCustoms: ProblemSpec(403, "forbidden", "Not allowed"),
    ConcurrentUpdate: ProblemSpec(409, "concurrent-update", "Changed meanwhile"),
    NotReleased: ProblemSpec(409, "not-released", "The goods are not released"),
    RepaymentRefused: ProblemSpec(422, "repayment-refused", "The repayment is not due"),
    WriteOffRefused: ProblemSpec(422, "write-off-refused", "Not that much is owed"),
    UnknownAccount: ProblemSpec(404, "not-found", "No such account"),
    AccountExists: ProblemSpec(409, "account-exists", "An account with this number exists"),
    AccountClosedError: ProblemSpec(409, "account-closed", "The account is closed"),
    NotDeferment: ProblemSpec(409, "not-deferment", "Not a deferment account"),
    InvalidLimit: ProblemSpec(422, "invalid-limit", "The limit is not valid"),
    AccountError: ProblemSpec(422, "account", "The account request is not valid"),
})
