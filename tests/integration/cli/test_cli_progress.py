"""The progress bar of the long commands (issue 9, point 5), seen as a user sees it.

A store of 20,000 events is read by the real `clearance` with its stderr on a pseudo-terminal:
every long pass (verify, verify --decisions, trs, rebuild, rebuild --check, accounts) must draw one line
updated in place (carriage returns, one newline at the end) with its name, a bar, the
percentage, the events covered out of the log's last position, the elapsed time, the ETA and
the rate; at least one of these lines while the pass is under way (0% < done < 100%), with an
ETA in digits. tqdm redraws at most every `TQDM_MININTERVAL` seconds (0.1 by default); it is
set to 0 here so each page of the pass (2,000 to 5,000 events) draws a line, whatever the
machine's speed. With `--json`, or with stderr on a pipe, nothing at all is written on stderr.
"""

from __future__ import annotations

import json
import re

import pytest
from clirun import COLUMNS, clearance, fill

from audit.rebuild import rebuild
from shared.eventstore import EventStore

CONSIGNMENTS = 10_000  # two events each
EVENTS = 2 * CONSIGNMENTS
EVERY_DRAW = {"TQDM_MININTERVAL": "0"}

# "verify:  25%|████████▊     | 5,000/20,000 events [00:00<00:01, 58.2k events/s]"
LINE = re.compile(r"^(?P<what>[a-z]+): +(?P<percent>\d+)%\|[^|]*\| (?P<n>[\d,]+)/(?P<total>[\d,]+)"
                  r" events \[(?P<elapsed>\d+:\d\d(?::\d\d)?)<(?P<eta>\d+:\d\d(?::\d\d)?|\?), "
                  r"+(?P<rate>[\d.]+[kMG]?|\?) events/s\]$")

# (command line, the passes it draws, the exit code, what stdout says)
COMMANDS = [
    (["verify"], ["verify"], 0, f"OK: {EVENTS:,} events"),
    (["verify", "--decisions"], ["verify", "decisions"], 0, "decisions: 0 risk decisions"),
    (["trs"], ["trs"], 0, f"lodged {CONSIGNMENTS:,}, released 0"),
    (["rebuild", "--check"], ["check"], 0, "identical"),
    (["rebuild"], ["rebuild"], 0, f"rebuilt from {EVENTS:,} events"),
    (["accounts"], ["accounts"], 0, "Ledger balances by class (0 entries"),
]


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('progress') / 'clearance.db'}"
    assert fill(url, CONSIGNMENTS) == EVENTS
    store = EventStore(url)
    try:
        rebuild(store)  # live read models equal to the log, so `rebuild --check` exits 0
    finally:
        store.close()
    return url


def bar_lines(err: str) -> list[re.Match[str]]:
    """Each state of the bar drawn on the terminal (carriage returns separate the redraws)."""
    return [m for m in (LINE.match(part.strip()) for part in re.split(r"[\r\n]+", err)) if m]


@pytest.mark.parametrize(("args", "passes", "code", "says"), COMMANDS,
                         ids=[" ".join(c[0]) for c in COMMANDS])
def test_on_a_terminal_a_bar_with_percentage_count_rate_and_eta(
        big_store: str, args: list[str], passes: list[str], code: int, says: str) -> None:
    run = clearance(*args, url=big_store, tty=True, env=EVERY_DRAW)
    assert run.code == code, run
    assert says in run.out
    assert "%|" not in run.out  # the bar is on stderr only
    lines = bar_lines(run.err)
    assert [m["what"] for m in lines if m["percent"] == "0"] == passes  # one bar per pass
    leftovers = [part for part in re.split(r"[\r\n]+", run.err) if part.strip()
                 and not LINE.match(part.strip())]
    assert leftovers == []  # nothing but the bar
    assert run.err.count("\n") == len(passes)  # each bar is one line, redrawn in place...
    assert max(len(part) for part in re.split(r"[\r\n]+", run.err)) <= COLUMNS  # ...unwrapped
    for what in passes:
        mine = [m for m in lines if m["what"] == what]
        assert all(m["total"] == f"{EVENTS:,}" for m in mine)
        last = mine[-1]
        assert last["percent"] == "100" and last["n"] == f"{EVENTS:,}"
        assert last["eta"] != "?" and last["rate"] != "?"
        if what != "decisions":  # decisions reads only risk and payment events: none here
            under_way = [m for m in mine if 0 < int(m["percent"]) < 100]
            assert under_way, f"no line while {what} was under way: {run.err!r}"
            assert all(re.fullmatch(r"\d+:\d\d", m["eta"]) for m in under_way)
            counts = [int(m["n"].replace(",", "")) for m in mine]
            assert counts == sorted(counts)


@pytest.mark.parametrize(("args", "passes", "code", "says"), COMMANDS,
                         ids=[" ".join(c[0]) for c in COMMANDS])
def test_piped_stderr_gets_nothing(big_store: str, args: list[str], passes: list[str],
                                   code: int, says: str) -> None:
    run = clearance(*args, url=big_store, env=EVERY_DRAW)
    assert run.code == code, run
    assert says in run.out
    assert run.err == ""


@pytest.mark.parametrize("args", [["verify", "--json"], ["verify", "--decisions", "--json"],
                                  ["trs", "--json"], ["rebuild", "--check", "--json"],
                                  ["rebuild", "--json"]], ids=" ".join)
def test_with_json_the_terminal_gets_nothing(big_store: str, args: list[str]) -> None:
    run = clearance(*args, url=big_store, tty=True, env=EVERY_DRAW)
    assert run.code == 0, run
    json.loads(run.out)
    assert run.err == ""

