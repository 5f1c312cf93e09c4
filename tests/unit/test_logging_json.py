"""The JSON rendering of stdlib log records and of text written to stdout or stderr."""

from __future__ import annotations

import io
import json
import logging
import sys
from datetime import datetime, timedelta
from typing import Any

from shared.observability.logging import JsonFormatter, _LinesAsJson, service_name


def record(message: str, *args: Any, level: int = logging.ERROR, exc_info: Any = None,
           extra: dict[str, Any] | None = None) -> logging.LogRecord:
    made = logging.getLogger("tests.logging").makeRecord(
        "tests.logging", level, __file__, 1, message, args, exc_info, extra=extra)
    return made


def rendered(line: str) -> dict[str, Any]:
    assert "\n" not in line, line
    parsed: dict[str, Any] = json.loads(line)
    assert {"timestamp", "level", "service", "event"} <= set(parsed), parsed
    assert parsed["service"] == service_name()
    assert datetime.fromisoformat(parsed["timestamp"]).utcoffset() == timedelta(0)
    return parsed


def test_a_stdlib_record_with_exc_info_is_one_json_line_with_the_traceback_in_a_field() -> None:
    try:
        raise ValueError("a bad value\nover two lines")
    except ValueError:
        exc_info = sys.exc_info()
    line = JsonFormatter().format(record("unhandled error in %s %s", "GET", "/x",
                                         exc_info=exc_info))
    parsed = rendered(line)
    assert parsed["event"] == "unhandled error in GET /x"
    assert parsed["level"] == "error"
    assert parsed["logger"] == "tests.logging"
    assert parsed["exception"].startswith("Traceback (most recent call last):")
    assert parsed["exception"].endswith("ValueError: a bad value\nover two lines")
    assert "test_a_stdlib_record_with_exc_info" in parsed["exception"]


def test_extra_fields_become_fields_and_levels_are_lower_case() -> None:
    line = JsonFormatter().format(record("http request", level=logging.WARNING,
                                         extra={"status": 404, "path": "/nope"}))
    parsed = rendered(line)
    assert parsed["level"] == "warning"
    assert (parsed["event"], parsed["status"], parsed["path"]) == ("http request", 404, "/nope")
    assert "exception" not in parsed


def test_a_record_whose_arguments_do_not_fit_its_message_is_still_one_json_line() -> None:
    parsed = rendered(JsonFormatter().format(record("%s and %s", "only one")))
    assert parsed["event"] == "%s and %s"
    assert parsed["format_error"].startswith("TypeError")


def test_printed_lines_become_json_lines_and_a_printed_traceback_one_line() -> None:
    target = io.StringIO()
    stream = _LinesAsJson("stderr", "error", target)
    stream.write("first line\nsecond ")
    stream.write("line\n\n")
    stream.write("Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n")
    stream.write("    raise RuntimeError('x')\nRuntimeError: x\n")
    stream.write("no newline at the end")
    stream.flush()
    lines = [rendered(line) for line in target.getvalue().splitlines()]
    assert [(r["event"], r["logger"], r["level"]) for r in lines] == [
        ("first line", "stderr", "error"), ("second line", "stderr", "error"),
        ("RuntimeError: x", "stderr", "error"), ("no newline at the end", "stderr", "error")]
    assert lines[2]["exception"] == ("Traceback (most recent call last):\n"
                                     "  File \"x.py\", line 1, in f\n"
                                     "    raise RuntimeError('x')\nRuntimeError: x")
