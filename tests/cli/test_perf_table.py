"""Every number in the README's performance table (and its "Also measured" paragraph)
appears in the component's doc, which also names the benchmark command, so the two
cannot drift apart."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# A number on its own: not the 99 of p99, not part of a longer number; 1,000 = 1000.
NUMBER = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")

# The start of each row's target cell (or of each "Also measured" clause) -> the doc
# that holds its numbers and the command that measured them.
ROWS = {
    "collector >=": ("docs/collector.md", "python -m bench collector"),
    "collector <=": ("docs/collector.md", "python -m bench collector"),
    "line written -> record in Kafka": ("docs/collector.md", "python -m bench collector"),
    "forwarder >=": ("docs/forwarder.md", "python -m bench forwarder"),
    "line written -> visible in a live tail": ("docs/log-api.md", "python -m bench e2e"),
    "level ratio / app share": ("docs/log-api.md", "python -m bench log_api"),
    "download": ("docs/log-api.md", "python -m bench log_api"),
    "Also measured: journald": ("docs/kube.md", "python -m bench kube"),
    "`logpipe logs -o text`": ("docs/gui-cli.md", "python -m bench client"),
    "The forwarder's": ("docs/forwarder.md", "python -m bench forwarder"),
    "forwarder group": ("docs/cluster.md", "python -m bench cluster"),
    "1,000 live tails": ("docs/cluster.md", "python -m bench cluster"),
}


def numbers(text: str) -> set[Decimal]:
    return {Decimal(match.replace(",", "")) for match in NUMBER.findall(text)}


def performance_section() -> str:
    text = README.read_text()
    start = text.index("\n## Performance\n")
    return text[start:text.index("\n## ", start + 1)]


def claims() -> list[str]:
    """The table's rows, then the clauses of the paragraph after it."""
    section = performance_section()
    rows = [line for line in section.splitlines()
            if line.startswith("| ") and not line.startswith(("| target", "| ---"))]
    paragraph = next(p for p in section.split("\n\n") if p.startswith("Also measured"))
    clauses = re.split(r"; |\.\s+(?=[A-Z`])", " ".join(paragraph.split()))
    return [row.removeprefix("| ") for row in rows] + clauses


def test_the_parser_reads_numbers_as_written() -> None:
    assert numbers("p50 78 ms, p99 114 ms; 1,000,000 lines (191 B), 1.27x–1.62x") == {
        Decimal(78), Decimal(114), Decimal(1_000_000), Decimal(191),
        Decimal("1.27"), Decimal("1.62")}
    assert Decimal("16") in numbers("by app 16.0 ms")


def test_the_table_has_the_rows_this_test_knows() -> None:
    found = claims()
    assert len(found) == 12
    for claim in found:
        assert any(claim.startswith(prefix) for prefix in ROWS), (
            f"a new performance claim: add its doc and command to ROWS: {claim[:60]}")


def test_every_number_of_the_table_is_in_the_component_doc() -> None:
    for claim in claims():
        doc, command = next(ROWS[p] for p in ROWS if claim.startswith(p))
        text = (ROOT / doc).read_text()
        missing = numbers(claim) - numbers(text)
        assert not missing, f"{doc} lacks {sorted(missing)} of the README's {claim[:50]!r}"
        assert command in text, f"{doc} does not name {command!r}"
        assert command in performance_section(), f"the README does not name {command!r}"
