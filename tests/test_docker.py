"""Dockerfile and docker-compose.yml, read as files (no Docker engine runs the suite)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(i.split()) for i in "\n".join(lines).replace("\\\n", " ").splitlines() if i]


def test_telegram_alone_needs_no_signal_setting() -> None:
    """Signal is an opt-in profile: without it nothing sets or requires a Signal setting
    (HRBOT_SIGNAL_SERVICE set alone made the bot stop with 'HRBOT_SIGNAL_NUMBER: not set')."""
    services = compose()["services"]
    default = {name for name, s in services.items() if not s.get("profiles")}
    assert default == {"postgres", "migrate", "hrbot"}
    assert services["signal"]["profiles"] == ["signal"]
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert not re.search(r"^\s*HRBOT_SIGNAL_\w+:", text, re.MULTILINE)
    assert "${HRBOT_SIGNAL" not in text
    for name in default:
        assert "signal" not in (services[name].get("depends_on") or {})


def test_migrations_run_before_the_bot_on_postgresql() -> None:
    services = compose()["services"]
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    migrate, bot = services["migrate"], services["hrbot"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert bot["command"] == ["run"]
    assert bot["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    for service in (migrate, bot):
        url = service["environment"]["HRBOT_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://hrbot:")
        assert url.endswith("@postgres:5432/hrbot")
        assert "hrbot-data:/data" in " ".join(service["volumes"])  # the same key for both
    assert "ports" not in services["postgres"]  # only the bot talks to the database


def test_the_image_checks_its_health_and_exposes_the_webhook_port() -> None:
    steps = instructions()
    assert any(
        s.startswith("HEALTHCHECK ") and s.endswith('CMD ["hrbot", "health"]') for s in steps
    )
    assert "EXPOSE 8443" in steps
    env = " ".join(s for s in steps if s.startswith("ENV "))
    assert "HRBOT_WEBHOOK_LISTEN=0.0.0.0" in env
    assert "HRBOT_WEBHOOK_PORT=8443" in env
    assert "USER hrbot" in steps
    assert steps[-2:] == ['ENTRYPOINT ["hrbot"]', 'CMD ["run"]']


def test_the_key_comes_from_a_compose_secret_never_from_a_volume() -> None:
    """The image reads /run/secrets/hrbot_key and generates nothing: a key made in the
    container would die with it, or lie in the data volume beside what it unlocks."""
    env = " ".join(s for s in instructions() if s.startswith("ENV "))
    assert "HRBOT_SECRET_KEY_FILE=/run/secrets/hrbot_key" in env
    assert "HRBOT_DATA_DIR=/data" in env
    data = compose()
    assert data["secrets"] == {"hrbot_key": {"file": "./hrbot.key"}}
    services = data["services"]
    for name in ("migrate", "hrbot"):
        assert services[name]["secrets"] == ["hrbot_key"]
        assert "HRBOT_SECRET_KEY" not in services[name]["environment"]
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "secret.key" not in text
    for ignore in (".gitignore", ".dockerignore"):
        assert "hrbot.key" in (ROOT / ignore).read_text(encoding="utf-8").splitlines()


def test_signal_cli_downloads_only_what_the_bot_needs() -> None:
    """signal-cli keeps its own store: stories, avatars and stickers stay out; attachments
    download for alert photos (the bot deletes them, tests/channels/test_signal.py)."""
    environment = compose()["services"]["signal"]["environment"]
    for kind in ("STORIES", "AVATARS", "STICKERS"):
        assert environment[f"JSON_RPC_IGNORE_{kind}"] == "true"
    assert environment["JSON_RPC_IGNORE_ATTACHMENTS"] == "false"
    assert environment["MODE"] == "json-rpc"


def test_the_instances_profile_runs_two_bots_behind_a_proxy() -> None:
    """A second instance beside the default one, on the same database and key (so the same
    derived webhook secret), with a data volume of its own (its status file, which its health
    check reads); Caddy in front forwards the webhook path and /healthz to both and is the
    only published service."""
    services = compose()["services"]
    profile = {name for name, s in services.items() if "instances" in (s.get("profiles") or [])}
    assert profile == {"hrbot-2", "proxy"}
    first, second = services["hrbot"], services["hrbot-2"]
    for key in ("build", "image", "env_file", "environment", "secrets", "command", "depends_on"):
        assert second[key] == first[key], key
    volumes = [v.split(":")[0] for s in (first, second) for v in s["volumes"]]
    assert sorted(volumes) == ["hrbot-2-data", "hrbot-data"]
    assert "hrbot-2-data" in compose()["volumes"]
    assert "ports" not in second  # only through the proxy
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert set(proxy["depends_on"]) == {"hrbot", "hrbot-2"}
    assert {p.split(":")[-1] for p in proxy["ports"]} == {"80", "443"}
    published = {name for name, s in services.items() if "ports" in s}
    assert published == {"proxy", "signal"}  # signal: 127.0.0.1 only, for linking

    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    lines = [line.split("#")[0].strip() for line in caddyfile.splitlines()]
    assert "@bot path {$HRBOT_WEBHOOK_PATH} /healthz" in lines
    assert "reverse_proxy hrbot:8443 hrbot-2:8443 {" in lines
    assert "handle @bot {" in lines
    assert "respond 404" in lines  # everything else, /metrics and /console included
    assert not any("log" in line.split() for line in lines)  # no access log
    code = " ".join(lines)
    assert "/metrics" not in code
    assert "/console" not in code
    assert "lb_try_duration" in code  # a refused connection: the other instance
