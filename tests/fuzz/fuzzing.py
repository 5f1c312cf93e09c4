"""Schemathesis (its command line, `schemathesis run`) against one service's OpenAPI document,
as one role sees it: the document the service serves, cut down to the operations whose
`x-roles` name the role (or, for `None`, the public ones), every check on, the role's bearer
token on every request. Each run's requests are recorded (a HAR file), so the figures are
counted from what went over the wire: requests, 5xx answers, and the failures schemathesis
reports (its JSON report)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def document_for(document: dict[str, Any], role: str | None) -> dict[str, Any]:
    """`document` with only the operations `role` may call (None: those that need no token)."""
    cut = copy.deepcopy(document)
    for path, item in list(cut["paths"].items()):
        for method, operation in list(item.items()):
            roles = operation.get("x-roles")
            if (role is None) != (roles is None) or (roles is not None and role not in roles):
                del item[method]
        if not item:
            del cut["paths"][path]
    return cut


@dataclass
class Run:
    label: str
    operations: int
    requests: int = 0
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    output: str = ""


def run(label: str, base_url: str, document: dict[str, Any], token: str | None,
        max_examples: int, workdir: Path, seed: int) -> Run:
    """One schemathesis run over every operation of `document` (all phases that apply, all
    checks), against the service at `base_url`."""
    workdir.mkdir(parents=True, exist_ok=True)
    schema = workdir / "openapi.json"
    schema.write_text(json.dumps(document))
    args = [str(SCHEMATHESIS), "run", str(schema), "--url", base_url, "--checks", "all",
            "--max-examples", str(max_examples), "--seed", str(seed), "--workers", "1",
            "--continue-on-failure", "--request-timeout", "30",
            "--report", "json,har", "--report-dir", str(workdir),
            "--report-json-path", str(workdir / "report.json"),
            "--report-har-path", str(workdir / "requests.har"),
            "--output-truncate", "false", "--warnings", "off"]
    if token is not None:
        args += ["--header", f"Authorization: Bearer {token}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1800,
                          cwd=workdir, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    (workdir / "output.txt").write_text(done.stdout + done.stderr)
    result = Run(label, sum(len(item) for item in document["paths"].values()),
                 output=done.stdout[-20000:] + done.stderr[-5000:])
    report = json.loads((workdir / "report.json").read_text())
    for failure in report["failures"]:
        result.failures.append(f"{failure['code']} {failure['title']} "
                               f"({failure['count']}x, {', '.join(failure['operations'])})")
    for error in report["errors"]:
        result.failures.append(f"error: {json.dumps(error)[:500]}")
    entries = json.loads((workdir / "requests.har").read_text())["log"]["entries"]
    result.requests = len(entries)
    result.server_errors = sum(1 for e in entries if e["response"]["status"] >= 500)
    if done.returncode != 0 and not result.failures:
        result.failures.append(f"schemathesis exited {done.returncode}")
    return result
