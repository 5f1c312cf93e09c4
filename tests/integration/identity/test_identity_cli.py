"""The command line's side of identity, as real `clearance` processes: `clearance token`
prints a token that the development environment verifies (bad usage exits 2), and `lodge`
and `status` send `--token` or $CLEARANCE_TOKEN as a bearer token and tell a 401 or 403
plainly (exit 1). The service they call is a real HTTP server on 127.0.0.1 that answers as a
service would for each token (identity_servers.RecordingService)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from identity_servers import ROOT, RecordingService, serving

from shared.identity.development import DEV_ISSUER, dev_environment, dev_paths
from shared.identity.tokens import TokenVerifier

VALID_MRN = "26GB3ZP7Q2M9XABER4"
SAMPLE = ROOT / "samples" / "01-green-paid.json"


def clearance(*args: str, var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "CLEARANCE_TOKEN"}
    environ.update({"PYTHONPATH": str(ROOT), "CLEARANCE_VAR": str(var), **env})
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_token_prints_a_token_that_verifies(tmp_path: Path) -> None:
    var = tmp_path / "var"
    run = clearance("token", "--role", "officer", "--role", "auditor", "--sub", "officer-117",
                    "--offices", "GBLHR001, GBFXT001", "--ttl", "600", var=var)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    token = run.stdout.strip()
    assert run.stdout == token + "\n"  # the token alone: $(clearance token ...) works
    assert dev_paths(var)[0].exists()  # the key was made
    caller = TokenVerifier.from_settings(dev_environment(var)).verify(token)
    assert (caller.sub, caller.roles, caller.offices, caller.issuer) == (
        "officer-117", frozenset({"officer", "auditor"}), frozenset({"GBLHR001", "GBFXT001"}),
        DEV_ISSUER)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600


def test_token_json(tmp_path: Path) -> None:
    var = tmp_path / "var"
    run = clearance("token", "--role", "declarant", "--eori", "GB123456789000", "--json",
                    var=var)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    caller = TokenVerifier.from_settings(dev_environment(var)).verify(shown["token"])
    assert caller.eori == shown["claims"]["eori"] == "GB123456789000"
    assert shown["claims"]["roles"] == ["declarant"] and shown["claims"]["sub"] == caller.sub


@pytest.mark.parametrize("args, message", [
    (["--role", "wizard"], "argument --role: invalid choice: 'wizard'"),
    (["--role", "service"], "argument --role: invalid choice: 'service'"),
    ([], "the following arguments are required: --role"),
    (["--role", "officer", "--ttl", "0"], "'0' is not an integer >= 1"),
    (["--role", "officer", "--offices", " , "], "--offices names no office code"),
    (["--role", "declarant", "--eori", ""], "--eori is empty"),
])
def test_token_bad_usage_exits_2(args: list[str], message: str, tmp_path: Path) -> None:
    run = clearance("token", *args, var=tmp_path / "var")
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert "usage: clearance token" in run.stderr and message in run.stderr
    assert not (tmp_path / "var").exists()  # nothing made for a wrong command line


@pytest.fixture
def service() -> Iterator[tuple[RecordingService, dict[str, str]]]:
    recording = RecordingService(body={
        "mrn": VALID_MRN, "lrn": "L1", "version": 1,
        "status": {"name": "accepted", "code": "03"}, "lane": "green", "amount_due": None,
        "currency": None, "amount_paid": None, "released_at": None})
    with serving(recording) as base:
        yield recording, {"DECLARATION_HTTP": base.removeprefix("http://")}


def test_status_sends_the_token(service: tuple[RecordingService, dict[str, str]],
                                tmp_path: Path) -> None:
    recording, env = service
    run = clearance("status", VALID_MRN, "--token", "valid", var=tmp_path, **env)
    assert run.returncode == 0, run.stderr
    assert "accepted (03)" in run.stdout
    run = clearance("status", VALID_MRN, var=tmp_path, CLEARANCE_TOKEN="valid", **env)
    assert run.returncode == 0, run.stderr
    run = clearance("status", VALID_MRN, "--token", "valid", var=tmp_path,
                    CLEARANCE_TOKEN="forbidden", **env)  # --token wins
    assert run.returncode == 0, run.stderr
    assert recording.seen == [("GET", f"/declarations/{VALID_MRN}", "Bearer valid")] * 3


def test_lodge_sends_the_token(service: tuple[RecordingService, dict[str, str]],
                               tmp_path: Path) -> None:
    recording, env = service
    run = clearance("lodge", str(SAMPLE), var=tmp_path, CLEARANCE_TOKEN="valid", **env)
    assert run.returncode == 0, run.stderr
    assert recording.seen == [("POST", "/declarations", "Bearer valid")]


@pytest.mark.parametrize("command", [["status", VALID_MRN], ["lodge", str(SAMPLE)]])
def test_401_without_a_token_is_told_plainly(
        command: list[str], service: tuple[RecordingService, dict[str, str]],
        tmp_path: Path) -> None:
    recording, env = service
    run = clearance(*command, var=tmp_path, **env)
    assert run.returncode == 1
    assert "HTTP 401 not authenticated" in run.stderr
    assert "--token or $CLEARANCE_TOKEN" in run.stderr
    assert "clearance token --role" in run.stderr
    assert recording.seen[-1][2] is None  # no Authorization header sent
    run = clearance(*command, "--json", var=tmp_path, **env)
    assert run.returncode == 1
    assert "HTTP 401 not authenticated" in run.stderr
    json.loads(run.stdout)  # stdout stays JSON


@pytest.mark.parametrize("command", [["status", VALID_MRN], ["lodge", str(SAMPLE)]])
def test_403_is_told_plainly(command: list[str],
                             service: tuple[RecordingService, dict[str, str]],
                             tmp_path: Path) -> None:
    _, env = service
    run = clearance(*command, "--token", "forbidden", var=tmp_path, **env)
    assert run.returncode == 1
    assert "HTTP 403 not allowed: this needs one of the roles declarant" in run.stderr


def test_a_token_that_cannot_be_one_is_bad_usage(
        service: tuple[RecordingService, dict[str, str]], tmp_path: Path) -> None:
    recording, env = service
    run = clearance("status", VALID_MRN, "--token", "two words", var=tmp_path, **env)
    assert run.returncode == 2 and "--token is not a token" in run.stderr
    run = clearance("status", VALID_MRN, var=tmp_path, CLEARANCE_TOKEN="a\tb", **env)
    assert run.returncode == 2 and "$CLEARANCE_TOKEN is not a token" in run.stderr
    assert recording.seen == []
