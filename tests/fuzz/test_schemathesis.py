"""The API documents are true (issue 15): schemathesis, every check on (`--checks all`:
no server error, status codes, content types, response schemas and headers, negative data
refused, positive data accepted, missing headers, unsupported methods, ignored auth...),
over every operation of the four running services, each operation with a token of each role
its `x-roles` names (and the public ones with none), against the document each service
serves at /openapi.json. No failure, no 5xx.

`FUZZ_EXAMPLES` sets schemathesis's examples per operation and phase (default 5: a short run
for `make test`; `make fuzz` runs 400, over 10,000 requests in all); `FUZZ_SEED` its seed.
The figures (requests, failures, 5xx) are printed at the end of the session; each run's
report, HAR and output are under pytest's temporary folder (`fuzz-runs*`).
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import pytest

from shared.identity.development import mint
from tests.e2e.conftest import SERVICES, Cluster

from .conftest import RUNS
from .fuzzing import document_for, run

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "1515"))

#: The claims of each role's token (as tests/e2e/parties.py gives them).
CLAIMS: dict[str, dict[str, Any]] = {
    "declarant": {"eori": "GB123456789000"},
    "officer": {"offices": ["GBDEM001"]},
    "cashier": {},
    "auditor": {},
    "agency": {"agency": "GBPHA"},
    "operator": {},
}


def roles_of(service: str) -> list[str | None]:
    """Who calls the service's operations: nobody (the public ones) and each role named."""
    from services.declaration.service import DeclarationService
    from services.payment.service import PaymentService
    from services.release.service import ReleaseService
    from services.risk.service import RiskService
    from shared.web.openapi import operations_of

    cls = {"declaration": DeclarationService, "risk": RiskService, "payment": PaymentService,
           "release": ReleaseService}[service]
    named = {role for op in operations_of(cls) for role in op.roles or ()}
    return [None, *sorted(named)]


CASES = [(service, role) for service in SERVICES for role in roles_of(service)]


@pytest.mark.rabbitmq
@pytest.mark.parametrize("service, role", CASES, ids=[f"{s}-{r or 'public'}" for s, r in CASES])
def test_every_operation_as_each_role(fuzz_cluster: Cluster, service: str, role: str | None,
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    base_url = "http://" + fuzz_cluster.env[f"{service.upper()}_HTTP"]
    with urllib.request.urlopen(base_url + "/openapi.json", timeout=30) as answer:
        document = json.load(answer)
    cut = document_for(document, role)
    assert cut["paths"], f"{service}: no operation for {role}"
    token = None if role is None else mint(fuzz_cluster.var, roles=[role], sub=f"fuzz-{role}",
                                           **CLAIMS[role])
    workdir = tmp_path_factory.mktemp(f"fuzz-runs-{service}-{role or 'public'}")
    result = run(f"{service}/{role or 'public'}", base_url, cut, token, EXAMPLES, workdir,
                 SEED)
    RUNS.append(result)
    assert result.requests > 0, result.output
    assert result.failures == [] and result.server_errors == 0, (
        f"{result.failures}; {result.server_errors} 5xx\n{result.output}")
