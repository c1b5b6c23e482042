"""Fetch Kafka jars and the Elasticsearch distribution from Maven Central with mvn.

Maven's own local repository (~/.m2) is the download cache, so a second fetch
costs nothing; the unpacked result is kept under the stack home.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from logpipe.console import notes
from logpipe.errors import StackError

console = notes()  # a log path stays on one line in a file or a pipe

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.stack</groupId><artifactId>kafka-runtime</artifactId>
  <version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId><version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


def _mvn(args: list[str], cwd: Path, what: str) -> None:
    """Run mvn, showing each artifact it downloads as progress."""
    if shutil.which("mvn") is None:
        raise StackError("`mvn` is not on PATH: install Maven (apt-get install maven)")
    cmd = ["mvn", "-B", *args]
    done = 0
    output: list[str] = []
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as progress:
        task = progress.add_task(f"fetching {what} from Maven Central", total=None)
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip())
            if line.startswith("Downloaded from"):
                done += 1
                name = line.split("/")[-1].split(" (")[0]
                size = line.rsplit("(", 1)[-1].rstrip(")\n") if "(" in line else ""
                progress.update(
                    task, description=f"fetching {what}: {done} files, last {name} {size}"
                )
        rc = proc.wait()
    if rc != 0:
        tail = "\n".join(output[-30:])
        raise StackError(f"mvn failed fetching {what} (exit {rc}):\n{tail}")
    if done:
        console.print(f"fetched {what}: {done} files downloaded")


def fetch_kafka(dest: Path, kafka_version: str, log4j_version: str) -> Path:
    """Kafka's runtime jars in ``dest/lib-<version>``; returns that folder."""
    lib = dest / f"lib-{kafka_version}"
    marker = lib / ".complete"
    if marker.exists():
        return lib
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "pom.xml").write_text(_POM.format(kafka=kafka_version, log4j=log4j_version))
    tmp = dest / f"lib-{kafka_version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    _mvn(
        ["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"],
        dest,
        f"Kafka {kafka_version}",
    )
    shutil.rmtree(lib, ignore_errors=True)
    tmp.rename(lib)
    marker.touch()
    return lib


def fetch_elasticsearch(dest: Path, version: str) -> Path:
    """Elasticsearch unpacked at ``dest/elasticsearch-<version>``; returns that folder."""
    home = dest / f"elasticsearch-{version}"
    if (home / ".complete").exists():
        return home
    dest.mkdir(parents=True, exist_ok=True)
    artifact = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
    _mvn(
        [
            "dependency:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={dest}",
            "-Dmdep.overWriteIfNewer=true",
        ],
        dest,
        f"Elasticsearch {version}",
    )
    archive = dest / f"elasticsearch-{version}.zip"
    shutil.rmtree(home, ignore_errors=True)
    with (
        zipfile.ZipFile(archive) as zf,
        Progress(
            TextColumn("unpacking Elasticsearch"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        members = zf.infolist()
        task = progress.add_task("unpack", total=len(members))
        for info in members:
            path = Path(zf.extract(info, dest))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)  # zipfile drops the exec bits that bin/ needs
            progress.advance(task)
    archive.unlink()  # the zip stays cached in ~/.m2; keep only the run bits here
    (home / ".complete").touch()
    return home
