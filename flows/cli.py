"""The ``gaitwatch`` command. Exit codes (docs/operations.md): 0 all good (including
"nothing new"); 1 an input was rejected (one line per file says why); 2 usage or
configuration error, or the database is in use; 3 a data test failed: nothing was
published and no report written. Our own errors
(:class:`ingest.errors.GaitwatchError`) are printed as one line, never a traceback.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.config import ConfigError, load_config
from ingest.errors import GaitwatchError
from ingest.safety import text_path

if TYPE_CHECKING:
    from flows.config import Config
    from flows.pipeline import IngestReport, Status

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_DATA_TESTS = 0, 1, 2, 3

app = typer.Typer(
    name="gaitwatch",
    help="Gait and load early warning from running-watch files (FIT, GPX, TCX).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="gaitwatch.toml (default: ./gaitwatch.toml if present, else built-in defaults).",
        dir_okay=False,
    ),
]
DbOpt = Annotated[Path | None, typer.Option("--db", help="Working DuckDB file (config: database).")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show the run's logs (per-file detail, Prefect).")
]


def _quiet_prefect(verbose: bool) -> None:
    """Set before Prefect is imported: no telemetry (FACTS.md), Prefect's console logs only
    for real failures (``-v`` shows all), time for its temporary server's first start."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "ERROR")
    # Other libraries' log records reach Prefect's console handler through the root logger
    # (e.g. a library's warnings): errors only, unless -v.
    os.environ.setdefault("PREFECT_LOGGING_ROOT_LEVEL", "WARNING" if verbose else "ERROR")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # A new machine's first start creates Prefect's database: 18-33 s on 2 slow cores, past
    # Prefect's 20 s default (`make run` then failed on a fresh machine).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")


class _OursIsOneLine(logging.Filter):
    """Drop Prefect's console records about our own errors (a traceback, then "Finished in
    state Failed(...)"): the command prints them as one line. Bugs keep their traceback."""

    @staticmethod
    def _names(cls: type[Exception] = GaitwatchError) -> set[str]:
        names = {cls.__name__}
        sub: type[Exception]
        for sub in cls.__subclasses__():
            names |= _OursIsOneLine._names(sub)
        return names

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], GaitwatchError):
            return False
        msg = record.getMessage()
        if "Failed(" in msg or "encountered an exception" in msg:
            return not any(f"{n}:" in msg or f"{n}(" in msg for n in self._names())
        return True


@contextmanager
def _flow_command(verbose: bool, early_server: bool = True) -> Iterator[Callable[[], None]]:
    """A command that runs flows: Prefect quiet (set before it is imported), its console
    filtered, our errors handled (one line, documented exit code). Without a configured
    Prefect server, a temporary one starts now (flows/tempserver.py); the command calls
    the ``ready`` it is given just before its first flow, which waits for it."""
    _quiet_prefect(verbose)
    from flows import tempserver

    server = tempserver.TemporaryServer() if early_server and tempserver.wanted() else None
    with _handled(), ExitStack() as stack:
        import prefect.main  # noqa: F401 - configures Prefect's logging: its handlers exist now
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

        _filter_prefect_console()
        stack.enter_context(_no_heartbeat_wait())
        if server and PREFECT_API_URL.value():  # a server named in a Prefect profile
            server.stop()
            server = None
        started = False

        def ready() -> None:
            nonlocal started
            if server and not started:
                started = True
                server.wait_ready(float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
                # no UI URL: -v would print "View at" links to a server gone with the command
                stack.enter_context(temporary_settings(updates={PREFECT_API_URL: server.api_url,
                                                                PREFECT_UI_URL: ""}))
                stack.callback(server.stop)
                stack.callback(tempserver.drain_prefect)  # first: logs and events still sent

        yield ready


@contextmanager
def _no_heartbeat_wait() -> Iterator[None]:
    """No flow-run heartbeats unless ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` is set: the engine
    joins its heartbeat thread, which sleeps in whole seconds, after every flow run (0-1 s
    of waiting). The process reports its run's end, failures too; heartbeats only flag runs
    whose process was killed, given an automation for it. ``gaitwatch serve`` keeps them."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )

    if "heartbeat_frequency" in get_current_settings().flows.model_fields_set:
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _filter_prefect_console() -> None:
    flt = _OursIsOneLine()
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", ""):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(flt)


def _err(message: str) -> None:
    typer.echo(" ".join(message.split()), err=True)


@contextmanager
def _handled() -> Iterator[None]:
    """Our errors -> one line and the documented exit code."""
    from flows.pipeline import is_transient_io_error
    from warehouse.datatests import DataTestError

    try:
        yield
    except typer.Exit:
        raise
    except ConfigError as exc:
        _err(f"gaitwatch: configuration error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    except DataTestError as exc:
        for f in exc.failures:
            _err(f"gaitwatch: data test failed: {f}")
        _err("gaitwatch: nothing was published and no report written")
        raise typer.Exit(EXIT_DATA_TESTS) from None
    except GaitwatchError as exc:
        _err(f"gaitwatch: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as exc:
        if is_transient_io_error(exc) and "lock" in str(exc).lower():
            _err(
                "gaitwatch: the database is in use by another process "
                "(a running `gaitwatch watch` or `run`?); try again when it is done"
            )
            raise typer.Exit(EXIT_USAGE) from None
        raise


def _config(config: Path | None, *, need_db: bool = False, **paths: Path | None) -> Config:
    cfg = load_config(config, must_exist=config is not None).with_paths(**paths)
    for p in filter(None, (cfg.source, cfg.inbox, cfg.database, cfg.reports_dir, cfg.published_database)):
        text_path(p)  # every one becomes a flow parameter
    if need_db and not cfg.database.exists():
        raise ConfigError(f"no database at {cfg.database}: run `gaitwatch run` or `ingest` first")
    return cfg


@contextmanager
def _progress(enabled: bool) -> Iterator[None]:
    """A rich progress bar for long work, on a terminal only (cron logs stay clean)."""
    from flows.pipeline import Progress

    if not enabled or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    bar = RichProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[what]}", style="dim"),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def start(stage: str, total: int) -> None:
        if total:
            tasks[stage] = bar.add_task(stage, total=total, what="")

    def advance(stage: str, n: int, what: str) -> None:
        if stage in tasks:
            bar.update(tasks[stage], advance=n, what=what[-50:])

    def done(stage: str) -> None:
        if stage in tasks:
            bar.remove_task(tasks.pop(stage))

    Progress.start, Progress.advance, Progress.done = start, advance, done
    try:
        with bar:
            yield
    finally:
        Progress.start = Progress.advance = Progress.done = None


def _print_ingest(report: IngestReport) -> int:
    """One line of totals, one line per rejected file; returns the exit code."""
    typer.echo(f"ingest: {report.one_line()}")
    waiting = report.waiting
    if waiting:
        more = f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
        typer.echo(f"  {len(waiting)} file(s) still being copied, left for the next run: "
                   f"{', '.join(waiting[:3])}{more}")
    rejected = report.rejected
    for o in rejected:
        _err(f"rejected: {o.rel}: {o.reason}")
    return EXIT_REJECTED if rejected else EXIT_OK


@app.command()
def run(
    config: ConfigOpt = None,
    inbox: Annotated[Path | None, typer.Option(help="Inbox folder (config: inbox).")] = None,
    db: DbOpt = None,
    reports: Annotated[Path | None, typer.Option(help="Reports folder (config: reports).")] = None,
    published_db: Annotated[
        Path | None, typer.Option(help="Published (analyst) DuckDB file (config: published_database).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Decoding processes, 0 = one per CPU (config: ingest.workers).")
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """The main job, once: ingest, metrics, data tests, reports, publish.

    What the nightly deployment does, run once in this process.
    """
    with _flow_command(verbose) as ready:
        cfg = _config(config, inbox=inbox, database=db, reports_dir=reports,
                      published_database=published_db)
        from flows.flows import nightly
        from ingest.inbox import prewarm_decoders, wait_to_settle

        # A person just copied files in: wait (bounded) rather than leave them all for a
        # "next run" that may never come (issue 16). Scheduled runs keep the plain window.
        scan = wait_to_settle(cfg.rules, cfg.settle_wait_seconds, typer.echo)
        n = cfg.workers if workers is None else workers
        prewarm_decoders(cfg.rules, cfg.database, n, scan=scan)  # start-up overlaps Prefect's
        ready()
        with _progress(True):
            result = nightly(config=cfg.source, inbox=cfg.inbox, database=cfg.database,
                             reports_dir=cfg.reports_dir,
                             published_database=cfg.published_database, workers=workers)
        code = _print_ingest(result.ingest)
        typer.echo(f"metrics: {result.metrics.one_line()}")
        index = cfg.reports_dir / "index.html"
        written = f"{len(result.reports)} files written" if result.reports else "up to date"
        typer.echo(f"reports: {written}; open {index}")
        typer.echo(f"published: {result.published}")
    raise typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or .zip/.gz archives.")],
    athlete: Annotated[
        str | None, typer.Option(help="Whose files these are (config: default_athlete).")
    ] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    workers: Annotated[int | None, typer.Option(min=0, help="Decoding processes.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Load files, folders or archives for one athlete now (then update the metrics)."""
    with _flow_command(verbose) as ready:
        cfg = _config(config, database=db)
        if athlete is not None:
            from ingest.safety import normalize_athlete_id

            athlete = normalize_athlete_id(athlete)
        from flows.flows import ingest_paths
        from ingest.inbox import prewarm_decoders

        given = [text_path(p.resolve()) for p in paths]  # before any work: one clear line
        n = cfg.workers if workers is None else workers
        prewarm_decoders(cfg.rules, cfg.database, n, files=len(paths))
        ready()
        with _progress(True):
            report = ingest_paths(
                paths=given,
                athlete=athlete,
                config=cfg.source,
                database=cfg.database,
                workers=workers,
            )
        code = _print_ingest(report)
    raise typer.Exit(code)


_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")


@app.command()
def report(
    athlete: Annotated[list[str] | None, typer.Option(help="Athlete id (repeatable; default all).")] = None,
    week: Annotated[
        list[str] | None, typer.Option(help="ISO week such as 2026-W47 (repeatable; default all).")
    ] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    reports: Annotated[Path | None, typer.Option(help="Reports folder (config: reports).")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Write the weekly reports (HTML and Markdown) from the database."""
    for w in week or []:
        if not _WEEK.match(w):
            _err(f"gaitwatch: --week must look like 2026-W47, got {w!r}")
            raise typer.Exit(EXIT_USAGE)
    with _flow_command(verbose) as ready:
        cfg = _config(config, database=db, reports_dir=reports, need_db=True)
        ids = None
        if athlete:
            from ingest.safety import normalize_athlete_id

            ids = [normalize_athlete_id(a) for a in athlete]
        from flows.flows import weekly_reports

        ready()
        paths = weekly_reports(
            config=cfg.source,
            database=cfg.database,
            reports_dir=cfg.reports_dir,
            athletes=ids,
            weeks=week or None,
        )
        for p in paths:
            typer.echo(str(p))
        if not paths:
            typer.echo("no report: no data for that athlete/week")
    raise typer.Exit(EXIT_OK)


@app.command()
def watch(
    config: ConfigOpt = None,
    inbox: Annotated[Path | None, typer.Option(help="Folder to watch (config: inbox).")] = None,
    db: DbOpt = None,
    settle: Annotated[
        float | None,
        typer.Option(min=0.0, help="Seconds a file must be unchanged (config: inbox_options.settle_seconds)."),
    ] = None,
    nightly_each_time: Annotated[
        bool, typer.Option("--full", help="Run the whole nightly job (reports, publish) after each drop.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Watch the inbox and load files once they have finished copying (Ctrl-C to stop)."""
    with _flow_command(verbose) as ready:
        cfg = _config(config, inbox=inbox, database=db)
        if settle is not None:
            from dataclasses import replace

            cfg = replace(cfg, settle_seconds=settle)
        from flows.watch import watch_inbox

        ready()
        code = watch_inbox(cfg, full=nightly_each_time, echo=typer.echo, verbose=verbose)
    raise typer.Exit(code)


@app.command()
def serve(config: ConfigOpt = None, verbose: VerboseOpt = False) -> None:
    """Serve the nightly and inbox-poll deployments to a Prefect server.

    Schedules come from the configuration's [schedule] table; needs PREFECT_API_URL
    (a running `prefect server start`). Ctrl-C to stop.
    """
    with _flow_command(verbose, early_server=False):
        cfg = _config(config)
        from flows.serve import serve_deployments

        serve_deployments(cfg)
    raise typer.Exit(EXIT_OK)


@app.command()
def status(
    config: ConfigOpt = None,
    db: DbOpt = None,
    athlete: Annotated[str | None, typer.Option(help="Only this athlete.")] = None,
    all_files: Annotated[bool, typer.Option("--all", help="List every file, not only rejected ones.")] = False,
) -> None:
    """What was loaded, what was rejected and why (from the database's ingest_log)."""
    with _handled():
        cfg = _config(config, database=db, need_db=True)
        from flows.pipeline import ingest_status

        st = ingest_status(cfg, athlete)
        _render_status(st, all_files)
    raise typer.Exit(EXIT_OK)


def _render_status(st: Status, all_files: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    totals = Table(title="Loaded, per athlete")
    for col in st.totals_columns:
        totals.add_column(col)
    for row in st.totals_rows:
        totals.add_row(*[str(v) for v in row])
    console.print(totals)
    rows = st.files if all_files else [r for r in st.files if r["status"] == "rejected"]
    title = "Files" if all_files else "Rejected files"
    # One plain line per file (never folded), so it greps and pipes well.
    console.print(f"\n[bold]{title} ({len(rows)})[/bold]", highlight=False)
    for r in rows:
        reason = f": {r['reason']}" if r["reason"] else ""
        typer.echo(f"{r['when']}  {r['status']:<9} {r['athlete']}  {r['file']}{reason}")


@app.command()
def evaluate(
    athlete: Annotated[str, typer.Option(help="Athlete id.")],
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Back-test the flags against the athlete's journal: alarm rates, pain/injury episodes
    preceded by a warning (lead time), the chance rate, and possible layoffs."""
    with _handled():
        cfg = _config(config, database=db, need_db=True)
        from ingest.safety import normalize_athlete_id
        from transforms.evaluate import summary_text
        from warehouse.evaluation import read_evaluation
        from warehouse.store import Warehouse

        aid = normalize_athlete_id(athlete)
        with Warehouse.open(cfg.database) as wh:  # stored by the metrics stage (v_evaluation)
            ev = read_evaluation(wh, aid)
        typer.echo(summary_text(ev) if ev.rates.height else f"no weekly results for {aid}")
    raise typer.Exit(EXIT_OK)


# ------------------------------------------------------------------ training journal (issue 12)


@app.command("log")
def log_entry(
    kind: Annotated[str, typer.Argument(
        help="strength, cross_training, pain, injury, illness or note.")],
    athlete: Annotated[str | None, typer.Option(help="Athlete (config: default_athlete).")] = None,
    minutes: Annotated[float | None, typer.Option(help="Duration, minutes.")] = None,
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD, or another date form the journal reads (docs/exports.md); default: today.")] = None,
    body_part: Annotated[str | None, typer.Option("--body-part", help='e.g. "left hip".')] = None,
    side: Annotated[str | None, typer.Option(help="left, right or both.")] = None,
    severity: Annotated[int | None, typer.Option(help="Pain, 0-10 scale.")] = None,
    text: Annotated[str | None, typer.Option(help="Free text.")] = None,
    config: ConfigOpt = None,
    inbox: Annotated[Path | None, typer.Option(help="Inbox folder (config: inbox).")] = None,
) -> None:
    """Append an entry to inbox/<athlete>/journal.csv (loaded by the next run)."""
    from datetime import date

    from ingest.journal import JournalError, append_entry, new_entry
    from ingest.safety import normalize_athlete_id

    with _handled():
        cfg = _config(config, inbox=inbox)
        athlete_id = normalize_athlete_id(athlete) if athlete else cfg.default_athlete
        entry = new_entry(kind, day or date.today().isoformat(), minutes, body_part, side,
                          severity, text)
        path = cfg.inbox / athlete_id / "journal.csv"
        try:
            line = append_entry(path, entry, athlete_id)
        except (ValueError, JournalError) as exc:
            _err(f"gaitwatch: journal entry not written: {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        typer.echo(f"journal: {path} line {line}: {entry['date']} {kind}")
    raise typer.Exit(EXIT_OK)


def main() -> None:
    """The ``gaitwatch`` command, then an exit without the interpreter's teardown of every
    module (0.35-0.4 s after each command's work). First, as Python orders it: the
    threads' exit hooks (Prefect sends queued logs and events), then ``atexit``."""
    import atexit
    import threading

    try:
        app()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    sys.stdout.flush()
    threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads too
    atexit._run_exitfuncs()
    status = 0 if code is None else code if isinstance(code, int) else 1
    if not isinstance(code, int | None):
        print(code, file=sys.stderr)  # as the interpreter prints a SystemExit message
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
