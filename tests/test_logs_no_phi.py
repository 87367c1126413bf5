"""A database error inside a request is logged where it happened, without the values that were bound."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from sqlalchemy import text

from comms.logsafe import WithholdExceptionMessages, safe_traceback
from tests.helpers import browser, sign_in
from web.keys import SERVICES

BODY = "Jane Roe's biopsy came back; call +1 202-555-0199 or jane.roe@patient.example"
SECRETS = ("Jane Roe", "biopsy", "555-0199", "jane.roe@patient.example", "+12025550199")


async def _refuse_notes_that_mention_biopsies(served: Any) -> None:
    """A constraint the app does not know about, so storing this note fails inside the database."""
    async with served.app[SERVICES].unit() as unit:
        if served.app[SERVICES].settings.database.is_sqlite:
            await unit.session.execute(
                text(
                    "CREATE TRIGGER no_biopsy BEFORE INSERT ON timeline_items "
                    "WHEN NEW.body LIKE '%biopsy%' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
                )
            )
        else:
            # PostgreSQL's DETAIL would repeat the whole failing row, body included.
            await unit.session.execute(
                text(
                    "ALTER TABLE timeline_items ADD CONSTRAINT no_biopsy "
                    "CHECK (body NOT LIKE '%biopsy%') NOT VALID"
                )
            )


async def test_a_database_error_in_a_request_logs_no_bound_values(
    served: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await _refuse_notes_that_mention_biopsies(served)
    base = str(served.make_url("")).rstrip("/")
    conv = served.practice.conv_a
    caplog.set_level(logging.DEBUG)
    async with browser() as http:
        session = await sign_in(http, base, "north@test.example")
        async with http.post(
            f"{base}/api/v1/conversations/{conv}/notes",
            json={"body": BODY},
            headers={"X-CSRF-Token": session["csrf_token"]},
        ) as resp:
            assert resp.status == 500
            assert (await resp.json())["error"] == {
                "code": "internal_error",
                "message": "internal error; it has been logged",
            }
        # The server keeps serving.
        async with http.get(f"{base}/api/v1/conversations/{conv}/items") as resp:
            assert resp.status == 200
    logged = caplog.text
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the failure was not logged at all"
    report = "\n".join(r.getMessage() for r in errors)
    # Useful: which request, which statement, which kind of error, where in our code.
    assert f"POST /api/v1/conversations/{conv}/notes" in report
    assert "IntegrityError" in report and "INSERT INTO timeline_items" in report
    assert "comms/timeline.py" in report
    for secret in SECRETS:
        assert secret not in logged


def test_the_handler_filter_withholds_any_librarys_exception_message() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(WithholdExceptionMessages())
    logger = logging.getLogger("tests.some_library")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            try:
                raise KeyError(SECRETS[4])  # the source line is shown; the value is not
            except KeyError as inner:
                raise ConnectionRefusedError(111, f"refused for {SECRETS[3]}") from inner
        except OSError:
            logger.exception("sending to %s failed", "the relay")
    finally:
        logger.removeHandler(handler)
    written = out.getvalue()
    assert "sending to the relay failed" in written
    assert "KeyError" in written and "ConnectionRefusedError" in written and "ECONNREFUSED" in written
    assert "test_logs_no_phi.py" in written
    assert SECRETS[4] not in written and SECRETS[3] not in written


def test_safe_traceback_survives_a_cycle_in_the_chain() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert safe_traceback(first).count("ValueError") == 2
