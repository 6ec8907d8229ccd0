"""Small server-side SVG charts: no JavaScript, no build step, escaped labels."""

from __future__ import annotations

from html import escape

PALETTE = ("#2b5d8a", "#c0504d", "#4f8a3b", "#8064a2", "#d4832b", "#4bacc6")


def bar_chart(title: str, series: list[tuple[str, float]], *, width: int = 640, unit: str = "") -> str:
    """A horizontal bar chart of labelled values, with a title and an accessible description.

    >>> '<svg' in bar_chart("Enrolled", [("Arm A", 10), ("Arm B", 12)])
    True
    """
    if not series:
        return ""
    bar_h, gap, label_w = 18, 6, 220
    height = len(series) * (bar_h + gap) + 30
    top = max((v for _, v in series), default=0) or 1
    plot_w = width - label_w - 70
    rows = []
    for index, (label, value) in enumerate(series):
        y = 24 + index * (bar_h + gap)
        w = max(0.0, value) / top * plot_w
        short = label if len(label) <= 34 else label[:33] + "…"
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[index % len(PALETTE)]}">'
            f"<title>{escape(label)}: {value:g}{escape(unit)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{value:g}{escape(unit)}</text>'
        )
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title, quote=True)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>{"".join(rows)}</svg>'
    )
