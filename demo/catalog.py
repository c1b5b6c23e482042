"""What the demo apps say: one profile per logging style found in real clusters.

A profile turns (rng, time, app) into the physical lines one log statement
produces: Spring Boot text with Java stack traces, Python logging with
tracebacks, structlog / logstash / zap JSON, logfmt, nginx, Redis, PostgreSQL,
CoreDNS and a shell script. Each line is written as its own entry, exactly as a
runtime records a multi-line stack trace.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from demo.formats import rfc3339nano


@dataclass(frozen=True)
class Line:
    stream: str  # "stdout" or "stderr"
    text: str


Profile = Callable[[random.Random, int, str], list[Line]]

LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
_LEVEL_WEIGHTS = (2, 8, 70, 12, 7, 0.5)

_USERS = ("ana", "bo", "chen", "dario", "emma", "farid", "greta", "hiro", "ines", "jonas")
_SKUS = ("SKU-1042", "SKU-2210", "SKU-3307", "SKU-4001", "SKU-5150", "SKU-7788")
_PATHS = ("/", "/api/cart", "/api/cart/items", "/api/checkout", "/api/products?page=2",
          "/static/app.js", "/static/logo.svg", "/healthz", "/api/search?q=shoes",
          "/api/orders/8812", "/login", "/api/payments/intent")
_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
           "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
           "kube-probe/1.31", "curl/8.5.0", "python-httpx/0.27.0")


def pick_level(rng: random.Random) -> str:
    return rng.choices(LEVELS, _LEVEL_WEIGHTS)[0]


def _ms_stamp(ts_ns: int, sep: str = " ", frac_sep: str = ",") -> str:
    base = time.strftime(f"%Y-%m-%d{sep}%H:%M:%S", time.gmtime(ts_ns // 1_000_000_000))
    return f"{base}{frac_sep}{ts_ns // 1_000_000 % 1000:03d}"


def _ip(rng: random.Random) -> str:
    return f"10.244.{rng.randint(0, 3)}.{rng.randint(2, 250)}"


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def java_stack(rng: random.Random, package: str) -> list[str]:
    """A Java exception with frames, a cause and the ``... N more`` elision."""
    exc = rng.choice(("java.lang.IllegalStateException: order already settled",
                      "java.net.SocketTimeoutException: Read timed out",
                      "java.lang.NullPointerException: Cannot invoke \"Cart.items()\" "
                      "because \"cart\" is null"))
    cls = package.rsplit(".", 1)[-1].capitalize()
    frames = [f"\tat {package}.{cls}Service.process({cls}Service.java:{rng.randint(40, 300)})",
              f"\tat {package}.{cls}Controller.handle({cls}Controller.java:{rng.randint(20, 90)})",
              "\tat org.springframework.web.servlet.FrameworkServlet.service"
              "(FrameworkServlet.java:885)",
              "\tat jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658)",
              "\tat org.apache.catalina.core.ApplicationFilterChain.doFilter"
              "(ApplicationFilterChain.java:140)",
              "\tat java.base/java.lang.Thread.run(Thread.java:1583)"]
    cause = ["Caused by: org.postgresql.util.PSQLException: ERROR: could not serialize access "
             "due to concurrent update",
             "\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse"
             "(QueryExecutorImpl.java:2725)",
             f"\t... {rng.randint(8, 40)} more"]
    return [exc, *frames, *(cause if rng.random() < 0.5 else [])]


def python_traceback(rng: random.Random, module: str) -> list[str]:
    err = rng.choice(('KeyError: \'sku\'', "ConnectionResetError: [Errno 104] Connection "
                      "reset by peer", "ValueError: invalid literal for int() with base 10: 'x'"))
    return ["Traceback (most recent call last):",
            f'  File "/app/{module}/handlers.py", line {rng.randint(20, 200)}, in handle',
            "    result = await self.process(request)",
            f'  File "/app/{module}/service.py", line {rng.randint(20, 200)}, in process',
            "    return self.repo.load(payload[\"sku\"])",
            err]


def spring_text(rng: random.Random, ts: int, app: str) -> list[Line]:
    level = pick_level(rng)
    word = {"trace": "TRACE", "debug": "DEBUG", "info": " INFO", "warn": " WARN",
            "error": "ERROR", "fatal": "ERROR"}[level]
    thread = f"nio-8080-exec-{rng.randint(1, 10)}"
    msg = rng.choice((f"Order {rng.randint(10000, 99999)} placed by {rng.choice(_USERS)}",
                      f"Reserved stock for {rng.choice(_SKUS)} x{rng.randint(1, 4)}",
                      f"HikariPool-1 - Connection is not available, request timed out after "
                      f"{rng.randint(1000, 30000)}ms",
                      f"Completed 200 OK in {rng.randint(3, 900)}ms"))
    head = f"{_ms_stamp(ts, frac_sep='.')} {word} 1 --- [{thread}] c.a.{app}.OrderService : {msg}"
    stream = "stderr" if level in ("error", "fatal") else "stdout"
    lines = [Line(stream, head)]
    if level in ("error", "fatal") and rng.random() < 0.6:
        lines += [Line(stream, t) for t in java_stack(rng, f"com.acme.{app}")]
    return lines


def logstash_json(rng: random.Random, ts: int, app: str) -> list[Line]:
    level = pick_level(rng)
    doc: dict[str, object] = {
        "@timestamp": rfc3339nano(ts - ts % 1_000_000), "@version": "1",
        "message": rng.choice((f"payment intent {_hex(rng, 12)} authorised",
                               f"3-D Secure challenge sent to {rng.choice(_USERS)}",
                               "card network latency above SLO", "refund queued")),
        "logger_name": f"com.acme.{app}.PaymentService",
        "thread_name": f"pool-2-thread-{rng.randint(1, 8)}",
        "level": {"fatal": "ERROR"}.get(level, level.upper()),
        "trace_id": _hex(rng, 32), "amount_cents": rng.randint(100, 99999),
    }
    if level in ("error", "fatal"):
        doc["stack_trace"] = "\n".join(java_stack(rng, f"com.acme.{app}"))
    return [Line("stdout", json.dumps(doc, separators=(",", ":")))]


def structlog_json(rng: random.Random, ts: int, app: str) -> list[Line]:
    level = pick_level(rng)
    doc: dict[str, object] = {
        "event": rng.choice(("item added", "cart loaded", "price recalculated",
                             "coupon rejected", "session expired")),
        "level": {"warn": "warning", "fatal": "critical"}.get(level, level),
        "timestamp": rfc3339nano(ts - ts % 1000), "logger": f"{app}.api",
        "user": rng.choice(_USERS), "sku": rng.choice(_SKUS),
        "request_id": _hex(rng, 16), "duration_ms": round(rng.uniform(0.3, 250.0), 2),
    }
    if level in ("error", "fatal"):
        doc["exception"] = "\n".join(python_traceback(rng, app))
    return [Line("stdout", json.dumps(doc, ensure_ascii=False))]


def python_text(rng: random.Random, ts: int, app: str) -> list[Line]:
    level = pick_level(rng)
    word = {"trace": "DEBUG", "warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper())
    msg = rng.choice((f"booking {rng.randint(1000, 9999)} confirmed for {rng.choice(_USERS)}",
                      f"rate limit at {rng.randint(50, 100)}% for tenant hotel-{rng.randint(1, 9)}",
                      "room inventory cache refreshed (412 rooms)",
                      f"GET /api/rooms/{rng.randint(1, 400)} 200 {rng.randint(2, 80)}ms",
                      "Zimmer verfügbar: Доступно — 空室あり ✓"))
    lines = [Line("stderr", f"{_ms_stamp(ts)} {word} [{app}.views] {msg}")]
    if level in ("error", "fatal") and rng.random() < 0.7:
        lines += [Line("stderr", t) for t in python_traceback(rng, app)]
    return lines


def zap_json(rng: random.Random, ts: int, app: str) -> list[Line]:
    level = pick_level(rng)
    zap = {"trace": "debug", "fatal": "dpanic"}.get(level, level)
    doc = {"level": zap, "ts": round(ts / 1e9, 6),
           "caller": f"{app}/post.go:{rng.randint(30, 300)}",
           "msg": rng.choice(("posted entry", "balance checked", "reconciliation batch done",
                              "ledger lock contention")),
           "entry_id": _hex(rng, 20), "account": f"acct-{rng.randint(1, 500)}"}
    return [Line("stderr" if level in ("error", "fatal") else "stdout", json.dumps(doc))]


def logfmt(rng: random.Random, ts: int, app: str) -> list[Line]:
    level = pick_level(rng)
    msg = rng.choice(("indexed batch", "segment merged", "refresh took long",
                      'query "red shoes" returned 0 hits'))
    line = (f"time={rfc3339nano(ts - ts % 1000)} level={level} msg={json.dumps(msg)} "
            f"component={app} docs={rng.randint(0, 5000)} took={rng.randint(1, 900)}ms")
    return [Line("stdout", line)]


def nginx(rng: random.Random, ts: int, app: str) -> list[Line]:
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts // 1_000_000_000))
    if rng.random() < 0.04:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(ts // 1_000_000_000))
        return [Line("stderr", f"{stamp} [error] 29#29: *{rng.randint(1, 99999)} connect() "
                     f"failed (111: Connection refused) while connecting to upstream, client: "
                     f"{_ip(rng)}, server: shop.example.com, request: \"GET /api/cart "
                     f"HTTP/1.1\", upstream: \"http://10.96.0.12:8080/api/cart\"")]
    status = rng.choices((200, 201, 204, 301, 304, 400, 404, 499, 500, 502),
                         (70, 4, 3, 2, 6, 2, 6, 1, 2, 1))[0]
    return [Line("stdout", f"{_ip(rng)} - - [{when}] \"{rng.choice(('GET', 'GET', 'POST'))} "
                 f"{rng.choice(_PATHS)} HTTP/1.1\" {status} {rng.randint(0, 40000)} \"-\" "
                 f"\"{rng.choice(_AGENTS)}\" {rng.uniform(0, 1.5):.3f}")]


def redis(rng: random.Random, ts: int, app: str) -> list[Line]:
    stamp = time.strftime("%d %b %Y %H:%M:%S", time.gmtime(ts // 1_000_000_000))
    mark, msg = rng.choice((("*", "Background saving started by pid 71"),
                            ("*", "DB saved on disk"),
                            ("*", "10 changes in 300 seconds. Saving..."),
                            ("#", "WARNING Memory overcommit must be enabled!"),
                            (".", "Client closed connection id=12 addr=10.244.1.7:51234")))
    return [Line("stdout", f"1:M {stamp}.{ts // 1_000_000 % 1000:03d} {mark} {msg}")]


def postgres(rng: random.Random, ts: int, app: str) -> list[Line]:
    head = f"{_ms_stamp(ts, frac_sep='.')} UTC [{rng.randint(50, 900)}]"
    if rng.random() < 0.1:
        return [Line("stderr", f"{head} ERROR:  duplicate key value violates unique constraint "
                     "\"bookings_pkey\""),
                Line("stderr", f"{head} DETAIL:  Key (id)=({rng.randint(1, 9999)}) already "
                     "exists."),
                Line("stderr", f"{head} STATEMENT:  INSERT INTO bookings (id, room) VALUES "
                     "($1, $2)")]
    msg = rng.choice(("LOG:  checkpoint starting: time", "LOG:  checkpoint complete: wrote 42 "
                      "buffers (0.3%)", "LOG:  automatic vacuum of table \"hotel.public.rooms\"",
                      "WARNING:  there is no transaction in progress"))
    return [Line("stderr", f"{head} {msg}")]


def coredns(rng: random.Random, ts: int, app: str) -> list[Line]:
    if rng.random() < 0.03:
        return [Line("stdout", "[WARNING] plugin/kubernetes: Kubernetes API connection failure")]
    svc = rng.choice(("cart.shop", "checkout.shop", "payments.pay", "ledger.pay"))
    return [Line("stdout", f"[INFO] {_ip(rng)}:{rng.randint(30000, 60000)} - "
                 f"{rng.randint(1, 65535)} \"A IN {svc}.svc.cluster.local. udp 50 false 512\" "
                 f"NOERROR qr,aa,rd 108 0.000{rng.randint(100, 999)}s")]


def shell(rng: random.Random, ts: int, app: str) -> list[Line]:
    table = rng.choice(("bookings", "rooms", "guests", "invoices"))
    return [rng.choice((Line("stdout", f"backup: dumping table {table} "
                             f"({rng.randint(100, 90000)} rows)"),
                        Line("stdout", f"backup: uploaded {table}.sql.gz "
                             f"({rng.randint(1, 900)} MB)"),
                        Line("stderr", "WARNING: retention policy keeps 7 days, found 9"),
                        Line("stderr", f"pg_dump: error: connection to server failed: "
                             f"timeout expired (table {table})")))]


PROFILES: dict[str, Profile] = {
    "spring": spring_text, "logstash": logstash_json, "structlog": structlog_json,
    "pylog": python_text, "zap": zap_json, "logfmt": logfmt, "nginx": nginx,
    "redis": redis, "postgres": postgres, "coredns": coredns, "shell": shell,
}


def long_line(rng: random.Random, ts: int, app: str) -> Line:
    """A JSON entry of 20-70 KiB: the kind of line runtimes split into partial pieces."""
    size = rng.randint(20_000, 70_000)
    blob = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64))
    payload = (blob * (size // 64 + 1))[:size]
    doc = {"level": "warn", "ts": rfc3339nano(ts), "msg": "request body too large, logged whole",
           "app": app, "bytes": size, "body": payload}
    return Line("stdout", json.dumps(doc))


SYSLOG_PROGRAMS: tuple[tuple[str, bool, tuple[str, ...]], ...] = (
    ("kubelet", True, ("I1126 pod_workers.go:1298] \"Pod status updated\" pod=\"shop/cart\"",
                       "E1126 kuberuntime_manager.go:1172] \"Back-off restarting failed "
                       "container\" pod=\"pay/ledger\"")),
    ("containerd", True, ("time=\"now\" level=info msg=\"StartContainer returned successfully\"",
                          "time=\"now\" level=warning msg=\"cleanup warnings\"")),
    ("sshd", True, ("Accepted publickey for ops from 192.0.2.10 port 52144 ssh2",
                    "Invalid user admin from 198.51.100.7 port 40022")),
    ("CRON", True, ("(root) CMD (/usr/local/bin/rotate-backups)",)),
    ("kernel", False, ("[ 1234.567890] Memory cgroup out of memory: Killed process 4711 (java)",
                       "[  981.002211] eth0: link up, 10000 Mbps, full-duplex")),
)


def syslog_message(rng: random.Random) -> tuple[str, int | None, str]:
    program, has_pid, messages = rng.choice(SYSLOG_PROGRAMS)
    return program, (rng.randint(300, 30000) if has_pid else None), rng.choice(messages)
