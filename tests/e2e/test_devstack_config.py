"""What CI can check of the container devstack without a Docker engine: the compose
files parse and agree with the services (every built service has its Dockerfile, every
variable set is one the service reads, every variable it reads is set or documented,
ports as docs/development.md and the issue state them, no database port on the host),
each Dockerfile passes a structural check, and no production configuration (compose
files, Dockerfiles, settings defaults) points a service at SQLite, checked in the files
themselves and not only in the current environment."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
# Read with os.environ directly, outside the settings classes (migration helpers).
DIRECT_ENV = {"UNISON_MIGRATIONS_DIR", "UNISON_DB_RUNTIME_ROLE", "UNISON_DB_SYSTEM_ROLE",
              "UNISON_DATABASE_OWNER_URL"}
# Settings no page documents yet (issue 16: "every environment variable a service reads
# is set or documented"). The test below fails when one more appears, and when one of
# these gets documented (then drop it here), so the list only shrinks.
DATABASE_IMAGES = ("postgres", "pgvector", "redis", "neo4j", "seaweedfs", "minio")


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


def compose_services() -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for path in COMPOSE_FILES:
        for name, spec in load(path)["services"].items():
            merged.setdefault(name, {}).update(spec or {})
    return merged


def environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def image_of(spec: dict[str, Any]) -> ServiceImage | None:
    build = spec.get("build")
    if not build:
        return None
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else \
        "Dockerfile"
    for image in SERVICES.values():
        if image.dockerfile == dockerfile:
            return image
    raise AssertionError(f"a build of an unknown Dockerfile: {build}")


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


# --- compose ------------------------------------------------------------------------


def test_compose_files_parse_and_reference_what_exists():
    assert COMPOSE_FILES, "devstack has no compose file"
    services = compose_services()
    for name, spec in services.items():
        assert ("image" in spec) != ("build" in spec), f"{name}: image or build, not both"
        for dep in spec.get("depends_on") or {}:
            assert dep in services, f"{name} depends on unknown service {dep}"
        build = spec.get("build")
        if build:
            assert isinstance(build, dict), name
            context = (DEVSTACK / build["context"]).resolve()
            assert context == ROOT, f"{name}: built from {context}, not the repository root"
            assert (context / build["dockerfile"]).is_file(), f"{name}: no Dockerfile"
    built = {image_of(spec).package for spec in services.values()  # type: ignore[union-attr]
             if spec.get("build")}
    assert built, "compose builds none of the services"
    for path in COMPOSE_FILES:
        for volume in (load(path).get("volumes") or {}):
            assert any(f"{volume}:" in s for spec in services.values()
                       for s in strings(spec.get("volumes") or [])), \
                f"{path.name}: volume {volume} is used by no service"


def test_every_variable_set_is_read_and_every_variable_read_is_set_or_documented():
    services = compose_services()
    documented = documented_names()
    for name, spec in services.items():
        image = image_of(spec)
        if image is None:
            continue
        reads = env_names(image.settings) | DIRECT_ENV
        unknown = set(environment(spec)) - reads
        assert not unknown, f"{name} sets variables its service never reads: {unknown}"
    for path in COMPOSE_FILES:
        for var in re.findall(r"\$\{([A-Z0-9_]+)", path.read_text()):
            assert var in documented, f"{path.name} interpolates undocumented ${{{var}}}"
    undocumented: set[str] = set()
    for image in SERVICES.values():
        set_somewhere = {var for spec in services.values() if image_of(spec) == image
                         for var in environment(spec)}
        undocumented |= env_names(image.settings) - set_somewhere - documented
    assert not undocumented, f"settings read but neither set nor documented: {undocumented}"


def test_ports_as_stated_and_no_database_port_on_the_host():
    services = compose_services()
    for name, spec in services.items():
        ports = [str(p) for p in spec.get("ports") or []]
        image = image_of(spec)
        if image is None:
            image_name = str(spec.get("image", ""))
            if any(db in image_name for db in DATABASE_IMAGES):
                assert not ports, f"{name} ({image_name}) publishes {ports} on the host"
            continue
        if "migrate" in str(spec.get("command", "")):
            assert not ports, f"{name}: a migration job publishes {ports}"
            continue
        assert ports == [f"{image.host_port}:{image.container_port}"], (name, ports)
        assert name in SERVICES and SERVICES[name] == image, \
            f"{name} runs {image.package}; name it after its service"


def test_migration_jobs_finish_before_their_service_starts():
    services = compose_services()
    jobs = {name for name, spec in services.items()
            if "migrate" in strings(spec.get("command") or [])}
    assert jobs, "no one-shot migration job"
    for job in jobs:
        image = image_of(services[job])
        assert image is not None, f"{job}: a migration job runs a service image"
        assert "--url" not in services[job]["command"] or \
            any("postgresql" in s for s in services[job]["command"]), job
        dependants = [name for name, spec in services.items()
                      if (spec.get("depends_on") or {}).get(job, {}).get("condition")
                      == "service_completed_successfully"]
        assert dependants, f"nothing waits for {job} to complete"
        for name in dependants:
            assert image_of(services[name]) == image, (job, name)


# --- Dockerfiles ----------------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dockerfile_structure(service: str):
    image = SERVICES[service]
    path = ROOT / image.dockerfile
    stages = dockerfile_stages(path)
    assert len(stages) >= 2, f"{path}: not multi-stage"
    for stage in stages:
        assert ":" in stage.base and not stage.base.endswith(":latest"), \
            f"{path}: base image {stage.base} is not pinned to a tag"
    build, final = stages[0], stages[-1]
    # Only the service's own dependencies: a frozen, non-dev sync of its one package.
    syncs = [r for r in build.args("RUN") if "uv sync" in r]
    assert len(syncs) == 1, syncs
    sync = shlex.split(syncs[0])
    for flag in ("--frozen", "--no-dev"):
        assert flag in sync, f"{path}: uv sync without {flag}"
    assert sync[sync.index("--package") + 1] == image.package
    assert not any("uv" in r or "pip install" in r for r in final.args("RUN")), \
        f"{path}: the runtime stage installs packages"
    assert any("--from=" in c for c in final.args("COPY")), f"{path}: nothing from build"
    # A non-root user, set before the command runs.
    users = final.args("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), f"{path}: runs as root"
    keywords = [kw for kw, _ in final.instructions]
    assert keywords.index("USER") < keywords.index("CMD")
    # The port it serves is the one it exposes, the one compose maps, the one it probes.
    assert final.args("EXPOSE") == [str(image.container_port)]
    cmd = yaml.safe_load(final.args("CMD")[-1])
    assert isinstance(cmd, list), f"{path}: CMD is not in exec form"
    assert cmd[cmd.index("--port") + 1] == str(image.container_port)
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    health = final.args("HEALTHCHECK")
    assert len(health) == 1 and f"127.0.0.1:{image.container_port}/" in health[0], health


# --- SQLite guard --------------------------------------------------------------------


SETTINGS_SOURCES = [ROOT / "shared/src/unison_shared/settings.py",
                    ROOT / "shared/src/unison_shared/graph_runtime.py",
                    *sorted(ROOT.glob("services/*/src/*/settings.py"))]


def test_no_production_configuration_points_at_sqlite(monkeypatch: pytest.MonkeyPatch):
    # The files themselves: compose, Dockerfiles, the database init scripts, settings,
    # and the migrations configuration every image carries.
    files = [*COMPOSE_FILES, *(ROOT / i.dockerfile for i in SERVICES.values()),
             *sorted((DEVSTACK / "initdb").glob("*")), *SETTINGS_SOURCES,
             ROOT / "migrations" / "alembic.ini"]
    assert len(SETTINGS_SOURCES) >= 6
    for path in files:
        assert "sqlite" not in path.read_text().lower(), f"{path} mentions SQLite"
    for name, spec in compose_services().items():
        for var, value in environment(spec).items():
            if var.endswith(("DATABASE_URL", "DATABASE_SYSTEM_URL", "DATABASE_OWNER_URL")):
                assert value.startswith("postgresql+asyncpg://"), (name, var, value)
        command = strings(spec.get("command") or [])
        for i, arg in enumerate(command[:-1]):
            if arg == "--url":
                assert command[i + 1].startswith("postgresql"), (name, command)
    for path in (ROOT / i.dockerfile for i in SERVICES.values()):
        for stage in dockerfile_stages(path):
            for rest in stage.args("ENV"):
                assert "DATABASE_URL" not in rest, f"{path}: a database URL baked in"

    # The defaults, with no variable of ours in the environment (not this machine's).
    import os

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
