"""The daily report as a page a person would rather look at: grouped bar charts in inline SVG
(no script, no network, no plotting package), one per figure, a bar per channel and day.

>>> rows = [{"date": "2026-03-02", "channel": "IBPS", "currency": "CNY", "orders": 4,
...          "success_rate": 0.75, "avg_settle_s": 1.5, "p99_settle_s": 2.0, "fees": 30}]
>>> page = report_html(rows, "2026-03-02", "2026-03-02")
>>> page.count("<svg"), "IBPS" in page
(4, True)
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["report_html", "report_svg"]

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f")
_FIGURES = (("orders", "Orders", 1.0, ""), ("success_rate", "Success rate", 100.0, "%"),
            ("avg_settle_s", "Average time to settle", 1.0, " s"),
            ("p99_settle_s", "p99 time to settle", 1.0, " s"))


def report_svg(rows: list[dict[str, Any]], key: str, title: str, scale: float = 1.0,
               unit: str = "") -> str:
    """One grouped bar chart: days along the x axis, a bar per channel."""
    days = sorted({r["date"] for r in rows})
    channels = sorted({r["channel"] for r in rows})
    value: dict[tuple[str, str], float] = {}
    for r in rows:
        if r.get(key) is not None:
            k = (r["date"], r["channel"])
            value[k] = value.get(k, 0.0) + float(r[key]) * scale
    top = max(value.values(), default=0.0) or 1.0
    width, height, left, bottom = max(360, 60 + len(days) * (len(channels) * 18 + 24)), 260, \
        50, 40
    plot_h = height - bottom - 30
    group_w = (width - left - 10) / max(len(days), 1)
    bar_w = max(4.0, (group_w - 16) / max(len(channels), 1))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}">',
           f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" '
           'stroke="#333"/>',
           f'<text x="{left - 4}" y="{height - bottom - plot_h + 4}" font-size="10" '
           f'text-anchor="end">{top:,.4g}{escape(unit)}</text>']
    for d, day in enumerate(days):
        x0 = left + d * group_w + 8
        for c, channel in enumerate(channels):
            v = value.get((day, channel))
            if v is None:
                continue
            h = plot_h * v / top
            x, y = x0 + c * bar_w, height - bottom - h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
                       f'height="{h:.1f}" fill="{_COLOURS[c % len(_COLOURS)]}">'
                       f'<title>{escape(channel)} {day}: {v:,.4g}{escape(unit)}</title></rect>')
        out.append(f'<text x="{x0 + group_w / 2 - 8:.1f}" y="{height - bottom + 14}" '
                   f'font-size="10" text-anchor="middle">{day}</text>')
    for c, channel in enumerate(channels):
        x = left + c * 90
        out.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" '
                   f'fill="{_COLOURS[c % len(_COLOURS)]}"/><text x="{x + 14}" '
                   f'y="{height - 7}" font-size="11">{escape(channel)}</text>')
    out.append("</svg>")
    return "".join(out)


def report_html(rows: list[dict[str, Any]], first: str, last: str) -> str:
    """The whole page: a chart per figure, then the figures as a table."""
    charts = "\n".join(f"<figure>{report_svg(rows, key, title, scale, unit)}</figure>"
                       for key, title, scale, unit in _FIGURES)
    cols = ["date", "channel", "currency", "orders", "amount", "settled", "success_rate",
            "fees", "vat", "avg_settle_s", "p99_settle_s"]
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in cols)
                   + "</tr>" for r in rows)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>payswitch daily "
            f"report {first} to {last}</title><style>body{{font-family:sans-serif}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
            "text-align:right}figure{display:inline-block;margin:8px}</style></head><body>"
            f"<h1>Daily report {first} to {last}</h1>{charts}<table><tr>{head}</tr>{body}"
            "</table><p>Amounts and fees in minor units of the currency.</p></body></html>\n")
