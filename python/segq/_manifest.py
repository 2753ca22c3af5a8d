"""A generation's manifest.csv read as segq-run and `segq submit` read it
(pipeline/stylize_manifest.c), refusing what they refuse in their words: a
row with another field count than the header, a quoted field not closed,
no `name` column, a pair listed twice. One difference: a lone carriage
return ends a row here, where the C reader drops it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

FILE = "manifest.csv"


class ManifestError(Exception):
    """The manifest does not parse; the message is the C reader's."""


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line where it ends, fields) of each row. Bytes that are no UTF-8
    pass through, as the C reader takes any bytes."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        return [(reader.line_num, row or [""]) for row in reader]
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            last_line = text.count("\n") + 1
            raise ManifestError(f"{path} line {last_line}: quoted field not closed") from e
    # strict mode also refuses text after a closing quote ("a"b), which
    # the C reader appends to the field, as the lenient mode does
    reader = csv.reader(io.StringIO(text, newline=""))
    return [(reader.line_num, row or [""]) for row in reader]


def read(folder: Path) -> dict[str, dict[str, str]] | None:
    """Each pair's row by its name; None when the folder has no manifest."""
    path = folder / FILE
    if not path.exists():
        return None
    try:
        rows = _rows(path)
    except OSError as e:
        raise ManifestError(f"cannot read {path}: {e.strerror}") from e
    header = rows[0][1] if rows else []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise ManifestError(
                f"{path} line {line}: {len(row)} fields, the header has {len(header)}"
            )
    if "name" not in header:
        raise ManifestError(f"{path}: no 'name' column in the header")
    column = len(header) - 1 - header[::-1].index("name")  # the last, as the C reader
    by_name: dict[str, dict[str, str]] = {}
    twice = []
    for _, row in rows[1:]:
        if row[column] in by_name:
            twice.append(row[column])
        by_name[row[column]] = dict(zip(header, row))
    if twice:
        raise ManifestError(f"{path}: pair '{min(twice)}' is listed twice")
    return by_name
