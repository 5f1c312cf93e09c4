"""The README's front door, run as a newcomer runs it (STYLE.md point 16): `make demo` starts
the four services, sends the sample consignments through and stops them, exiting 0 only when
every sample ends as expected. Runs on a private vhost, free ports and a store of its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shared.testing.rabbit import private_vhost

from .conftest import ROOT, cluster_env


def test_make_demo_passes(tmp_path: Path) -> None:
    with private_vhost("clearance_demo") as amqp_uri:
        env = cluster_env(f"sqlite:///{tmp_path / 'demo.db'}", amqp_uri, tmp_path / "var")
        result = subprocess.run(["make", "demo"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "20 of 20 sample consignments ended as expected." in output
    assert "cleared (09)" in output and "refused  HTTP 422" in output
    assert "release_refused (18)" in output and "invalidated (10)" in output
    assert "amended  item 1 value" in output and "(version 2)" in output
