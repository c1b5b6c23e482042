"""Per-app level rules (setting level_rules, pod annotation logpipe.io/level): an RE2
regex with a ``level`` group or ``json:<key>``, tried before the built-in detection;
and through a real collector and Kafka, where the rule keeps the C fast path off."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.level_detect import compile_level_rule
from collector.multiline import PatternRefused
from collector.pods import pod_meta
from collector.settings import CollectorSettings
from tests.collector.helpers import (
    TopicReader,
    append,
    docker_container,
    docker_lines,
    running,
    settings,
)
from tests.kube.objects import pod

RULE = r"lvl#(?P<level>\w+)"


def test_regex_rule_first_then_the_built_in_detection() -> None:
    rule = compile_level_rule(RULE)
    assert rule.level("12:00:01 lvl#warning disk almost full") == "warn"
    assert rule.level("12:00:01 lvl#E cannot write") == "error"
    # no level word where the rule points: the general detection decides, never a guess
    assert rule.level("12:00:01 lvl#blue ERROR upstream") == "error"
    assert rule.level("12:00:01 lvl#blue nothing here") == "unknown"
    # the first line only: a level in a continuation line does not count
    assert rule.level("12:00:01 started\n  lvl#error in a dump") == "unknown"


def test_json_rule_reads_a_nested_or_flat_key() -> None:
    rule = compile_level_rule("json:meta.sev")
    assert rule.level('{"msg":"x","meta":{"sev":"Warning"}}') == "warn"
    assert rule.level('{"msg":"x","meta.sev":"crit"}') == "fatal"
    assert rule.level('{"msg":"x","meta":{"sev":50}}') == "error"  # pino/bunyan numbers
    assert rule.level('{"msg":"x","level":"info"}') == "info"  # key absent: built-in
    assert rule.level("not json at all") == "unknown"


@pytest.mark.parametrize("spec", ["(unclosed", r"\d+ (\w+)", "json:", "json:  ",
                                  r"(?P<level>\w)\1", "x" * 1025])
def test_refused_rules(spec: str) -> None:
    with pytest.raises(PatternRefused):
        compile_level_rule(spec)
    with pytest.raises(ValueError, match="level_rules"):
        CollectorSettings(level_rules={"web": spec})


def test_pod_annotation_is_checked_like_a_start_pattern() -> None:
    good = pod_meta(pod("shop", "p", annotations={"logpipe.io/level": RULE}))
    assert good.level_rule == RULE and good.level_refused is None
    bad = pod_meta(pod("shop", "q", annotations={"logpipe.io/level": r"(\w+)"}))
    assert bad.level_rule is None and bad.level_refused is not None
    assert "level" in bad.level_refused


def test_level_rule_through_kafka(tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    """The app with a rule gets its levels from it (Docker lines, which the C path would
    otherwise take); another app's same lines keep the built-in detection."""
    lines = ["12:00:01 lvl#warning disk almost full", "12:00:02 lvl#error cannot write",
             "12:00:03 lvl#blue ERROR upstream refused", "12:00:04 lvl#blue plain"]
    ruled = docker_container(tmp_path, "ruled")
    other = docker_container(tmp_path, "other")
    s = settings(tmp_path, kafka_bootstrap, topic, level_rules={"ruled": RULE})
    reader = TopicReader(kafka_bootstrap, topic)
    try:
        with running(s):
            append(ruled, docker_lines(lines))
            append(other, docker_lines(lines))
            records = reader.until(lambda rs: len(rs) >= 2 * len(lines))
    finally:
        reader.close()
    by_app = {(r.app, r.message): r.level for r in records}
    assert [by_app[("ruled", line)] for line in lines] == ["warn", "error", "error", "unknown"]
    assert [by_app[("other", line)] for line in lines] == \
        ["unknown", "unknown", "error", "unknown"]
