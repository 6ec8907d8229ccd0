"""The trial page as HTML: one standalone, escaped page, or its parts for the web app.

Registry text is untrusted: every value goes through ``escape``; nothing from a record is
ever put into a tag, an attribute name, a script or a style.

The HTML page is for people: codes are said in words (``Phase 1 / Phase 2``, the raw code
beside it), an empty field says "Not provided", and the first thing after the title is the
trial's facts (status, phase, conditions, where it runs) rather than the list of sections.

A standalone page (``trialscope show --format html > trial.html``) is opened from disk, so
its related trials link to ClinicalTrials.gov; the web app links them to its own pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from trialscope.render.context import Block, Bullets, Entry, Field, Subheading, Table, Text, TrialPage
from trialscope.render.svg import table_chart
from trialscope.render.words import reason_words, words_for

# Where a related trial links in a page opened from disk.
STUDY_LINK = "https://clinicaltrials.gov/study/{nct_id}"
NOT_PROVIDED = '<span class="missing">Not provided</span>'


def _e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def _paragraph(text: str) -> str:
    return "<p>" + _e(text).replace("\n", "<br>") + "</p>"


def _value(field: Field) -> str:
    """A field's value: its words (with the raw code beside them), or "Not provided"."""
    if field.words:
        if field.words.startswith("Unknown value ("):
            return f'<span class="unknown">{_e(field.words)}</span>'
        if field.code and field.words != field.code and field.code.isupper():
            return f'<span title="{_e(field.code)}">{_e(field.words)}</span> <code class="raw">{_e(field.code)}</code>'
        return _e(field.words)
    if not field.value.strip() or field.value == "-":
        return NOT_PROVIDED
    return _e(field.value)


def _chart(table: Table) -> str:
    """A chart of the measured values by group, where the table is one a chart can show."""
    return table_chart(table.caption, table.header, table.rows) if table.chart == "bars" else ""


def _block(block: Block, depth: int) -> str:
    if isinstance(block, Text):
        shown = block.words if block.words is not None else block.text
        return _paragraph(shown) if shown else ""
    if isinstance(block, Subheading):
        level = min(depth, 6)
        return f"<h{level}>{_e(block.text)}</h{level}>"
    if isinstance(block, Field):
        if block.inline is None:
            return f'<dl class="field"><dt>{_e(block.label)}</dt><dd>{_value(block)}</dd></dl>'
        return f'<p class="field"><span class="label">{_e(block.label)}</span>{_e(block.inline.strip() and ":")} {_value(block)}</p>'
    if isinstance(block, Bullets):
        items = "".join(
            (f'<li class="sub">{_e(i.strip())}' if i.startswith("  ") else f"<li>{_e(i)}")
            + (f' <span class="criterion-label">{_e(label)}</span>' if label else "")
            + "</li>"
            for i, label in block.labelled()
        )
        return f'<div class="bullets"><h{min(depth, 6)}>{_e(block.heading)}</h{min(depth, 6)}><ul>{items}</ul></div>'
    if isinstance(block, Table):
        head = "".join(f'<th scope="col">{_e(h)}</th>' for h in block.header)
        rows = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return (
            f'<figure class="table"><table><caption>{_e(block.caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{_chart(block)}</figure>"
        )
    if isinstance(block, Entry):
        level = min(depth, 6)
        title = f"<h{level}>{_e(block.title)}</h{level}>" if block.title else ""
        inner = "".join(_block(b, depth + 1) for b in block.blocks)
        return f'<div class="entry">{title}{inner}</div>'
    raise TypeError(f"unknown block {type(block).__name__}")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _where(page: TrialPage) -> str:
    """Where the trial runs, in a line: the nearest site when distances were measured."""
    if page.nearest_site:
        return _e(page.nearest_site)
    if not page.site_count and not page.countries:
        return NOT_PROVIDED
    countries = ", ".join(page.countries[:4]) + (
        f" and {len(page.countries) - 4} more" if len(page.countries) > 4 else ""
    )
    sites = _plural(page.site_count, "site") if page.site_count else ""
    return _e(f"{sites} in {countries}" if sites and countries else sites or countries)


@dataclass(frozen=True, slots=True)
class TrialHtml:
    """The trial page's HTML in the parts a layout arranges: the title and ids, the facts a
    reader wants first, the list of sections, and the sections."""

    head: str
    facts: str
    toc: str
    sections: str


def trial_html(page: TrialPage, *, trial_link: str = STUDY_LINK) -> TrialHtml:
    """The page's parts; related trials link through ``trial_link`` (a format with ``{nct_id}``)."""
    head = (
        f"<h1>{_e(page.title)}</h1>"
        f'<p class="ids"><span class="label">NCT ID:</span> {_e(page.nct_id)} '
        f'<span class="label">Last Updated:</span> {_e(page.last_updated) if page.last_updated else NOT_PROVIDED}</p>'
    )
    if page.summary_only:
        head += '<p class="notice">Summary-only record: loaded from a CSV export; details are missing.</p>'
    conditions = "; ".join(page.conditions[:5]) + (
        f"; and {len(page.conditions) - 5} more" if len(page.conditions) > 5 else ""
    )
    facts = (
        '<dl class="facts">'
        f"<div><dt>Status</dt><dd>{_e(words_for('status', page.status)) or NOT_PROVIDED}</dd></div>"
        f"<div><dt>Phase</dt><dd>{_e(words_for('phase', page.phase)) or NOT_PROVIDED}</dd></div>"
        f"<div><dt>Conditions</dt><dd>{_e(conditions) or NOT_PROVIDED}</dd></div>"
        f"<div><dt>{'Nearest site' if page.nearest_site else 'Where'}</dt><dd>{_where(page)}</dd></div>"
        "</dl>"
    )
    toc = (
        '<nav class="sections-nav" aria-label="Sections"><ul class="toc">'
        + "".join(f'<li><a href="#{s.key}">{_e(s.title)}</a></li>' for s in page.sections)
        + "</ul></nav>"
    )
    out = []
    for section in page.sections:
        out.append(f'<section id="{section.key}" aria-labelledby="{section.key}-h">')
        out.append(f'<h2 id="{section.key}-h">{_e(section.title)}</h2>')
        if section.caption:
            out.append(f'<p class="caption">{_e(section.caption)}</p>')
        if section.key == "related":
            out.append(_related(page, trial_link))
        elif not section.blocks:
            out.append('<p class="missing">Not provided.</p>')
        elif section.key == "eligibility":
            out.append('<div class="eligibility">' + "".join(_block(b, 3) for b in section.blocks) + "</div>")
        else:
            out += [_block(b, 3) for b in section.blocks]
        out.append("</section>")
    return TrialHtml(head, facts, toc, "\n".join(out))


def render_html_body(page: TrialPage, *, trial_link: str = STUDY_LINK) -> str:
    """The page's article element: title, ids, facts and every section with its caption."""
    parts = trial_html(page, trial_link=trial_link)
    return "\n".join(
        (f'<article class="trial" data-nct-id="{_e(page.nct_id)}">', parts.head, parts.facts, parts.toc,
         parts.sections, "</article>")
    )  # fmt: skip


def _related(page: TrialPage, trial_link: str) -> str:
    if not page.related:
        return "<p>No related trials found yet.</p>"
    items = []
    for r in page.related:
        link = _e(trial_link.format(nct_id=r.nct_id))
        reasons = "".join(f"<li>{_e(reason_words(reason))}</li>" for reason in r.reasons)
        items.append(
            f'<li class="related"><a href="{link}">{_e(r.title)}</a> <span class="nct">{_e(r.nct_id)}</span>'
            f' <span class="status">{_e(words_for("status", r.status))}</span>'
            f' <span class="phase">{_e(words_for("phase", r.phase))}</span>'
            f'<ul class="reasons">{reasons}</ul></li>'
        )
    return '<ol class="related-list">' + "".join(items) + "</ol>"


PAGE_CSS = """
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1a1a1a;background:#fff}
h1{font-size:1.6rem}h2{border-bottom:2px solid #2b5d8a;padding-bottom:.2rem;margin-top:2rem}
.caption{color:#444;font-style:italic}.label,dt{font-weight:600}dl.field{margin:.4rem 0}dd{margin-left:0}
code.raw{color:#555;font-size:.8em}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #bbb;padding:.2rem .5rem;text-align:left;vertical-align:top}
caption{font-weight:600;text-align:left}.entry{margin:.6rem 0 .6rem .5rem}.missing{color:#555;font-style:italic}
dl.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.3rem 1rem;background:#f3f6f9;padding:.6rem .8rem}
li.sub{margin-left:1.5rem;list-style:circle}.toc{columns:3 12rem;font-size:.9rem}
@media print{nav,.toc{display:none}a{color:inherit}}
"""


def render_html(page: TrialPage, *, trial_link: str = STUDY_LINK) -> str:
    """A standalone HTML page (no scripts, inline style) that works opened from disk."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(page.title)} ({_e(page.nct_id)})</title><style>{PAGE_CSS}</style></head>"
        f"<body>{render_html_body(page, trial_link=trial_link)}</body></html>\n"
    )
