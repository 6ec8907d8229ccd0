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
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
# Bars end at most this far across (percent), leaving room for the value written after them.
_BAR_SPAN = 80.0
_LABEL_H, _BAR_H, _GAP = 15, 14, 9


def number_text(value: float) -> str:
    """A number as a chart writes it: thousands separated, no needless decimals.

    >>> number_text(1234567.0), number_text(0.63), number_text(-12.5), number_text(12345.678)
    ('1,234,567', '0.63', '-12.5', '12,345.7')
    """
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:g}"


def _fit(text: str, most: int) -> str:
    """Text cut with an ellipsis to at most ``most`` characters (the full text stays in <title>)."""
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _pc(value: float) -> str:
    return f"{value:.2f}%"


def _svg(title: str, height: int, body: str) -> str:
    """The chart element. It has no viewBox: positions across are percentages of the width it
    is given and text keeps its size in pixels, so labels stay readable on a 390-pixel phone
    as on a desktop (a scaled drawing would shrink 12-pixel labels to 6)."""
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title, quote=True)}" width="100%" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(_fit(title, 90))}</text>{body}</svg>'
    )


def _scale(values: list[float]) -> tuple[float, float]:
    """(zero's position, percent per unit) for bars of these values within the bar span."""
    low = min(0.0, *values)
    high = max(0.0, *values)
    per = _BAR_SPAN / ((high - low) or 1)
    return -low * per, per


def _bar(zero: float, per: float, value: float, y: float, height: int, fill: str, tip: str, unit: str) -> str:
    """One bar from zero, its tooltip, and its value written beside its end."""
    start, end = sorted((zero, zero + value * per))
    text_at, anchor, dx = (end, "start", 4) if value >= 0 else (start, "end", -4)
    return (
        f'<rect x="{_pc(start)}" y="{y:.0f}" width="{_pc(end - start)}" height="{height}" fill="{fill}">'
        f"<title>{escape(tip)}: {number_text(value)}{escape(unit)}</title></rect>"
        f'<text x="{_pc(text_at)}" dx="{dx}" y="{y + height - 3:.0f}" text-anchor="{anchor}" font-size="12">'
        f"{number_text(value)}{escape(unit)}</text>"
    )


def bar_chart(
    title: str,
    series: list[tuple[str, float]],
    *,
    unit: str = "",
    colour: str | None = None,
) -> str:
    """A horizontal bar chart of labelled values, each label written above its bar.

    Bars alternate through the palette unless ``colour`` is given; with negative values
    a zero line is drawn and those bars extend to its left.

    >>> '<svg' in bar_chart("Enrolled", [("Arm A", 10), ("Arm B", 12)])
    True
    >>> 'stroke="#555"' in bar_chart("Change", [("A", -0.6), ("B", 0.5)])
    True
    """
    if not series:
        return ""
    zero, per = _scale([v for _, v in series])
    row_h = _LABEL_H + _BAR_H + _GAP
    rows = []
    for index, (label, value) in enumerate(series):
        y = 24 + index * row_h
        rows.append(
            f'<text x="0" y="{y + 12}" font-size="12">{escape(_fit(label, 80))}</text>'
            + _bar(
                zero, per, value, y + _LABEL_H, _BAR_H, colour or PALETTE[index % len(PALETTE)], label, unit
            )
        )
    height = 24 + len(series) * row_h
    if zero > 0:
        rows.append(f'<line x1="{_pc(zero)}" y1="20" x2="{_pc(zero)}" y2="{height - 4}" stroke="#555"/>')
    return _svg(title, height, "".join(rows))


def column_chart(title: str, series: list[tuple[str, float]], *, height: int = 240, unit: str = "") -> str:
    """A vertical bar chart, for values along an ordered axis such as years.

    Every bar carries a ``<title>`` tooltip with its exact value; the axis labels are
    thinned so they never overlap, even on a phone.

    >>> svg = column_chart("Trials by start year", [("2019", 4), ("2020", 7)])
    >>> svg.count("<rect")
    2
    """
    if not series:
        return ""
    top, bottom = 40, 22
    plot_h = height - top - bottom
    peak = max((v for _, v in series), default=0) or 1
    step = 100 / len(series)
    bar_w = step * 0.8
    every = max(1, -(-len(series) // 7))  # at most ~7 axis labels, whatever the width
    base = top + plot_h
    parts = [
        f'<line x1="0" y1="{base}" x2="100%" y2="{base}" stroke="#555"/>',
        f'<line x1="0" y1="{top}" x2="100%" y2="{top}" stroke="#bbb" stroke-dasharray="3 3"/>',
        f'<text x="0" y="{top - 4}" font-size="11">{number_text(peak)}{escape(unit)}</text>',
    ]
    for index, (label, value) in enumerate(series):
        h = max(0.0, value) / peak * plot_h
        x = index * step + (step - bar_w) / 2
        parts.append(
            f'<rect x="{_pc(x)}" y="{base - h:.1f}" width="{_pc(bar_w)}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {number_text(value)}{escape(unit)}</title></rect>'
        )
        centre = x + bar_w / 2
        if index % every == 0 and 5 <= centre <= 95:
            parts.append(
                f'<text x="{_pc(centre)}" y="{base + 15}" text-anchor="middle" font-size="11">{escape(label)}</text>'
            )
    return _svg(title, height, "".join(parts))


def grouped_bar_chart(
    title: str,
    groups: list[str],
    rows: list[tuple[str, list[float | None]]],
    *,
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
    zero, per = _scale(values)
    legend_h = 18 * ((len(groups) + 1) // 2)
    parts = []
    for index, name in enumerate(groups):
        x, y = (index % 2) * 50, 24 + (index // 2) * 18
        parts.append(
            f'<rect x="{x}%" y="{y}" width="12" height="12" fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{x}%" dx="16" y="{y + 11}" font-size="12">{escape(_fit(name, 24))}</text>'
        )
    y = 24 + legend_h + 6
    bar_h = 12
    for label, vs in rows:
        parts.append(f'<text x="0" y="{y + 12}" font-size="12">{escape(_fit(label, 80))}</text>')
        y += _LABEL_H
        for index, value in enumerate(vs[: len(groups)]):
            if value is not None:
                tip = f"{label}, {groups[index]}"
                parts.append(_bar(zero, per, value, y, bar_h, PALETTE[index % len(PALETTE)], tip, unit))
            y += bar_h + 1
        y += _GAP
    if zero > 0:
        parts.append(f'<line x1="{_pc(zero)}" y1="{24 + legend_h}" x2="{_pc(zero)}" y2="{y}" stroke="#555"/>')
    return _svg(title, int(y + 4), "".join(parts))


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
