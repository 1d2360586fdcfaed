"""``raidt token create|list|revoke``: API tokens (only their hash is stored)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from raidt.cli._common import console, open_app, print_json, run_cli
from raidt.cli._text import cell, safe

__all__ = ["token_app"]

token_app = typer.Typer(
    no_args_is_help=True,
    help="API tokens for the server: create (shown once), list, revoke.",
)


@token_app.command("create")
def create(
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="initiator, reviewer, approver, escalation_owner, assessor, auditor, admin, "
            "or system (SDK, OTLP exporters, gateway callers)",
        ),
    ],
    name: Annotated[str | None, typer.Option("--name", help="a label to recognise it by")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a token and print it once; only its SHA-256 is stored."""
    from raidt.services.tokens import TokenService

    with run_cli(), open_app() as a:
        new = TokenService(a).create(role, name)
    if as_json:
        print_json({"token": new.token, **new.info.to_dict()})
        return
    console.print(
        f"[green]✓[/] token {safe(new.info.id)} ({safe(new.info.role)}, {safe(new.info.name)}); "
        "it is shown only now:",
        highlight=False,
    )
    print(new.token)


@token_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every token (never the secret): id, name, role, created, revoked."""
    from raidt.services.tokens import TokenService

    with run_cli(), open_app() as a:
        infos = TokenService(a).list()
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    table = Table(title=f"{len(infos)} tokens", header_style="bold")
    for col in ("id", "name", "role", "created", "revoked"):
        table.add_column(col)
    for i in infos:
        table.add_row(
            cell(i.id), cell(i.name), cell(i.role), cell(i.created_at), cell(i.revoked_at or "")
        )
    console.print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="the token's id (see 'raidt token list')")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Revoke a token: it stops working within RAIDT_TOKEN_CACHE_SECONDS on every server."""
    from raidt.services.tokens import TokenService

    with run_cli(), open_app() as a:
        info = TokenService(a).revoke(token_id)
    if as_json:
        print_json(info.to_dict())
        return
    console.print(
        f"[green]✓[/] token {safe(info.id)} revoked at {safe(info.revoked_at)}", highlight=False
    )
