"""File names on the wire. A path is a string of the OS's bytes: Python hands an
undecodable byte of a name that is not valid UTF-8 over as a lone surrogate, which no
JSON encoder writes. Such a name is shipped with each undecodable byte as ``\\xNN``
and each backslash doubled: lossless (``unwire`` gives the OS name back) and readable;
a valid name is never changed."""

from __future__ import annotations

import os
import re

_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def wire_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(text).replace(b"\\", b"\\\\")
        return raw.decode("utf-8", "backslashreplace")
    return text


def unwire(text: str) -> str:
    """The OS name of a ``wire_text`` of a name that needed escaping."""
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(text):
        out += text[pos:m.start()].encode("utf-8")
        token = m.group(1)
        out += b"\\" if token == "\\" else bytes([int(token[1:], 16)])
        pos = m.end()
    out += text[pos:].encode("utf-8")
    return os.fsdecode(bytes(out))
