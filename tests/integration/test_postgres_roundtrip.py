"""The database is real: a write is read back, in a table private to this test."""

from __future__ import annotations

import psycopg


def test_postgres_round_trip(database_url: str, unique_name: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {unique_name} (id text PRIMARY KEY, payload jsonb NOT NULL)")
        try:
            conn.execute(f"INSERT INTO {unique_name} VALUES (%s, %s::jsonb)", ("a", '{"n": 1}'))
            row = conn.execute(f"SELECT payload FROM {unique_name} WHERE id = %s", ("a",)).fetchone()
            assert row == ({"n": 1},)
        finally:
            conn.execute(f"DROP TABLE {unique_name}")
