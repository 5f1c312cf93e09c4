"""The chaos run's figures, printed at the end of the session (`make chaos`)."""

from __future__ import annotations

import pytest

from .chaos import RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("chaos (consignments through kills and restarts)")
    for result in RESULTS:
        for line in result.lines():
            terminalreporter.write_line(line)
