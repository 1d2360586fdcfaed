"""The SDK: record runs where the model is called, without waiting on the database.

:class:`Recorder` hands each finished run to the spool (:mod:`raidt.sdk._spool`) in one
``write()``; a drainer seals spooled runs into the store later, in batches, in another
process or when :meth:`Recorder.flush` is called. The caller pays for building the run's
events and one system call, never for hashing, chaining or a database round trip.

The policy is enforced here, before anything is recorded (DESIGN 6.1): the policy in force
for the run's use case is read from the store once per recorder and use case (lazily, on
the first run), a non-approved template or model is refused with
:class:`~raidt.errors.PolicyViolation`, or recorded with a ``deviation.recorded`` event when
the policy allows deviations; prompts and outputs are kept as the policy's capture mode
says (full, redacted, digest). Only the standard library, orjson and the light core are
imported at module level; the store is reached through :mod:`raidt.sdk._local`, imported on
first use.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import orjson

from raidt.errors import PolicyViolation, ValidationError
from raidt.sdk._ids import fast_id
from raidt.sdk._spool import SpoolWriter

if TYPE_CHECKING:
    from types import TracebackType

    from raidt.core.policy import Policy
    from raidt.sdk._drain import Sink

__all__ = ["Recorder", "Run", "current_run", "governed"]

_current: contextvars.ContextVar[Run | None] = contextvars.ContextVar("raidt_run", default=None)
_time_ns = time.time_ns
_dumps = orjson.dumps
_RISK = ("low", "medium", "high")
_DISPOSITIONS = ("accepted", "accepted_with_edits", "rejected", "withdrawn")
_NO_REASON = "recorded by the SDK; the caller gave no reason"
_F = TypeVar("_F", bound=Callable[..., Any])


def current_run() -> Run | None:
    """The run open in this thread or task (inside ``Recorder.run(...)``), if any."""
    return _current.get()


class _PolicyView:
    """One policy as the hot path needs it: capture mode, memoised model verdicts."""

    __slots__ = ("capture", "model_verdicts", "policy", "ref")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.ref = {"id": policy.id, "version": policy.version, "sha256": policy.content_hash}
        self.capture = policy.capture.mode
        self.model_verdicts: dict[tuple[Any, ...], str | None] = {}

    def model_problem(self, provider: str, model: str, parameters: dict[str, Any]) -> str | None:
        try:
            key = (provider, model, *parameters.items())
            hash(key)
        except TypeError:  # unhashable parameter values: ask every time
            return self.policy.model_problem(provider, model, parameters)
        try:
            return self.model_verdicts[key]
        except KeyError:
            verdict = self.policy.model_problem(provider, model, parameters)
            self.model_verdicts[key] = verdict
            return verdict

    def text(self, name: str, text: str, payload: dict[str, Any]) -> None:
        if self.capture == "full":
            payload[name] = text
            return
        from raidt.core.redaction import capture_fields

        payload.update(capture_fields(name, text, self.policy))

    def deviation(self, what: str, problem: str, reason: str | None) -> dict[str, Any]:
        if not self.policy.allow_deviations:
            raise PolicyViolation(
                f"{problem}; policy {self.policy.id} allows no deviations",
                rule="approved_" + what,
            )
        return {"what": what, "reason": reason or _NO_REASON, "detail": problem}


class Run:
    """One run being recorded; its events reach the spool together when the run ends.

    Use it as ``with rec.run(...) as run:`` or ``async with rec.run(...) as run:``. The
    helpers record what happened; each checks the policy first and raises
    :class:`~raidt.errors.PolicyViolation` (recording nothing) where the policy refuses.
    """

    __slots__ = (
        "_base",
        "_count",
        "_done",
        "_events",
        "_policy",
        "_recorder",
        "_token",
        "initiator",
        "run_id",
    )

    def __init__(
        self,
        recorder: Recorder,
        run_id: str,
        initiator: str,
        policy: _PolicyView | None,
        base: str,
        events: list[list[Any]],
    ) -> None:
        self._recorder = recorder
        self.run_id = run_id
        self.initiator = initiator
        self._policy = policy
        self._base = base
        self._events = events
        self._count = len(events)
        self._done = False
        self._token: contextvars.Token[Run | None] | None = None

    # --- helpers ------------------------------------------------------------------------

    def _add(
        self, etype: str, payload: dict[str, Any], actor: str | None = None, role: str = ""
    ) -> None:
        n = self._count
        self._count = n + 1
        eid = f"{self._base[:-2]}{n:02x}" if n < 256 else fast_id()
        self._events.append(
            [eid, etype, _time_ns(), actor or self.initiator, role or "initiator", payload]
        )

    def check_model(self, provider: str, model: str, parameters: dict[str, Any]) -> str | None:
        """Ask the policy about a model call before making it: None when approved, else
        the problem (a refusal raises :class:`~raidt.errors.PolicyViolation`)."""
        if self._policy is None:
            return None
        problem = self._policy.model_problem(provider, model, parameters)
        if problem is not None:
            self._policy.deviation("model", problem, None)  # raises where refused
        return problem

    def model_call(
        self,
        *,
        provider: str,
        model: str,
        parameters: dict[str, Any] | None = None,
        prompt: str | None = None,
        output: str | None = None,
        usage: dict[str, int] | None = None,
        latency_ms: float | None = None,
        error: str | None = None,
        deviation_reason: str | None = None,
        actor: str | None = None,
    ) -> None:
        """Record one model call: ``model.invoked`` and ``model.responded``.

        A model or parameter set the policy does not approve raises PolicyViolation, or is
        recorded with a ``deviation.recorded`` event where the policy allows deviations.
        """
        if not provider or not model:
            raise ValidationError("model_call needs a provider and a model")
        params = parameters if parameters is not None else {}
        pol = self._policy
        invoked: dict[str, Any] = {"provider": provider, "model": model, "parameters": params}
        responded: dict[str, Any] = {}
        if pol is not None:
            problem = pol.model_problem(provider, model, params)
            if problem is not None:
                self._add("deviation.recorded", pol.deviation("model", problem, deviation_reason))
            if prompt is not None:
                pol.text("prompt", prompt, invoked)
            if output is not None:
                pol.text("output", output, responded)
        else:
            if prompt is not None:
                invoked["prompt"] = prompt
            if output is not None:
                responded["output"] = output
        if usage is not None:
            responded["usage"] = usage
        if latency_ms is not None:
            responded["latency_ms"] = latency_ms
        if error is not None:
            responded["error"] = error
        elif output is None:
            responded["error"] = "no output recorded"
        self._add("model.invoked", invoked, actor)
        self._add("model.responded", responded, actor)
        if self._done:
            self._late()

    def tool_call(
        self,
        *,
        name: str,
        inputs: Any = None,
        query: Any = None,
        sources: Sequence[dict[str, Any]] = (),
        retrieval: bool = False,
        actor: str | None = None,
    ) -> None:
        """Record a tool call (``tool.called``) or, with ``retrieval=True``, a retrieval
        (``retrieval.performed``); ``sources`` are ``{"ref", "digest"}`` references."""
        if not name:
            raise ValidationError("tool_call needs a name")
        payload: dict[str, Any] = {"name": name, "sources": [dict(s) for s in sources]}
        if inputs is not None:
            payload["inputs"] = inputs
        if query is not None:
            payload["query"] = query
        self._add("retrieval.performed" if retrieval else "tool.called", payload, actor)
        if self._done:
            self._late()

    def review(
        self,
        *,
        reviewer: str,
        approved: bool,
        reason: str | None = None,
        checklist: dict[str, bool] | None = None,
        guidance: dict[str, Any] | None = None,
    ) -> None:
        """Record a person's review of this run: assigned, (guidance acknowledged,
        checklist completed,) approved or rejected.

        The policy's separation of duties is checked first: an initiator reviewing their
        own run is refused where the policy separates the two roles.
        """
        if not reviewer:
            raise ValidationError("review needs a reviewer")
        if not approved and not reason:
            raise ValidationError("a rejection needs a reason")
        pol = self._policy
        if (
            pol is not None
            and reviewer == self.initiator
            and pol.policy.roles.must_differ("initiator", "reviewer")
        ):
            raise PolicyViolation(
                f"{reviewer} started run {self.run_id} and may not review it "
                f"(policy {pol.policy.id} separates initiator and reviewer)",
                rule="separation_of_duties",
                actor=reviewer,
            )
        self._add("review.assigned", {"reviewer": {"id": reviewer, "role": "reviewer"}})
        if guidance is not None:
            self._add("guidance.acknowledged", {"guidance": dict(guidance)}, reviewer, "reviewer")
        if checklist is not None:
            self._add("checklist.completed", {"items": dict(checklist)}, reviewer, "reviewer")
        decision: dict[str, Any] = {} if reason is None else {"reason": reason}
        etype = "review.approved" if approved else "review.rejected"
        self._add(etype, decision, reviewer, "reviewer")
        if self._done:
            self._late()

    def close(self, disposition: str, **fields: Any) -> None:
        """Record ``run.closed`` with a disposition (and any mandatory fields the policy
        names)."""
        if disposition not in _DISPOSITIONS:
            raise ValidationError(f"disposition must be one of {', '.join(_DISPOSITIONS)}")
        self._add("run.closed", {"disposition": disposition, **fields})
        if self._done:
            self._late()

    def _late(self) -> None:
        """Events added after the run's block ended (a stream read to its end later):
        spooled at once as a record of their own, chained after the run's others."""
        self._recorder._commit(self)

    # --- context manager ----------------------------------------------------------------

    def __enter__(self) -> Run:
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        self._done = True
        self._recorder._commit(self)

    async def __aenter__(self) -> Run:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class Recorder:
    """Records runs into a local spool and seals them into a RAIDT store.

    Args:
        home: RAIDT_HOME of the store (default: the environment, else ``./.raidt``).
        database_url: another store (default: ``RAIDT_DATABASE_URL``).
        url, token: a remote ``raidt serve`` to send runs to instead of a local store
            (default: ``RAIDT_URL`` and ``RAIDT_TOKEN`` when both are set).
        spool_dir: where acknowledged runs wait to be sealed (default:
            ``RAIDT_SPOOL_DIR``, else ``<home>/spool``).
        on_full: what a run does when the spool holds ``max_spool_bytes`` not yet sealed:
            ``"block"`` waits for a drainer up to ``block_timeout`` seconds, ``"fail"``
            raises :class:`~raidt.errors.SpoolFullError` at once. Never dropped silently.
        fsync: also ``fsync`` each run (survives a power cut, not only a crash; slower).
        enforce_policy: check runs against the use case's policy before recording
            (default: on for a local store; a remote store is not asked for policies).
            The policy in force is read once per recorder and use case, on the first run;
            a recorder made after a new policy version is added uses the new one.
    """

    def __init__(
        self,
        home: str | Path | None = None,
        database_url: str | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        spool_dir: str | Path | None = None,
        on_full: Literal["block", "fail"] = "block",
        max_spool_bytes: int = 1 << 30,
        segment_bytes: int = 16 << 20,
        block_timeout: float = 30.0,
        fsync: bool = False,
        enforce_policy: bool | None = None,
    ) -> None:
        env = os.environ
        self.home = Path(home if home is not None else env.get("RAIDT_HOME") or ".raidt")
        self.database_url = database_url
        self.url = url if url is not None else env.get("RAIDT_URL") or None
        self.token = token if token is not None else env.get("RAIDT_TOKEN") or None
        if self.url and not self.token:
            raise ValidationError("RAIDT_URL is set but RAIDT_TOKEN is not: give both")
        spool = spool_dir if spool_dir is not None else env.get("RAIDT_SPOOL_DIR")
        self.spool_dir = Path(spool) if spool else self.home / "spool"
        self.enforce_policy = (not self.url) if enforce_policy is None else enforce_policy
        self._writer = SpoolWriter(
            self.spool_dir,
            max_bytes=max_spool_bytes,
            segment_bytes=segment_bytes,
            on_full=on_full,
            block_timeout=block_timeout,
            fsync=fsync,
        )
        self._policies: dict[str, _PolicyView] = {}
        self._templates: dict[tuple[str, str], str | None] = {}
        self._trefs: dict[tuple[Any, ...], tuple[dict[str, Any], str | None]] = {}
        self._sink: Sink | None = None

    # --- recording ----------------------------------------------------------------------

    def run(
        self,
        *,
        use_case: str,
        initiator: str,
        team: str,
        risk_level: str,
        purpose: str | None = None,
        template: dict[str, Any] | None = None,
        data_context: Sequence[dict[str, Any]] = (),
        run_id: str | None = None,
        deviation_reason: str | None = None,
    ) -> Run:
        """Start recording a run; use the result as a (sync or async) context manager.

        Refuses (PolicyViolation) a template the policy does not approve, or no template
        where the policy asks for one, unless the policy allows deviations; then the
        deviation is recorded with the run.
        """
        if not use_case or not initiator or not team:
            raise ValidationError("a run needs use_case, initiator and team")
        if risk_level not in _RISK:
            raise ValidationError(f"risk_level must be one of {', '.join(_RISK)}")
        base = fast_id()
        rid = run_id or base
        if run_id is not None:
            base = fast_id()
        payload: dict[str, Any] = {
            "use_case": use_case,
            "team": team,
            "purpose": purpose,
            "risk_level": risk_level,
            "data_context": [dict(d) for d in data_context] if data_context else [],
        }
        pol = self._policy(use_case) if self.enforce_policy else None
        deviation: dict[str, Any] | None = None
        if template is not None:
            tkey = (use_case, template.get("id"), template.get("version"))
            known = self._trefs.get(tkey)
            if known is None:
                known = self._trefs[tkey] = self._template_ref(template, pol)
            tref, problem = known
            if problem:
                assert pol is not None
                deviation = pol.deviation("template", problem, deviation_reason)
            payload["template"] = tref
        elif pol is not None and pol.policy.approved_templates:
            approved = ", ".join(f"{t.id}@{t.version}" for t in pol.policy.approved_templates)
            problem = f"policy {pol.policy.id} asks for an approved template ({approved})"
            deviation = pol.deviation("template", problem, deviation_reason)
        if pol is not None:
            payload["policy"] = pol.ref
        events: list[list[Any]] = [
            [f"{base[:-2]}00", "run.started", _time_ns(), initiator, "initiator", payload]
        ]
        run = Run(self, rid, initiator, pol, base, events)
        if deviation is not None:
            run._add("deviation.recorded", deviation)
        return run

    def _template_ref(
        self, template: dict[str, Any], pol: _PolicyView | None
    ) -> tuple[dict[str, Any], str | None]:
        """The recorded template reference (with the stored template's hash) and the
        policy's objection to it, if any; memoised per use case and template version."""
        if not template.get("id") or template.get("version") in (None, ""):
            raise ValidationError("template must give 'id' and 'version'")
        tref: dict[str, Any] = {"id": str(template["id"]), "version": str(template["version"])}
        if pol is None:
            return tref, None
        stored = self._template_hash(tref["id"], tref["version"])
        if stored:
            tref["sha256"] = stored
        return tref, pol.policy.template_problem(tref["id"], tref["version"], stored)

    def _commit(self, run: Run) -> None:
        """Hand the finished run to the spool: one framed record, one write()."""
        if not run._events:
            return
        body = _dumps({"v": 1, "run_id": run.run_id, "events": run._events})
        run._events = []
        self._writer.append(body)

    def governed(self, **run_args: Any) -> Callable[[_F], _F]:
        """Decorator: each call of the function is one run (see :func:`governed`)."""
        return governed(recorder=self, **run_args)

    # --- the store ----------------------------------------------------------------------

    def _link(self) -> Sink:
        if self._sink is None:
            if self.url:
                from raidt.sdk._remote import RemoteSink

                self._sink = RemoteSink(self.url, cast(str, self.token))
            else:
                from raidt.sdk._local import LocalSink

                self._sink = LocalSink(self.home, self.database_url)
        return self._sink

    def _policy(self, use_case: str) -> _PolicyView:
        view = self._policies.get(use_case)
        if view is None:
            view = self._policies[use_case] = _PolicyView(self._link().policy_in_force(use_case))
        return view

    def _template_hash(self, template_id: str, version: str) -> str | None:
        key = (template_id, version)
        if key not in self._templates:
            self._templates[key] = self._link().template_hash(template_id, version)
        return self._templates[key]

    def flush(self) -> int:
        """Seal every run this recorder has acknowledged; returns the events sealed.

        Durable (hashed, chained, in the store, under a signed checkpoint) once this
        returns. Also seals what dead or closed writers left in the same spool folder.
        """
        from raidt.sdk._drain import Drainer

        mine = self._writer.rotate()
        return Drainer(self._link(), self.spool_dir).drain(wait_for=mine)

    def close(self) -> None:
        """Close the spool segment (what it holds stays for the next drain) and the store."""
        self._writer.close()
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: Recorder | None = None


def _default_recorder() -> Recorder:
    global _default
    if _default is None:
        _default = Recorder()
    return _default


def governed(recorder: Recorder | None = None, **run_args: Any) -> Callable[[_F], _F]:
    """Decorator: every call of the decorated function (sync or async) is one run.

    ``run_args`` are those of :meth:`Recorder.run` (``use_case``, ``initiator``, ``team``,
    ``risk_level``, ...). Inside, :func:`current_run` gives the run, and calls through a
    wrapped OpenAI client attach to it. The function's result and exceptions pass through
    unchanged; the run is recorded either way. Without ``recorder``, a recorder configured
    from the environment is made on first use.
    """

    def decorate(fn: _F) -> _F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def arun(*args: Any, **kwargs: Any) -> Any:
                rec = recorder or _default_recorder()
                async with rec.run(**run_args):
                    return await fn(*args, **kwargs)

            return cast(_F, arun)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            rec = recorder or _default_recorder()
            with rec.run(**run_args):
                return fn(*args, **kwargs)

        return cast(_F, run)

    return decorate
