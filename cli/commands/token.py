"""`clearance token --role ROLE [--role ...]`: a bearer token signed with the development key.

The key is the embedded default's (`var/auth/`, made here if missing; see
shared/identity/development.py): the services `make run` starts trust it, a production
deployment does not. The token goes to stdout alone, so that

    export CLEARANCE_TOKEN=$(clearance token --role officer --offices GBLHR001)

gives the commands that call a service (`lodge`, `status`, ...) their identity. Exit 2 for a
role that is not one of the contract's (argparse) or an empty `--offices`.
"""

from __future__ import annotations

import argparse

import jwt

from shared.identity import ROLES
from shared.identity.development import default_var, mint

from ..output import UsageError, emit_json, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "token", help="print a token signed with the development key (make run trusts it)",
        description="Print a bearer token signed with the development key under "
                    "CLEARANCE_VAR (default <repo>/var)/auth, which is made if missing.")
    parser.add_argument("--role", action="append", required=True, choices=ROLES,
                        metavar="ROLE", help=f"a role of the caller, repeatable: {', '.join(ROLES)}")
    parser.add_argument("--sub", help="who the caller is (default: dev-<roles>)")
    parser.add_argument("--eori", help="the trader's EORI (declarant, cashier)")
    parser.add_argument("--offices", metavar="O,...",
                        help="comma-separated office codes (officer), e.g. GBLHR001,GBFXT001")
    parser.add_argument("--agency", help="the agency's code (agency staff)")
    parser.add_argument("--ttl", type=positive_int, default=3600, metavar="SECONDS",
                        help="seconds until the token expires (default 3600)")
    parser.add_argument("--json", action="store_true",
                        help="the token with its claims, as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    offices: list[str] = []
    if args.offices is not None:
        offices = [code.strip() for code in args.offices.split(",") if code.strip()]
        if not offices:
            raise UsageError("--offices names no office code")
    for name in ("sub", "eori", "agency"):
        value = getattr(args, name)
        if value is not None and not value.strip():
            raise UsageError(f"--{name} is empty")
    token = mint(default_var(), roles=list(dict.fromkeys(args.role)), sub=args.sub,
                 eori=args.eori, offices=offices, agency=args.agency, ttl=args.ttl)
    if args.json:  # the claims as signed (read back from the token just made)
        emit_json({"token": token, "claims": jwt.decode(token, options={"verify_signature": False})})
    else:
        print(token)
    return 0
