"""charts/logpipe against external, replicated Kafka and Elasticsearch: the documented
production values (Strimzi + ECK) rendered by the real helm. TLS and credentials come
from Secrets into every container without passing through a ConfigMap, the settings they
make parse in the programs, the topics are replicated and the indices get a replica."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import orjson
import pytest
import yaml
from elastic_transport.client_utils import url_to_node_config

from forwarder.settings import ForwarderSettings
from log_api.settings import ApiSettings
from tests.deploy.chart import CHART, Manifests, helm
from tests.deploy.conftest import BUILD_TIMEOUT_S, Validators

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 120)

PRODUCTION = CHART / "values-production.yaml"
CRD_GROUPS = ("kafka.strimzi.io/",)  # custom resources client-go cannot decode


def render_with_crds(v: Validators, *args: str) -> Manifests:
    """Like tests.deploy.chart.render, but Strimzi's resources are kept aside from the
    strict decoder (it knows only Kubernetes' own kinds) and checked here instead."""
    res = helm(v, "template", "rel", str(CHART), "--namespace", "logs", *args)
    assert res.returncode == 0, res.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    core = [d for d in docs if not d["apiVersion"].startswith(CRD_GROUPS)]
    check = subprocess.run([str(v.kubecheck)], input=yaml.safe_dump_all(core),
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    out = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(out) == len(docs)
    return out


@pytest.fixture(scope="module")
def prod(validators: Validators) -> Manifests:
    return render_with_crds(validators, "-f", str(PRODUCTION))


def containers(m: Manifests) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload name, container, pod spec) of every logpipe container."""
    return [(name, c, obj["spec"]["template"]["spec"])
            for (kind, name), obj in m.items() if kind in ("DaemonSet", "Deployment")
            for c in obj["spec"]["template"]["spec"]["containers"]]


def expand(env: list[dict[str, Any]], secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The environment as the kubelet builds it: secretKeyRef values (and a stand-in for
    downward API fields), then $(VAR) of a variable defined earlier in the list (a later
    or unknown one stays as written)."""
    out: dict[str, str] = {}
    for e in env:
        if "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            out[e["name"]] = secrets[(ref["name"], ref["key"])]
        elif "valueFrom" in e:  # the downward API: the node's or the pod's name
            out[e["name"]] = "from-the-pod"
        else:
            out[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: out.get(m.group(1), m.group(0)),
                                    e["value"])
    return out


SECRETS = {("logpipe", "password"): "kafka-pw-1", ("logs-es-elastic-user", "elastic"): "es-pw-2"}


def test_production_values_lint_strict(validators: Validators) -> None:
    res = helm(validators, "lint", "--strict", str(CHART), "-f", str(PRODUCTION))
    assert res.returncode == 0, res.stdout + res.stderr


def test_strimzi_topics_are_replicated(prod: Manifests) -> None:
    topics = {name: obj for (kind, name), obj in prod.items() if kind == "KafkaTopic"}
    assert {n: t["spec"]["topicName"] for n, t in topics.items()} == {
        "rel-logpipe-logs": "logs", "rel-logpipe-ledger": "logs-ledger",
        "rel-logpipe-dlq": "logs.dlq"}
    for t in topics.values():
        assert t["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert t["metadata"]["labels"]["strimzi.io/cluster"] == "events"
        spec = t["spec"]
        assert (spec["partitions"], spec["replicas"]) == (6, 3)
        assert spec["config"]["min.insync.replicas"] == 2
        assert set(spec) == {"topicName", "partitions", "replicas", "config"}


def test_indices_get_a_replica(prod: Manifests) -> None:
    data = prod[("ConfigMap", "rel-logpipe-forwarder")]["data"]
    assert (data["LOGPIPE_INDEX_REPLICAS"], data["LOGPIPE_INDEX_SHARDS"]) == ("1", "1")


def test_secrets_reach_every_container_but_no_configmap(prod: Manifests) -> None:
    for (kind, name), obj in prod.items():
        if kind == "ConfigMap":
            text = orjson.dumps(obj["data"]).decode()
            assert "$(" not in text and "es-pw" not in text, name
    assert "LOGPIPE_KAFKA_OPTIONS" not in prod[("ConfigMap", "rel-logpipe-common")]["data"]
    seen = set()
    for name, c, pod in containers(prod):
        seen.add(c["args"][0])
        env = expand(c["env"], SECRETS)
        options = orjson.loads(env["LOGPIPE_KAFKA_OPTIONS"])
        assert options == {
            "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "logpipe", "sasl.password": "kafka-pw-1",
            "ssl.ca.location": "/etc/logpipe/kafka-ca/ca.crt"}, (name, c["name"])
        assert env["LOGPIPE_ES_URL"] == "https://elastic:es-pw-2@logs-es-http:9200"
        # The CA files are where the settings say: mounts of the CA Secrets.
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        for volume, secret, path in (
                ("kafka-ca", "events-cluster-ca-cert", options["ssl.ca.location"]),
                ("es-ca", "logs-es-http-certs-public", env["SSL_CERT_FILE"])):
            assert volumes[volume]["secret"]["secretName"] == secret
            assert mounts[volume]["readOnly"] is True
            assert path.startswith(mounts[volume]["mountPath"] + "/")
    assert seen == {"collector", "journald", "events", "forwarder", "api"}


def test_the_programs_read_the_expanded_settings(prod: Manifests,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    common = prod[("ConfigMap", "rel-logpipe-common")]["data"]
    for role, cls in (("forwarder", ForwarderSettings), ("api", ApiSettings)):
        c = next(c for _, c, _ in containers(prod) if c["args"][0] == role)
        data = common | prod[("ConfigMap", f"rel-logpipe-{role}")]["data"]
        with monkeypatch.context() as mp:
            for key, value in (data | expand(c["env"], SECRETS)).items():
                if key.startswith("LOGPIPE_"):
                    mp.setenv(key, value)
            s = cls()
        assert s.kafka_options["sasl.password"] == "kafka-pw-1"
        [host] = s.es_hosts()
        # The Elasticsearch client turns the URL's user and password into basic auth.
        node = url_to_node_config(host)
        assert (node.scheme, node.host, node.port) == ("https", "logs-es-http", 9200)
        assert node.headers["authorization"] == "Basic ZWxhc3RpYzplcy1wdy0y"  # elastic:es-pw-2
        assert "es-pw-2" not in s.es_url_shown()


def test_api_replicas_without_sticky_sessions(prod: Manifests) -> None:
    assert prod[("Deployment", "rel-logpipe-api")]["spec"]["replicas"] == 3
    service = prod[("Service", "rel-logpipe-api")]["spec"]
    assert service.get("sessionAffinity", "None") == "None"
    ingress = prod[("Ingress", "rel-logpipe-api")]["metadata"].get("annotations", {})
    assert not any("affinity" in key for key in ingress)


def test_defaults_add_no_connection_env_and_no_topics(default: Manifests) -> None:
    assert not any(kind == "KafkaTopic" for kind, _ in default)
    for name, c, pod in containers(default):
        names = {e["name"] for e in c.get("env", [])}
        assert not names & {"KAFKA_SASL_PASSWORD", "ES_PASSWORD", "SSL_CERT_FILE",
                            "LOGPIPE_KAFKA_OPTIONS", "LOGPIPE_ES_URL"}, (name, names)
        assert not {v["name"] for v in pod["volumes"]} & {"kafka-ca", "kafka-client", "es-ca"}
    assert default[("ConfigMap", "rel-logpipe-forwarder")]["data"][
        "LOGPIPE_INDEX_REPLICAS"] == "0"


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "kafka.sasl.mechanism=PLAIN,kafka.sasl.passwordSecret=s"],
     "kafka.sasl.username is required"),
    (["--set", "kafka.sasl.mechanism=PLAIN,kafka.sasl.username=u"],
     "kafka.sasl.passwordSecret is required"),
    (["--set", "elasticsearch.passwordSecret=s"], "elasticsearch.username is required"),
    (["--set", "kafka.topics.strimzi=true"], "kafka.topics.strimziCluster"),
])
def test_incomplete_connection_values_are_refused(validators: Validators, args: list[str],
                                                  message: str) -> None:
    res = helm(validators, "template", "rel", str(CHART), *args)
    assert res.returncode != 0 and message in res.stderr, res.stderr
