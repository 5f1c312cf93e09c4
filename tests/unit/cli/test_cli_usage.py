"""Exit codes of the real `clearance` (issue 9, point 5): 2 for bad usage everywhere, found by
argparse or by the command itself, with the subcommand's usage line and
`clearance <command>: error: ...`; 1 for a missing thing or a failure.

Usage is judged before anything is reached: these runs point EVENT_STORE_URL at a store that
does not exist and the services and the broker at a closed port, so a command that looked
further than its command line would exit 1, not 2. The runs that must exit 1 reach those real,
closed addresses (nothing is mocked) and must name them, from the settings (shared/settings.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CLOSED = "127.0.0.1:9"  # discard port: nothing listens there
VALID_MRN = "26GB3ZP7Q2M9XABER4"  # format and ISO 7064 MOD 37,36 check character


def clearance(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.endswith("_HTTP")}
    environ.update({
        "PYTHONPATH": str(ROOT),
        "EVENT_STORE_URL": f"sqlite:///{tmp_path}/no-such-store.db",
        "AMQP_URI": f"amqp://guest:broker-pw@{CLOSED}/",
        **{f"{s}_HTTP": CLOSED for s in ("DECLARATION", "RISK", "PAYMENT", "RELEASE")},
        **env,
    })
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


BAD_USAGE = [
    # found by the command itself
    (["trs", "--since", "2026-03-03", "--until", "2026-03-02"], "--since must be before --until"),
    (["trs", "--since", "2026-03-02", "--until", "2026-03-02"], "--since must be before --until"),
    (["status", "26GBfoo"], "'26GBfoo' is not an MRN"),
    (["status", VALID_MRN[:-1] + "0"], "is not an MRN"),  # a mistyped check character
    (["parked", "replay"], "name the QUEUE to replay into"),
    (["parked", "list", "no.such.queue"], "'no.such.queue' is not a subscription queue"),
    (["parked", "list", "risk.declarations.parked"],
     "the subscription queue is 'risk.declarations'"),
    (["parked", "list", "--event-id", "e1"], "--event-id selects messages to replay"),
    # found by argparse
    (["history", "C1", "--as-of", "yesterday"], "is not an ISO 8601 time"),
    (["history", "C1", "--json", "--csv"], "not allowed with argument"),
    (["trs", "--by", "colour"], "argument --by"),
    (["listen", "--from-position", "-1"], "'-1' is not an integer >= 0"),
    (["listen", "--from-position", "ten"], "'ten' is not an integer >= 0"),
    (["listen", "--count", "0"], "'0' is not an integer >= 1"),
    (["listen", "--idle", "0"], "'0' is not a number > 0"),
    (["parked", "list", "--limit", "0"], "'0' is not an integer >= 1"),
    (["verify", "--no-such-option"], "unrecognized arguments"),
    (["lodge"], "the following arguments are required"),
]


@pytest.mark.parametrize(("args", "why"), BAD_USAGE, ids=[" ".join(a) for a, _ in BAD_USAGE])
def test_bad_usage_exits_2_with_the_usage_and_why(args: list[str], why: str,
                                                  tmp_path: Path) -> None:
    run = clearance(*args, tmp_path=tmp_path)
    assert run.returncode == 2, run
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines[0].startswith(f"usage: clearance {args[0]} "), run.stderr
    assert lines[-1].startswith(f"clearance {args[0]}: error: ") and why in lines[-1], run.stderr
    assert list(tmp_path.iterdir()) == []  # the store was not even looked for


MISSING_OR_FAILED = [
    (["lodge", "no-such-declaration.json"], "cannot read no-such-declaration.json"),
    (["status", VALID_MRN], f"the declaration service at http://{CLOSED} is not reachable"),
    (["status", VALID_MRN.lower()], f"the declaration service at http://{CLOSED}"),
    (["listen", "--from-position", "0", "--idle", "1"],
     f"the broker at amqp://guest:***@{CLOSED}/ is not reachable"),
    (["parked", "list", "risk.declarations"],
     f"the broker at amqp://guest:***@{CLOSED}/ is not reachable"),
    (["verify"], "no event store at sqlite:///"),
]


@pytest.mark.parametrize(("args", "why"), MISSING_OR_FAILED,
                         ids=[" ".join(a) for a, _ in MISSING_OR_FAILED])
def test_a_missing_thing_or_a_failure_exits_1_with_a_message(args: list[str], why: str,
                                                             tmp_path: Path) -> None:
    run = clearance(*args, tmp_path=tmp_path)
    assert run.returncode == 1, run
    assert run.stdout == ""
    assert run.stderr.startswith("clearance: ") and why in run.stderr, run.stderr
    assert "usage:" not in run.stderr
    assert "broker-pw" not in run.stderr
