"""charts/logpipe: ``helm lint --strict``, ``helm template`` with default and
non-default values, and the rendered manifests read back with PyYAML."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from pydantic_settings import BaseSettings

from collector.settings import CollectorSettings
from events.settings import EventsSettings
from forwarder.settings import ForwarderSettings
from journald.settings import JournaldSettings
from log_api.settings import ApiSettings
from tests.deploy.chart import CHART, FULL, Manifests, container, helm, render
from tests.deploy.conftest import BUILD_TIMEOUT_S, Validators

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 120)

# Role (ConfigMap suffix, container args[0]) -> its Settings class.
SETTINGS: dict[str, type[BaseSettings]] = {
    "collector": CollectorSettings, "journald": JournaldSettings, "events": EventsSettings,
    "forwarder": ForwarderSettings, "api": ApiSettings}


def env_names(cls: type[BaseSettings]) -> set[str]:
    return {f"LOGPIPE_{n.upper()}" for n in cls.model_fields}


@pytest.mark.parametrize("values", [[], ["-f", str(FULL)]], ids=["default", "full"])
def test_helm_lint_strict(validators: Validators, values: list[str]) -> None:
    res = helm(validators, "lint", "--strict", str(CHART), *values)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 chart(s) failed" in res.stdout


def test_default_objects(default: Manifests) -> None:
    assert set(default) == {
        ("ServiceAccount", "rel-logpipe"), ("ServiceAccount", "rel-logpipe-collector"),
        ("ServiceAccount", "rel-logpipe-events"), ("ConfigMap", "rel-logpipe-common"),
        ("ConfigMap", "rel-logpipe-collector"), ("ConfigMap", "rel-logpipe-journald"),
        ("ConfigMap", "rel-logpipe-events"), ("ConfigMap", "rel-logpipe-forwarder"),
        ("ConfigMap", "rel-logpipe-api"), ("DaemonSet", "rel-logpipe-collector"),
        ("Deployment", "rel-logpipe-events"), ("ClusterRole", "rel-logpipe-collector"),
        ("ClusterRoleBinding", "rel-logpipe-collector"), ("ClusterRole", "rel-logpipe-events"),
        ("ClusterRoleBinding", "rel-logpipe-events"),
        ("Deployment", "rel-logpipe-forwarder"), ("Deployment", "rel-logpipe-api"),
        ("Service", "rel-logpipe-api"), ("PodDisruptionBudget", "rel-logpipe-forwarder"),
        ("PodDisruptionBudget", "rel-logpipe-api")}


def test_daemonset_mounts_host_folders_read_only_and_state_read_write(default: Manifests
                                                                      ) -> None:
    ds = default[("DaemonSet", "rel-logpipe-collector")]["spec"]
    pod = ds["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container(default, "DaemonSet", "rel-logpipe-collector",
                                              "collector")["volumeMounts"]}
    host = {name: volumes[name]["hostPath"]["path"] for name in volumes
            if "hostPath" in volumes[name]}
    assert host == {"docker-containers": "/var/lib/docker/containers",
                    "pods": "/var/log/pods", "var-log": "/var/log",
                    "state": "/var/lib/logpipe-collector",
                    "journal-run": "/run/log/journal", "machine-id": "/etc/machine-id"}
    for name in ("docker-containers", "pods", "var-log"):
        assert mounts[name]["readOnly"] is True
        assert mounts[name]["mountPath"] == host[name]  # same path: records show real paths
    assert not mounts["state"].get("readOnly")
    cm = default[("ConfigMap", "rel-logpipe-collector")]["data"]
    assert cm["LOGPIPE_STATE_DIR"] == mounts["state"]["mountPath"]
    assert cm["LOGPIPE_DOCKER_ROOT"] == "/var/lib/docker/containers"
    assert cm["LOGPIPE_CRI_ROOT"] == "/var/log/pods" and cm["LOGPIPE_HOST_ROOT"] == "/var/log"
    assert ds["updateStrategy"] == {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 1}}


def test_daemonset_node_name_probes_security_and_scraping(default: Manifests) -> None:
    c = container(default, "DaemonSet", "rel-logpipe-collector", "collector")
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["LOGPIPE_NODE_NAME"]["value"] == "$(NODE_NAME)"
    assert c["args"] == ["collector"]
    assert c["ports"] == [{"name": "metrics", "containerPort": 9101, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsUser"] == 0
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    pod = default[("DaemonSet", "rel-logpipe-collector")]["spec"]["template"]
    ann = pod["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9101"
    tolerated = {t.get("key") for t in pod["spec"]["tolerations"]}
    assert "node-role.kubernetes.io/control-plane" in tolerated
    assert "priorityClassName" not in pod["spec"]


def test_non_root_roles_and_their_ports(default: Manifests) -> None:
    for name, args, port in (("rel-logpipe-forwarder", ["forwarder"], 9102),
                             ("rel-logpipe-api", ["api"], 8080)):
        dep = default[("Deployment", name)]["spec"]
        pod = dep["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        c = container(default, "Deployment", name)
        assert c["args"] == args and c["ports"][0]["containerPort"] == port
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert dep["replicas"] == 2
    svc = default[("Service", "rel-logpipe-api")]["spec"]
    assert svc["ports"][0]["targetPort"] == "http"
    assert svc["selector"]["app.kubernetes.io/component"] == "api"


def test_configmaps_hold_real_settings_only(default: Manifests, full: Manifests,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for m, prefix in ((default, "rel-logpipe"), (full, "lp")):
        common = m[("ConfigMap", f"{prefix}-common")]["data"]
        for role, cls in SETTINGS.items():
            data = common | m[("ConfigMap", f"{prefix}-{role}")]["data"]
            fields = env_names(cls)
            assert set(data) <= fields, f"{role}: not settings: {sorted(set(data) - fields)}"
            with monkeypatch.context() as mp:
                for key, value in data.items():
                    mp.setenv(key, value)
                cls()  # every value parses: JSON lists/maps, numbers, enums


def test_container_env_holds_real_settings_only(default: Manifests, full: Manifests) -> None:
    """LOGPIPE_* set directly on a container (not through a ConfigMap) are settings of
    the role that container runs."""
    seen = set()
    for m in (default, full):
        for (kind, name), obj in m.items():
            if kind not in ("DaemonSet", "Deployment"):
                continue
            for c in obj["spec"]["template"]["spec"]["containers"]:
                role = c["args"][0]
                seen.add(role)
                names = {e["name"] for e in c.get("env", []) if e["name"].startswith("LOGPIPE_")}
                assert names <= env_names(SETTINGS[role]), (name, c["name"], names)
    assert seen == set(SETTINGS)


def test_collector_pod_metadata_settings_reach_the_collector(
        default: Manifests, monkeypatch: pytest.MonkeyPatch) -> None:
    """collector.podMetadata turns the collector's pod metadata on, under the names it reads."""
    data = default[("ConfigMap", "rel-logpipe-collector")]["data"]
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    s = CollectorSettings()
    assert (s.pod_metadata, s.pod_metadata_retention_s, s.pod_owner_lookup) == ("true", 300, False)


def test_no_tokens_means_no_secret_and_no_tokens_file(default: Manifests) -> None:
    assert not any(kind == "Secret" for kind, _ in default)
    assert "LOGPIPE_TOKENS_FILE" not in default[("ConfigMap", "rel-logpipe-api")]["data"]


def test_tokens_secret_is_mounted_where_the_api_reads_it(full: Manifests) -> None:
    secret = full[("Secret", "lp-tokens")]
    tokens = yaml.safe_load(secret["stringData"]["tokens.yaml"])["tokens"]
    assert [t["name"] for t in tokens] == ["ops", "pay-team"]
    assert tokens[0]["admin"] is True and tokens[1]["namespaces"] == ["pay", "pay-jobs"]
    pod = full[("Deployment", "lp-api")]["spec"]["template"]["spec"]
    vol = next(v for v in pod["volumes"] if v["name"] == "tokens")
    assert vol["secret"]["secretName"] == "lp-tokens"
    mount = next(m for m in container(full, "Deployment", "lp-api")["volumeMounts"]
                 if m["name"] == "tokens")
    path = full[("ConfigMap", "lp-api")]["data"]["LOGPIPE_TOKENS_FILE"]
    assert path == f"{mount['mountPath']}/{vol['secret']['items'][0]['path']}"
    assert mount["readOnly"] is True


def test_ingress_is_sse_friendly(full: Manifests) -> None:
    ing = full[("Ingress", "lp-api")]
    ann = ing["metadata"]["annotations"]
    assert ann["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert ann["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "7200"
    assert ann["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "7200"
    assert ann["cert-manager.io/cluster-issuer"] == "letsencrypt"
    spec = ing["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["logs.internal.example.com"], "secretName": "logs-tls"}]
    backend = spec["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "lp-api", "port": {"name": "http"}}


def test_non_default_values_reach_the_manifests(full: Manifests) -> None:
    pod = full[("DaemonSet", "lp-collector")]["spec"]["template"]["spec"]
    assert {"operator": "Exists"} in pod["tolerations"]
    assert {"key": "dedicated", "operator": "Equal", "value": "gpu",
            "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["priorityClassName"] == "lp-collector"
    assert full[("PriorityClass", "lp-collector")]["value"] == 900000
    assert pod["serviceAccountName"] == "lp-node-reader"  # its own: it may read pods
    for name in ("lp-forwarder", "lp-api"):
        assert full[("Deployment", name)]["spec"]["template"]["spec"][
            "serviceAccountName"] == "logpipe-sa"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host["docker-containers"] == "/data/docker/containers"
    assert host["audit"] == "/var/log/audit"
    c = container(full, "DaemonSet", "lp-collector", "collector")
    assert {"name": "audit", "mountPath": "/host/audit", "readOnly": True} in c["volumeMounts"]
    assert c["image"] == "registry.example.com/logpipe:1.2.3"
    assert {"secretRef": {"name": "kafka-credentials"}} in c["envFrom"]
    ann = full[("DaemonSet", "lp-collector")]["spec"]["template"]["metadata"]["annotations"]
    assert "prometheus.io/scrape" not in ann
    assert full[("DaemonSet", "lp-collector")]["spec"]["updateStrategy"]["rollingUpdate"] == {
        "maxUnavailable": "20%"}
    common = full[("ConfigMap", "lp-common")]["data"]
    assert common["LOGPIPE_KAFKA_BOOTSTRAP"].startswith("kafka-0.kafka.data:9093")
    assert common["LOGPIPE_KAFKA_OPTIONS"] == ('{"sasl.mechanism":"SCRAM-SHA-512",'
                                               '"security.protocol":"SASL_SSL"}')
    assert full[("ConfigMap", "lp-collector")]["data"]["LOGPIPE_EXCLUDE"] == '["*/kube-system_*"]'
    hpa = full[("HorizontalPodAutoscaler", "lp-forwarder")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 9)
    assert "replicas" not in full[("Deployment", "lp-forwarder")]["spec"]  # the HPA owns it
    assert ("PodDisruptionBudget", "lp-forwarder") not in full
    assert full[("PodDisruptionBudget", "lp-api")]["spec"]["minAvailable"] == 1


def test_kubecheck_rejects_a_bad_manifest(validators: Validators) -> None:
    bad = ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\n"
           "spec:\n  template:\n    spec:\n      containers:\n"
           "        - name: c\n"
           "          volumeMounts: [{name: v, mountPath: /v, readOnli: true}]\n")
    res = subprocess.run([str(validators.kubecheck)], input=bad, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 1 and 'unknown field "spec.template.spec.containers[0].' in res.stderr


def test_a_raw_token_instead_of_its_hash_is_refused(validators: Validators) -> None:
    res = helm(validators, "template", "rel", str(CHART),
               "--set", "api.tokens[0].name=ops,api.tokens[0].sha256=secret,"
               "api.tokens[0].admin=true")
    assert res.returncode != 0
    assert "must be the 64 hex digits of SHA-256" in res.stderr


def test_config_change_rolls_the_pods(validators: Validators, default: Manifests) -> None:
    changed = render(validators, "--set", "kafka.topic=other")
    for kind, name in (("DaemonSet", "rel-logpipe-collector"), ("Deployment", "rel-logpipe-events"),
                       ("Deployment", "rel-logpipe-forwarder"), ("Deployment", "rel-logpipe-api")):
        before = default[(kind, name)]["spec"]["template"]["metadata"]["annotations"]
        after = changed[(kind, name)]["spec"]["template"]["metadata"]["annotations"]
        assert before["checksum/config"] != after["checksum/config"]


def test_values_yaml_documents_every_value() -> None:
    """Each leaf value has a comment right above it or above one of its parents."""
    stack: list[tuple[int, bool]] = []  # (indent, documented) of open parent keys
    previous = ""
    undocumented = []
    for line in (CHART / "values.yaml").read_text().splitlines():
        stripped = line.strip()
        key = re.match(r"^(\s*)(- )?([\w.-]+):(.*)$", line)
        if key and not stripped.startswith("#"):
            indent = len(key.group(1)) + (2 if key.group(2) else 0)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            documented = previous.startswith("#") or any(d for _, d in stack)
            if key.group(4).strip():  # a value on this line: a leaf
                if not documented:
                    undocumented.append(key.group(3))
            else:
                stack.append((indent, documented))
        if stripped:
            previous = stripped
    assert undocumented == []
