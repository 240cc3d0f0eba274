"""The shared query surface's one translation: SQL written once with `?` parameters is
numbered for PostgreSQL (`$1, $2, ...`), and a `?` that is text, not a parameter, is left."""

from __future__ import annotations

import pytest

from daemon.store.pgdb import marks


@pytest.mark.parametrize(
    ("sql", "numbered"),
    [
        ("SELECT 1", "SELECT 1"),
        (
            "SELECT * FROM t WHERE a = ? AND b IN (?, ?)",
            "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)",
        ),
        # inside literals and quoted names: text
        ("SELECT 'why?' || ? FROM t", "SELECT 'why?' || $1 FROM t"),
        ("SELECT 'it''s ?', ? FROM t", "SELECT 'it''s ?', $1 FROM t"),
        ('SELECT "odd?name" FROM t WHERE x = ?', 'SELECT "odd?name" FROM t WHERE x = $1'),
        # a comment's `?` is text; the next line's is a parameter
        ("SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"),
        # jsonb's operators stay; a parameter concatenated is still one
        ("SELECT tags ?| CAST(? AS text[])", "SELECT tags ?| CAST($1 AS text[])"),
        ("SELECT tags ?& ?", "SELECT tags ?& $1"),
        ("SELECT ?||'x', ?", "SELECT $1||'x', $2"),
        # a cast after a parameter
        ("SELECT ?::bigint", "SELECT $1::bigint"),
    ],
)
def test_question_marks_are_numbered_outside_literals(sql: str, numbered: str) -> None:
    assert marks(sql) == numbered
