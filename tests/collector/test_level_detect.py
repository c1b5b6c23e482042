"""Level detection: a labelled sample's accuracy, and the header-over-body rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.level_detect import detect_level
from logpipe.levels import LEVELS
from tests.collector.level_samples import SAMPLES


def test_labelled_sample_accuracy() -> None:
    wrong = [(text, want, detect_level(text)) for text, want in SAMPLES
             if detect_level(text) != want]
    accuracy = 1 - len(wrong) / len(SAMPLES)
    assert accuracy >= 0.95, f"accuracy {accuracy:.2%}; wrong: {wrong}"


def test_stream_hint_keeps_accuracy_on_mixed_formats() -> None:
    hint = [-1]
    for _ in range(2):  # the sample mixes every format in one stream: the worst case
        wrong = [t for t, want in SAMPLES if detect_level(t, hint) != want]
        assert len(wrong) / len(SAMPLES) <= 0.05, wrong


def test_stream_hint_follows_one_layout() -> None:
    hint = [-1]
    assert detect_level("2026-11-26 07:00:00.123 INFO  [main] started", hint) == "info"
    assert hint[0] == 24
    assert detect_level("2026-11-26 07:00:00.124 ERROR [main] failed", hint) == "error"
    assert detect_level("2026-11-26 07:00:00.125 WARN  [main] slow", hint) == "warn"
    assert detect_level("no level here at all, just a body of text", hint) == "unknown"
    assert hint[0] == -1


def test_body_words_do_not_override_header() -> None:
    assert detect_level("2026-11-26 07:00:00 INFO upstream said ERROR") == "info"
    assert detect_level("parity error corrected") == "unknown"
    assert detect_level('level=info msg="fatal error avoided"') == "info"


def test_only_first_line_of_multiline_counts() -> None:
    assert detect_level("INFO retry\n\tat ERROR x") == "info"
    assert detect_level("starting\nERROR later line") == "unknown"


def test_klog_letters() -> None:
    for letter, level in (("I", "info"), ("W", "warn"), ("E", "error"), ("F", "fatal")):
        assert detect_level(f"{letter}1126 07:00:00.000000 1 a.go:1] x") == level


@given(st.text(max_size=300))
def test_always_a_known_level(text: str) -> None:
    assert detect_level(text) in LEVELS


def test_title_case_only_before_prose() -> None:
    assert detect_level("2016-09-28 04:30:31, Info                  CBS    Ending init.") == "info"
    assert detect_level("2016-09-28 04:30:31 user said Error twice") == "unknown"


def test_server_vocabularies() -> None:
    assert detect_level('{"t":{"$date":"2021-03-22T21:21:20Z"},"s":"W","msg":"x"}') == "warn"
    assert detect_level('{"body":"x","severity_number":17}') == "error"
    assert detect_level("2019-03-24T13:44:25Z 0 [System] [MY-013169] [Server] init") == "info"
    assert detect_level("2017-07-31 13:36:42.585 CEST [4974] LOG:  ready") == "info"
    assert detect_level("98738:M 30 May 12:23:52.442 # WARNING overcommit") == "warn"
    assert detect_level("10:00:00 WRN slow disk") == "warn"


def test_long_header_without_prose() -> None:
    line = ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
            "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected")
    assert detect_level(line) == "info"
    assert detect_level("x" * 100 + " ERROR later") == "unknown"
