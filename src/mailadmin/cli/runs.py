"""``mailadmin worker`` and ``mailadmin runs``: distributed bulk work (docs/scaling.md).

Loaded by ``cli/root.py`` when one of these commands runs. Nothing here imports
procrastinate until a worker starts or a run is enqueued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.root import (
    _global_options,
    _Group,
    _run,
    _State,
    cli,
    confirm_removal,
    pass_state,
    yes_option,
)

if TYPE_CHECKING:
    from mailadmin.cli.batch import Batch
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.storage import RunStatus


async def run_distributed(
    state: _State,
    orch: Orchestrator,
    operation: str,
    items: list[dict[str, Any]],
    *,
    detach: bool,
    on_error: str,
) -> Batch[Any] | None:
    """Enqueue a run; with ``detach`` print its id, else follow it to the end."""
    from mailadmin.cli.batch import Batch

    run_id = await orch.runs.submit(operation, items)
    if detach:
        if state.output.as_json:
            state.output.json({"run_id": run_id, "items": len(items)})
        else:
            state.output.line(run_id)
            state.output.note(
                f"run {run_id}: {len(items)} items enqueued; mailadmin runs show {run_id}"
            )
        return None
    state.output.note(f"run {run_id}: {len(items)} items enqueued for the workers")
    with state.output.progress("run " + run_id, len(items)) as progress:
        result = await orch.runs.follow(run_id, progress=progress)
    del on_error  # every item is sent on the workers; the mode only shapes the report
    return Batch[Any](items=result.items, run_id=run_id)


@cli.command()
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Jobs (chunks) this worker runs at once.",
)
@click.option(
    "--queues",
    multiple=True,
    metavar="INSTANCE",
    help="Only the jobs of these provider instances (repeat; default: every one).",
)
@click.option(
    "--heartbeat",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds between this worker's heartbeats.",
)
@click.option(
    "--stalled-after",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.5, 86400),
    help="Seconds without a heartbeat after which a worker is taken for dead and its "
    "running jobs are handed to another worker.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve this worker's Prometheus /metrics on 127.0.0.1:PORT (docs/operations.md).",
)
@_global_options
@pass_state
def worker(
    state: _State,
    concurrency: int,
    queues: tuple[str, ...],
    heartbeat: float,
    stalled_after: float,
    metrics_port: int | None,
) -> None:
    """Run distributed bulk work until SIGINT or SIGTERM (running chunks finish first).

    Start as many as you like, on as many machines as share the configuration and its
    PostgreSQL [journal] url. See docs/scaling.md.

    \b
    Example:
      mailadmin --config /etc/mailadmin.toml worker --concurrency 16
    """
    from mailadmin.worker.engine import run_worker

    async def work(orch: Orchestrator) -> None:
        def ready() -> None:
            names = ", ".join(queues) if queues else "every instance"
            state.output.note(f"worker ready: concurrency {concurrency}, queues: {names}")

        await run_worker(
            orch,
            concurrency=concurrency,
            queues=list(queues),
            heartbeat=heartbeat,
            stalled_after=stalled_after,
            ready=ready,
            metrics_port=metrics_port,
        )

    _run(state, work)


@cli.group(cls=_Group, invoke_without_command=True)
@_global_options
@click.pass_context
def runs(ctx: click.Context) -> None:
    """Distributed runs: list (default), show ID, cancel ID, prune."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(runs_list)


@runs.command("list")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="How many runs, newest first.",
)
@click.option("--all", "show_all", is_flag=True, help="Every run (overrides --limit).")
@_global_options
@pass_state
def runs_list(state: _State, limit: int = 50, show_all: bool = False) -> None:
    """The most recent distributed runs with their progress.

    \b
    Example:
      mailadmin runs list --limit 10
    """

    async def work(orch: Orchestrator) -> tuple[list[RunStatus], set[str], int]:
        total = await orch.runs.count()
        found = await orch.runs.recent(total if show_all else limit)
        return found, await orch.runs.waiting_for_worker(found), total

    found, waiting, total = _run(state, work)
    cut = (
        f"showing {len(found)} of {total} runs (newest first); see every one with --all"
        if total > len(found)
        else None
    )
    if state.output.as_json:
        state.output.json([_status_json(s, s.run_id in waiting) for s in found])
        if cut:
            state.output.note(cut)
        return
    # Six columns fit 80; who started it and the per-state counts: runs show ID, --json.
    rows = [
        (
            s.run_id,
            s.created.strftime("%Y-%m-%d %H:%M"),
            s.operation,
            "waiting" if s.run_id in waiting else s.state,
            f"{s.settled}/{s.total}",
            s.counts.get("failed", 0),
        )
        for s in found
    ]
    columns = ("run", "created", "operation", "state", "ended", "failed")
    notes = [_NO_WORKER] if waiting else []
    if cut:
        notes.append(cut)
    state.output.table("Distributed runs", columns, rows, notes)


@runs.command("show")
@click.argument("run_id")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["pending", "done", "failed", "cancelled"]),
    help="Only items in this state (repeat), e.g. --state failed.",
)
@_global_options
@pass_state
def runs_show(state: _State, run_id: str, states: tuple[str, ...]) -> None:
    """Progress and per-item results of one run.

    \b
    Example:
      mailadmin runs show 3f9c2a1b7d4e5f60 --state failed
    """

    async def work(orch: Orchestrator) -> tuple[RunStatus, list[Any], bool]:
        status = await orch.runs.status(run_id)
        items = await orch.runs.items(run_id, states or None)
        return status, items, bool(await orch.runs.waiting_for_worker([status]))

    status, items, waiting = _run(state, work)
    if state.output.as_json:
        state.output.json({**_status_json(status, waiting), "items": items})
        return
    rows = [
        (
            i["seq"] + 1,
            _subject(i["item"]),
            i["state"],
            i["outcome"] or "",
            i["attempts"],
            i["error_message"] or "",
        )
        for i in items
    ]
    state.output.table(
        f"Run {status.run_id} ({status.operation}, {status.state})",
        ("#", "item", "state", "outcome", "attempts", "error"),
        rows,
        wrap=("item", "error"),
    )
    state.output.line(_progress_text(status))
    if waiting:
        state.output.line(_NO_WORKER)


@runs.command("cancel")
@click.argument("run_id")
@_global_options
@pass_state
def runs_cancel(state: _State, run_id: str) -> None:
    """Stop a run cleanly: no new item starts, items on the wire finish and are recorded,
    the rest end 'cancelled'.

    \b
    Example:
      mailadmin runs cancel 3f9c2a1b7d4e5f60
    """
    status = _run(state, lambda orch: orch.runs.cancel(run_id))
    if state.output.as_json:
        state.output.json(_status_json(status))
        return
    state.output.line(f"run {run_id}: {status.state}; " + _progress_text(status))


@runs.command("prune")
@click.option(
    "--older-than",
    "hours",
    type=click.IntRange(0, 87_600),
    default=None,
    metavar="HOURS",
    help="Delete jobs finished more than HOURS ago (default: [worker] keep_jobs_hours; "
    "0: every finished job).",
)
@yes_option
@_global_options
@pass_state
def runs_prune(state: _State, hours: int | None, yes: bool) -> None:
    """Delete the workers' finished jobs now (the workers also do it every hour).

    Only procrastinate's job rows go: every run, its progress and its per-item results
    stay (mailadmin runs show ID). Asks for confirmation on a terminal; scripts pass --yes.

    \b
    Example:
      mailadmin runs prune --older-than 24 --yes
    """
    from mailadmin.worker.prune import prune_jobs

    age = "the configured age" if hours is None else f"{hours} hours"
    confirm_removal(f"Delete the workers' jobs finished more than {age} ago?", yes)

    deleted = _run(state, lambda orch: prune_jobs(orch, hours))
    if state.output.as_json:
        state.output.json({"deleted_jobs": deleted})
        return
    state.output.line(f"{deleted} finished job(s) deleted")


def _subject(item: dict[str, Any]) -> str:
    if "mailbox" in item:
        return f"{item['mailbox']} -> {item['plan']}"
    if "sale" in item:
        sale = item["sale"]
        return f"sell {sale.get('addon')} x {sale.get('quantity')} to {item.get('name')}"
    if "addon" in item:
        return f"{item.get('tenant')} {item.get('addon')} = {item.get('quantity')}"
    return f"count {item.get('tenant')}"


def _progress_text(status: RunStatus) -> str:
    parts = [f"{n} {state}" for state, n in sorted(status.counts.items())]
    return f"{status.settled} of {status.total} items ended ({', '.join(parts) or 'none'})"


_NO_WORKER = (
    "waiting: no worker has taken the run yet; start one with 'mailadmin worker' "
    "(same configuration and database)"
)


def _status_json(status: RunStatus, waiting: bool = False) -> dict[str, Any]:
    return {
        "waiting_for_worker": waiting,
        "run_id": status.run_id,
        "operation": status.operation,
        "created": status.created.isoformat(),
        "identity": status.identity,
        "state": status.state,
        "total": status.total,
        "ended": status.settled,
        "counts": status.counts,
        "finished": status.finished.isoformat() if status.finished else None,
        "cancelled": status.cancelled.isoformat() if status.cancelled else None,
    }
