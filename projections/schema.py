"""The read model's Postgres schema: create, drop, connect into it, and its NOTIFY channel.

All tables live in one Postgres schema (a parameter, "jobstream" by default), so tests and
replays can use their own. Connections name it in their search_path, so the SQL stays unqualified.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

DEFAULT_SCHEMA = "jobstream"
# Lower case only: the NOTIFY channel is derived from it and LISTEN folds unquoted names to lower case.
_VALID = re.compile(r"[a-z_][a-z0-9_]{0,57}")


def validate_schema(schema: str) -> str:
    if not _VALID.fullmatch(schema):
        raise ValueError(f"schema name {schema!r}: use lower-case letters, digits and _ (at most 58)")
    return schema


def notify_channel(schema: str) -> str:
    """The channel the projector NOTIFYs with a job_id once that job's rows are committed."""
    return f"{validate_schema(schema)}_jobs"


def ddl() -> str:
    return resources.files("jobstream.projections").joinpath("sql/schema.sql").read_text()


def connect(database_url: str, schema: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """An autocommit connection whose search_path is the schema (set at connect: survives rollbacks)."""
    options = f"-c search_path={validate_schema(schema)}"
    return psycopg.connect(database_url, autocommit=True, options=options, **kwargs)


def ensure_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the schema and its tables if missing. Safe to call concurrently, and again."""
    with conn.transaction():
        # CREATE ... IF NOT EXISTS still races in the catalogs: serialise creators of one schema.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (validate_schema(schema),))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(ddl().encode())


def drop_schema(conn: psycopg.Connection[Any], schema: str) -> None:
    """Drop the schema and everything in it (the read model is derived: replay rebuilds it)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (validate_schema(schema),))
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
