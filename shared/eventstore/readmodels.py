"""Read models: the tables projections keep, written and read at the driver level, the same
way on both backends. A projection names what it wants ("lock these rows", "insert these,
skipping existing keys", "update these by key"); the SQL, the dialect's differences and the
bulk paths (PostgreSQL COPY, multi-row VALUES) live here, tested once on both backends
(tests/integration/store/test_read_models.py).

    STATUS = ReadModel("declaration_status", status_table, key="consignment_id")
    with store.transaction() as tx:
        rows = STATUS.lock(tx, ids, placeholder, ["facts"])   # {id: (facts,)}, locked
        STATUS.update(tx, changed)                             # [{column: value, ...}, ...]
    STATUS.find(store, mrn=mrn)                                # one row as a dict, or None

`db` is the store (one autocommitted statement per call) or a transaction. Times go in as
aware datetimes or `isoformat` text and come out as `isoformat` text. A unique key taken
raises `KeyTaken`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, Numeric, Table

from .dialects import iso_from_stored, mark, sqlite_time
from .errors import KeyTaken

T = TypeVar("T")
CHUNK = 500  # rows per statement (SQLite allows 32,766 parameters)


class Db(Protocol):
    """Where a read-model statement runs: the store or one of its transactions."""

    @property
    def dialect(self) -> str: ...

    def run(self, work: Callable[[Any], T]) -> T: ...


def _pg_cast(column: Any) -> str:
    kind = column.type
    if isinstance(kind, DateTime):
        return "::timestamptz"
    if isinstance(kind, BigInteger):
        return "::bigint"
    if isinstance(kind, Integer):
        return "::integer"
    if isinstance(kind, Boolean):
        return "::boolean"
    if isinstance(kind, Numeric):
        return "::numeric"
    return ""


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return f'"{name}"'


def _integrity_errors() -> tuple[type[BaseException], ...]:
    import sqlite3

    import psycopg2

    return (sqlite3.IntegrityError, psycopg2.IntegrityError)


class ReadModel:
    """One read-model table: its `Table` (name, columns and their types, made by
    `make_table(name)`) and its key."""

    def __init__(self, name: str, make_table: Callable[[str], Table], key: str) -> None:
        self.make_table = make_table
        table = make_table(name)
        self.table = table
        self.key = key
        self.name = _identifier(table.name)
        self.columns = tuple(c.name for c in table.columns)
        self._times = frozenset(c.name for c in table.columns if isinstance(c.type, DateTime))
        self._casts = {c.name: _pg_cast(c) for c in table.columns}
        if key not in self.columns:
            raise ValueError(f"{table.name} has no column {key!r}")

    def renamed(self, name: str) -> ReadModel:
        """The same read model in another table (a rebuild fills a copy)."""
        return ReadModel(name, self.make_table, self.key)

    # -- writes -----------------------------------------------------------------------------
    def insert(self, db: Db, rows: Sequence[Mapping[str, Any]], *,
               skip_existing: bool = False) -> None:
        """INSERT rows (mappings with the same keys). A row whose key exists is skipped with
        `skip_existing`; otherwise it raises KeyTaken (as does any other unique column)."""
        if not rows:
            return
        columns = list(rows[0])
        m = mark(db.dialect)
        row_marks = "(" + ", ".join([m] * len(columns)) + ")"
        conflict = f" ON CONFLICT ({self.key}) DO NOTHING" if skip_existing else ""
        names = ", ".join(columns)

        def work(connection: Any) -> None:
            cursor = connection.cursor()
            try:
                for start in range(0, len(rows), CHUNK):
                    chunk = rows[start:start + CHUNK]
                    cursor.execute(
                        f"INSERT INTO {self.name} ({names}) VALUES "
                        f"{', '.join([row_marks] * len(chunk))}{conflict}",
                        tuple(self._param(db.dialect, c, row[c])
                              for row in chunk for c in columns))
            finally:
                cursor.close()

        self._run(db, work)

    def bulk_insert(self, db: Db, rows: Sequence[Sequence[Any]]) -> None:
        """INSERT whole rows (values in column order) into a table that nobody else writes
        meanwhile (a rebuild's new table): PostgreSQL COPY, SQLite executemany."""
        if not rows:
            return
        names = ", ".join(self.columns)
        if db.dialect == "postgresql":
            text = "".join("\t".join([_copy_field(v) for v in row]) + "\n" for row in rows)

            def copy(connection: Any) -> None:
                cursor = connection.cursor()
                try:
                    cursor.copy_expert(f"COPY {self.name} ({names}) FROM STDIN",
                                       io.StringIO(text))
                finally:
                    cursor.close()

            self._run(db, copy)
            return
        times = [i for i, c in enumerate(self.columns) if c in self._times]
        prepared = [_with_sqlite_times(row, times) for row in rows] if times else rows

        def many(connection: Any) -> None:
            connection.executemany(
                f"INSERT INTO {self.name} ({names}) VALUES ({', '.join('?' * len(self.columns))})",
                prepared)

        self._run(db, many)

    def lock(self, db: Db, keys: Sequence[Any], placeholder: Mapping[str, Any],
             columns: Sequence[str]) -> dict[Any, tuple[Any, ...]]:
        """The rows of `keys` (each created from `placeholder` when missing), locked until the
        transaction ends, in key order so that concurrent writers lock in the same order: one
        statement. Per key, the values of `columns`."""
        ids = sorted(set(keys))
        if not ids:
            return {}
        m = mark(db.dialect)
        names = [self.key, *placeholder]
        row_marks = "(" + ", ".join([m] * len(names)) + ")"
        wanted = ", ".join([self.key, *columns])

        def statement(chunk: list[Any]) -> tuple[str, tuple[Any, ...]]:
            params: list[Any] = []
            for key in chunk:
                params.append(key)
                params.extend(self._param(db.dialect, c, v) for c, v in placeholder.items())
            return (f"INSERT INTO {self.name} ({', '.join(names)}) VALUES "
                    f"{', '.join([row_marks] * len(chunk))} ON CONFLICT ({self.key}) "
                    f"DO UPDATE SET {self.key} = excluded.{self.key} RETURNING {wanted}",
                    tuple(params))

        return self._keyed_rows(db, ids, columns, statement)

    def update(self, db: Db, rows: Sequence[Mapping[str, Any]]) -> None:
        """UPDATE rows by key (mappings with the key and the same other columns): one
        statement on PostgreSQL (UPDATE ... FROM VALUES), executemany on SQLite."""
        if not rows:
            return
        columns = [c for c in rows[0] if c != self.key]
        if db.dialect == "postgresql":
            from psycopg2.extras import execute_values

            order = [self.key, *columns]
            sets = ", ".join(f"{c} = v.{c}" for c in columns)
            template = "(" + ", ".join(f"%s{self._casts[c]}" for c in order) + ")"
            values = [tuple(row[c] for c in order) for row in rows]

            def pg(connection: Any) -> None:
                cursor = connection.cursor()
                try:
                    execute_values(
                        cursor, f"UPDATE {self.name} AS t SET {sets} FROM (VALUES %s) AS "
                        f"v({', '.join(order)}) WHERE t.{self.key} = v.{self.key}",
                        values, template=template, page_size=len(values))
                finally:
                    cursor.close()

            self._run(db, pg)
            return
        sets = ", ".join(f"{c} = ?" for c in columns)
        params = [tuple(self._param("sqlite", c, row[c]) for c in columns) + (row[self.key],)
                  for row in rows]
        self._run(db, lambda connection: connection.executemany(
            f"UPDATE {self.name} SET {sets} WHERE {self.key} = ?", params))

    # -- reads ------------------------------------------------------------------------------
    def select(self, db: Db, keys: Sequence[Any],
               columns: Sequence[str]) -> dict[Any, tuple[Any, ...]]:
        """Per key found, the values of `columns` (no lock)."""
        ids = list(dict.fromkeys(keys))
        m = mark(db.dialect)
        wanted = ", ".join([self.key, *columns])

        def statement(chunk: list[Any]) -> tuple[str, tuple[Any, ...]]:
            return (f"SELECT {wanted} FROM {self.name} WHERE {self.key} IN "
                    f"({', '.join([m] * len(chunk))})", tuple(chunk))

        return self._keyed_rows(db, ids, columns, statement) if ids else {}

    def find(self, db: Db, **where: Any) -> dict[str, Any] | None:
        """The one row whose columns equal `where` (a unique column), as a dict; or None."""
        rows = self.where(db, **where)
        return rows[0] if rows else None

    def where(self, db: Db, **where: Any) -> list[dict[str, Any]]:
        """The rows whose columns equal `where`, in key order, as dicts."""
        m = mark(db.dialect)
        for column in where:
            if column not in self.columns:
                raise ValueError(f"{self.table.name} has no column {column!r}")
        condition = " AND ".join(f"{c} = {m}" for c in where) or "1 = 1"
        sql = (f"SELECT {', '.join(self.columns)} FROM {self.name} WHERE {condition} "
               f"ORDER BY {self.key}")
        params = tuple(self._param(db.dialect, c, v) for c, v in where.items())

        def work(connection: Any) -> list[Any]:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                rows: list[Any] = cursor.fetchall()
                return rows
            finally:
                cursor.close()

        return [dict(zip(self.columns, self._out(self.columns, row), strict=True))
                for row in self._run(db, work)]

    def all(self, db: Db) -> list[dict[str, Any]]:
        """Every row, in key order (what a rebuild compares)."""
        return self.where(db)

    # -- internals --------------------------------------------------------------------------
    def _keyed_rows(self, db: Db, ids: list[Any], columns: Sequence[str],
                    statement: Callable[[list[Any]], tuple[str, tuple[Any, ...]]],
                    ) -> dict[Any, tuple[Any, ...]]:
        """Run `statement(chunk)` for each chunk of `ids` (rows: the key, then `columns`);
        per key, the values of `columns`."""
        found: dict[Any, tuple[Any, ...]] = {}

        def work(connection: Any) -> None:
            cursor = connection.cursor()
            try:
                for start in range(0, len(ids), CHUNK):
                    cursor.execute(*statement(ids[start:start + CHUNK]))
                    for row in cursor.fetchall():
                        found[row[0]] = self._out(columns, row[1:])
            finally:
                cursor.close()

        self._run(db, work)
        return found

    def _param(self, dialect: str, column: str, value: Any) -> Any:
        if dialect == "sqlite" and column in self._times:
            return sqlite_time(value)
        return value

    def _out(self, columns: Sequence[str], values: Sequence[Any]) -> tuple[Any, ...]:
        if not self._times:
            return tuple(values)
        return tuple(iso_from_stored(v) if c in self._times else v
                     for c, v in zip(columns, values, strict=True))

    def _run(self, db: Db, work: Callable[[Any], T]) -> T:
        try:
            return db.run(work)
        except _integrity_errors() as exc:
            raise KeyTaken(self.table.name, str(exc).strip()) from exc


def _copy_field(value: Any) -> str:
    """A value in COPY's text format: NULL as \\N; backslash, tab, newline and carriage
    return escaped (most values have none, and `in` finds that at C speed)."""
    if value is None:
        return "\\N"
    text = value if type(value) is str else str(value)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text:
        text = text.replace("\t", "\\t")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    return text


def _with_sqlite_times(row: Sequence[Any], times: Sequence[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in times:
        values[i] = sqlite_time(values[i])
    return tuple(values)
