"""The gap report as one HTML page (`GET /admin/report`): tables, and a bar chart of
questions per day drawn as inline SVG. Every value is escaped; nothing is fetched."""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from bookrag.feedback.records import visible
from bookrag.feedback.report import Day, GapReport, Rated

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 24px auto; max-width: 960px;
  padding: 0 16px; color: #1c1e21; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d5d9df;
  vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: flex; gap: 24px; flex-wrap: wrap; }
.figures div { border: 1px solid #d5d9df; border-radius: 8px; padding: 8px 14px; }
.figures b { display: block; font-size: 20px; }
.muted { color: #5f6368; font-size: 13px; }
svg .answered { fill: #1f5fbf; } svg .refused { fill: #d9822b; }
svg text { font-size: 10px; fill: #5f6368; }
"""


def _shown(text: str) -> str:
    """Text for the page: HTML-escaped, readers' control characters and overrides shown as
    U+FFFD (`visible`)."""
    return escape(visible(text))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _link(url: str, text: str | None = None) -> str:
    """A link to an http(s) URL or a path; anything else (`javascript:`) as plain text."""
    try:
        parts = urlsplit(url.replace("\\", "/"))  # as a browser reads it
    except ValueError:
        return _shown(text or url)
    if parts.scheme.lower() not in ("http", "https") and (parts.scheme or parts.netloc):
        return _shown(text or url)  # `//elsewhere.example/x` is no path on this site
    return f'<a href="{_shown(url)}">{_shown(text or url)}</a>'


def _also(wordings: list[str]) -> str:
    if not wordings:
        return ""
    return f'<div class="muted">also asked as: {_shown(" · ".join(wordings))}</div>'


def _rated(items: list[Rated]) -> list[str]:
    if not items:
        return ["<p>None in this period.</p>"]
    out = ["<table><tr><th>when</th><th>question</th><th>comment</th><th>cited</th></tr>"]
    for item in items:
        cited = "<br>".join(_link(u) for u in item.sources[:3]) or _shown(item.mode)
        out.append(
            f"<tr><td>{item.when:%Y-%m-%d %H:%M}</td><td>{_shown(item.question)}</td>"
            f"<td>{_shown(item.comment or '')}</td><td>{cited}</td></tr>"
        )
    return [*out, "</table>"]


def _chart(days: list[Day]) -> str:
    """Stacked bars: answered and refused questions per day (the last 90 days at most)."""
    days = days[-90:]
    top = max((d.answers for d in days), default=0) or 1
    slot = max(6, min(40, 600 // max(1, len(days))))  # pixels per day
    width, height, bar = max(160, slot * len(days)), 120, max(4, slot - 3)
    parts = [
        f'<svg role="img" aria-label="Questions per day" width="{width}" '
        f'height="{height + 30}" viewBox="0 0 {width} {height + 30}">'
    ]
    for i, day in enumerate(days):
        x = i * slot
        total = round(day.answers / top * height)
        refused = round(day.refusals / top * height)
        title = f"{day.day.isoformat()}: {day.answers} questions, {day.refusals} not answered"
        parts.append(f"<g><title>{_shown(title)}</title>")
        parts.append(
            f'<rect class="answered" x="{x}" y="{height - total}" width="{bar}" '
            f'height="{total - refused}"/>'
        )
        parts.append(
            f'<rect class="refused" x="{x}" y="{height - refused}" width="{bar}" '
            f'height="{refused}"/></g>'
        )
    if days:
        first, last = (d.day.strftime("%b %d") for d in (days[0], days[-1]))
        parts.append(f'<text x="0" y="{height + 14}">{first}</text>')
        parts.append(f'<text x="{width}" y="{height + 14}" text-anchor="end">{last}</text>')
    parts.append(f'<text x="0" y="{height + 28}">peak {top} a day</text></svg>')
    return "".join(parts)


def render_html(report: GapReport) -> str:
    """The whole page."""
    period = f"{report.since:%Y-%m-%d %H:%M} – {report.until:%Y-%m-%d %H:%M} UTC"
    figures = [
        ("questions", str(report.answers)),
        ("not answered", f"{report.refusals} ({_pct(report.refusal_rate)})"),
        ("answers rated", f"{report.rated} ({_pct(report.feedback_rate)})"),
        ("rated helpful", _pct(report.helpful_rate)),
    ]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>bookrag: where the book fails its readers</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Where the book fails its readers</h1>",
        f'<p class="muted">{_shown(period)}</p><div class="figures">',
        *(f"<div><b>{_shown(v)}</b>{_shown(k)}</div>" for k, v in figures),
        "</div><h2>Questions per day</h2>",
        _chart(report.days),
        '<p class="muted">blue: answered, orange: not answered</p>',
        "<h2>Questions the book could not answer</h2>",
    ]
    if report.gaps:
        out.append(
            "<table><tr><th>asked</th><th>question</th><th>wordings</th>"
            "<th>closest page the book has</th></tr>"
        )
        for gap in report.gaps:
            closest = _link(gap.closest.url, gap.closest.title) if gap.closest else "–"
            where = gap.asked_from if not gap.terms else None  # what "this" was about
            on = f'<div class="muted">asked on {_link(where)}</div>' if where else ""
            out.append(
                f'<tr><td class="n">{gap.count}</td><td>{_shown(gap.example)}'
                f'<div class="muted">{_shown(gap.terms)}</div>{_also(gap.also)}{on}</td>'
                f'<td class="n">{gap.wordings}</td><td>{closest}</td></tr>'
            )
        out.append("</table>")
    else:
        out.append("<p>None in this period.</p>")
    out.append("<h2>Answers marked unhelpful, by question</h2>")
    if report.unhelpful_groups:
        out.append("<table><tr><th>times</th><th>question</th><th>readers said</th></tr>")
        for group in report.unhelpful_groups:
            said = "<br>".join(_shown(c) for c in group.comments) or "–"
            out.append(
                f'<tr><td class="n">{group.count}</td><td>{_shown(group.example)}'
                f"{_also(group.also)}</td><td>{said}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p>None in this period.</p>")
    out.append("<h2>Latest answers marked unhelpful</h2>")
    out.extend(_rated(report.unhelpful))
    out.append("<h2>Comments on answers marked helpful</h2>")
    out.extend(_rated(report.helpful_comments))
    for title, rows in (
        ("Most cited pages", report.cited_pages),
        ("Pages readers asked from", report.asked_from),
    ):
        out.append(f"<h2>{title}</h2>")
        if not rows:
            out.append("<p>None in this period.</p>")
            continue
        out.append("<table><tr><th>times</th><th>page</th></tr>")
        out.extend(f'<tr><td class="n">{n}</td><td>{_link(u)}</td></tr>' for u, n in rows)
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
