"""``raidt policy``, ``raidt template`` and ``raidt actors``: the policy registry commands.

Registered in ``cli/main.py`` as three sub-command groups. Human output is Rich tables;
``--json`` prints data (``policy show --json`` is the DESIGN 6.2 contract). A refused file
gives one line naming file, line and field, exit code 1, and nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from raidt.cli._common import console, fail, open_app, print_json, read_text, run_cli
from raidt.cli._text import cell, plain, safe
from raidt.core.policy import Policy
from raidt.core.timefmt import format_ts
from raidt.services.policies import PolicyService, PolicyVersion

__all__ = ["actors_app", "policy_app", "template_app"]

policy_app = typer.Typer(
    help="Workflow policies: list, show, add, validate, history (append-only, versioned).",
    no_args_is_help=True,
)
template_app = typer.Typer(help="Prompt templates: list, show, add.", no_args_is_help=True)
actors_app = typer.Typer(help="The actor directory: import and list.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="a YAML file", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON data")]
VersionOpt = Annotated[
    str | None, typer.Option("--version", "-v", help="a version (default: latest)")
]


def _version_json(v: PolicyVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "version": v.version,
        "title": v.title,
        "sector": v.sector,
        "content_hash": v.content_hash,
        "added_at": format_ts(v.added_at),
        "effective_from": v.effective_from.isoformat() if v.effective_from else None,
    }


def policy_json(policy: Policy) -> dict[str, Any]:
    """The policy as JSON data, with its content hash (DESIGN 6.2)."""
    return {**policy.model_dump(mode="json"), "content_hash": policy.content_hash}


# ----- raidt policy ----------------------------------------------------------------------


@policy_app.command("list")
def policy_list(as_json: JsonOpt = False) -> None:
    """The latest version of every policy."""
    with run_cli(), open_app() as app:
        versions = PolicyService(app).list_policies()
    if as_json:
        print_json([_version_json(v) for v in versions])
        return
    table = Table(title="Workflow policies")
    table.add_column("id", no_wrap=True)
    for col in ("version", "sector", "title", "added", "hash"):
        table.add_column(col)
    for v in versions:
        added = v.added_at.date().isoformat()
        table.add_row(
            cell(v.id), cell(v.version), cell(v.sector), cell(v.title), added, v.content_hash[:12]
        )
    console.print(table)


@policy_app.command("show")
def policy_show(
    policy_id: Annotated[str, typer.Argument(metavar="ID", help="policy (use case) id")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
    as_yaml: Annotated[
        bool,
        typer.Option(
            "--yaml",
            help="print the YAML source as added: it validates and adds as is, so edit "
            "it (raise the version) to start a new version",
        ),
    ] = False,
) -> None:
    """One policy version (the latest unless --version)."""
    if as_json and as_yaml:
        fail("give --json or --yaml, not both")
    with run_cli(), open_app() as app:
        svc = PolicyService(app)
        policy = svc.get(policy_id, version)
        source = svc.policy_text(policy.id, policy.version) if as_yaml else ""
    if as_yaml:
        # verbatim into a file or pipe; on a terminal, control characters made visible
        sys.stdout.write(source if not sys.stdout.isatty() else plain(source))
        sys.stdout.write("" if source.endswith("\n") else "\n")
        sys.stdout.flush()
        return
    if as_json:
        print_json(policy_json(policy))
        return
    _print_policy(policy)


@policy_app.command("add")
def policy_add(file: FileArg) -> None:
    """Validate and store a policy version (identical re-adds are no-ops)."""
    text = read_text(file)
    with run_cli(), open_app() as app:
        policy, added = PolicyService(app).store_policy(text, str(file))
    what = "added" if added else "already stored (identical)"
    console.print(
        f"[green]✓[/] policy [bold]{safe(policy.id)}[/] version {safe(policy.version)} {what} "
        f"(hash {policy.content_hash[:12]})"
    )


@policy_app.command("validate")
def policy_validate(file: FileArg) -> None:
    """Check a policy file without storing it."""
    text = read_text(file)
    with run_cli(), open_app() as app:
        policy = PolicyService(app).validate_policy(text, str(file))
    console.print(
        f"[green]✓[/] {safe(file)}: policy [bold]{safe(policy.id)}[/] version "
        f"{safe(policy.version)} is valid (hash {policy.content_hash[:12]})"
    )


@policy_app.command("history")
def policy_history(
    policy_id: Annotated[str, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """Every version of a policy, oldest first."""
    with run_cli(), open_app() as app:
        versions = PolicyService(app).history(policy_id)
    if as_json:
        print_json([_version_json(v) for v in versions])
        return
    table = Table(title=cell(f"History of policy {policy_id}"))
    for col in ("version", "added", "effective from", "title", "hash"):
        table.add_column(col)
    for v in versions:
        eff = v.effective_from.isoformat() if v.effective_from else "on adding"
        table.add_row(
            cell(v.version), format_ts(v.added_at), eff, cell(v.title), v.content_hash[:12]
        )
    console.print(table)


def _print_policy(p: Policy) -> None:
    console.print(
        f"[bold]{safe(p.id)}[/] version {safe(p.version)} — {safe(p.title)} ({safe(p.sector)})"
    )
    if p.description:
        console.print(plain(p.description), highlight=False, markup=False)
    console.print(f"content hash {p.content_hash}", style="dim")
    eff = p.effective_from.isoformat() if p.effective_from else "when added"
    console.print(
        f"in force from: {eff}; SLA {p.sla_hours:g} h; deviations allowed: "
        f"{'yes' if p.allow_deviations else 'no'}"
    )

    t = Table(title="Approved templates")
    for col in ("id", "version", "sha256"):
        t.add_column(col)
    for ref in p.approved_templates:
        t.add_row(cell(ref.id), cell(ref.version), cell(ref.sha256 or "(not pinned)"))
    console.print(t)

    m = Table(title="Approved models")
    for col in ("provider", "model", "parameter bounds"):
        m.add_column(col)
    for am in p.approved_models:
        bounds = []
        for name, b in am.parameters.items():
            parts = []
            if b.min is not None or b.max is not None:
                lo = "" if b.min is None else f"{b.min:g}"
                hi = "" if b.max is None else f"{b.max:g}"
                parts.append(f"{lo}..{hi}")
            if b.allowed is not None:
                parts.append("one of " + ", ".join(map(str, b.allowed)))
            bounds.append(f"{name} {' '.join(parts)}")
        m.add_row(cell(am.provider), cell(am.model), cell("; ".join(bounds) or "-"))
    console.print(m)

    g = Table(title="Governance", show_header=False)
    g.add_column("rule", style="bold")
    g.add_column("value")
    rows = {
        "required roles": ", ".join(p.roles.required) or "-",
        "separation of duties": "; ".join(f"{a} ≠ {b}" for a, b in p.roles.separation_of_duties)
        or "-",
        "qualifications": "; ".join(f"{r}: {q}" for r, q in p.roles.qualifications.items()) or "-",
        "minimum review": f"{p.review.min_seconds} s",
        "checklist": "\n".join(f"☐ {c}" for c in p.review.checklist) or "-",
        "reviewer guidance": "\n".join(f"{x.id}@{x.version}" for x in p.review.all_guidance) or "-",
        "mandatory before close": ", ".join(p.mandatory_fields) or "-",
        "escalation": f"{', '.join(p.escalation.triggers) or 'never'} → {p.escalation.owner_role}",
        "sign-off by risk": "\n".join(
            f"{lvl}: {', '.join(r) or 'none'}" for lvl, r in p.signoff.items()
        )
        or "none",
        "downstream allowed": ", ".join(p.downstream_allowed) or "anywhere",
    }
    capture: str = p.capture.mode
    if p.capture.redact_patterns:
        capture += " (" + ", ".join(p.capture.redact_patterns) + ")"
    rows["content capture"] = capture
    hold = ", legal hold" if p.retention.legal_hold else ""
    rows["retention"] = f"at least {p.retention.min_days} days{hold}"
    for rule, value in rows.items():
        g.add_row(rule, cell(value))
    console.print(g)
    if p.review.guidance:
        console.print(
            f"[bold]Guidance {safe(p.review.guidance.id)}@{safe(p.review.guidance.version)}[/]"
        )
        console.print(plain(p.review.guidance.text), highlight=False, markup=False)


# ----- raidt template --------------------------------------------------------------------


@template_app.command("list")
def template_list(as_json: JsonOpt = False) -> None:
    """Every stored template version."""
    with run_cli(), open_app() as app:
        docs = PolicyService(app).list_templates()
    if as_json:
        print_json(
            [
                {
                    "id": d.id,
                    "version": d.version,
                    "sha256": d.content_hash,
                    "added_at": format_ts(d.added_at),
                }
                for d in docs
            ]
        )
        return
    table = Table(title="Prompt templates")
    for col in ("id", "version", "added", "sha256"):
        table.add_column(col)
    for d in docs:
        table.add_row(cell(d.id), cell(d.version), format_ts(d.added_at), d.content_hash)
    console.print(table)


@template_app.command("show")
def template_show(
    template_id: Annotated[str, typer.Argument(metavar="ID")],
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One template version with its text (the latest unless --version)."""
    with run_cli(), open_app() as app:
        t = PolicyService(app).get_template(template_id, version)
    if as_json:
        print_json({**t.model_dump(mode="json"), "sha256": t.content_hash})
        return
    console.print(f"[bold]{safe(t.id)}[/] version {safe(t.version)}  sha256 {t.content_hash}")
    if t.description:
        console.print(plain(t.description), highlight=False, markup=False)
    console.print(f"variables: {safe(', '.join(t.variables) or '-')}")
    console.print("─" * 40, style="dim")
    console.print(plain(t.text), highlight=False, markup=False)


@template_app.command("add")
def template_add(file: FileArg) -> None:
    """Validate and store a template version (identical re-adds are no-ops)."""
    text = read_text(file)
    with run_cli(), open_app() as app:
        t, added = PolicyService(app).store_template(text, str(file))
    what = "added" if added else "already stored (identical)"
    console.print(
        f"[green]✓[/] template [bold]{safe(t.id)}[/] version {safe(t.version)} {what} "
        f"(sha256 {t.content_hash})"
    )


# ----- raidt actors ----------------------------------------------------------------------


@actors_app.command("import")
def actors_import(file: FileArg) -> None:
    """Append an actor directory YAML (the latest entry per actor id wins)."""
    text = read_text(file)
    with run_cli(), open_app() as app:
        n = PolicyService(app).import_actors(text, str(file))
    console.print(f"[green]✓[/] imported {n} actor{'s' if n != 1 else ''} from {safe(file)}")


@actors_app.command("list")
def actors_list(as_json: JsonOpt = False) -> None:
    """The current actor directory."""
    with run_cli(), open_app() as app:
        directory = PolicyService(app).actor_directory()
    actors = [directory.actors[k] for k in sorted(directory.actors)]
    if as_json:
        print_json([a.model_dump(mode="json") for a in actors])
        return
    table = Table(title="Actors")
    for col in ("id", "kind", "roles", "team", "qualifications"):
        table.add_column(col)
    for a in actors:
        quals = "\n".join(
            f"{q.name} {q.valid_from}..{q.valid_until or ''}" for q in a.qualifications
        )
        table.add_row(cell(a.id), cell(a.kind), cell(", ".join(a.roles)), cell(a.team), cell(quals))
    console.print(table)
