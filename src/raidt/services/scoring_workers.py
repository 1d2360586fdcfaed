"""Rescoring a store with several processes: each scores one share of the runs.

Scoring is CPU-bound Python, so one process uses one core however many the machine has
(a million runs take several minutes on one core). ``raidt score --all --workers N`` cuts
the runs, in run-id order, into ``N`` shares of about equal size and scores each in its
own process: every worker opens the store itself, reads and verifies its runs, writes
their profiles (the store serialises the writes) and sends back what they add to the
readiness counts, the dashboard rollup and the weak-point counters; the parent adds those
up and writes them once, exactly as a single process would.

The comparable-runs tally is computed once by the parent and handed to the workers, so
every run is judged against the same summary whichever worker scores it. Workers are
started with ``spawn`` (a fresh interpreter: no database connection or thread is inherited
from the parent). A worker that fails stops the others, and its error is raised here.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raidt.errors import RaidtError

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from raidt.services.scoring import Progress, ScoringService, ShareTally

__all__ = ["WorkerError", "score_in_workers"]


class WorkerError(RaidtError):
    """A scoring worker failed (its error could not be passed back as it was)."""


@dataclass(frozen=True)
class _Job:
    """What one worker needs: where the store is, which rubric, the shared tally, and its
    share of the runs, ``(after, upto]``."""

    index: int
    home: str
    database_url: str
    rubric: tuple[str, str | None]
    comparables: Any
    after: str
    upto: str | None
    batch: int


def _work(job: _Job, out: Any) -> None:
    """Worker process body: score one share, report progress and the tally on ``out``."""
    try:
        from raidt.services.app import App
        from raidt.services.scoring import ScoringService

        # SQLite's default 2 MB page cache: the workers' commits drop each other's caches
        app = App.open(
            home=job.home, database_url=job.database_url, migrate=False, sqlite_cache_kib=2000
        )
        try:
            svc = ScoringService(app, *job.rubric)
            svc._comparables = job.comparables
            share = svc.score_share(
                after=job.after,
                upto=job.upto,
                batch=job.batch,
                on_batch=lambda n: out.put(("progress", job.index, n)),
            )
        finally:
            app.close()
        out.put(("done", job.index, share))
    except BaseException as exc:
        out.put(("error", job.index, _portable(exc)))


def _portable(exc: BaseException) -> BaseException:
    """``exc`` itself when it survives pickling, else a :class:`WorkerError` naming it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return WorkerError(text)


def score_in_workers(
    svc: ScoringService,
    workers: int,
    *,
    batch: int,
    progress: Progress | None,
    total: int,
) -> list[ShareTally]:
    """Score every run of ``svc``'s store with ``workers`` processes; their tallies.

    ``svc._comparables`` must hold the tally of the whole store (``score_all`` sets it).
    """
    cuts = svc.app.events.run_cuts(workers)
    bounds = list(zip(["", *cuts], [*cuts, None], strict=True))
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    rid, version = svc._rubric_ref
    jobs = [
        _Job(
            index=i,
            home=str(svc.app.home),
            database_url=svc.app.settings.database_url,
            rubric=(rid, version),
            comparables=svc._comparables,
            after=after,
            upto=upto,
            batch=batch,
        )
        for i, (after, upto) in enumerate(bounds)
    ]
    procs: list[BaseProcess] = [
        ctx.Process(target=_work, args=(job, out), name=f"raidt-score-{job.index}", daemon=True)
        for job in jobs
    ]
    for p in procs:
        p.start()
    done_by = [0] * len(jobs)
    results: dict[int, ShareTally] = {}
    try:
        while len(results) < len(jobs):
            try:
                kind, index, payload = out.get(timeout=1.0)
            except queue.Empty:
                dead = [
                    p.name for i, p in enumerate(procs) if i not in results and not p.is_alive()
                ]
                if dead and out.empty():
                    raise WorkerError(
                        f"scoring worker(s) {', '.join(dead)} stopped without a result "
                        "(killed, or out of memory?)"
                    ) from None
                continue
            if kind == "progress":
                done_by[index] = payload
                if progress:
                    progress(sum(done_by), total)
            elif kind == "done":
                results[index] = payload
                done_by[index] = payload.done
            else:
                raise payload
    finally:
        for p in procs:
            if p.is_alive() and len(results) < len(jobs):
                p.terminate()
        for p in procs:
            p.join()
        out.close()
    return [results[i] for i in range(len(jobs))]
