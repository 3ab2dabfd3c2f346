"""The signed catalog index: kept as the short import path of ``builder.contract.index``."""

from builder.contract.index import (
    INDEX_FORMAT,
    INDEX_TYPE,
    MAX_INDEX_BYTES,
    REQUIRED_FIELDS,
    IndexDocument,
    encode,
    format_time,
    next_serial,
    parse_time,
    sign,
    verify,
)

__all__ = [
    "INDEX_FORMAT",
    "INDEX_TYPE",
    "MAX_INDEX_BYTES",
    "REQUIRED_FIELDS",
    "IndexDocument",
    "encode",
    "format_time",
    "next_serial",
    "parse_time",
    "sign",
    "verify",
]
