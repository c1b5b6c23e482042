"""Byte-exact encoders for the on-disk formats the demo writes.

Docker json-file and containerd (CRI) both cut a line longer than 16 KiB into
pieces: json-file marks the pieces by leaving the trailing newline off every one
but the last, CRI tags them ``P`` (partial) and the last one ``F`` (full).
"""

from __future__ import annotations

import json
import time

# Docker's log copier and containerd's default max_container_log_line_size.
MAX_PIECE = 16 * 1024

# Docker's jsonlog writer escapes like Go's encoding/json with HTML escaping on.
_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
               ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def rfc3339nano(epoch_ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: trailing zeros of the fraction are dropped.

    Both Docker's json-file ``time`` and containerd's CRI prefix use this layout,
    so readers must accept 0 to 9 fraction digits.
    """
    secs, frac = divmod(epoch_ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def go_json_string(text: str) -> str:
    """A JSON string literal as Go's encoder writes it (``<>&`` as ``\\u003c`` ...)."""
    out = json.dumps(text, ensure_ascii=False)
    # Safe as plain replacements: these characters never occur inside an escape.
    for char, escaped in _GO_ESCAPES:
        out = out.replace(char, escaped)
    return out


def split_pieces(data: bytes, limit: int = MAX_PIECE) -> list[bytes]:
    """Cut ``data`` into pieces of at most ``limit`` bytes at UTF-8 character starts.

    The runtimes cut at the byte limit even inside a character; the demo backs off
    to a character start so every piece stays valid UTF-8 text.
    """
    if limit < 4:
        raise ValueError("limit must hold at least one UTF-8 character (4 bytes)")
    pieces: list[bytes] = []
    start = 0
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # continuation byte: not a character start
            end -= 1
        pieces.append(data[start:end])
        start = end
    pieces.append(data[start:])
    return pieces


def docker_json_lines(message: str, stream: str, epoch_ns: int,
                      limit: int = MAX_PIECE) -> bytes:
    """One logged line as Docker json-file entries, split into partial pieces if long.

    The newline counts toward the 16 KiB like in Docker's buffer, so a line of
    exactly 16 KiB yields a last piece holding only ``"\\n"``.
    """
    ts = rfc3339nano(epoch_ns)
    out = []
    for piece in split_pieces((message + "\n").encode(), limit):
        log = go_json_string(piece.decode())
        out.append(f'{{"log":{log},"stream":"{stream}","time":"{ts}"}}\n')
    return "".join(out).encode()


def cri_lines(message: str, stream: str, epoch_ns: int, limit: int = MAX_PIECE) -> bytes:
    """One logged line in the CRI format: ``<time> <stream> <P|F> <content>``."""
    ts = rfc3339nano(epoch_ns)
    pieces = split_pieces(message.encode(), limit)
    out = bytearray()
    for i, piece in enumerate(pieces):
        tag = b"F" if i == len(pieces) - 1 else b"P"
        out += f"{ts} {stream} ".encode() + tag + b" " + piece + b"\n"
    return bytes(out)


def syslog_line(epoch_ns: int, host: str, program: str, pid: int | None, message: str) -> bytes:
    """A traditional (RFC 3164 style) syslog line as rsyslog writes /var/log/syslog."""
    stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(epoch_ns // 1_000_000_000))
    # BSD syslog pads a one-digit day with a space, not a zero.
    if stamp[4] == "0":
        stamp = stamp[:4] + " " + stamp[5:]
    tag = f"{program}[{pid}]" if pid is not None else program
    return f"{stamp} {host} {tag}: {message}\n".encode()
