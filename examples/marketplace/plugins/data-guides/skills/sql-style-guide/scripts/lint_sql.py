#!/usr/bin/env python3
"""Check SQL against Corp's analytics style guide.

Usage: python3 lint_sql.py FILE [FILE ...]   (use - for standard input)
Prints FILE:LINE:COLUMN: CODE message per finding; exit status 1 when there are findings,
2 when a file cannot be read. Standard library only.
"""

from __future__ import annotations

import re
import sys

MAX_LINE = 100

KEYWORDS = {
    "select", "from", "where", "join", "inner", "left", "right", "full", "outer", "cross", "on",
    "group", "by", "having", "order", "limit", "offset", "union", "all", "distinct", "as", "and",
    "or", "not", "in", "is", "null", "case", "when", "then", "else", "end", "with", "between",
    "like", "exists", "asc", "desc", "insert", "into", "values", "update", "set", "delete",
    "create", "table", "view", "over", "partition", "qualify", "cast", "coalesce", "count", "sum",
    "avg", "min", "max", "date", "interval", "true", "false", "using", "nullif",
}

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SELECT_STAR = re.compile(r"\bSELECT\s+(DISTINCT\s+)?\*", re.IGNORECASE)
POSITIONAL = re.compile(r"\b(GROUP|ORDER)\s+BY\s+\d+\b", re.IGNORECASE)
COMMA_JOIN = re.compile(r"\bFROM\s+[\w.]+(\s+(AS\s+)?\w+)?\s*,\s*[\w.]+", re.IGNORECASE)


def mask(sql: str) -> str:
    """Blank out string literals, quoted identifiers and comments, keeping offsets and newlines."""
    out = list(sql)
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = n if end == -1 else end + 2
        elif ch in "'\"`":
            end = i + 1
            while end < n and sql[end] != ch:
                end += 1
            end = min(end + 1, n)
        else:
            i += 1
            continue
        for j in range(i, end):
            if out[j] != "\n":
                out[j] = " "
        i = end
    return "".join(out)


def position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def lint(sql: str) -> list[tuple[int, int, str, str]]:
    findings: list[tuple[int, int, str, str]] = []
    for number, line in enumerate(sql.splitlines(), start=1):
        if len(line) > MAX_LINE:
            findings.append((number, MAX_LINE + 1, "SP004", f"line is {len(line)} characters (max {MAX_LINE})"))
        if "\t" in line:
            findings.append((number, line.index("\t") + 1, "SP005", "tab character; indent with spaces"))
        if line != line.rstrip():
            findings.append((number, len(line.rstrip()) + 1, "SP006", "trailing whitespace"))
    code = mask(sql)
    for match in WORD.finditer(code):
        word = match.group()
        if word.lower() in KEYWORDS and word != word.upper():
            line, column = position(code, match.start())
            findings.append((line, column, "SP001", f"keyword {word!r} should be {word.upper()!r}"))
    for pattern, rule, message in (
        (SELECT_STAR, "SP002", "SELECT *: list the columns you need"),
        (POSITIONAL, "SP003", "positional GROUP BY/ORDER BY: use column names"),
        (COMMA_JOIN, "SP007", "comma join: use an explicit INNER JOIN ... ON"),
    ):
        for match in pattern.finditer(code):
            line, column = position(code, match.start())
            findings.append((line, column, rule, message))
    return sorted(findings)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    status = 0
    for path in argv:
        try:
            sql = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            return 2
        for line, column, rule, message in lint(sql):
            print(f"{path}:{line}:{column}: {rule} {message}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
