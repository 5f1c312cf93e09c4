"""The store's tables (SQLAlchemy Core). Created and upgraded only by the Alembic migrations."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

GENESIS_HASH = "0" * 64

events = Table(
    "events",
    metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream", String(200), nullable=False),
    Column("category", String(50), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("correlation_id", String(100), nullable=False),
    Column("causation_id", String(100), nullable=True),
    Column("actor", Text, nullable=False),  # the author as JSON (migration 0004)
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("data", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("stream", "stream_version", name="uq_events_stream_version"),
    Index("ix_events_correlation", "correlation_id", "position"),
    Index("ix_events_category", "category", "position"),
)

# One row (id = 1): the last position and hash. Appenders lock it, which serialises position
# assignment at commit: a reader tailing `position > last_seen` can never miss an event.
log_head = Table(
    "event_log_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Idempotent consumers: event ids already handled, recorded in the handler's transaction.
inbox = Table(
    "inbox",
    metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

# Relay progress: the last position confirmed by the broker, per relay.
checkpoints = Table(
    "relay_checkpoints",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Leases: one holder at a time (relay of a category with several replicas running).
leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
