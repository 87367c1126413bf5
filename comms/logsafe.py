"""Logging failures without patient data: where it broke and what kind of error, never the error's words.

An exception's message can carry whatever it was handed: PostgreSQL's DETAIL repeats the failing row
("Failing row contains (..., the message body, ...)"), a carrier's error names the number it refused, a
mail server's refusal names the address. A plain `log.exception` prints all of that, even with the
engine's hide_parameters on. These helpers keep the frames (file, line, function, source line) and the
exception classes, plus the few details that are ours and PHI-free: the SQL text (its bound values are
not in it), SQLSTATE, errno names.
"""

from __future__ import annotations

import errno
import logging
import traceback

from sqlalchemy.exc import DBAPIError, StatementError

MAX_SQL_CHARS = 300


def _kind(exc: BaseException) -> str:
    """The exception's class, and only the details that cannot hold someone's data."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
    extras = []
    if isinstance(exc, StatementError) and exc.statement:
        extras.append(f"SQL: {' '.join(exc.statement.split())[:MAX_SQL_CHARS]}")
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        extras.append(f"driver error {type(exc.orig).__name__}")
    sqlstate = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.isalnum():
        extras.append(f"SQLSTATE {sqlstate}")
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno in errno.errorcode:
        extras.append(errno.errorcode[exc.errno])
    return f"{name} ({'; '.join(extras)})" if extras else name


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what led to it, oldest first, as Python's own traceback orders them."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return chain[::-1]


def safe_traceback(exc: BaseException) -> str:
    """A traceback an operator can act on, with every exception message left out."""
    blocks = []
    for link in _chain(exc):
        lines = ["Traceback (most recent call last):"]
        for frame in traceback.extract_tb(link.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line.strip()}")
        lines.append(f"{_kind(link)} [message withheld: it may hold patient data]")
        blocks.append("\n".join(lines))
    return "\n\nwhich led to:\n\n".join(blocks)


def log_failure(logger: logging.Logger, message: str, *args: object, exc: BaseException) -> None:
    """`logger.exception` for code that handles patient data: the same report, minus the messages."""
    logger.error(message + "\n%s", *args, safe_traceback(exc))


class WithholdExceptionMessages(logging.Filter):
    """On a handler: any record logged with exc_info (ours or a library's) is rewritten by safe_traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}\n{safe_traceback(record.exc_info[1])}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def install(handlers: list[logging.Handler]) -> None:
    """Put the filter on the process's log handlers, so a library's log.exception is covered too."""
    for handler in handlers:
        handler.addFilter(WithholdExceptionMessages())
