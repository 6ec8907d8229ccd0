"""``trialscope db init`` and ``db upgrade`` on PostgreSQL: create a store's schema, or bring
an older one to this TrialScope's version, in one transaction, never dropping data.

An upgrade runs the version's own steps (:data:`~.postgres_schema.FROM`), then creates what
the schema declares and the store lacks: tables, columns (with their defaults), indexes;
the AACT views are made again over the new tables. A column the schema no longer declares
is kept and named in the report, never dropped.
"""

from __future__ import annotations

import psycopg

from trialscope.errors import SchemaVersionError, StoreError
from trialscope.store import display_name
from trialscope.store import postgres_schema as ddl
from trialscope.store.postgres import PostgresStore, _reason, new_store_sql
from trialscope.store.postgres_aact import SCHEMA, VIEWS, aact_sql
from trialscope.store.schema import SCHEMA_VERSION, TABLES


def upgrade_postgres(url: str) -> list[str]:
    """Create or upgrade the store at ``url``; what was done, step by step ([] when current)."""
    conninfo, _ = PostgresStore._conninfo(url)
    name = display_name(url)
    try:
        with psycopg.connect(conninfo, options="-c client_min_messages=warning") as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ddl.SCHEMA_LOCK,))
            return _upgrade(conn, name)
    except psycopg.OperationalError as exc:
        raise StoreError(f"Cannot upgrade the PostgreSQL store at {name}: {_reason(exc)}.") from exc


def _upgrade(conn: psycopg.Connection, name: str) -> list[str]:
    tables = {
        r[0]: set()
        for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    }  # type: dict[str, set[str]]
    for table, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
    ):
        tables.setdefault(table, set()).add(column)
    if ddl.STATE_TABLE not in tables:
        if "trials" in tables:
            raise StoreError(f"The database at {name} has a trials table TrialScope did not make.")
        for statement in new_store_sql():
            conn.execute(statement)
        return [f"created a new store at schema version {SCHEMA_VERSION}"]
    row = conn.execute(f"SELECT schema_version FROM {ddl.STATE_TABLE}").fetchone()
    current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION or current < ddl.FIRST_VERSION:
        raise SchemaVersionError(
            f"The store at {name} has schema version {current}, which this TrialScope "
            f"(version {SCHEMA_VERSION}) cannot upgrade."
        )
    done: list[str] = []
    for version in range(current, SCHEMA_VERSION):
        step = ddl.FROM.get(version)
        for statement in step() if step else []:
            conn.execute(statement)
            done.append(f"{version} -> {version + 1}: {statement}")
    for table in TABLES.values():
        if table.name not in tables:
            for statement in ddl.table_sql(table):
                conn.execute(statement)
            done.append(f"created the table {table.name}")
            continue
        for column in table.columns:
            if column.name not in tables[table.name]:
                if column.not_null and column.default is None:
                    raise StoreError(
                        f"The store at {name} lacks {table.name}.{column.name}, which has no default; "
                        "this upgrade needs a step of its own."
                    )
                conn.execute(ddl.add_column_sql(table, column))
                done.append(f"added the column {table.name}.{column.name}")
        for statement in ddl.table_sql(table)[1:]:  # indexes: IF NOT EXISTS
            conn.execute(statement)
        extra = tables[table.name] - set(table.column_names) - {"_row"}
        done.extend(
            f"kept the column {table.name}.{c}, which this version no longer uses" for c in sorted(extra)
        )
    if done or current != SCHEMA_VERSION:
        for view, _ in VIEWS:
            conn.execute(f"DROP VIEW IF EXISTS {SCHEMA}.{view}")
        for statement in aact_sql():
            conn.execute(statement)
        conn.execute(f"UPDATE {ddl.STATE_TABLE} SET schema_version = %s", (SCHEMA_VERSION,))
        done.append(f"the store is at schema version {SCHEMA_VERSION}; the AACT views were made again")
    return done
