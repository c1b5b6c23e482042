"""charts/logpipe: the events Deployment and its RBAC (Lease with leader
election), the journald container of the collector DaemonSet, and the collector's
pod-metadata RBAC, rendered by the real helm with default and non-default values."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, Manifests, container, helm, pod_spec, render
from tests.deploy.conftest import BUILD_TIMEOUT_S, ROOT, Validators

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 120)

READ = ["get", "list", "watch"]


def rules(m: Manifests, kind: str, name: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = m[(kind, name)]["rules"]
    return result


def allowed(rule_list: list[dict[str, Any]], group: str, resource: str, verb: str,
            name: str | None = None) -> bool:
    """Would these RBAC rules allow the request? (The API server's own matching.)"""
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
               and (not r.get("resourceNames") or name in r["resourceNames"])
               for r in rule_list)


def binds(m: Manifests, kind: str, name: str, role_kind: str, role: str, sa: str,
          namespace: str = "logs") -> None:
    binding = m[(kind, name)]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                  "name": role}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa,
                                    "namespace": namespace}]


def mounts(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in c["volumeMounts"]}


# ---- events: default values ----------------------------------------------------------

def test_events_deployment_defaults(default: Manifests) -> None:
    dep = default[("Deployment", "rel-logpipe-events")]["spec"]
    assert dep["replicas"] == 1
    # No Lease: the old pod must stop before the new one watches.
    assert dep["strategy"] == {"type": "Recreate"}
    pod = pod_spec(default, "Deployment", "rel-logpipe-events")
    assert pod["serviceAccountName"] == "rel-logpipe-events"
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = container(default, "Deployment", "rel-logpipe-events")
    assert c["args"] == ["events"]
    assert c["ports"] == [{"name": "metrics", "containerPort": 9103, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    env = {e["name"]: e for e in c["env"]}
    assert env["LOGPIPE_IDENTITY"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["LOGPIPE_NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert {"configMapRef": {"name": "rel-logpipe-events"}} in c["envFrom"]
    ann = default[("Deployment", "rel-logpipe-events")]["spec"]["template"]["metadata"][
        "annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "9103"
    data = default[("ConfigMap", "rel-logpipe-events")]["data"]
    assert data["LOGPIPE_METRICS_PORT"] == "9103" and data["LOGPIPE_EVENTS_API"] == "v1"
    assert data["LOGPIPE_CLUSTER"] == "default"
    assert "LOGPIPE_LEADER_ELECTION" not in data and "LOGPIPE_EVENTS_NAMESPACE" not in data
    # The state file lives on the pod's volume, not on the read-only root filesystem.
    state_dir = str(PurePosixPath(data["LOGPIPE_STATE_FILE"]).parent)
    assert mounts(c)["state"]["mountPath"] == state_dir
    assert next(v for v in pod["volumes"] if v["name"] == "state")["emptyDir"]


def test_events_rbac_defaults(default: Manifests) -> None:
    r = rules(default, "ClusterRole", "rel-logpipe-events")
    assert r == [{"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": READ}]
    binds(default, "ClusterRoleBinding", "rel-logpipe-events", "ClusterRole",
          "rel-logpipe-events", "rel-logpipe-events")
    assert not any(kind in ("Role", "RoleBinding") for kind, _ in default)  # no Lease


# ---- events: leader election ---------------------------------------------------------

def test_events_replicas_turn_leader_election_on(full: Manifests) -> None:
    dep = full[("Deployment", "lp-events")]["spec"]
    assert dep["replicas"] == 2
    # A standby comes up first and takes the Lease the old pod releases on SIGTERM.
    assert dep["strategy"] == {"type": "RollingUpdate",
                               "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    data = full[("ConfigMap", "lp-events")]["data"]
    assert data["LOGPIPE_LEADER_ELECTION"] == "true"
    assert data["LOGPIPE_LEASE_NAME"] == "events-leader"
    assert data["LOGPIPE_LEASE_NAMESPACE"] == "logs"
    assert data["LOGPIPE_EVENTS_API"] == "events.k8s.io/v1"
    assert data["LOGPIPE_CLUSTER"] == "prod-eu" and data["LOGPIPE_LEASE_DURATION_S"] == "30"
    assert data["LOGPIPE_METRICS_PORT"] == "9113"
    lease = full[("Role", "lp-events-lease")]
    assert lease["metadata"]["namespace"] == "logs"
    r = lease["rules"]
    for verb in ("get", "create", "update"):
        assert allowed(r, "coordination.k8s.io", "leases", verb, "events-leader"), verb
    for verb in ("get", "update", "delete", "list"):
        assert not allowed(r, "coordination.k8s.io", "leases", verb, "someone-elses"), verb
    binds(full, "RoleBinding", "lp-events-lease", "Role", "lp-events-lease", "lp-event-reader")
    binds(full, "ClusterRoleBinding", "lp-events", "ClusterRole", "lp-events",
          "lp-event-reader")
    pod = pod_spec(full, "Deployment", "lp-events")
    assert pod["serviceAccountName"] == "lp-event-reader"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["value"] == "infra"
    c = container(full, "Deployment", "lp-events")
    assert c["ports"][0]["containerPort"] == 9113
    assert full[("ServiceAccount", "lp-event-reader")]["automountServiceAccountToken"] is True
    pdb = full[("PodDisruptionBudget", "lp-events")]["spec"]
    assert pdb["minAvailable"] == 1
    assert pdb["selector"]["matchLabels"] == full[("Deployment", "lp-events")]["spec"][
        "selector"]["matchLabels"]


@pytest.mark.parametrize("switch", ["events.leaderElection.enabled=true",
                                    "events.settings.leader_election=true"])
def test_events_leader_election_with_one_replica(validators: Validators, switch: str) -> None:
    m = render(validators, "--set", switch)
    assert m[("Deployment", "rel-logpipe-events")]["spec"]["replicas"] == 1
    assert m[("Deployment", "rel-logpipe-events")]["spec"]["strategy"]["type"] == (
        "RollingUpdate")
    data = m[("ConfigMap", "rel-logpipe-events")]["data"]
    assert data["LOGPIPE_LEADER_ELECTION"] == "true"
    assert data["LOGPIPE_LEASE_NAME"] == "rel-logpipe-events"  # per release: no collisions
    assert allowed(rules(m, "Role", "rel-logpipe-events-lease"), "coordination.k8s.io",
                   "leases", "update", "rel-logpipe-events")
    assert ("PodDisruptionBudget", "rel-logpipe-events") not in m  # one replica: no PDB


def test_events_lease_settings_move_the_lease_role(validators: Validators) -> None:
    m = render(validators, "--set", "events.replicas=2,events.settings.lease_name=custom,"
               "events.settings.lease_namespace=infra")
    data = m[("ConfigMap", "rel-logpipe-events")]["data"]
    assert (data["LOGPIPE_LEASE_NAME"], data["LOGPIPE_LEASE_NAMESPACE"]) == ("custom", "infra")
    role = m[("Role", "rel-logpipe-events-lease")]
    assert role["metadata"]["namespace"] == "infra"
    assert allowed(role["rules"], "coordination.k8s.io", "leases", "update", "custom")
    assert m[("RoleBinding", "rel-logpipe-events-lease")]["metadata"]["namespace"] == "infra"
    binds(m, "RoleBinding", "rel-logpipe-events-lease", "Role", "rel-logpipe-events-lease",
          "rel-logpipe-events")  # the account stays in the release namespace


def test_events_replicas_without_leader_election_are_refused(validators: Validators) -> None:
    res = helm(validators, "template", "rel", str(CHART), "--set",
               "events.replicas=3,events.settings.leader_election=false")
    assert res.returncode != 0 and "needs leader election" in res.stderr


def test_events_one_namespace_gets_a_role_there(validators: Validators) -> None:
    m = render(validators, "--set", "events.watchNamespace=shop")
    role = m[("Role", "rel-logpipe-events")]
    assert role["metadata"]["namespace"] == "shop"
    assert allowed(role["rules"], "", "events", "watch")
    binding = m[("RoleBinding", "rel-logpipe-events")]
    assert binding["metadata"]["namespace"] == "shop"
    binds(m, "RoleBinding", "rel-logpipe-events", "Role", "rel-logpipe-events",
          "rel-logpipe-events")
    assert ("ClusterRole", "rel-logpipe-events") not in m
    assert m[("ConfigMap", "rel-logpipe-events")]["data"]["LOGPIPE_EVENTS_NAMESPACE"] == "shop"


def test_rbac_covers_what_docs_kube_md_asks_for(full: Manifests) -> None:
    """Every rule of the RBAC block in docs/kube.md is granted by the chart."""
    doc = (ROOT / "docs" / "kube.md").read_text()
    block = re.search(r"RBAC the chart must grant.*?```yaml\n(.*?)```", doc, re.S)
    assert block, "docs/kube.md lost its RBAC block"
    granted = rules(full, "ClusterRole", "lp-events") + rules(full, "Role", "lp-events-lease")
    for rule in yaml.safe_load(block.group(1)):
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert allowed(granted, group, resource, verb, "events-leader"), (
                        group, resource, verb)


# ---- collector: pod metadata ---------------------------------------------------------

def test_collector_reads_pods_with_its_own_service_account(default: Manifests) -> None:
    pod = pod_spec(default, "DaemonSet", "rel-logpipe-collector")
    assert pod["serviceAccountName"] == "rel-logpipe-collector"
    assert pod["automountServiceAccountToken"] is True
    # Pods read; Events created only (a refused multiline-start annotation is reported).
    assert rules(default, "ClusterRole", "rel-logpipe-collector") == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]
    binds(default, "ClusterRoleBinding", "rel-logpipe-collector", "ClusterRole",
          "rel-logpipe-collector", "rel-logpipe-collector")
    data = default[("ConfigMap", "rel-logpipe-collector")]["data"]
    assert data["LOGPIPE_POD_METADATA"] == "true"
    assert data["LOGPIPE_POD_METADATA_RETENTION_S"] == "300"
    assert data["LOGPIPE_POD_OWNER_LOOKUP"] == "false"
    # The shared account (forwarder, Internet-facing API) is bound to nothing.
    subjects = [s["name"] for (kind, _), o in default.items() if kind.endswith("Binding")
                for s in o["subjects"]]
    assert "rel-logpipe" not in subjects
    for name in ("rel-logpipe-forwarder", "rel-logpipe-api"):
        spec = pod_spec(default, "Deployment", name)
        assert spec["serviceAccountName"] == "rel-logpipe"
        assert spec["automountServiceAccountToken"] is False


def test_collector_owner_lookup(full: Manifests) -> None:
    r = rules(full, "ClusterRole", "lp-collector")
    assert allowed(r, "apps", "replicasets", "get") and allowed(r, "batch", "jobs", "get")
    assert not allowed(r, "apps", "replicasets", "list")
    assert not allowed(r, "", "secrets", "get")
    binds(full, "ClusterRoleBinding", "lp-collector", "ClusterRole", "lp-collector",
          "lp-node-reader")
    data = full[("ConfigMap", "lp-collector")]["data"]
    assert data["LOGPIPE_POD_OWNER_LOOKUP"] == "true"
    assert data["LOGPIPE_POD_METADATA_RETENTION_S"] == "600"


# ---- collector: journald container ---------------------------------------------------

def test_journald_container_defaults(default: Manifests) -> None:
    pod = pod_spec(default, "DaemonSet", "rel-logpipe-collector")
    assert [c["name"] for c in pod["containers"]] == ["collector", "journald"]
    c = container(default, "DaemonSet", "rel-logpipe-collector", "journald")
    assert c["args"] == ["journald"]
    assert c["ports"] == [{"name": "journald", "containerPort": 9104, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "journald"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "journald"}
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert env["LOGPIPE_NODE_NAME"]["value"] == "$(NODE_NAME)"
    assert {"configMapRef": {"name": "rel-logpipe-journald"}} in c["envFrom"]

    m = mounts(c)
    volumes = {v["name"]: v for v in pod["volumes"]}
    # The host journal, persistent and volatile, and the machine id: read-only.
    assert (m["var-log"]["mountPath"], volumes["var-log"]["hostPath"]["path"]) == (
        "/var/log", "/var/log")  # so the node's /var/log/journal is at /var/log/journal
    assert m["journal-run"]["mountPath"] == "/run/log/journal"
    assert volumes["journal-run"]["hostPath"] == {"path": "/run/log/journal",
                                                  "type": "DirectoryOrCreate"}
    assert m["machine-id"]["mountPath"] == "/etc/machine-id"
    assert volumes["machine-id"]["hostPath"] == {"path": "/etc/machine-id", "type": "File"}
    for name in ("var-log", "journal-run", "machine-id"):
        assert m[name]["readOnly"] is True, name
    # Its own folder inside the node's state folder, writable.
    assert m["state"]["subPath"] == "journald" and not m["state"].get("readOnly")
    assert volumes["state"]["hostPath"]["path"] == "/var/lib/logpipe-collector"
    data = default[("ConfigMap", "rel-logpipe-journald")]["data"]
    assert str(PurePosixPath(data["LOGPIPE_CURSOR_FILE"]).parent) == m["state"]["mountPath"]
    assert data["LOGPIPE_JOURNALD_ENABLED"] == "true"
    assert data["LOGPIPE_NAMESPACE"] == "host" and data["LOGPIPE_START_AT"] == "tail"
    assert data["LOGPIPE_METRICS_PORT"] == "9104"
    assert "LOGPIPE_JOURNAL_DIRECTORY" not in data and "LOGPIPE_UNITS" not in data


def test_journald_non_default_values(full: Manifests) -> None:
    pod = pod_spec(full, "DaemonSet", "lp-collector")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["journal-run"]["hostPath"]["path"] == "/run/log/journal-alt"
    assert volumes["machine-id"]["hostPath"]["path"] == "/etc/machine-id-alt"
    assert volumes["state"]["hostPath"]["path"] == "/var/lib/lp-state"
    c = container(full, "DaemonSet", "lp-collector", "journald")
    assert c["image"] == "registry.example.com/logpipe:1.2.3"
    assert c["ports"][0]["containerPort"] == 9114
    assert c["resources"]["limits"] == {"memory": "128Mi"}
    assert {"name": "TZ", "value": "UTC"} in c["env"]
    assert {"secretRef": {"name": "kafka-credentials"}} in c["envFrom"]
    data = full[("ConfigMap", "lp-journald")]["data"]
    assert data["LOGPIPE_UNITS"] == '["kubelet.service","containerd*"]'
    assert data["LOGPIPE_JOURNAL_DIRECTORY"] == "/var/log/journal"
    assert data["LOGPIPE_START_AT"] == "head" and data["LOGPIPE_QUEUE_SIZE"] == "5000"


# ---- everything off ------------------------------------------------------------------

def test_issue_8_parts_can_be_turned_off(validators: Validators) -> None:
    m = render(validators, "--set", "events.enabled=false,collector.journald.enabled=false,"
               "collector.podMetadata.enabled=false")
    assert not any(name.endswith("-events") for _, name in m)
    assert not any(kind.startswith(("ClusterRole", "Role")) for kind, _ in m)
    assert ("ConfigMap", "rel-logpipe-journald") not in m
    pod = pod_spec(m, "DaemonSet", "rel-logpipe-collector")
    assert [c["name"] for c in pod["containers"]] == ["collector"]
    assert not {"journal-run", "machine-id"} & {v["name"] for v in pod["volumes"]}
    assert pod["automountServiceAccountToken"] is False  # no API calls: no token
    assert m[("ServiceAccount", "rel-logpipe-collector")]["automountServiceAccountToken"] is False
    assert not any(k.startswith("LOGPIPE_POD_")
                   for k in m[("ConfigMap", "rel-logpipe-collector")]["data"])


def test_rbac_off_keeps_the_accounts(validators: Validators) -> None:
    m = render(validators, "--set", "rbac.create=false,events.replicas=2")
    assert not any(kind.startswith(("ClusterRole", "Role")) for kind, _ in m)
    assert ("ServiceAccount", "rel-logpipe-events") in m
    assert m[("ConfigMap", "rel-logpipe-events")]["data"]["LOGPIPE_LEADER_ELECTION"] == "true"


def test_existing_service_accounts(validators: Validators) -> None:
    """serviceAccount.create=false: pods use the named accounts and bindings name them."""
    m = render(validators, "--set", "serviceAccount.create=false,serviceAccount.name=shared,"
               "collector.serviceAccount.name=node-reader")
    assert not any(kind == "ServiceAccount" for kind, _ in m)
    assert pod_spec(m, "DaemonSet", "rel-logpipe-collector")["serviceAccountName"] == (
        "node-reader")
    assert pod_spec(m, "Deployment", "rel-logpipe-events")["serviceAccountName"] == "shared"
    binds(m, "ClusterRoleBinding", "rel-logpipe-collector", "ClusterRole",
          "rel-logpipe-collector", "node-reader")
    binds(m, "ClusterRoleBinding", "rel-logpipe-events", "ClusterRole", "rel-logpipe-events",
          "shared")
