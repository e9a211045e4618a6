"""The export's HTML summary and its Markdown twin: known counts, escaped labels, no numbers."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser

import dagster as dg
import pyarrow.parquet as pq
import pytest

from authy_assets.export import ExportSummary, render_summary_html, summary_markdown
from authy_assets_tests.export_sample import (
    EXPECTED_LEFT_OUT,
    EXPECTED_STATUS,
    EXPECTED_VERIFY_READY,
    SampleExport,
    build_sample_export,
)

NO_NUMBER = "(no number: status not ok)"
NO_NUMBER_USERS = sum(1 for status in EXPECTED_STATUS.values() if status != "ok")

# In the order of the report, which puts the long region chart last.
EXPECTED_SECTIONS: dict[str, dict[str, int]] = {
    "Users by status": dict(Counter(EXPECTED_STATUS.values())),
    "Verify-ready users and reasons for leaving users out": {
        "verify-ready": len(EXPECTED_VERIFY_READY),
        **EXPECTED_LEFT_OUT,
    },
    "Users by validity": {
        "valid": 8,
        NO_NUMBER: NO_NUMBER_USERS,
        "not possible": 1,
        "possible but not valid": 1,
    },
    "Users by number type": {
        NO_NUMBER: NO_NUMBER_USERS,
        "FIXED_LINE_OR_MOBILE": 3,
        "MOBILE": 3,
        "FIXED_LINE": 2,
        "(none)": 1,
        "UNKNOWN": 1,
    },
    "Users by region": {
        NO_NUMBER: NO_NUMBER_USERS,
        "US": 3,  # 17, 18, 21
        "(none)": 2,  # 1 is not valid, 16 is not well formed
        "AU": 1,
        "DE": 1,
        "GB": 1,
        "IT": 1,
        "KZ": 1,
    },
}


class SummaryParser(HTMLParser):
    """Collects each section's rows (label, bar width, count), every tag and every attribute."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, list[tuple[str, str]]] = {}
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self._current_section: str | None = None
        self._in_heading = False
        self._cell_class: str | None = None
        self._row: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag == "h2":
            self._in_heading = True
            self._current_section = ""
        elif tag == "tr":
            self._row = {}
        elif tag == "td":
            self._cell_class = dict(attrs).get("class")
            if self._cell_class:
                self._row.setdefault(self._cell_class, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_heading = False
            assert self._current_section is not None
            self.sections[self._current_section] = []
        elif tag == "td":
            self._cell_class = None
        elif tag == "tr" and self._row and self._current_section is not None:
            self.sections[self._current_section].append((self._row["label"], self._row["count"]))

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self._current_section = (self._current_section or "") + data
        elif self._cell_class in ("label", "count"):
            self._row[self._cell_class] += data


def parse_summary(page: str) -> SummaryParser:
    parser = SummaryParser()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleExport]:
    with dg.instance_for_test() as instance:
        yield build_sample_export(tmp_path_factory.mktemp("summary"), instance)


@pytest.fixture(scope="module")
def page(sample: SampleExport) -> str:
    return sample.outputs.summary_html.read_text(encoding="utf-8")


def phone_strings(sample: SampleExport) -> set[str]:
    """Every phone value of the export as written, without "+", and as its digits alone."""
    values = set()
    for row in pq.read_table(sample.export_file, columns=["phone_number", "e164"]).to_pylist():
        for value in row.values():
            if value:
                values |= {value, value.lstrip("+"), re.sub(r"[^0-9]", "", value)}
    return values


def test_summary_counts_of_known_export(page: str) -> None:
    parsed = parse_summary(page)
    assert list(parsed.sections) == list(EXPECTED_SECTIONS)
    for title, expected in EXPECTED_SECTIONS.items():
        rows = {label: int(count) for label, count in parsed.sections[title]}
        assert rows == expected, title


def test_summary_is_self_contained(page: str) -> None:
    parsed = parse_summary(page)
    assert "script" not in parsed.tags
    assert not {"link", "img", "iframe", "object", "embed"} & set(parsed.tags)
    names = {name for name, _ in parsed.attributes}
    assert not {"src", "href"} & names
    assert not [name for name in names if name.startswith("on")]
    assert "url(" not in page
    assert "http" not in page.lower()


def test_summary_has_no_phone_number(sample: SampleExport, page: str) -> None:
    values = phone_strings(sample)
    assert len(values) > 10
    leaked = sorted(value for value in values if value in page)
    assert leaked == [], f"{len(leaked)} phone values appear in the summary"


def test_summary_markdown_in_metadata(sample: SampleExport) -> None:
    (materialization,) = sample.result.asset_materializations_for_node("authy_phone_export")
    markdown = materialization.metadata["summary"].value
    for title, expected in EXPECTED_SECTIONS.items():
        assert f"**{title}**" in markdown
        for label, count in expected.items():
            assert f"| {label} | {count} |" in markdown, (title, label)
    leaked = sorted(value for value in phone_strings(sample) if value in markdown)
    assert leaked == []


def hostile_summary() -> ExportSummary:
    return ExportSummary(
        users=3,
        by_status={"<script>alert(1)</script>": 2, "a&b|c": 1},
        by_region={'"><img src=x>': 3},
        by_number_type={},
        by_validity={"valid": 3},
        verify_ready_rows=0,
        left_out_by_reason={"<b>bold</b>": 3},
    )


def test_summary_escapes_labels() -> None:
    page = render_summary_html(hostile_summary(), datetime(2026, 5, 1, tzinfo=UTC), "1")
    parsed = parse_summary(page)

    assert "<script>" not in page
    assert "<img" not in page
    assert "img" not in parsed.tags
    assert "b" not in parsed.tags
    assert parsed.sections["Users by status"] == [
        ("<script>alert(1)</script>", "2"),
        ("a&b|c", "1"),
    ]
    assert parsed.sections["Users by region"] == [('"><img src=x>', "3")]
    assert parsed.sections["Users by number type"] == [("none", "0")]


def test_summary_markdown_escapes_pipes() -> None:
    markdown = summary_markdown(hostile_summary())
    assert "| a&amp;b\\|c | 1 |" in markdown
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; | 2 |" in markdown
    assert "<" not in markdown
