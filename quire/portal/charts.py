"""Usage charts drawn on the server as inline SVG: one bar chart per usage kind over consecutive UTC days
(kinds have their own scales: tokens, pages and jobs differ by orders of magnitude)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 360, 130
LEFT, BOTTOM, TOP = 40, 20, 10


@dataclass(frozen=True)
class KindChart:
    kind: str
    label: str
    total: int
    svg: SafeString


def days_between(first: date, last: date) -> list[date]:
    if last < first:
        raise ValueError("the last day must not be before the first")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _short(value: int) -> str:
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return str(value)


def bar_chart_svg(days: list[date], values: list[int], *, title: str) -> SafeString:
    """Bars for `values` (one per day), a y axis from 0 to a round maximum, the first and last day labelled,
    and a `<title>` per bar for its exact value (shown on hover and read by screen readers)."""
    if len(days) != len(values) or not days:
        raise ValueError("need one value per day, and at least one day")
    top = _nice_max(max(values))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(days)
    bar_w = max(1.0, slot * 0.75)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 8}" y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{_short(top)}</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0</text>',
        f'<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{WIDTH - 8}" y2="{TOP}"/>',
    ]
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        height = plot_h * value / top
        x = LEFT + index * slot + (slot - bar_w) / 2
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" '
            f'height="{height:.1f}"><title>{day.isoformat()}: {value:,}</title></rect>'
        )
    baseline = HEIGHT - 6
    parts.append(f'<text class="tick" x="{LEFT}" y="{baseline}">{days[0]:%b %d}</text>')
    parts.append(
        f'<text class="tick" x="{WIDTH - 8}" y="{baseline}" text-anchor="end">{days[-1]:%b %d}</text>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def usage_charts(rows: list[dict], days: list[date], kinds: list[tuple[str, str]]) -> list[KindChart]:
    """One chart per (kind, label) from ledger rows `{"day": "YYYY-MM-DD", "kind", "quantity"}`."""
    by_kind_day: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["kind"], row["day"])
        by_kind_day[key] = by_kind_day.get(key, 0) + int(row["quantity"])
    charts = []
    for kind, label in kinds:
        values = [by_kind_day.get((kind, day.isoformat()), 0) for day in days]
        title = f"{label} per day, {days[0].isoformat()} to {days[-1].isoformat()}"
        charts.append(KindChart(kind, label, sum(values), bar_chart_svg(days, values, title=title)))
    return charts
