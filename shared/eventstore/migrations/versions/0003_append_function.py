"""PostgreSQL: `clearance_append(...)`, the whole append in one statement (one round trip).

Locks the log head, checks the stream's expected version, chains the hashes, inserts the events
and moves the head, server-side. Called outside an explicit transaction it also commits in the
same round trip; inside one (a consumer's transaction with its inbox and projections) it does
the same work there. The hash is byte-identical to `shared/eventstore/hashing.py`: Python
renders each event's canonical header as three pieces around the two numbers only the database
knows (position and stream version) and the function joins them:

    hash = sha256(prev_hash || '\\n' || head_a || position || head_b || stream_version
                  || head_c || '\\n' || data)

A stream at another version than `p_expected` (-1: any) appends nothing and answers a NULL
`first_position` with the actual version (no error, so a caller's transaction stays usable). SQLite needs nothing: appends there are local calls.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PG_APPEND = r"""
CREATE OR REPLACE FUNCTION clearance_append(
    p_stream text, p_category text, p_expected integer, p_recorded_at timestamptz,
    p_head_b text, p_event_ids text[], p_types text[], p_versions integer[],
    p_correlation_ids text[], p_causation_ids text[], p_actors text[],
    p_occurred_at timestamptz[], p_data text[], p_head_a text[], p_head_c text[],
    OUT first_position bigint, OUT first_version integer, OUT hashes text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_position bigint;
    v_hash text;
    v_version integer;
    n integer := array_length(p_event_ids, 1);
BEGIN
    SELECT h.position, h.hash INTO v_position, v_hash
        FROM event_log_head h WHERE h.id = 1 FOR UPDATE;
    SELECT COALESCE(MAX(e.stream_version), 0) INTO v_version
        FROM events e WHERE e.stream = p_stream;
    IF p_expected >= 0 AND v_version <> p_expected THEN
        first_version := v_version;  -- nothing appended; the caller raises WrongExpectedVersion
        RETURN;
    END IF;
    first_position := v_position + 1;
    first_version := v_version + 1;
    hashes := array_fill(NULL::text, ARRAY[n]);
    FOR i IN 1..n LOOP
        v_hash := encode(sha256(convert_to(
            v_hash || E'\n' || p_head_a[i] || (v_position + i)::text || p_head_b
            || (v_version + i)::text || p_head_c[i] || E'\n' || p_data[i], 'UTF8')), 'hex');
        hashes[i] := v_hash;
    END LOOP;
    INSERT INTO events (position, event_id, stream, category, stream_version, type, version,
                        correlation_id, causation_id, actor, occurred_at, recorded_at, data,
                        hash)
    SELECT v_position + i, p_event_ids[i], p_stream, p_category, v_version + i, p_types[i],
           p_versions[i], p_correlation_ids[i], p_causation_ids[i], p_actors[i],
           p_occurred_at[i], p_recorded_at, p_data[i], hashes[i]
    FROM generate_series(1, n) AS i;
    UPDATE event_log_head SET position = v_position + n, hash = v_hash WHERE id = 1;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clearance_append")
