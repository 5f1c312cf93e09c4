"""A bad partner-agency register stops the release service at start, naming the file and the
line (issue 14): the real service (`nameko run` with its own config.yaml, started as the
runner starts it, so that every line is JSON), the real broker, a store of its own, identity
configured as in production, so the register is the only fault.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.identity.development import dev_environment
from shared.testing.processes import free_port

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.rabbitmq

GOOD = """\
version: "t-1"
agencies:
  - code: GBFSA
    name: Food
    interest:
      hs_prefixes: ["0201"]
    time_limit: PT48H
"""
BAD = {
    "a bad HS prefix": (GOOD.replace('"0201"', '"02A1"'), 6, "02A1"),
    "a duplicate code": (GOOD + GOOD.split("agencies:\n", 1)[1].replace("Food", "Again"), 8,
                         "duplicate"),
    "an unknown field": (GOOD.replace("    time_limit", "    colour: red\n    time_limit"), 7,
                         "colour"),
}


def run_release(tmp_path: Path, register: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **dev_environment(tmp_path / "var"),
           "AGENCY_REGISTER_FILE": str(register),
           "EVENT_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
           "RELEASE_HTTP": f"127.0.0.1:{free_port()}", "LOG_LEVEL": "INFO"}
    return subprocess.run(
        [sys.executable, "-m", "shared.observability.logging", "run", "--config",
         "services/release/config.yaml",
         "services.release.service"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_register_stops_the_release_service_naming_the_line(tmp_path: Path,
                                                                   case: str) -> None:
    text, number, words = BAD[case]
    register = tmp_path / "agencies.yaml"
    register.write_text(text, encoding="utf-8")
    ran = run_release(tmp_path, register)
    assert ran.returncode != 0
    messages = [json.loads(text)["event"] for text in ran.stderr.splitlines() if text.strip()]
    named = [m for m in messages if f"{register}:{number}:" in m]
    assert named and words in named[0], messages
    # Only the register is wrong: identity and everything else start.
    assert not any("IdentityMisconfigured" in m for m in messages), messages
