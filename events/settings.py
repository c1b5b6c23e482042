"""Settings of the ``logpipe events`` role (env ``LOGPIPE_<FIELD>``)."""

from __future__ import annotations

import socket
from typing import ClassVar

from pydantic import Field

from logpipe.settings import MetricsEndpoint


class EventsSettings(MetricsEndpoint):
    metrics_port_default = 9103
    renamed: ClassVar[dict[str, str]] = {
        "checkpoint_interval": "checkpoint_interval_s", "watch_timeout": "watch_timeout_s",
        "backoff_max": "backoff_max_s", "lease_duration": "lease_duration_s",
        "renew_deadline": "renew_deadline_s", "retry_period": "retry_period_s",
    }

    kubeconfig: str | None = Field(
        None, description="kubeconfig file; unset = in-cluster service account, then "
        "$KUBECONFIG, then ~/.kube/config.")
    kube_context: str | None = Field(None, description="kubeconfig context; unset = current.")
    cluster: str = Field("default", description="Cluster name, part of every event's id "
                         "so two clusters into one index never collide.")
    node_name: str = Field(default_factory=socket.gethostname,
                           description="Written into each record's `node` (the pod's node).")
    events_api: str = Field("v1", pattern="^(v1|events.k8s.io/v1)$",
                            description="Which Event API to watch: core `v1` or "
                            "`events.k8s.io/v1` (same events, different field names).")
    cluster_namespace: str = Field(
        "cluster", min_length=1, description="Namespace (tenant) of events about "
        "cluster-scoped objects (Nodes, PersistentVolumes, Namespaces): grant it only to "
        "cluster operators' tokens.")
    cluster_event_sources: list[str] = Field(
        ["default"], description="Namespaces where Kubernetes files events about "
        "cluster-scoped objects; such events there go to cluster_namespace. Let only "
        "cluster components create Events in them. Every other event keeps its own "
        "metadata.namespace, whatever object it names.")
    events_namespace: str | None = Field(None, description="Watch only this namespace; "
                                         "unset = all namespaces.")
    state_file: str = Field("/var/lib/logpipe/events.rv", description="Where the last "
                            "acknowledged resourceVersion is kept across restarts.")
    checkpoint_interval_s: float = Field(1.0, gt=0, description="Seconds between saves "
                                       "of the state file.")
    watch_timeout_s: int = Field(300, ge=5, description="Server-side watch timeout "
                               "(seconds, +0-25% jitter); the watch then reopens from the "
                               "last resourceVersion.")
    backoff_max_s: float = Field(30.0, gt=0, description="Cap of the reconnect backoff (s).")
    leader_election: bool = Field(False, description="Campaign for a coordination.k8s.io "
                                  "Lease before watching; turn on when replicas > 1.")
    lease_name: str = Field("logpipe-events", description="Name of the Lease.")
    lease_namespace: str | None = Field(None, description="Namespace of the Lease; unset "
                                        "= the pod's own (service account) namespace.")
    lease_duration_s: float = Field(15.0, gt=0, description="Seconds a leader's claim lasts "
                                  "without renewal.")
    renew_deadline_s: float = Field(10.0, gt=0, description="A leader that could not renew "
                                  "for this long steps down (exits).")
    retry_period_s: float = Field(2.0, gt=0, description="Seconds between lease attempts.")
    identity: str = Field(default_factory=socket.gethostname, description="This "
                          "replica's holder identity in the Lease (the pod name).")
