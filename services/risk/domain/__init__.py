"""The pure risk domain: selectivity (lanes) and controls. No infrastructure imports.

Typical use by the service's application layer:

>>> ruleset = load_ruleset(SAMPLE_RULESET_DIR, "2026.1")
>>> register = load_aeo_register(SAMPLE_AEO_DIR, "2026.1")
>>> key = DrawKey.parse(os.environ["RISK_DRAW_KEY"])  # the service's secret key
>>> draw = keyed_draw(key, facts.consignment_id, ruleset.version)
>>> decision = assess(facts, ruleset, register, on_date, draw)
>>> record = decision.to_dict()  # the working, recorded in the RiskAssessed event
>>> reassess(RiskDecision.from_dict(record), ruleset, register) == decision
True
"""

from .aeo import AeoEntry, AeoRegister, AeoStatus
from .assessment import AeoApplied, RandomSelection, RiskDecision, RuleHit, assess, reassess
from .controls import (
    Control,
    ControlCompleted,
    ControlEvent,
    ControlKind,
    ControlOrdered,
    ControlResult,
    ControlState,
    ControlStatus,
    Finding,
    FindingCategory,
    apply,
    fold,
    order_control,
    record_result,
)
from .draw import (
    DEFAULT_SALT,
    DEV_KEY_ID_PREFIX,
    MISSING_KEY,
    Draw,
    DrawKey,
    derived_key_id,
    keyed_draw,
    new_key_text,
    seeded_draw,
)
from .errors import (
    ControlAlreadyCompleted,
    ControlAlreadyOpen,
    ControlConflict,
    DrawKeyError,
    InvalidControlResult,
    InvalidControlTransition,
    InvalidFacts,
    InvalidRecord,
    NoControlForLane,
    NoOpenControl,
    ReferenceVersionMismatch,
    RiskDomainError,
    RuleSetError,
)
from .facts import DeclarationFacts, ItemFacts
from .lanes import Lane, most_severe
from .reference import (
    REFERENCE_DIR,
    SAMPLE_AEO_DIR,
    SAMPLE_RULESET_DIR,
    load_aeo_register,
    load_ruleset,
    parse_aeo_register,
    parse_reference_values,
    parse_ruleset,
)
from .rules import (
    DEFAULT_OFFICE,
    AllOf,
    AnyOf,
    HsPrefix,
    LowUnitValue,
    OfficeSelection,
    OriginIn,
    PartyRole,
    Predicate,
    Rule,
    RuleSet,
    Thresholds,
    WatchlistedParty,
)

__all__ = [
    "DEFAULT_OFFICE",
    "DEFAULT_SALT",
    "DEV_KEY_ID_PREFIX",
    "MISSING_KEY",
    "REFERENCE_DIR",
    "SAMPLE_AEO_DIR",
    "SAMPLE_RULESET_DIR",
    "AeoApplied",
    "AeoEntry",
    "AeoRegister",
    "AeoStatus",
    "AllOf",
    "AnyOf",
    "Control",
    "ControlAlreadyCompleted",
    "ControlAlreadyOpen",
    "ControlCompleted",
    "ControlConflict",
    "ControlEvent",
    "ControlKind",
    "ControlOrdered",
    "ControlResult",
    "ControlState",
    "ControlStatus",
    "DeclarationFacts",
    "Draw",
    "DrawKey",
    "DrawKeyError",
    "Finding",
    "FindingCategory",
    "HsPrefix",
    "InvalidControlResult",
    "InvalidControlTransition",
    "InvalidFacts",
    "InvalidRecord",
    "ItemFacts",
    "Lane",
    "LowUnitValue",
    "NoControlForLane",
    "NoOpenControl",
    "OfficeSelection",
    "OriginIn",
    "PartyRole",
    "Predicate",
    "RandomSelection",
    "ReferenceVersionMismatch",
    "RiskDecision",
    "RiskDomainError",
    "Rule",
    "RuleHit",
    "RuleSet",
    "RuleSetError",
    "Thresholds",
    "WatchlistedParty",
    "apply",
    "assess",
    "derived_key_id",
    "fold",
    "keyed_draw",
    "load_aeo_register",
    "load_ruleset",
    "most_severe",
    "new_key_text",
    "order_control",
    "parse_aeo_register",
    "parse_reference_values",
    "parse_ruleset",
    "reassess",
    "record_result",
    "seeded_draw",
]
