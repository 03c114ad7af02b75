"""The deployment files are checked offline: there is no container engine or cluster here,
so the compose file, the Dockerfile targets and every Kubernetes manifest are validated
against each other, the entry points the packages really install, and the Kubernetes
schemas (bundled by kubernetes-validate)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from centralino.runner.layout import SERVICES

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.30.0"


def _entry_points() -> set[str]:
    scripts: set[str] = set()
    for pyproject in [ROOT / "lib" / "pyproject.toml", *ROOT.glob("services/*/pyproject.toml")]:
        data = tomllib.loads(pyproject.read_text())
        scripts |= set(data["project"].get("scripts", {}))
    return scripts


def _dockerfile_targets() -> dict[str, list[str]]:
    """target name -> its CMD (JSON form)."""
    targets: dict[str, list[str]] = {}
    current = None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if m := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE):
            current = m.group(1)
            targets[current] = []
        elif (m := re.match(r"CMD\s+(\[.*\])", line)) and current:
            targets[current] = yaml.safe_load(m.group(1))
    return targets


def _k8s_docs() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_every_service_has_an_entry_point_and_a_docker_target() -> None:
    scripts = _entry_points()
    targets = _dockerfile_targets()
    for name in SERVICES:
        assert f"centralino-{name}" in scripts, name
        assert targets.get(name) == [f"centralino-{name}"], (name, targets.get(name))


def test_compose_runs_each_service_in_its_own_container() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    scripts = _entry_points()
    targets = _dockerfile_targets()
    assert {"nats", "postgres", *SERVICES} <= set(services)
    for name in SERVICES:
        svc = services[name]
        assert svc["build"]["target"] in targets
        assert svc["command"][0] in scripts
        env = svc["environment"]
        assert env["NATS_URL"] == "nats://nats:4222"
        assert env["CENTRALINO_GRPC_LISTEN"].startswith("0.0.0.0:")
        depends = svc.get("depends_on", [])
        for dep in depends if isinstance(depends, list) else list(depends):
            assert dep in services, (name, dep)
    assert "--jetstream" in services["nats"]["command"]
    for name in ("config-api", "licensing"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")


def test_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("name,doc", _k8s_docs(), ids=lambda v: v if isinstance(v, str) else "")
def test_manifest_is_valid_against_the_kubernetes_schema(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_service_is_deployed_with_grpc_health_probes() -> None:
    scripts = _entry_points()
    workloads = {
        d["metadata"]["name"]: d
        for _, d in _k8s_docs()
        if d["kind"] in ("Deployment", "DaemonSet", "StatefulSet")
    }
    assert workloads["nats"]["spec"]["replicas"] == 3
    for name in SERVICES:
        container = workloads[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][0] in scripts
        grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        assert container["readinessProbe"]["grpc"]["port"] == grpc_port
        assert container["livenessProbe"]["grpc"]["port"] == grpc_port
        listen = {e["name"]: e.get("value") for e in container["env"]}
        assert listen["CENTRALINO_GRPC_LISTEN"] == f"0.0.0.0:{grpc_port}"


def test_the_sip_edge_keeps_client_source_addresses() -> None:
    sip = next(
        d for _, d in _k8s_docs() if d["kind"] == "Service" and d["metadata"]["name"] == "sip"
    )
    assert sip["spec"]["externalTrafficPolicy"] == "Local"
    protocols = {(p["port"], p["protocol"]) for p in sip["spec"]["ports"]}
    assert {(5060, "UDP"), (5060, "TCP"), (5061, "TCP")} <= protocols


def _k8s_env(name: str) -> dict[str, str]:
    workload = next(
        d for _, d in _k8s_docs() if d["kind"] == "Deployment" and d["metadata"]["name"] == name
    )
    container = workload["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_registrar_and_router_find_each_other_over_internal_sip() -> None:
    """ADR 0001: the edge proxies to the router and the router sends back to the edge."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    environments = [
        (compose["registrar"]["environment"], compose["router"]["environment"]),
        (_k8s_env("registrar"), _k8s_env("router")),
    ]
    for registrar, router in environments:
        router_host, _, router_port = registrar["CENTRALINO_ROUTER_SIP"].rpartition(":")
        assert router_host == "router"
        assert router["CENTRALINO_ROUTER_SIP"].endswith(f":{router_port}")
        assert router["CENTRALINO_ROUTER_SIP_ADVERTISE"].endswith(f":{router_port}")
        edge_port = registrar["CENTRALINO_REGISTRAR_INTERNAL_SIP"].rpartition(":")[2]
        assert router["CENTRALINO_REGISTRAR_INTERNAL_SIP"] == f"registrar:{edge_port}"
