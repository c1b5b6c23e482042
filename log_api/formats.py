"""Rendering entries for the wire: JSON for the API and tails, and the download
formats (NDJSON, ``kubectl logs``-style text, CSV), each a line at a time."""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from log_api.models import ENTRY_FIELDS
from logpipe.document import check_fields

Format = Literal["ndjson", "text", "csv"]
# Downloads read only the Entry fields from Elasticsearch: a column outside them would
# always be empty.
CSV_COLUMNS = check_fields(
    "log_api.formats.CSV_COLUMNS",
    ("ts", "namespace", "app", "pod", "container_name", "node", "stream", "level", "message",
     "id"),
    among=ENTRY_FIELDS,
)
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "text": "text/plain; charset=utf-8",
               "csv": "text/csv; charset=utf-8"}
EXTENSIONS = {"ndjson": "ndjson", "text": "log", "csv": "csv"}
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection:
# `=HYPERLINK(...)`, `=cmd|...`); the tab and CR variants too (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading formula character gets a ``'``."""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def entry_dict(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The public fields of a stored or live record (same shape as ``models.Entry``)."""
    return {k: doc[k] for k in ENTRY_FIELDS if doc.get(k) is not None}


def entry_json(doc: Mapping[str, Any]) -> bytes:
    return orjson.dumps(entry_dict(doc))


class LineRenderer:
    """Turns entries into lines of one format; ``header`` and ``notice`` frame them."""

    def __init__(self, fmt: Format, timestamps: bool = False, prefix: bool = False) -> None:
        self.fmt = fmt
        self.timestamps = timestamps
        self.prefix = prefix
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")

    def _csv_row(self, row: list[Any]) -> bytes:
        self._buf.seek(0)
        self._buf.truncate()
        self._csv.writerow(row)
        return self._buf.getvalue().encode()

    def header(self) -> bytes:
        return self._csv_row(list(CSV_COLUMNS)) if self.fmt == "csv" else b""

    def line(self, doc: Mapping[str, Any]) -> bytes:
        if self.fmt == "ndjson":
            # Sources are read with only the entry fields (see ENTRY_FIELDS): dump as is.
            return orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE)
        if self.fmt == "csv":
            return self._csv_row([csv_cell(doc.get(c) or "") for c in CSV_COLUMNS])
        parts = []
        if self.prefix:
            parts.append(f"[{doc.get('namespace') or '-'}/{doc.get('pod') or doc.get('app') or '-'}"
                         f"/{doc.get('container_name') or '-'}]")
        if self.timestamps:
            parts.append(str(doc.get("ts")))
        parts.append(str(doc.get("message", "")))
        return (" ".join(parts) + "\n").encode()

    def notice(self, text: str, resume: str = "") -> bytes:
        """A line that says the output is incomplete, in the format's own syntax; with a
        ``resume`` cursor (``logpipe download`` continues from it)."""
        # One physical line whatever the error said: a client finds it as the last line.
        text = " ".join(text.split())
        tail = f" resume={resume}" if resume else ""
        if self.fmt == "ndjson":
            body: dict[str, str | bool] = {"notice": text, "complete": False}
            if resume:
                body["resume"] = resume
            return orjson.dumps(body) + b"\n"
        if self.fmt == "csv":
            notice = {"level": "notice", "message": text + tail}
            return self._csv_row([csv_cell(notice.get(c, "")) for c in CSV_COLUMNS])
        return f"# logpipe: {text}{tail}\n".encode()


class Gzipper:
    """Streaming gzip: bytes in, gzip member pieces out, constant memory."""

    def __init__(self, level: int = 6) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def feed(self, data: bytes) -> bytes:
        return self._z.compress(data)

    def flush(self) -> bytes:
        return self._z.flush()
