"""Small server-side SVG charts: no JavaScript, no build step, escaped labels.

Each chart is one ``<svg role="img">`` with an ``aria-label`` and a ``<title>``, and every
bar carries its exact value in a ``<title>`` tooltip; the page shows the same numbers in a
table beside it. Text from records only ever appears escaped, inside ``<text>``/``<title>``.

- :func:`bar_chart` - labelled values as horizontal bars (negative values to the left of zero);
- :func:`column_chart` - values along an ordered axis (years) as vertical bars;
- :func:`grouped_bar_chart` - several series (study groups) per label, with a legend;
- :func:`table_chart` - the chart that suits a results table of the trial page.
"""

from __future__ import annotations

import re
from html import escape

PALETTE = ("#2b5d8a", "#c0504d", "#4f8a3b", "#8064a2", "#d4832b", "#4bacc6")
_CHAR_W = 8.2  # average width of a 13px bold character (DejaVu Sans), for fitting titles
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")


def _fit(text: str, width: float, char_w: float = _CHAR_W) -> str:
    """Text cut with an ellipsis to fit ``width`` pixels (the full text stays in <title>)."""
    most = max(4, int(width / char_w))
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _svg(title: str, width: int, height: int, body: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title, quote=True)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(_fit(title, width))}</text>{body}</svg>'
    )


def bar_chart(
    title: str,
    series: list[tuple[str, float]],
    *,
    width: int = 640,
    unit: str = "",
    colour: str | None = None,
) -> str:
    """A horizontal bar chart of labelled values, with a title and an accessible description.

    Bars alternate through the palette unless ``colour`` is given; with negative values
    a zero line is drawn and those bars extend to its left.

    >>> '<svg' in bar_chart("Enrolled", [("Arm A", 10), ("Arm B", 12)])
    True
    >>> 'stroke="#555"' in bar_chart("Change", [("A", -0.6), ("B", 0.5)])
    True
    """
    if not series:
        return ""
    bar_h, gap, label_w = 18, 6, 220
    height = len(series) * (bar_h + gap) + 30
    low = min(0.0, *(v for _, v in series))
    high = max(0.0, *(v for _, v in series))
    left_pad = 46 if low < 0 else 0  # room for the value text of negative bars
    plot_w = width - label_w - 70 - left_pad
    scale = plot_w / ((high - low) or 1)
    zero = label_w + left_pad + (-low) * scale
    rows = []
    for index, (label, value) in enumerate(series):
        y = 24 + index * (bar_h + gap)
        w = abs(value) * scale
        x = zero if value >= 0 else zero - w
        text_x, anchor = (x + w + 4, "start") if value >= 0 else (x - 4, "end")
        fill = colour or PALETTE[index % len(PALETTE)]
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{escape(_fit(label, label_w - 10, 6.6))}</text>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}">'
            f"<title>{escape(label)}: {value:g}{escape(unit)}</title></rect>"
            f'<text x="{text_x:.1f}" y="{y + 13}" text-anchor="{anchor}" font-size="12">{value:g}{escape(unit)}</text>'
        )
    if low < 0:
        rows.append(f'<line x1="{zero:.1f}" y1="20" x2="{zero:.1f}" y2="{height - 4}" stroke="#555"/>')
    return _svg(title, width, height, "".join(rows))


def column_chart(
    title: str,
    series: list[tuple[str, float]],
    *,
    width: int = 640,
    height: int = 240,
    unit: str = "",
) -> str:
    """A vertical bar chart, for values along an ordered axis such as years.

    Every bar carries a ``<title>`` tooltip with its exact value; the axis labels are
    thinned so they never overlap.

    >>> svg = column_chart("Trials by start year", [("2019", 4), ("2020", 7)])
    >>> svg.count("<rect")
    2
    """
    if not series:
        return ""
    left, right, top_pad, bottom = 44, 8, 26, 34
    plot_w = width - left - right
    plot_h = height - top_pad - bottom
    peak = max((v for _, v in series), default=0) or 1
    step = plot_w / len(series)
    bar_w = max(1.0, step * 0.8)
    # At most ~12 axis labels, whatever the number of bars.
    every = max(1, -(-len(series) // 12))
    parts = [
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - right}" y2="{top_pad + plot_h}" stroke="#555"/>',
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end" font-size="11">{peak:g}</text>',
        f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for index, (label, value) in enumerate(series):
        h = max(0.0, value) / peak * plot_h
        x = left + index * step + (step - bar_w) / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{top_pad + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {value:g}{escape(unit)}</title></rect>'
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top_pad + plot_h + 14}" text-anchor="middle" '
                f'font-size="11">{escape(label)}</text>'
            )
    return _svg(title, width, height, "".join(parts))


def grouped_bar_chart(
    title: str,
    groups: list[str],
    rows: list[tuple[str, list[float | None]]],
    *,
    width: int = 640,
    unit: str = "",
) -> str:
    """Horizontal bars for several series per label: one colour per group, with a legend.

    ``rows`` are (label, one value per group); a missing value draws no bar.

    >>> svg = grouped_bar_chart("Flow", ["Drug", "Placebo"], [("Started", [10, 9]), ("Completed", [8, None])])
    >>> svg.count("<rect"), "Placebo" in svg
    (5, True)
    """
    values = [v for _, vs in rows for v in vs if v is not None]
    if not rows or not groups or not values:
        return ""
    bar_h, gap, label_w = 14, 10, 200
    legend_h = 20 * ((len(groups) + 2) // 3)
    top = 24 + legend_h
    peak = max(max(values), 0.0) or 1
    low = min(0.0, min(values))
    plot_w = width - label_w - 70
    scale = plot_w / ((peak - low) or 1)
    zero = label_w + (-low) * scale
    parts = []
    for index, name in enumerate(groups):
        lx = (index % 3) * (width / 3)
        ly = 24 + (index // 3) * 20
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{lx + 16:.1f}" y="{ly + 11}" font-size="12">{escape(_fit(name, width / 3 - 22, 6.6))}</text>'
        )
    y = top
    for label, vs in rows:
        block_h = len(groups) * bar_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + block_h / 2 + 4:.1f}" text-anchor="end" font-size="12">'
            f"{escape(_fit(label, label_w - 10, 6.6))}</text>"
        )
        for index, value in enumerate(vs[: len(groups)]):
            if value is not None:
                w = abs(value) * scale
                x = zero if value >= 0 else zero - w
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + index * bar_h}" width="{w:.1f}" height="{bar_h - 2}" '
                    f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)}, {escape(groups[index])}: '
                    f"{value:g}{escape(unit)}</title></rect>"
                    f'<text x="{x + w + 4:.1f}" y="{y + index * bar_h + 10}" font-size="10">{value:g}{escape(unit)}</text>'
                )
        y += block_h + gap
    if low < 0:
        parts.append(f'<line x1="{zero:.1f}" y1="{top}" x2="{zero:.1f}" y2="{y}" stroke="#555"/>')
    return _svg(title, width, int(y + 4), "".join(parts))


def _number(cell: str | None) -> float | None:
    match = _NUMBER.match(cell or "")
    return float(match.group(1)) if match else None


def _percent(cell: str | None) -> float | None:
    """``"12/40"`` (affected/at risk) as a percentage; None when it is not such a pair."""
    if not cell or "/" not in cell:
        return None
    affected, _, at_risk = cell.partition("/")
    a, n = _number(affected), _number(at_risk)
    if a is None or not n:
        return None
    return round(100 * a / n, 1)


def table_chart(caption: str, header: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    """The chart for a results table of the trial page, chosen by the table's columns.

    - outcome measures (``Group, Participants, Category, Value, Unit``): the measured value by
      group (and category), not the participant counts;
    - participant flow (``Milestone`` and one column per group): each milestone, a bar per group;
    - adverse events by group (``Group, Deaths, Serious..., Other...`` as affected/at risk):
      the percentage of participants affected, a bar per kind of event;
    - anything else: the first numeric column, as before.

    >>> svg = table_chart("Score", ("Group", "Participants", "Category", "Value", "Unit"),
    ...                   (("Drug", "382", "", "-0.63 (sd 0.7)", "points"), ("Placebo", "191", "", "-0.5", "points")))
    >>> "-0.63" in svg and ">382<" not in svg
    True
    """
    if not rows:
        return ""
    if "Value" in header and "Group" in header:
        at, group_at = header.index("Value"), header.index("Group")
        category_at = header.index("Category") if "Category" in header else None
        unit = rows[0][header.index("Unit")] if "Unit" in header else ""
        groups = list(dict.fromkeys(row[group_at] for row in rows))
        categories = list(dict.fromkeys(row[category_at] if category_at is not None else "" for row in rows))
        if len(categories) > 1 and len(groups) > 1:
            table = {
                (row[category_at] if category_at is not None else "", row[group_at]): _number(row[at])
                for row in rows
            }
            return grouped_bar_chart(
                f"{caption} ({unit})" if unit else caption,
                groups,
                [(c or "(all)", [table.get((c, g)) for g in groups]) for c in categories][:25],
            )
        series = [
            (
                " - ".join(
                    x for x in (row[group_at], row[category_at] if category_at is not None else "") if x
                ),
                value,
            )
            for row in rows
            if (value := _number(row[at])) is not None
        ]
        return bar_chart(f"{caption} ({unit})" if unit else caption, series[:40])
    if header and header[0] == "Milestone" and len(header) > 1:
        groups = list(header[1:])
        return grouped_bar_chart(
            caption, groups, [(row[0], [_number(c) for c in row[1:]]) for row in rows][:25], unit=""
        )
    if header and header[0] == "Group" and any(_percent(c) is not None for row in rows for c in row[1:]):
        kinds = list(header[1:])
        return grouped_bar_chart(
            f"{caption}: % of participants",
            kinds,
            [(row[0], [_percent(c) for c in row[1:]]) for row in rows][:25],
            unit="%",
        )
    series = []
    for row in rows:
        value = next((v for c in row[1:] if (v := _number((c or "").split("/")[0])) is not None), None)
        if value is not None:
            series.append((row[0], value))
    return bar_chart(caption, series[:40])
