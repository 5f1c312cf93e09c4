"""`clearance seal` and `clearance verify` with seals, the real commands on both backends and
the real broker (issue 11, "Sealed log").

Each test has a var folder of its own (CLEARANCE_VAR): the development seal key pair is made
there on first use and the seals go to `<var>/seals/<store>/`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import amqp
import pytest
from clirun import ROOT, clearance, environment, fill
from integration.store import insider

from shared.eventstore import EventStore
from shared.integrity.seals import EXCHANGE, EXCHANGE_TYPE, dev_key_paths, seal_files
from shared.messaging.publisher import connect
from shared.testing.databases import service_url


@pytest.fixture
def var(tmp_path: Path) -> Path:
    return tmp_path / "var"


@pytest.fixture
def env(var: Path, amqp_uri: str) -> dict[str, str]:
    return {"CLEARANCE_VAR": str(var), "AMQP_URI": amqp_uri, "SEAL_DIR": "",
            "SEAL_KEY_FILE": "", "SEAL_PUBLIC_KEY_FILE": ""}


@pytest.fixture
def archive(amqp_uri: str) -> Iterator[tuple[amqp.Channel, str]]:
    """A queue bound to the seals exchange (declared as the sealer declares it), as an
    archiver would have."""
    connection = connect(amqp_uri)
    channel = connection.channel()
    channel.exchange_declare(EXCHANGE, EXCHANGE_TYPE, durable=True, auto_delete=False)
    queue, _, _ = channel.queue_declare("", exclusive=True)
    channel.queue_bind(queue, EXCHANGE)
    yield channel, queue
    connection.close()


def seal_dir_of(var: Path) -> Path:
    [folder] = list((var / "seals").iterdir())
    return folder


def test_seal_then_verify_an_intact_log_exits_0_and_the_seal_is_published(
        store_url: str, env: dict[str, str], var: Path,
        archive: tuple[amqp.Channel, str]) -> None:
    last = fill(store_url, 5)
    run = clearance("seal", url=store_url, env=env)
    assert run.code == 0, run
    [path] = seal_files(seal_dir_of(var))
    assert f"sealed position {last}" in run.out and str(path) in run.out
    assert f"published to {EXCHANGE}" in run.out
    key, public = dev_key_paths(var)
    assert key.stat().st_mode & 0o777 == 0o600 and public.is_file()
    channel, queue = archive
    message = channel.basic_get(queue, no_ack=True)
    assert message is not None and json.loads(message.body) == json.loads(path.read_text())

    again = clearance("seal", url=store_url, env=env)
    assert again.code == 0 and again.out.startswith(f"unchanged: position {last}"), again

    verify = clearance("verify", url=store_url, env=env)
    assert verify.code == 0, verify
    assert f"matches 1 seal(s) up to position {last}" in verify.out
    body = json.loads(clearance("verify", "--json", url=store_url, env=env).out)
    assert body["ok"] and body["seals"]["checked"] == 1 and body["seals"]["latest_position"] == last


def test_an_auditor_finds_an_insider_rewrite_with_only_the_seals_the_public_key_and_a_read_only_log(
        store_url: str, env: dict[str, str], var: Path, tmp_path: Path) -> None:
    fill(store_url, 3)
    assert clearance("seal", "--no-publish", url=store_url, env=env).code == 0
    fill_tail(store_url)
    assert clearance("seal", "--no-publish", url=store_url, env=env).code == 0
    auditor = tmp_path / "auditor"
    shutil.copytree(seal_dir_of(var), auditor / "seals")
    shutil.copy(dev_key_paths(var)[1], auditor / "seal.pub")

    insider.rewrite(store_url, 4)
    plain = clearance("verify", url=store_url, env={**env, "CLEARANCE_VAR": str(tmp_path / "x")})
    assert plain.code == 0 and "no seal to check against" in plain.out, plain

    if store_url.startswith("sqlite"):
        copy = tmp_path / "copy.db"
        shutil.copy(store_url.removeprefix("sqlite:///"), copy)
        copy.chmod(0o444)
        log = f"sqlite:///{copy}"
    else:
        log = service_url(store_url)  # SELECT on the log, nothing more
    nothing = {**env, "CLEARANCE_VAR": str(tmp_path / "empty")}  # no private key anywhere
    args = ("verify", "--seals", str(auditor / "seals"), "--seal-public-key",
            str(auditor / "seal.pub"))
    run = clearance(*args, url=log, env=nothing)
    assert run.code == 1, run
    assert run.out.splitlines()[0].startswith("BROKEN: first bad position 4")
    assert "position 4: rewrite: position 4 differs from seal" in run.out
    body = json.loads(clearance(*args, "--json", url=log, env=nothing).out)
    assert body["first_bad_position"] == 4 and body["seals"]["checked"] == 2
    assert [p["kind"] for p in body["problems"]] == ["rewrite"]
    assert not (tmp_path / "empty" / "seal").exists()


def fill_tail(url: str) -> None:
    """Two more events, after what `fill` lodged."""
    from integration.store.conftest import make_registry, thing

    store = EventStore(url, make_registry(), migrate=False)
    try:
        store.append("thing-extra", [thing("a"), thing("b")], expected_version=0)
    finally:
        store.close()


def test_a_cut_tail_and_a_tampered_seal_exit_1_naming_them(
        store_url: str, env: dict[str, str], var: Path) -> None:
    fill(store_url, 4)
    assert clearance("seal", "--no-publish", url=store_url, env=env).code == 0
    insider.cut_tail(store_url, keep=5)
    run = clearance("verify", url=store_url, env=env)
    assert run.code == 1, run
    assert "position 6: truncation: the log ends at position 5" in run.out
    assert "positions 6..8 are missing" in run.out

    [path] = seal_files(seal_dir_of(var))
    document = json.loads(path.read_text())
    document["sealed_at"] = "2020-01-01T00:00:00.000000+00:00"
    path.write_text(json.dumps(document))
    run = clearance("verify", "--json", url=store_url, env=env)
    body = json.loads(run.out)
    assert run.code == 1 and body["seals"] == {**body["seals"], "checked": 0, "invalid": 1}
    [problem] = body["problems"]
    assert problem["kind"] == "seal" and "bad signature" in problem["detail"]


def test_a_broker_that_is_down_loses_no_seal(store_url: str, env: dict[str, str],
                                             var: Path) -> None:
    fill(store_url, 2)
    down = {**env, "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}
    run = clearance("seal", url=store_url, env=down)
    assert run.code == 0, run
    assert "seal written but not published" in run.err
    assert len(seal_files(seal_dir_of(var))) == 1
    fill_tail(store_url)
    run = clearance("seal", "--require-publish", url=store_url, env=down)
    assert run.code == 1 and "seal written but not published" in run.err, run
    assert len(seal_files(seal_dir_of(var))) == 2
    assert clearance("verify", url=store_url, env=env).code == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_seal_every_seals_as_the_log_moves_skips_when_it_does_not_and_stops_cleanly(
        store_url: str, env: dict[str, str], var: Path, stop: signal.Signals) -> None:
    fill(store_url, 2)
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "seal", "--every", "0.2", "--json"], cwd=ROOT,
        env=environment(store_url, env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert process.stdout is not None
    try:
        rounds = [json.loads(process.stdout.readline()) for _ in range(3)]
        assert [r["sealed"] for r in rounds] == [True, False, False]
        assert rounds[0]["position"] == 4 and rounds[0]["published"] is True
        fill_tail(store_url)
        deadline = time.monotonic() + 20
        while True:
            line = json.loads(process.stdout.readline())
            if line["sealed"]:
                break
            assert time.monotonic() < deadline
        assert (line["from_position"], line["position"]) == (5, 6)
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    assert len(seal_files(seal_dir_of(var))) == 2
    assert clearance("verify", url=store_url, env=env).code == 0
