"""The Helm chart, rendered by a real helm and validated against real Kubernetes schemas.

Rendered for the default values and for an "everything on" values file, at
the oldest and newest Kubernetes versions the chart supports; every built-in
object must validate strictly (an unknown kind or field is a failure), and
the properties that matter are asserted: probes, drain times, autoscaling
signal, disruption budget, hardened pods, secrets only from Secrets.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.support.helm import helm

CHART = Path(__file__).resolve().parents[2] / "helm" / "rewardgate"
KUBE_VERSIONS = ["1.25.0", "1.37.0"]  # oldest and newest supported
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}  # CRDs: not in the Kubernetes schemas

EVERYTHING_ON = {
    "pipelines": (
        "models:\n"
        "  rm: {kind: reward_model, backend: triton, path: /models/rm,\n"
        "       triton_url: '{{ include \"rewardgate.fullname\" . }}-triton:8001', triton_model: rm}\n"
        "pipelines:\n"
        "  rm: {components: {helpful: {model: rm}}}\n"
    ),
    "secrets": {"existingSecret": "rewardgate-env"},
    "auth": {"enabled": True, "existingSecret": "rewardgate-api-keys"},
    "redis": {"builtin": {"enabled": True}},
    "triton": {"enabled": True, "modelRepository": {"existingClaim": "triton-models"}},
    "sandbox": {"enabled": True},
    "env": {"REWARDGATE_VERIFIER_WORKERS": "4"},
}


def render(tmp_path: Path, values: dict | None = None, kube: str = "1.37.0", *extra: str) -> list[dict]:
    args = ["template", "rg", str(CHART), "--kube-version", kube, *extra]
    if values is not None:
        values_file = tmp_path / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        args += ["--values", str(values_file)]
    result = helm(*args, check=False)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def gateway(objects: list[dict]) -> dict:
    (deployment,) = [d for d in by_kind(objects, "Deployment") if d["metadata"]["name"] == "rg-rewardgate"]
    return deployment


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("values", [None, EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_every_object_validates_strictly(tmp_path, values, kube):
    objects = render(tmp_path, values, kube, "--api-versions", "monitoring.coreos.com/v1")
    validated = 0
    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, kube, strict=True)  # raises on an unknown schema or field
        validated += 1
    assert validated >= 6


@pytest.mark.parametrize("values", [None, EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_helm_lint_strict(tmp_path, values):
    args = ["lint", "--strict", str(CHART)]
    if values is not None:
        (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
        args += ["--values", str(tmp_path / "values.yaml")]
    result = helm(*args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_probes_drain_and_grace_fit_the_longest_deadline(tmp_path):
    deployment = gateway(render(tmp_path))
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600  # model loading
    env = {e["name"]: e.get("value") for e in container["env"]}
    drain_s = float(env["REWARDGATE_DRAIN_GRACE_S"])
    max_deadline_s = int(env["REWARDGATE_MAX_DEADLINE_MS"]) / 1000
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert drain_s > max_deadline_s
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain_s
    assert env["REWARDGATE_HOST"] == "0.0.0.0"


def test_grace_shorter_than_a_deadline_fails_the_install(tmp_path):
    values = {"deadlines": {"defaultMs": 30000, "maxMs": 300000}}
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(values))
    result = helm("template", "rg", str(CHART), "--values", str(tmp_path / "v.yaml"), check=False)
    assert result.returncode != 0 and "drain.graceSeconds must exceed" in result.stderr


@pytest.mark.parametrize(
    ("flag", "complaint"),
    [
        ("replicaCont=3", "replicaCont"),
        ("autoscaling.cpuUtilization=high", "cpuUtilization"),
        ("sandbox.enabled=yes-please", "sandbox"),
        ("sandbox.mode=docker", "sandbox"),
    ],
)
def test_values_schema_rejects_typos_and_wrong_types(flag, complaint):
    result = helm("template", "rg", str(CHART), "--set", flag, check=False)
    assert result.returncode != 0 and complaint in result.stderr


def test_hpa_scales_on_inflight_items_with_cpu_as_fallback_and_a_pdb_guards_drains(tmp_path):
    objects = render(tmp_path)
    (hpa,) = by_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Pods"]["pods"]["metric"]["name"] == "rewardgate_inflight_items"
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    (pdb,) = by_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] >= 1
    assert "replicas" not in gateway(objects)["spec"]  # the HPA owns the count


def test_grpc_has_a_headless_service_for_client_side_balancing(tmp_path):
    services = {s["metadata"]["name"]: s for s in by_kind(render(tmp_path), "Service")}
    assert services["rg-rewardgate-grpc"]["spec"]["clusterIP"] == "None"
    assert {p["name"] for p in services["rg-rewardgate"]["spec"]["ports"]} == {"http", "grpc"}


def test_no_service_link_variables_reach_the_gateways_settings(tmp_path):
    """A Service named "rewardgate" would make Kubernetes set REWARDGATE_PORT=tcp://IP:8000 in
    the pod, which the service reads as its HTTP port (and refuses to start)."""
    assert gateway(render(tmp_path))["spec"]["template"]["spec"]["enableServiceLinks"] is False


def test_pods_are_hardened_by_default(tmp_path):
    pod = gateway(render(tmp_path))["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"])


def restricted(pod: dict, container: dict) -> None:
    """Non-root, no capability, no privilege escalation, read-only root, no service-account token."""
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True


def unconfined_for_user_namespaces(deployment: dict, container: dict, kube: str) -> None:
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "Unconfined"}
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if kube.startswith("1.25"):
        assert (
            annotations[f"container.apparmor.security.beta.kubernetes.io/{container['name']}"] == "unconfined"
        )
    else:
        assert container["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_the_sandbox_pool_deploys_scales_on_its_queue_and_the_gateway_stays_restricted(tmp_path, kube):
    objects = render(tmp_path, {"sandbox": {"enabled": True}}, kube)
    for obj in objects:
        kubernetes_validate.validate(obj, kube, strict=True)
    gateway_pod = gateway(objects)["spec"]["template"]["spec"]
    (gateway_container,) = gateway_pod["containers"]
    restricted(gateway_pod, gateway_container)
    assert gateway_pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}  # no cells here
    assert "appArmorProfile" not in gateway_container["securityContext"]
    env = {e["name"]: e.get("value") for e in gateway_container["env"]}
    assert env["REWARDGATE_SANDBOX_URL"] == "http://rg-rewardgate-sandbox:8100"

    def named(kind: str) -> dict:
        (found,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == "rg-rewardgate-sandbox"]
        return found

    pool = named("Deployment")
    pod = pool["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    restricted(pod, container)
    unconfined_for_user_namespaces(pool, container, kube)
    assert container["command"] == ["rewardgate", "sandbox-serve"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = named("Service")
    assert service["spec"]["selector"] == pool["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] != gateway(objects)["spec"]["selector"]["matchLabels"]
    hpa = named("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rg-rewardgate-sandbox"
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Pods"]["pods"]["metric"]["name"] == "rewardgate_sandbox_inflight_runs"
    policy = named("NetworkPolicy")["spec"]
    assert policy["egress"] == [] and set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (allowed,) = policy["ingress"]
    assert allowed["from"] == [
        {"podSelector": {"matchLabels": gateway(objects)["spec"]["selector"]["matchLabels"]}}
    ]


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_the_embedded_sandbox_keeps_the_gateway_non_root_without_capabilities(tmp_path, kube):
    objects = render(tmp_path, {"sandbox": {"enabled": True, "mode": "embedded"}}, kube)
    deployment = gateway(objects)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    restricted(pod, container)
    unconfined_for_user_namespaces(deployment, container, kube)
    assert not [o for o in objects if "sandbox" in o["metadata"]["name"]]
    assert "REWARDGATE_SANDBOX_URL" not in {e["name"] for e in container["env"]}


def test_secrets_come_only_from_secrets(tmp_path):
    objects = render(tmp_path, {**EVERYTHING_ON, "redis": {"external": {"existingSecret": "redis"}}})
    assert not by_kind(objects, "Secret")  # the chart never writes secret values
    (container,) = gateway(objects)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["REWARDGATE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "redis", "key": "redis-url"}
    for name, entry in env.items():
        if (
            any(word in name for word in ("KEY", "SECRET", "PASSWORD", "TOKEN"))
            and name != "REWARDGATE_API_KEYS_FILE"
        ):
            assert "value" not in entry, name
    assert container["envFrom"] == [{"secretRef": {"name": "rewardgate-env"}}]


def test_monitoring_objects_need_their_api_and_ship_the_rules_and_dashboard(tmp_path):
    without = {o["kind"] for o in render(tmp_path)}
    assert not without & CUSTOM_KINDS
    objects = render(tmp_path, None, "1.37.0", "--api-versions", "monitoring.coreos.com/v1")
    assert {o["kind"] for o in objects} >= CUSTOM_KINDS
    (rule,) = by_kind(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "rules.yaml").read_text())
    if shutil.which("promtool"):  # the rules file itself is checked in test_prometheus_rules.py
        rules_file = tmp_path / "rules.yaml"
        rules_file.write_text(yaml.safe_dump(rule["spec"]))
        command = ["promtool", "check", "rules", str(rules_file)]
        check = subprocess.run(command, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    dashboards = [c for c in by_kind(objects, "ConfigMap") if "rewardgate.json" in c.get("data", {})]
    assert dashboards and dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_triton_runs_on_a_gpu_with_readiness_on_its_health_endpoint(tmp_path):
    objects = render(tmp_path, EVERYTHING_ON)
    (triton,) = [d for d in by_kind(objects, "Deployment") if d["metadata"]["name"] == "rg-rewardgate-triton"]
    (container,) = triton["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    pipelines = [
        c for c in by_kind(objects, "ConfigMap") if c["metadata"]["name"] == "rg-rewardgate-pipelines"
    ]
    assert "rg-rewardgate-triton:8001" in pipelines[0]["data"]["pipelines.yaml"]


def test_a_groups_samples_are_forwarded_to_its_owner_pod_over_the_headless_service(tmp_path):
    """docs/groups.md#several-replicas: every pod resolves the same headless name to every ready pod."""
    container = gateway(render(tmp_path))["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["REWARDGATE_GROUP_PEERS"] == "dns://rg-rewardgate-grpc:8000"
    assert env["REWARDGATE_PORT"] == "8000"
