"""Self-contained HTML report of an export's counts: CSS bars, no script, no external resource."""

from datetime import datetime
from html import escape

from authy_assets.export.summary import ExportSummary

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }
h1 { font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; min-width: 32rem; }
th, td { padding: 0.2rem 0.6rem; text-align: left; }
td.count { text-align: right; font-variant-numeric: tabular-nums; }
td.chart { width: 20rem; }
div.bar { background: #4c78a8; height: 0.9rem; min-width: 1px; }
p.note { color: #57606a; }
p.warning { color: #9a6700; font-weight: 600; }
""".strip()


def _section_html(title: str, counts: dict[str, int]) -> list[str]:
    lines = [
        "<section>",
        f"<h2>{escape(title)}</h2>",
        "<table>",
        "<thead><tr><th>label</th><th>chart</th><th>users</th></tr></thead>",
        "<tbody>",
    ]
    largest = max(counts.values(), default=0)
    for label, count in counts.items():
        share = 100.0 * count / largest if largest else 0.0
        lines.append(
            f'<tr><td class="label">{escape(label)}</td>'
            f'<td class="chart"><div class="bar" style="width: {share:.1f}%"></div></td>'
            f'<td class="count">{count}</td></tr>'
        )
    if not counts:
        lines.append('<tr><td class="label">none</td><td class="chart"></td>'
                     '<td class="count">0</td></tr>')
    lines += ["</tbody>", "</table>", "</section>"]
    return lines


def render_summary_html(summary: ExportSummary, written_at: datetime, schema_version: str) -> str:
    """Render ``summary`` as one HTML page with a bar chart and the count of every label.

    Every label and title is HTML-escaped. The page contains counts only, never a phone number.
    """
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>Authy phone export summary</title>",
        f"<style>\n{_STYLE}\n</style>",
        "</head>",
        "<body>",
        "<h1>Authy phone export summary</h1>",
        f'<p class="note">{summary.users} users, {summary.verify_ready_rows} verify-ready.'
        f" Written at {escape(written_at.isoformat())}, schema version"
        f" {escape(schema_version)}. Bars are relative to the largest count of each chart.</p>",
    ]
    if summary.partial_note:
        lines.append(f'<p class="warning">{escape(summary.partial_note)}</p>')
    for title, counts in summary.sections():
        lines += _section_html(title, counts)
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines)
