"""Finding the resume point of an incomplete ``.part`` (no server): only the server's
notice counts, the cut waits for ``cut()``, gzip members are rewritten."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from client.errors import ClientError
from client.transfer import resume_point

ENTRY = b'{"message":"a line that says resume=abc"}\n'
NOTICES = {
    "ndjson": orjson.dumps({"notice": "incomplete: x", "complete": False, "resume": "cur-1"})
    + b"\n",
    "text": b"# logpipe: incomplete: x resume=cur-1\n",
    "csv": b",,,,,,,notice,incomplete: x resume=cur-1,\n",
}


@pytest.mark.parametrize("fmt", sorted(NOTICES))
def test_notice_gives_cursor_and_is_cut_only_on_demand(tmp_path: Path, fmt: str) -> None:
    part = tmp_path / "out.part"
    part.write_bytes(ENTRY * 3 + NOTICES[fmt])
    point = resume_point(part, fmt, gz=False)
    assert point.cursor == "cur-1"
    assert part.read_bytes().endswith(NOTICES[fmt])  # a refused resume can try again
    point.cut()
    assert part.read_bytes() == ENTRY * 3


def test_gzip_part_is_recompressed_without_the_notice(tmp_path: Path) -> None:
    part = tmp_path / "out.ndjson.gz.part"
    part.write_bytes(gzip.compress(ENTRY * 1000 + NOTICES["ndjson"]))
    point = resume_point(part, "ndjson", gz=True)
    point.cut()
    with part.open("ab") as fh:  # what the resumed download appends: a second member
        fh.write(gzip.compress(ENTRY))
    assert gzip.decompress(part.read_bytes()) == ENTRY * 1001


@pytest.mark.parametrize(("body", "gz"), [
    (ENTRY * 2, False),                                   # an entry mentioning resume=
    (ENTRY + NOTICES["ndjson"][:40], False),              # the notice cut by the network
    (gzip.compress(ENTRY * 50 + NOTICES["ndjson"], mtime=0)[:-30], True),  # a cut gzip stream
], ids=["entry-mentions-resume", "notice-cut", "gzip-cut"])  # stable ids: pytest-xdist
def test_no_notice_means_start_again(tmp_path: Path, body: bytes, gz: bool) -> None:
    part = tmp_path / "out.part"
    part.write_bytes(body)
    with pytest.raises(ClientError, match="download it again"):
        resume_point(part, "ndjson", gz)
