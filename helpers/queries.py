"""Load the SQL files shipped in ``helpers/sql``.

Values always travel as bound parameters (``$name`` in the SQL). The only
text substituted into SQL is identifiers (schema, table, column names) and
vocabulary literals that come from this package's own declarations, never
from user input.
"""

from __future__ import annotations

from functools import lru_cache

from helpers.config import SQL_DIR


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {name}.sql in {SQL_DIR}")
    return path.read_text(encoding="utf-8")


def load_sql(name: str, **identifiers: str) -> str:
    """Return the text of ``helpers/sql/<name>.sql`` with ``{identifier}`` placeholders filled.

    Args:
        name: path below ``helpers/sql`` without the ``.sql`` suffix, e.g. ``"tests/unique"``.
        identifiers: trusted identifiers for the file's ``{placeholders}``.

    Returns:
        The SQL text, ready to execute with bound parameters.
    """
    text = _read(name)
    return text.format(**identifiers) if identifiers else text
