"""The collector bench's corpus builders (bench/corpus.py): the varied corpus mixes the
real formats, keeps their multi-line entries, moves time forward, and both writers
produce what the collector's own parsers and discovery read back as the same lines."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import pytest

from bench import corpus
from bench.corpus import AppLine
from collector.discovery import Discovery
from collector.enrich import cri_meta
from collector.parsers import parse_cri, parse_docker
from collector.settings import CollectorSettings
from logpipe.timefmt import parse_ns


@pytest.fixture(scope="module")
def entries() -> dict[str, list[corpus.Entry]]:
    return corpus.load_entries()


@pytest.fixture(scope="module")
def one_file(entries: dict[str, list[corpus.Entry]]) -> list[AppLine]:
    return corpus.app_lines(7, 20_000, entries, corpus.error_lines())


def test_every_file_mixes_at_least_20_formats(one_file: list[AppLine]) -> None:
    formats = Counter(line.fmt for line in one_file)
    assert len(formats) >= 20
    assert len(one_file) == 20_000
    # mixed, not one format after another: the longest run of one format is short
    longest, run = 1, 1
    for a, b in itertools.pairwise(one_file):
        run = run + 1 if a.fmt == b.fmt else 1
        longest = max(longest, run)
    assert longest < 200


def test_multi_line_entries_are_kept_whole(entries: dict[str, list[corpus.Entry]],
                                           one_file: list[AppLine]) -> None:
    multi = [(name, e) for name, es in entries.items() for e in es if len(e) > 1]
    assert multi, "the level corpus has no multi-line entry any more"
    texts = [line.text for line in one_file]
    found = 0
    for _, entry in multi:
        tail = list(entry[1:])  # continuation lines carry no stamp: unchanged
        for i in range(1, len(texts) - len(tail) + 1):
            if texts[i:i + len(tail)] == tail:
                streams = {one_file[j].stream for j in range(i - 1, i + len(tail))}
                assert len(streams) == 1  # an entry's lines share its stream
                found += 1
                break
    assert found >= 1
    joined = corpus.expected_records(one_file)
    assert joined.records < len(one_file)  # some lines join an entry
    assert joined.entries == sum(line.first for line in one_file) < len(one_file)
    # Formats mixed on one stream: 95.4 % of entries come out exactly (67 % when a
    # stream kept the header kind it learned from its first lines and joined the other
    # layouts' header-less lines); the rest are split traces whose continuation lines
    # only a learned header would join.
    assert 0.94 * joined.entries < joined.exact < joined.entries


def test_expected_records_follow_the_joiner() -> None:
    lines = [AppLine(i, "stdout", text, "t", not text.startswith("\t")) for i, text in enumerate(
        ["2026-11-26 07:00:00 LOG: select a,", "\tfrom b;", "2026-11-26 07:00:01 LOG: ok"])]
    assert corpus.expected_records(lines) == (2, 2, 2)
    lines[1] = lines[1]._replace(stream="stderr")  # another stream: not a continuation
    assert corpus.expected_records(lines) == (3, 2, 1)  # the entry was split


def test_time_only_moves_forward(one_file: list[AppLine]) -> None:
    stamps = [line.ts_ns for line in one_file]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    iso = [line.text[:19] for line in one_file
           if line.fmt == "hadoop" and line.text[:4].isdigit()]
    assert iso and iso == sorted(iso)


@pytest.mark.parametrize(("before", "after"), [
    ("2015-10-18 18:06:55,203 WARN [x] y", "2026-11-26 07:00:01,203 WARN [x] y"),
    ("2016/10/25 14:50:44 [error] 54053#0", "2026/11/26 07:00:01 [error] 54053#0"),
    ("Jun  3 15:42:50 combo sshd(pam_unix)", "Nov 26 07:00:01 combo sshd(pam_unix)"),
    ("Dec 04 04:47:44 host x", "Nov 26 07:00:01 host x"),
    ("[Sun Dec 04 04:47:44 2005] [notice] ok", "[Thu Nov 26 07:00:01 2026] [notice] ok"),
    ('{"time":"2012-02-08T22:56:52.856Z","v":0}', '{"time":"2026-11-26T07:00:01.856Z","v":0}'),
    ("I0507 12:04:17.596321 1 x.go:1] no known stamp", "I0507 12:04:17.596321 1 x.go:1] no "
     "known stamp"),
])
def test_restamp_keeps_the_shape(before: str, after: str) -> None:
    assert corpus.restamp(before, corpus.START_NS + 1_500_000_000) == after


def test_rfc3339_stamps() -> None:
    ts = corpus.START_NS + 120_000_000
    assert corpus.rfc3339(ts, fixed=True) == "2026-11-26T07:00:00.120000000Z"
    assert corpus.rfc3339(ts, fixed=False) == "2026-11-26T07:00:00.12Z"
    assert corpus.rfc3339(corpus.START_NS, fixed=False) == "2026-11-26T07:00:00Z"
    assert parse_ns(corpus.rfc3339(ts + 7, fixed=False)) == ts + 7


def _long_and_split(one_file: list[AppLine]) -> list[AppLine]:
    lines = list(one_file[:3000])
    lines.append(AppLine(lines[-1].ts_ns + 1, "stderr", "é" * 20_000 + "x", "t"))
    assert any(len(line.text.encode()) > corpus.PIECE_BYTES for line in lines)
    return lines


def test_cri_pieces_reassemble_to_the_same_lines(one_file: list[AppLine]) -> None:
    lines = _long_and_split(one_file)
    got: list[tuple[str, str, str]] = []
    parts: list[str] = []
    piece_sizes: list[int] = []
    for raw in corpus.cri_bytes(lines, seed=3).split(b"\n")[:-1]:
        piece = parse_cri(raw)
        assert piece.tags == () and piece.ts is not None and piece.stream is not None
        parts.append(piece.text)
        if piece.partial:
            piece_sizes.append(len(piece.text.encode()))
            continue
        got.append((piece.ts, piece.stream, "".join(parts)))
        parts = []
    assert not parts, "the last piece of a line must be F"
    assert [text for _, _, text in got] == [line.text for line in lines]
    assert [stream for _, stream, _ in got] == [line.stream for line in lines]
    assert [parse_ns(ts) for ts, _, _ in got] == [line.ts_ns for line in lines]
    assert max(piece_sizes) <= corpus.PIECE_BYTES
    assert max(piece_sizes) > corpus.PIECE_BYTES - 4  # containerd's full 16 KiB pieces
    assert min(piece_sizes) < 1000  # and the shorter P splits


def test_docker_pieces_reassemble_to_the_same_lines(one_file: list[AppLine]) -> None:
    lines = _long_and_split(one_file)
    data = corpus.docker_bytes(lines)
    assert b"\\u003c" in data or b"\\u0026" in data or b"\\u003e" in data
    got: list[str] = []
    parts: list[str] = []
    for raw in data.split(b"\n")[:-1]:
        piece = parse_docker(raw)
        assert piece.tags == () and piece.ts is not None and len(piece.ts) == 30
        parts.append(piece.text)
        if not piece.partial:
            got.append("".join(parts))
            parts = []
    assert got == [line.text for line in lines]


def test_the_layouts_are_what_the_collector_discovers(tmp_path: Path) -> None:
    varied, cri = corpus.build_varied(tmp_path / "docker", tmp_path / "pods", 3, 900)
    assert varied.lines == cri.lines == 900 and varied.records == cri.records <= 900
    settings = CollectorSettings(sources=["docker", "cri"], docker_root=str(varied.staging),
                                 cri_root=str(cri.staging), pod_metadata="false")
    found = Discovery(settings).scan()
    assert sorted(found.values()) == ["cri"] * 3 + ["docker"] * 3
    for c in (varied, cri):
        paths = c.paths(c.staging)
        assert len(paths) == 3 and set(map(str, paths)) <= set(found)
        assert sum(p.read_bytes().count(b"\n") for p in paths) == c.messages
        assert sum(p.stat().st_size for p in paths) == c.nbytes
    path = next(p for p in cri.paths(cri.staging) if p.parent.name == "app-1")
    meta = cri_meta(str(path), "default")
    assert (meta["namespace"], meta["container_name"]) == (corpus.NAMESPACES[1], "app-1")
    assert str(meta["pod"]).startswith("app-1-") and meta["pod_uid"]
