"""Metadata from Docker config.v2.json, CRI paths and host files; app/namespace rules."""

from __future__ import annotations

from pathlib import Path

import orjson

from collector.enrich import cri_meta, docker_meta, host_meta


def write_container(root: Path, cid: str, config: dict[str, object]) -> str:
    folder = root / cid
    folder.mkdir(parents=True)
    (folder / "config.v2.json").write_bytes(orjson.dumps(config))
    return str(folder / f"{cid}-json.log")


def test_docker_kubernetes_labels(tmp_path: Path) -> None:
    labels = {"io.kubernetes.pod.name": "web-7d4", "io.kubernetes.pod.namespace": "pay",
              "io.kubernetes.container.name": "web", "io.kubernetes.pod.uid": "u-1",
              "app.kubernetes.io/name": "checkout"}
    path = write_container(tmp_path, "c1", {"ID": "c1", "Name": "/k8s_web_web-7d4",
                                            "Config": {"Image": "shop:1", "Labels": labels}})
    meta, found = docker_meta(path, "default")
    assert found
    assert meta["container_id"] == "c1" and meta["image"] == "shop:1"
    assert (meta["namespace"], meta["pod"], meta["pod_uid"]) == ("pay", "web-7d4", "u-1")
    assert meta["container_name"] == "web" and meta["app"] == "checkout"
    assert meta["labels"] == labels


def test_docker_compose_project_is_namespace(tmp_path: Path) -> None:
    path = write_container(tmp_path, "c2", {"Name": "/shop-db-1", "Config": {
        "Image": "postgres", "Labels": {"com.docker.compose.project": "shop",
                                        "com.docker.compose.service": "db"}}})
    meta, _ = docker_meta(path, "default")
    assert meta["namespace"] == "shop" and meta["app"] == "db"
    assert meta["container_name"] == "shop-db-1"


def test_docker_plain_container_and_missing_config(tmp_path: Path) -> None:
    path = write_container(tmp_path, "c3", {"Name": "/redis", "Config": {"Image": "redis"}})
    meta, _ = docker_meta(path, "dflt")
    assert meta["namespace"] == "dflt" and meta["app"] == "redis"
    gone, found = docker_meta(str(tmp_path / "c4" / "c4-json.log"), "dflt")
    assert not found and gone["container_id"] == "c4" and gone["app"] == "c4"


def test_cri_path() -> None:
    meta = cri_meta("/var/log/pods/pay_web-7d4-x9_0f1e-uid/web/3.log", "default")
    assert (meta["namespace"], meta["pod"], meta["pod_uid"]) == ("pay", "web-7d4-x9", "0f1e-uid")
    assert meta["container_name"] == "web" and meta["app"] == "web"
    assert meta["container_id"] is None


def test_host_file() -> None:
    meta = host_meta("/var/log/nginx.log", "host")
    assert meta["namespace"] == "host" and meta["app"] == "nginx"
    assert host_meta("/var/log/syslog", "node")["app"] == "syslog"
