"""Pure logic of the client: rendering, bars, level parsing, settings, error texts."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from client.charts import bar, human_bytes, stacked
from client.common import Selection, parse_levels
from client.config import load_settings
from client.errors import ClientError
from client.http import explain
from client.render import Renderer, highlighter, pod_colour, want_colour

ENTRY = {"id": "1", "ts": "2026-11-26T07:00:00.000000001Z", "level": "error",
         "message": "payment declined: card expired", "namespace": "pay",
         "pod": "checkout-1", "container_name": "checkout"}


def test_text_raw_json_lines() -> None:
    assert Renderer("text").line(ENTRY) == (
        "[pay/checkout-1/checkout] ERROR payment declined: card expired")
    assert Renderer("raw", timestamps=True).line(ENTRY) == (
        "2026-11-26T07:00:00.000000001Z payment declined: card expired")
    assert Renderer("json").line(ENTRY).startswith('{"id":"1",')
    assert Renderer("text", prefix=False).line({**ENTRY, "level": "unknown"}) == (
        "-     payment declined: card expired")


def test_colours_by_level_and_pod_and_highlight() -> None:
    r = Renderer("text", colour=True, highlight=highlighter(["declined", "(bad"]))
    line = r.line(ENTRY)
    assert "\x1b[93m[pay/checkout-1/checkout]" in line
    assert "\x1b[31mERROR\x1b[0m" in line
    assert "\x1b[1;4mdeclined\x1b[0m" in line
    # A pod keeps its colour across runs and machines (crc32, not hash()).
    assert (pod_colour("checkout-1"), pod_colour("api-7f9c-a")) == ("93", "36")


def test_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert want_colour("auto", Tty()) and not want_colour("auto", io.StringIO())
    assert want_colour("always", io.StringIO()) and not want_colour("never", Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not want_colour("auto", Tty())


def test_levels_sets_and_minimum() -> None:
    assert parse_levels("error,fatal") == (["error", "fatal"], None)
    assert parse_levels("WARN+") == ([], "warn")
    with pytest.raises(ClientError, match="'loud' is not one of"):
        parse_levels("info,loud")
    with pytest.raises(ClientError):
        parse_levels("unknown+")


def test_selection_params_and_pod_regex() -> None:
    sel = Selection.from_options(namespace=["pay"], pod="^check", level="warn+", grep=["x"],
                                 since="1h")
    assert ("namespace", "pay") in sel.params() and ("min_level", "warn") in sel.params()
    assert ("include", "x") not in sel.params(regex=False)
    assert ("pod_regex", "^check") in sel.params()
    assert ("pod_regex", "^check") not in sel.params(regex=False)  # statistics refuse it
    assert sel.pod_re.search("checkout-1") and not sel.pod_re.search("ledger-0")
    # RE2 refuses it: no local resolution, the server answers with a 400 that says why.
    assert Selection.from_options(pod="(?<=x)y").pod_re is None


def test_bars() -> None:
    assert bar(10, 10, 4) == "████" and bar(0, 10, 4) == "" and bar(1, 8, 1) == "▏"
    parts = stacked([("info", 90), ("error", 9), ("fatal", 1)], 100, 10)
    assert sum(n for _, n in parts) == 10 and parts[0] == ("info", 9)
    assert stacked([("a", 0)], 10, 10) == []
    assert human_bytes(512) == "512 B" and human_bytes(1536) == "1.5 KiB"


def test_settings_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("url: http://from-file:1/\ntoken: file-token\n")
    monkeypatch.setenv("LOGPIPE_CLIENT_CONFIG", str(cfg))
    monkeypatch.delenv("LOGPIPE_URL", raising=False)
    monkeypatch.delenv("LOGPIPE_TOKEN", raising=False)
    assert load_settings().url == "http://from-file:1"
    monkeypatch.setenv("LOGPIPE_TOKEN", "env-token")
    assert load_settings().token == "env-token"
    assert load_settings(token="flag-token").token == "flag-token"
    with pytest.raises(ClientError, match="'url'"):
        load_settings(url="ftp://x")
    cfg.write_text("colour: yes\n")
    with pytest.raises(ClientError, match="colour"):
        load_settings()


def test_error_texts_say_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGPIPE_CLIENT_CONFIG", "/nonexistent/c.yaml")
    settings = load_settings(url="http://api:8080")
    req = httpx.Request("GET", "http://api:8080/api/v1/search")

    def resp(status: int, body: bytes) -> httpx.Response:
        return httpx.Response(status, content=body, request=req)

    e = explain(resp(401, b'{"error": "send a token", "status": 401}'), settings)
    assert "wants a token" in str(e) and "LOGPIPE_TOKEN" in str(e)
    e = explain(resp(403, b'{"error": "this token may not read namespace \'x\'"}'), settings)
    assert "Ask the API's operator" in str(e) and not e.retriable
    e = explain(resp(503, b'{"error": "Elasticsearch is not answering"}'), settings)
    assert e.retriable and "try again" in str(e)
    e = explain(resp(404, b"Not Found"), settings)
    assert "is that a logpipe Log API" in str(e)


def test_an_unreachable_server_fails_at_once_even_when_following() -> None:
    from tests.client.cli import run
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    environ = {"LOGPIPE_URL": url, "LOGPIPE_CLIENT_CONFIG": "/nonexistent/c.yaml"}
    for args in (["-n", "pay"], ["-f", "-n", "pay"]):
        res = run("logs", args, environ)
        assert res.exit_code == 1
        assert f"cannot reach the Log API at {url}" in res.stderr and "LOGPIPE_URL" in res.stderr
