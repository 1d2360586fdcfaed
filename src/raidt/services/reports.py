"""Human-readable reconstructions of a run (and of an audit period): HTML and PDF.

The page is what an auditor reads before trusting anything: the run step by step (who,
in which role, when, what), the edits as diffs, the five-pillar profile as a chart, each
criterion with its rationale, how the evidence was verified, and what the pack does *not*
prove. It is one self-contained file (inline CSS and SVG, no scripts, no fetches), so it
opens the same way offline in ten years. PDFs come from WeasyPrint, imported only when
asked for, because it is heavy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from raidt.core.events import Event, EventType
from raidt.core.timefmt import format_ts

if TYPE_CHECKING:
    from raidt.services.app import App

__all__ = [
    "LIMITATIONS",
    "PILLAR_ORDER",
    "PeriodReport",
    "ReportService",
    "RunReport",
    "describe_event",
    "html_to_pdf",
    "pillar_chart_svg",
    "render_period_report",
    "render_run_report",
]

PILLAR_ORDER = (
    "responsibility",
    "auditability",
    "interpretability",
    "dependability",
    "traceability",
)

#: what a pack cannot show, whatever its signatures say (the report states it plainly)
LIMITATIONS: tuple[str, ...] = (
    "That signer.pub.pem belongs to the organisation named: check its key id against one "
    "published or handed over separately, and verify with --key.",
    "That the recorded events are the whole story: only what was captured is here. Work "
    "done outside RAIDT, or steps never recorded, leave no trace in this pack.",
    "That no events were added to this run after the checkpoint the pack is proven against.",
    "That timestamps are true: they are the times the recording systems reported.",
    "That the people behind the pseudonymous ids are who they claim to be, or held the "
    "qualifications the directory listed.",
    "That the model output was correct, safe or fair: the score judges how the use was "
    "governed, not the quality of the text.",
    "Where content was captured as digests only, what the prompt or output said: the pack "
    "can confirm a text you hold, not reveal it.",
)

_WHAT: dict[EventType, str] = {
    EventType.RUN_STARTED: "started the run",
    EventType.PROMPT_RENDERED: "rendered the prompt",
    EventType.MODEL_INVOKED: "invoked the model",
    EventType.MODEL_RESPONDED: "received the model's output",
    EventType.TOOL_CALLED: "called a tool",
    EventType.RETRIEVAL_PERFORMED: "retrieved context",
    EventType.REVIEW_ASSIGNED: "assigned a reviewer",
    EventType.GUIDANCE_ACKNOWLEDGED: "acknowledged the reviewer guidance",
    EventType.CHECKLIST_COMPLETED: "completed the checklist",
    EventType.OUTPUT_EDITED: "edited the output",
    EventType.REVIEW_APPROVED: "approved the output",
    EventType.REVIEW_REJECTED: "rejected the output",
    EventType.OVERRIDE_RECORDED: "recorded an override",
    EventType.DEVIATION_RECORDED: "recorded a deviation",
    EventType.ESCALATION_RAISED: "raised an escalation",
    EventType.ESCALATION_RESOLVED: "resolved the escalation",
    EventType.SIGNOFF_RECORDED: "signed off",
    EventType.RUN_CLOSED: "closed the run",
    EventType.DOWNSTREAM_USED: "used the output downstream",
    EventType.CHALLENGE_RAISED: "raised a challenge",
    EventType.CHALLENGE_RESOLVED: "resolved a challenge",
    EventType.ASSESSMENT_RECORDED: "recorded an assessment",
    EventType.TELEMETRY_RECORDED: "sent telemetry",
}


def _short(text: Any, width: int = 160) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= width else s[: width - 1] + "…"


def describe_event(e: Event) -> str:
    """One sentence of detail for the timeline (never the full content)."""
    p = e.payload
    t = e.type
    if t is EventType.RUN_STARTED:
        tpl = p.get("template") or {}
        bits = [
            f"use case {p.get('use_case')}",
            f"team {p.get('team')}",
            f"risk {p.get('risk_level')}",
        ]
        if p.get("purpose"):
            bits.append(f"purpose “{_short(p['purpose'], 80)}”")
        if tpl:
            bits.append(f"template {tpl.get('id')}@{tpl.get('version')}")
        if p.get("data_context"):
            bits.append(f"{len(p['data_context'])} data reference(s)")
        return "; ".join(bits)
    if t is EventType.PROMPT_RENDERED:
        tpl = p.get("template") or {}
        body = (
            f"“{_short(p['prompt'], 120)}”"
            if isinstance(p.get("prompt"), str)
            else f"digest {str(p.get('prompt_sha256'))[:12]}…"
        )
        return (f"template {tpl.get('id')}@{tpl.get('version')}: " if tpl else "") + body
    if t is EventType.MODEL_INVOKED:
        params = ", ".join(f"{k}={v}" for k, v in sorted((p.get("parameters") or {}).items()))
        return f"{p.get('provider')} {p.get('model')}" + (f" ({params})" if params else "")
    if t is EventType.MODEL_RESPONDED:
        if p.get("error"):
            return f"error: {_short(p['error'], 120)}"
        usage = p.get("usage") or {}
        tokens = (
            f" · {usage.get('input_tokens')}→{usage.get('output_tokens')} tokens" if usage else ""
        )
        body = (
            f"“{_short(p['output'], 120)}”"
            if isinstance(p.get("output"), str)
            else f"digest {str(p.get('output_sha256'))[:12]}…"
        )
        return body + tokens
    if t in (EventType.TOOL_CALLED, EventType.RETRIEVAL_PERFORMED):
        return f"{p.get('name')}: {len(p.get('sources') or [])} source(s)"
    if t is EventType.REVIEW_ASSIGNED:
        r = p.get("reviewer") or {}
        return f"to {r.get('id')} as {r.get('role')}"
    if t is EventType.GUIDANCE_ACKNOWLEDGED:
        g = p.get("guidance") or {}
        return f"{g.get('id')}@{g.get('version')}"
    if t is EventType.CHECKLIST_COMPLETED:
        items = p.get("items") or {}
        done = [k for k, v in items.items() if v]
        return f"{len(done)} of {len(items)} items ticked" + (
            f"; not ticked: {', '.join(k for k, v in items.items() if not v)}"
            if len(done) < len(items)
            else ""
        )
    if t is EventType.OUTPUT_EDITED:
        return f"reason: {_short(p.get('reason') or 'not given', 120)}"
    if t in (EventType.OVERRIDE_RECORDED, EventType.DEVIATION_RECORDED):
        return f"{_short(p.get('what'), 80)} — {_short(p.get('reason'), 80)}"
    if t is EventType.ESCALATION_RAISED:
        o = p.get("owner") or {}
        return f"to {o.get('id')} ({o.get('role')}): {_short(p.get('reason'), 100)}"
    if t is EventType.ESCALATION_RESOLVED:
        return _short(p.get("resolution"), 140)
    if t is EventType.RUN_CLOSED:
        return f"disposition {p.get('disposition')}"
    if t is EventType.DOWNSTREAM_USED:
        return f"to {p.get('destination')}" + (
            f" ({p.get('reference')})" if p.get("reference") else ""
        )
    if t in (EventType.CHALLENGE_RAISED, EventType.CHALLENGE_RESOLVED):
        return f"{p.get('subject')}: {_short(p.get('reason') or p.get('resolution'), 120)}"
    if t is EventType.ASSESSMENT_RECORDED:
        return f"{p.get('criterion')}: {p.get('result')} — {_short(p.get('rationale'), 100)}"
    if t in (EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED, EventType.SIGNOFF_RECORDED):
        why = p.get("reason") or p.get("statement")
        return _short(why, 140) if why else ""
    return ""  # pragma: no cover - every type is listed above


def pillar_chart_svg(
    pillars: Mapping[str, float], *, width: int = 400, height: int = 290
) -> Markup:
    """An inline SVG radar chart of the five pillar scores (0–100), labels included."""
    cx, cy = width / 2, height / 2 + 6
    r = height / 2 - 46

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + i * 2 * math.pi / len(PILLAR_ORDER)
        return cx + r * value / 100 * math.cos(angle), cy + r * value / 100 * math.sin(angle)

    def poly(values: Sequence[float]) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, v in enumerate(values)))

    n = len(PILLAR_ORDER)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="pillar scores">'
    ]
    for ring in (25, 50, 75, 100):
        parts.append(
            f'<polygon points="{poly([ring] * n)}" fill="none" stroke="#d0d5dd" '
            f'stroke-width="{1.2 if ring == 100 else 0.7}"/>'
        )
    for i, name in enumerate(PILLAR_ORDER):
        x, y = point(i, 100)
        parts.append(
            f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
            'stroke="#d0d5dd" stroke-width="0.7"/>'
        )
        lx, ly = point(i, 116)
        anchor = "middle" if abs(lx - cx) < 8 else ("start" if lx > cx else "end")
        value = pillars.get(name)
        shown = f"{float(value):.0f}" if value is not None else "–"
        parts.append(
            f'<text x="{lx:.1f}" y="{ly + (0 if ly < cy else 8):.1f}" '
            f'text-anchor="{anchor}" font-size="11" font-family="sans-serif" '
            f'fill="#1d2939">{name.capitalize()} <tspan font-weight="bold">{shown}'
            "</tspan></text>"
        )
    values = [float(pillars.get(p) or 0) for p in PILLAR_ORDER]
    parts.append(
        f'<polygon points="{poly(values)}" fill="#2e90fa" fill-opacity="0.28" '
        'stroke="#1570ef" stroke-width="2"/>'
    )
    for i, v in enumerate(values):
        x, y = point(i, v)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#1570ef"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class RunReport:
    """Everything the run page shows; built by :class:`~raidt.services.packs.PackService`."""

    run: dict[str, Any]
    events: Sequence[Event]
    score: dict[str, Any]
    policy: dict[str, Any]
    rubric: dict[str, Any]
    checkpoint: dict[str, Any]
    checks: Sequence[tuple[str, bool, str]]
    key_id: str
    generator: str
    limitations: Sequence[str] = LIMITATIONS
    #: criterion id -> its title in the rubric
    titles: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PeriodReport:
    """The audit-period page: aggregate profile, weak points, packs and proof."""

    use_case: str
    since: str
    until: str
    runs: int
    pillars: dict[str, float]
    readiness: dict[str, int]
    weak_points: Sequence[dict[str, Any]]
    #: weak-point patterns across runs (``raidt.core.weakpoints.detect``)
    patterns: Sequence[dict[str, Any]]
    worst_runs: Sequence[dict[str, Any]]
    consistency: dict[str, Any]
    key_id: str
    generator: str
    limitations: Sequence[str] = field(default_factory=lambda: LIMITATIONS)


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("raidt", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["ts"] = lambda v: format_ts(v) if hasattr(v, "tzinfo") else v
    return env


def _timeline(events: Sequence[Event]) -> list[dict[str, Any]]:
    rows = []
    start = events[0].at if events else None
    for n, e in enumerate(events, 1):
        diff = e.payload.get("diff") if e.type is EventType.OUTPUT_EDITED else None
        rows.append(
            {
                "n": n,
                "at": format_ts(e.at),
                "who": e.actor.id,
                "role": e.actor.role.value,
                "type": e.type.value,
                "what": _WHAT[e.type],
                "detail": describe_event(e),
                "elapsed": _elapsed((e.at - start).total_seconds()) if start else "",
                "diff": [(_diff_class(line), line) for line in diff.splitlines()]
                if isinstance(diff, str)
                else None,
                "id": e.id,
            }
        )
    return rows


def _diff_class(line: str) -> str:
    if line.startswith(("+++", "---", "@@")):
        return "hdr"
    return {"+": "add", "-": "del"}.get(line[:1], "ctx")


def _elapsed(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"+{s}s"
    if s < 3600:
        return f"+{s // 60}m{s % 60:02d}s"
    return f"+{s // 3600}h{(s % 3600) // 60:02d}m"


def render_run_report(report: RunReport) -> str:
    """The run's self-contained HTML page."""
    criteria = list(report.score.get("criteria") or [])
    by_pillar = {p: [c for c in criteria if c.get("pillar") == p] for p in PILLAR_ORDER}
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            r=report,
            run=report.run,
            timeline=_timeline(report.events),
            edits=[row for row in _timeline(report.events) if row["diff"]],
            chart=pillar_chart_svg(report.score.get("pillars") or {}),
            by_pillar=by_pillar,
            pillar_order=PILLAR_ORDER,
            first_event=report.events[0] if report.events else None,
        )
    )


def render_period_report(report: PeriodReport) -> str:
    """The audit period's self-contained HTML page."""
    return (
        _env()
        .get_template("period.html.j2")
        .render(r=report, chart=pillar_chart_svg(report.pillars), pillar_order=PILLAR_ORDER)
    )


def html_to_pdf(html: str, out: Path) -> None:
    """Render HTML to a PDF file with WeasyPrint; nothing outside the page is fetched.

    The page is self-contained, so any URL in it (an ``http:`` image, a ``file:``
    stylesheet) came from recorded text, and fetching it would let evidence make the
    renderer read local files or call out. The fetcher allows ``data:`` URLs only; a
    refused URL is left out of the PDF.
    """
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    HTML(string=html, url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf(str(out))


class ReportService:
    """Reports straight from the store (``raidt report``)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def run_html(self, run_id: str) -> str:
        from raidt.services.packs import PackService

        return PackService(self.app).report_html(run_id)

    def write(self, run_id: str, *, html: Path | None = None, pdf: Path | None = None) -> None:
        """Write the run's report as HTML and/or PDF."""
        page = self.run_html(run_id)
        if html is not None:
            html.write_text(page, encoding="utf-8")
        if pdf is not None:
            html_to_pdf(page, pdf)
