"""``GET /healthz``: answers without a token, for load balancers and ``raidt serve`` itself."""

from __future__ import annotations

from fastapi import APIRouter, Request

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
def healthz(request: Request) -> dict[str, object]:
    state = request.app.state.raidt
    out: dict[str, object] = {"ok": True, "database": state.app.db.dialect}
    if state.gateway is not None:
        out["gateway"] = state.gateway.health()
    return out
