"""The container deploy's invariants, read from Dockerfile, .dockerignore and compose.yaml
without Docker (CI has no engine): a non-root user, no secret in the image or the compose file,
the vocabularies in the image, health checks, the migration before the bot, and a DATABASE_URL
that the bot's own settings accept and that points at the postgres service."""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from bot.core.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
SECRET_NAMES = re.compile(r"TOKEN$|_KEY$|PASSWORD|SECRET", re.IGNORECASE)
# Names that match SECRET_NAMES but hold no secret.
NOT_SECRETS = {"TIKTOKEN_CACHE_DIR", "SUMMARY_TOKENS", "HISTORY_TOKENS", "CONTEXT_TOKENS"}


def dockerfile_stages(text: str | None = None) -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuations joined."""
    text = (ROOT / "Dockerfile").read_text() if text is None else text
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def arguments(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    return [args for name, args in stage if name == instruction]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in arguments(stage, "ENV"):
        for pair in shlex.split(args):
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def healthcheck_command() -> list[str]:
    """The final stage's HEALTHCHECK command, in exec form (as Docker runs it)."""
    [check] = arguments(final_stage(), "HEALTHCHECK")
    exec_form = check[check.index("CMD ") + 4 :]
    return json.loads(exec_form)


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:?message} and ${NAME:-default}, from ``env``."""

    def one(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if operator == ":-":
            return rest
        raise KeyError(f"{name}: {rest}")

    return re.sub(r"\$\{(\w+)(?:(:[?-])([^}]*))?\}", one, value)


# -- Dockerfile -------------------------------------------------------------------------------


def test_the_bot_runs_as_a_user_that_is_not_root():
    stage = final_stage()
    users = arguments(stage, "USER")
    assert users, "the final stage sets no USER: the bot would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    last_user = max(i for i, (name, _) in enumerate(stage) if name == "USER")
    assert all(name not in ("RUN", "USER") for name, _ in stage[last_user + 1 :])


def test_the_image_is_small_and_runs_the_bot():
    stages = dockerfile_stages()
    assert all("slim" in arguments(stage, "FROM")[0] for stage in stages)
    assert json.loads(arguments(final_stage(), "CMD")[-1]) == ["python", "-m", "bot"]
    installs = [run for stage in stages for run in arguments(stage, "RUN") if "pip install" in run]
    assert installs and all("--no-cache-dir" in run for run in installs)


def locked() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock: name -> (version, hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if match := re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)", line):
            name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
            pins[name] = (match.group(2), [])
        elif line.startswith("--hash=sha256:") and name is not None:
            pins[name][1].append(line.split(":", 1)[1].rstrip(" \\"))
    return pins


def test_the_image_installs_the_locked_dependencies_then_the_bot_without_resolving():
    build = dockerfile_stages()[0]
    runs = [run for run in arguments(build, "RUN") if "pip install" in run]
    lock, bot = runs[0], runs[-1]
    assert "--require-hashes -r requirements.lock" in lock
    assert bot.endswith("pip install --no-cache-dir --no-deps .")
    copies = [copy.split()[:-1] for copy in arguments(build, "COPY")]
    assert copies.index(["requirements.lock", "pyproject.toml", "README.md"]) < copies.index(
        ["bot"]
    )  # a code change doesn't reinstall the dependencies


def test_the_lock_pins_every_dependency_within_pyprojects_bounds_with_hashes():
    import tomllib

    from packaging.requirements import Requirement

    pins = locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["metrics"]
    for requirement in map(Requirement, wanted):
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name][0]), (name, pins[name][0])
    assert all(hashes for _, hashes in pins.values())  # --require-hashes needs one for each
    assert "prometheus-client" in pins  # /metrics and the HEALTHCHECK need the metrics extra


def test_the_vocabularies_are_seeded_at_build_time_into_the_cache_the_bot_reads():
    build, final = dockerfile_stages()[0], final_stage()
    cache = env_of(final)["TIKTOKEN_CACHE_DIR"]
    assert env_of(build)["TIKTOKEN_CACHE_DIR"] == cache
    assert any("ensure_vocabularies()" in run for run in arguments(build, "RUN"))
    assert any(args.split()[-1] == cache for args in arguments(final, "COPY"))


def test_the_python_the_image_runs_at_build_time_imports_what_exists():
    """A module moved in the package must move in the Dockerfile too (CI builds no image)."""
    imports = [
        match
        for run in arguments(dockerfile_stages()[0], "RUN")
        for match in re.findall(r"from (bot[\w.]*) import ([\w, ]+?);", run)
    ]
    assert imports  # the vocabularies are seeded by the bot's own code
    for module, names in imports:
        loaded = importlib.import_module(module)
        assert all(hasattr(loaded, name.strip()) for name in names.split(",")), (module, names)


def test_the_healthcheck_asks_the_liveness_endpoint_on_the_metrics_port():
    final = final_stage()
    port = env_of(final)["METRICS_PORT"]
    # Every interface of the container, or neither the published port nor Docker reaches it.
    assert env_of(final)["METRICS_HOST"] == "0.0.0.0"
    assert arguments(final, "EXPOSE") == [port]
    command = healthcheck_command()
    assert command[0] == "python" and "/healthz" in command[-1]
    assert "METRICS_PORT" in command[-1]


def test_no_secret_is_baked_into_the_image():
    for stage in dockerfile_stages():
        names = set(env_of(stage)) | {a.split("=")[0] for a in arguments(stage, "ARG")}
        assert not {n for n in names if SECRET_NAMES.search(n)} - NOT_SECRETS
        for source in (a.split()[-2] for a in arguments(stage, "COPY")):
            assert ".env" not in source


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/").removeprefix("**/")
        parts = path.split("/")
        if any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))) or (
            fnmatch.fnmatch(parts[-1], pattern)
        ):
            result = not negated
    return result


@pytest.fixture
def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_build_context_holds_what_the_image_copies_and_no_secret(dockerignore):
    assert not ignored("requirements.lock", dockerignore)
    for name in (".env", ".git", ".venv", "bot.sqlite3", "tests/conftest.py"):
        assert ignored(name, dockerignore), name
    for stage in dockerfile_stages():
        for copy in arguments(stage, "COPY"):
            if copy.startswith("--from="):
                continue
            for source in copy.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert not ignored(source, dockerignore), source
    assert ignored("bot/__pycache__/app.cpython-312.pyc", dockerignore)


# -- compose.yaml -------------------------------------------------------------------------------


def test_the_services_and_their_images():
    services = compose()["services"]
    assert set(services) >= {"bot", "migrate", "postgres", "redis"}
    assert services["bot"]["build"] == services["migrate"]["build"] == "."
    assert services["postgres"]["image"].startswith("postgres:16-alpine")
    assert services["redis"]["image"].startswith("redis:7-alpine")


def test_the_database_is_migrated_before_the_bot_starts():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["python", "-m", "bot", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    bot = services["bot"]["depends_on"]
    assert bot["migrate"]["condition"] == "service_completed_successfully"
    assert bot["postgres"]["condition"] == bot["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"


def test_postgres_and_redis_have_health_checks_and_the_data_a_named_volume():
    document = compose()
    postgres, redis = document["services"]["postgres"], document["services"]["redis"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    volume, _, target = postgres["volumes"][0].partition(":")
    assert volume in document["volumes"] and target == "/var/lib/postgresql/data"
    assert document["services"]["migrate"]["healthcheck"] == {"disable": True}


def test_the_bot_reads_env_and_reaches_the_services_by_name():
    services = compose()["services"]
    bot = services["bot"]
    assert bot["env_file"] == ".env"
    database_url = bot["environment"]["DATABASE_URL"]
    assert services["migrate"]["environment"]["DATABASE_URL"] == database_url
    url = urlsplit(interpolate(database_url, {"POSTGRES_PASSWORD": "pw"}))
    postgres = services["postgres"]["environment"]
    assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
    assert (url.username, url.path) == (postgres["POSTGRES_USER"], f"/{postgres['POSTGRES_DB']}")
    assert urlsplit(bot["environment"]["REDIS_URL"]).hostname == "redis"
    env = {
        k: interpolate(str(v), {"POSTGRES_PASSWORD": "pw"}) for k, v in bot["environment"].items()
    }
    settings = load_settings({"DISCORD_TOKEN": "t", "OPENAI_API_KEY": "k", **env})
    assert settings.database_url.startswith("postgresql://threadbot:pw@postgres:5432/")
    assert str(settings.metrics_port) == env_of(final_stage())["METRICS_PORT"]
    # The container listens on all its interfaces; the host publishes the port to itself only.
    assert settings.metrics_host == "0.0.0.0"
    assert bot["ports"] == [f"127.0.0.1:{settings.metrics_port}:{settings.metrics_port}"]


def test_no_secret_is_written_in_the_compose_file():
    """Secrets are ${...} from .env, and compose refuses to start when the password is unset."""
    for name, service in compose()["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAMES.search(variable) and variable not in NOT_SECRETS:
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", value), f"{name}: {variable}"
            password = urlsplit(value).password if "://" in value else None
            if password is not None:
                assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", password), name
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(compose()["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"], {})
    assert "\nPOSTGRES_PASSWORD=\n" in (ROOT / ".env.example").read_text()  # documented, empty


def test_the_dockerfile_reader_joins_continuations_and_skips_comments():
    stages = dockerfile_stages(
        "# comment\nFROM a AS b\nRUN one \\\n    two\n\nFROM c\n# hadolint ignore=X\nUSER 1\n"
    )
    assert stages == [[("FROM", "a AS b"), ("RUN", "one      two")], [("FROM", "c"), ("USER", "1")]]
