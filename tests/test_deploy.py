"""deploy/ agrees with the code it runs: every setting it names is one of bot/config.py's,
every command it starts parses as this version's command line, and the ports and paths
of the proxy, Prometheus and the processes match.  (Running the files themselves needs a
container runtime or systemd: docs/deploy.md, "Tried on", says what was run and where.)"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from bot.__main__ import _parser
from bot.config import Settings
from bot.open311.server import PREFIX as OPEN311_PREFIX

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SETTINGS = {field.alias for field in Settings.model_fields.values()}
# Read by the entrypoint or Caddy, not by gridbot's settings.
NOT_SETTINGS = {"BOT_DOMAIN"}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def gridbot_services() -> dict[str, dict]:
    return {name: svc for name, svc in compose()["services"].items() if svc.get("image") == "gridbot:latest"}


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.lstrip("# ").split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if re.fullmatch(r"[A-Z_][A-Z0-9_]*", key.strip())}


def units() -> dict[str, str]:
    return {path.name: path.read_text() for path in (DEPLOY / "systemd").glob("*.service")}


def unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def check_command(argv: list[str]) -> None:
    """A gridbot command line of deploy/: `python -m bot ...` parses, `python -m X` exists."""
    assert argv[0].endswith("python") and argv[1] == "-m", argv
    if argv[2] == "bot":
        _parser().parse_args(argv[3:])  # SystemExit (a failure) if this version does not know it
    else:
        assert importlib.util.find_spec(argv[2] + ".__main__") is not None, argv
        assert argv[3:] == [], argv


def test_compose_settings_and_commands_are_gridbots():
    services = gridbot_services()
    assert {"migrate", "bot-1", "bot-2", "bot-3", "delivery", "open311"} <= services.keys()
    for name, svc in services.items():
        unknown = set(svc["environment"]) - SETTINGS
        assert not unknown, f"{name}: {unknown} are not settings of bot/config.py"
        check_command(svc["command"])


def test_env_example_names_settings_only():
    unknown = set(env_file(DEPLOY / "env.example")) - SETTINGS - NOT_SETTINGS
    assert not unknown, f"deploy/env.example: {unknown} are not settings of bot/config.py"


def test_units_settings_and_commands_are_gridbots():
    assert {"gridbot@.service", "gridbot-delivery.service", "gridbot-open311.service"} <= units().keys()
    for name, text in units().items():
        for assignment in unit_values(text, "Environment"):
            for pair in shlex.split(assignment):
                assert pair.split("=", 1)[0] in SETTINGS, f"{name}: {pair}"
        if name.startswith("gridbot-backup"):
            continue
        (start,) = unit_values(text, "ExecStart")
        argv = shlex.split(start)
        if argv[:2] == ["/bin/sh", "-c"]:
            # /bin/sh -c '... exec /opt/gridbot/.venv/bin/python -m MODULE ARGS'; systemd would
            # replace a ${X} itself (before the shell sees it), so the shell's are written $X.
            assert "${" not in argv[2], name
            argv = shlex.split(argv[2].split(" exec ", 1)[1])
        check_command(argv)


def test_proxy_prometheus_and_processes_agree_on_ports_and_paths():
    services = gridbot_services()
    caddy = (DEPLOY / "Caddyfile").read_text()  # compose's names; docs/deploy.md adapts it for systemd
    webhook_path = urlsplit(env_file(DEPLOY / "env.example")["WEBHOOK_URL"]).path
    assert f"@webhook path {webhook_path}\n" in caddy
    bots = [f"{name}:{svc['environment']['WEBHOOK_LISTEN_PORT']}" for name, svc in sorted(services.items())
            if svc["command"][-1] == "run"]
    assert re.search(r"reverse_proxy " + " ".join(bots) + " {", caddy), bots
    # The Open311 server answers under /open311/v2/: the proxy passes the path on whole.
    assert OPEN311_PREFIX.startswith("/open311/")
    assert "handle /open311/* {" in caddy and "handle_path /open311" not in caddy
    port = services["open311"]["command"][services["open311"]["command"].index("--port") + 1]
    assert f"reverse_proxy open311:{port}\n" in caddy
    targets = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())["scrape_configs"][0]["static_configs"][0]
    delivery = f"delivery:{services['delivery']['environment']['METRICS_PORT']}"
    assert sorted(targets["targets"]) == sorted([*bots, delivery])


def test_dockerfile_copies_what_exists_and_the_entrypoint_runs():
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (root / source).exists(), line
    assert os.access(DEPLOY / "entrypoint.sh", os.X_OK)
    assert compose()["x-bot"]["entrypoint"] == ["/app/deploy/entrypoint.sh"]
