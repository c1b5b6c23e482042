"""Level detection: a labelled sample's accuracy, and the header-over-body rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.level_detect import detect_level, new_hint
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


def test_shapes_from_the_incoming_corpus() -> None:
    """One line of each shape tests/data/levels/incoming/ taught (the header's own field)."""
    assert detect_level("[Wed Oct 20 19:20:59.121211 2021] [rewrite:trace3] [pid 1] x") == "trace"
    assert detect_level('{"name":"svc","pid":1,"level":50,"msg":"m","v":0}') == "error"
    assert detect_level('{"name":"svc","pid":1,"level":35,"msg":"m","v":0}') == "unknown"
    assert detect_level('{"type":"log","tags":["status","plugin:x@6.3.0","warning"]}') == "warn"
    assert detect_level('{"type":"response","tags":[],"statusCode":200}') == "unknown"
    assert detect_level('{"log.level":"CRITICAL","event.dataset":"deprecation.elasticsearch"}'
                        ) == "warn"
    assert detect_level('{"log.level":"CRITICAL","event.dataset":"app"}') == "fatal"
    assert detect_level("[2017-04-04 11:16:34 +0200] information/Notification: x") == "info"
    assert detect_level("Dec 10 07:51:15 LabSZ sshd[24324]: error: Received disconnect") == "error"
    assert detect_level("Dec 10 07:51:15 mx postfix/smtpd[1]: warning: hostname x") == "warn"
    assert detect_level("Jul  2 11:38:49 host QQ[1]: 2017/07/02 11:38:49.414 | I | Voip") == "info"


def test_message_words_after_the_syslog_tag_do_not_count() -> None:
    # logrotate's cron script writes "ALERT" as message text; sshd's info has no prefix
    assert detect_level("Jun 15 04:06:20 combo logrotate: ALERT exited abnormally with [1]"
                        ) == "unknown"
    assert detect_level("Dec 10 07:51:15 LabSZ sshd[1]: Failed password: error: no") == "unknown"
    assert detect_level("[01-Jan-2020 00:00:00] ALERT: child 1 exited") == "fatal"
    assert detect_level("2020/01/01 00:00:00 [alert] 1#1: worker exited") == "fatal"


@pytest.mark.parametrize(("text", "want"), [
    # Redis 1.x (no pid): "-" notice, "*" warning; Redis 2+ (a pid): "*" notice
    ("30 May 10:03:19 - Server started, Redis version 1.2.6", "info"),
    ("30 May 10:03:19 * WARNING overcommit_memory is set to 0!", "warn"),
    ("26 Nov 07:00:00.123 # Server initialized", "warn"),  # no pid, a later Redis
    ("1:M 30 May 2020 10:03:19.123 * Ready to accept connections", "info"),
    # MongoDB before 4.4: a severity letter (D1-D5 debug) before the component
    ("2018-02-05T13:44:56.657+0100 I CONTROL  [initandlisten] modules: none", "info"),
    ("2018-02-05T13:44:56.657+0100 W NETWORK  [conn1] slow", "warn"),
    ("2018-02-05T13:44:56.657Z D2 QUERY    [conn1] plan", "debug"),
    # PostgreSQL csvlog: the severity before the SQLSTATE, past the first 96 characters
    ('2021-01-03 20:01:02.727 UTC,"postgres","postgres",36,"172.24.0.1:38356",5ff2227e.24,2,'
     '"authentication",2021-01-03 20:01:02 UTC,3/2,0,ERROR,42P01,"relation does not exist"',
     "error"),
    ('2021-01-03 20:01:02.727 UTC,"postgres","postgres",36,"172.24.0.1:38356",5ff2227e.24,2,'
     '"idle",2021-01-03 20:01:02 UTC,3/2,0,WARNING,01000,"there is no transaction"', "warn"),
    ('2021-01-03 20:01:02.727 UTC,"postgres","postgres",36,"172.24.0.1:38356",5ff2227e.24,2,'
     '"idle",2021-01-03 20:01:02 UTC,3/2,0,DEBUG2,00000,"autovacuum: processing"', "debug"),
    # HAProxy's HTTP log: the status after the five timers
    ("Feb  6 12:14:14 localhost haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] "
     "https-in static/srv1 10/0/30/69/109 503 2750 - - ---- 1/1/1/1/0 0/0", "error"),
    ("Sep 20 15:44:23 127.0.0.1 haproxy[25457]: 127.0.0.1:40962 [20/Sep/2018:15:44:23.285] "
     "main app/<NOSRV> -1/-1/1 212 SC 1/1/0/0/0 0/0", "unknown"),  # TCP log: no status
    # Falco's "priority"; a numeric "priority" is no severity
    ('{"output":"x","priority":"Informational","rule":"r"}', "info"),
    ('{"msg":"job queued","priority":3}', "unknown"),
    # a JSON access log's HTTP status (Envoy/Istio "response_code")
    ('{"method":"POST","response_code":401,"path":"/x"}', "warn"),
    ('{"status":503}', "error"),
    ('{"status":"ok","msg":"x"}', "unknown"),
])
def test_more_server_vocabularies(text: str, want: str) -> None:
    assert detect_level(text) == want


def test_postgres_follow_up_lines_take_their_message_level() -> None:
    hint = new_hint()
    assert detect_level("2017-04-07 22:45:30.218 CEST [22603] u@db ERROR:  no column", hint) == (
        "error")
    assert detect_level("2017-04-07 22:45:30.218 CEST [22603] u@db STATEMENT:  SELECT 1",
                        hint) == "error"
    assert detect_level("2018-11-17 13:41:38 EST [832-1] LOG:  checkpoints too frequent",
                        hint) == "info"
    assert detect_level("2018-11-17 13:41:38 EST [832-2] HINT:  Consider increasing",
                        hint) == "info"
    assert detect_level("2018-11-17 13:41:38 EST [832-2] HINT:  alone") == "unknown"


@pytest.mark.parametrize(("text", "want"), [
    ("[Fri Sep 09 10:42:29.902022 2011] [:error] [pid 35708] File does not exist", "error"),
    ('127.0.0.1 - - [02/Feb/2019:05:38:45 +0100] "-" 408 152 "-" "-"', "warn"),
    ('::1 - - [26/Dec/2016:16:16:48 +0200] "\\x16\\x03" 400 -', "warn"),
    ("Apr 15 2013 09:36:50: %ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016", "warn"),
    ("Aug 15 2012 23:30:09 : %ASA-6-302016 Teardown UDP connection 40", "info"),
    ("*Mar  1 18:46:11: %LINK-3-UPDOWN: Interface FastEthernet0/0, changed state", "error"),
    ("the discount is 50%-3-OFF: not a message id", "unknown"),
])
def test_access_and_network_device_shapes(text: str, want: str) -> None:
    assert detect_level(text) == want


def test_tabbed_and_monolog_levels() -> None:
    assert detect_level("2025-04-24T22:09:20.856Z\terror\tinternal/q.go:128\tExporting failed") == (
        "error")
    assert detect_level("2025-04-24T22:09:20.856Z\tMetrics\tx\ty") == "unknown"
    assert detect_level("[2023-05-15 18:19:32] local.ERROR: Target class does not exist.") == (
        "error")
    assert detect_level("[2023-05-15 18:19:32] production.WARNING: slow") == "warn"
