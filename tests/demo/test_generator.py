"""Parse everything the demo generator writes, as a collector would."""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from demo.generator import MANIFEST, DemoOptions, Generator
from logpipe.timefmt import parse_ns

START = "2026-11-26T10:00:00Z"
CRI = re.compile(r"^(\S+) (stdout|stderr) ([PF]) (.*)$")
SYSLOG = re.compile(r"^[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d demo-node-1 [\w-]+(\[\d+\])?: .+$")


def run(out: Path, **kw: Any) -> Generator:
    opts: dict[str, Any] = {"rate": 400.0, "duration": 10.0, "realtime": False,
                            "start_ns": parse_ns(START), "seed": 7} | kw
    gen = Generator(DemoOptions(out=out, **opts))
    gen.run()
    return gen


def read_lines(path: Path) -> list[str]:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    text = raw.decode()  # the demo writes valid UTF-8 only
    assert text == "" or text.endswith("\n"), f"{path} ends in a half-written line"
    return text.splitlines()


def log_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.endswith(".json"):
            yield path


def docker_messages(path: Path) -> list[tuple[str, str, int]]:
    """Reassembled (message, stream, ts) from a json-file log, checking every entry."""
    out, pending = [], ""
    for line in read_lines(path):
        entry = json.loads(line)
        assert set(entry) == {"log", "stream", "time"}
        assert entry["stream"] in ("stdout", "stderr")
        pending += entry["log"]
        if pending.endswith("\n"):  # a piece without newline is partial
            out.append((pending[:-1], entry["stream"], parse_ns(entry["time"])))
            pending = ""
    assert pending == "", f"{path} ends inside a partial entry"
    return out


def cri_messages(path: Path) -> list[tuple[str, str, int]]:
    out, pending = [], ""
    for line in read_lines(path):
        m = CRI.match(line)
        assert m, f"not a CRI line: {line[:120]!r}"
        pending += m.group(4)
        if m.group(3) == "F":
            out.append((pending, m.group(2), parse_ns(m.group(1))))
            pending = ""
    assert pending == ""
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    # Large "keep" so nothing is deleted and every line can be counted back.
    return run(tmp_path_factory.mktemp("demo"), rotate_bytes=64 * 1024, keep=1000)


def parse_tree(out: Path) -> dict[str, list[tuple[str, str, int]]]:
    result: dict[str, list[tuple[str, str, int]]] = {}
    for path in log_files(out / "docker" / "containers"):
        result[str(path.relative_to(out))] = docker_messages(path)
    for path in log_files(out / "pods"):
        result[str(path.relative_to(out))] = cri_messages(path)
    return result


def test_every_file_parses_and_no_line_is_lost_across_rotation(tree: Generator) -> None:
    parsed = parse_tree(tree.out)
    syslog = read_lines(tree.out / "log" / "syslog")
    assert all(SYSLOG.match(line) for line in syslog)
    assert sum(len(v) for v in parsed.values()) + len(syslog) == tree.stats.lines
    assert tree.stats.rotations > 0


def test_timestamps_never_go_back_within_a_stream(tree: Generator) -> None:
    for source in tree.fleet:
        if source.kind == "host":
            continue
        live = tree.out / source.rel_path
        # Rotated files sort oldest first by name: Docker's .N counts down, kubelet's by date.
        rotated = sorted(live.parent.glob(live.name + ".*"),
                         key=lambda p: p.name.removesuffix(".gz"))
        if source.kind != "cri":
            rotated.reverse()
        parse = cri_messages if source.kind == "cri" else docker_messages
        stamps = [ts for path in [*rotated, live] for _, _, ts in parse(path)]
        assert stamps == sorted(stamps), source.app


def test_long_lines_are_split_into_partials_and_reassemble(tree: Generator) -> None:
    long_docker = long_cri = 0
    for rel, messages in parse_tree(tree.out).items():
        for text, _, _ in messages:
            if len(text.encode()) > 16 * 1024:
                json.loads(text)  # the long line is whole JSON again after reassembly
                long_docker += rel.startswith("docker")
                long_cri += rel.startswith("pods")
    # Seed 7 is deterministic: both layouts get long lines, so both reassemblies run.
    assert (long_docker, long_cri, tree.stats.long_lines) == (2, 7, 9)
    raw = b"".join(p.read_bytes() for p in log_files(tree.out / "pods") if p.suffix != ".gz")
    assert b" P " in raw  # CRI partials, the kubelet's split of a long line


def test_mix_of_formats_levels_and_stack_traces(tree: Generator) -> None:
    texts = [t for messages in parse_tree(tree.out).values() for t, _, _ in messages]
    joined = "\n".join(texts)
    assert "Traceback (most recent call last):" in joined  # Python, one entry per line
    assert any(t.startswith("\tat com.acme.") for t in texts)  # Java frames
    assert any(t.startswith("Caused by: ") for t in texts)
    json_levels = {json.loads(t).get("level") for t in texts if t.startswith("{")}
    assert {"info", "warning", "error"} <= json_levels
    assert " ERROR 1 --- " in joined and " WARN " in joined  # Spring Boot text
    assert re.search(r'" (200|404) \d+ "-"', joined)  # nginx access log
    assert "level=info msg=" in joined  # logfmt
    assert "Доступно" in joined  # non-ASCII survives Docker's JSON encoding
    streams = {s for messages in parse_tree(tree.out).values() for _, s, _ in messages}
    assert streams == {"stdout", "stderr"}


def test_docker_config_has_name_image_and_kubernetes_or_compose_labels(tree: Generator) -> None:
    configs = [json.loads(p.read_text())
               for p in (tree.out / "docker" / "containers").glob("*/config.v2.json")]
    assert len(configs) == sum(1 for s in tree.fleet if s.kind in ("docker-k8s", "compose",
                                                                    "docker"))
    k8s = [c for c in configs if "io.kubernetes.pod.namespace" in c["Config"]["Labels"]]
    compose = [c for c in configs if "com.docker.compose.project" in c["Config"]["Labels"]]
    assert k8s and compose and len(k8s) + len(compose) < len(configs)  # and a plain one
    for c in configs:
        log = Path(c["LogPath"])
        assert log.name == f"{c['ID']}-json.log" and log.parent.name == c["ID"]
        assert log.is_file()
        assert c["Name"].startswith("/") and ":" in c["Config"]["Image"]
        assert c["State"]["Running"] is True
    assert all(c["Name"].startswith("/k8s_") for c in k8s)
    assert {c["Config"]["Labels"]["com.docker.compose.project"] for c in compose} == {"hotel"}


def test_cri_layout_has_namespace_pod_uid_and_container(tree: Generator) -> None:
    pods = sorted((tree.out / "pods").iterdir())
    namespaces = {p.name.split("_")[0] for p in pods}
    assert {"shop", "pay", "kube-system"} <= namespaces
    for pod in pods:
        _ns, _name, uid = pod.name.split("_")
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", uid)
        (container,) = list(pod.iterdir())
        assert (container / "0.log").is_file()
    manifest = json.loads((tree.out / MANIFEST).read_text())
    assert len(manifest["sources"]) == len(tree.fleet)
    assert Path(manifest["pods_root"]) == tree.out / "pods"


def test_rotation_keeps_max_file_like_docker_and_the_kubelet(tmp_path: Path) -> None:
    gen = run(tmp_path, rotate_bytes=16 * 1024, keep=3, duration=20.0)
    assert gen.stats.rotations > 0
    docker = next(s for s in gen.fleet if s.kind == "compose" and s.app == "api")
    live = tmp_path / docker.rel_path
    names = sorted(p.name for p in live.parent.glob(live.name + "*"))
    assert names == [live.name, live.name + ".1", live.name + ".2"]
    cri = next(s for s in gen.fleet if s.app == "checkout")
    files = sorted(p.name for p in (tmp_path / cri.rel_path).parent.iterdir())
    assert files[0] == "0.log" and len(files) == 3
    assert re.fullmatch(r"0\.log\.\d{8}-\d{6}\.gz", files[1])  # older ones are gzipped
    assert re.fullmatch(r"0\.log\.\d{8}-\d{6}", files[2])  # the newest stays plain
    for name in files:
        cri_messages((tmp_path / cri.rel_path).parent / name)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def snapshot(out: Path) -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes()
                for p in sorted(out.rglob("*")) if p.is_file() and p.name != MANIFEST
                and p.name != "config.v2.json"}  # these two hold the absolute out folder

    run(tmp_path / "a", duration=3.0)
    run(tmp_path / "b", duration=3.0)
    run(tmp_path / "c", duration=3.0, seed=8)
    a, b, c = snapshot(tmp_path / "a"), snapshot(tmp_path / "b"), snapshot(tmp_path / "c")
    assert a == b
    assert a.keys() != c.keys()  # other container ids and pod names


def test_realtime_mode_trickles_until_stopped(tmp_path: Path) -> None:
    gen = Generator(DemoOptions(out=tmp_path, rate=200.0, duration=0, realtime=True))
    stop = threading.Event()
    worker = threading.Thread(target=gen.run, args=(stop,))
    worker.start()
    syslog = tmp_path / "log" / "syslog"
    try:
        # Flushed before each sleep, so lines show up while the generator still runs.
        deadline = threading.Event()
        for _ in range(600):
            if syslog.exists() and syslog.stat().st_size > 0:
                break
            deadline.wait(0.05)
        assert syslog.stat().st_size > 0
        assert worker.is_alive()
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert gen.stats.entries > 0


def test_cli_writes_the_tree_and_rejects_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["demo", "--out", str(tmp_path), "--fast", "--duration", "1",
                               "--rate", "300", "--seed", "3", "--start", START])
    assert res.exit_code == 0, res.output
    assert "entries" in res.output
    assert (tmp_path / MANIFEST).is_file()
    bad = runner.invoke(main, ["demo", "--out", str(tmp_path), "--rate", "0"])
    assert bad.exit_code == 2 and "rate must be > 0" in bad.output
    forever = runner.invoke(main, ["demo", "--out", str(tmp_path), "--fast", "--duration", "0"])
    assert forever.exit_code == 2 and "needs a duration" in forever.output


def test_even_a_short_run_has_a_long_line(tmp_path: Path) -> None:
    gen = run(tmp_path, rate=100.0, duration=1.0)
    assert 25 < gen.stats.entries < 1000
    assert gen.stats.long_lines >= 1
