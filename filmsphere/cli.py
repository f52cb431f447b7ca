"""Flask CLI commands; crontab.txt runs the periodic ones (cleanup, send-mail, mail-health…)."""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
from types import FrameType

import click
from flask import Flask
from flask.cli import with_appcontext

from .models.types import utcnow

log = logging.getLogger(__name__)


@click.command("audit-ledger")
@with_appcontext
def audit_ledger() -> None:
    """Verify every wallet balance equals the sum of its ledger entries (exit 1 if not)."""
    from .services.wallet.wallet import unbalanced_wallets

    problems = unbalanced_wallets()
    for wallet_id, balance, total, last in problems:
        click.echo(
            f"wallet {wallet_id}: balance {balance}, ledger sum {total}, newest entry says {last}",
            err=True,
        )
    if problems:
        sys.exit(1)
    click.echo("ledger balanced: every wallet equals the sum of its entries")


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even in production (creates known logins).")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Load demo films, screens, a week of shows and demo accounts; print the logins."""
    from flask import current_app

    from .services.ops.demo import seed_demo as run

    if current_app.config["ENV_NAME"] == "production" and not force:
        raise click.ClickException(
            "seed-demo creates accounts with published passwords (an admin among them), so it "
            "refuses to run in production. Use FILMSPHERE_ENV=development, or --force."
        )

    for line in run(utcnow()):
        click.echo(line)


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--username", prompt=True)
@click.option("--full-name", prompt="Full name")
@click.password_option()
@with_appcontext
def create_admin(email: str, username: str, full_name: str, password: str) -> None:
    """Create an administrator account (verified, with a wallet)."""
    from .services.accounts.accounts import create_admin as run
    from .services.errors import DomainError

    try:
        run(email=email, username=username, full_name=full_name, password=password, now=utcnow())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"admin {username} created")


@click.command("send-mail")
@click.option(
    "--watch",
    is_flag=True,
    help="Keep sending until SIGTERM or SIGINT, instead of one pass (run it as a service).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="With --watch: seconds to wait after a pass that sent nothing.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Senders side by side for a large backlog (one pass; each its own SMTP connection).",
)
@with_appcontext
def send_mail(watch: bool, interval: float, processes: int) -> None:
    """Send due messages from the outbox, with retries and backoff."""
    from .services.mail.mailer import send_pending, send_pending_in_processes

    if watch:
        if processes > 1:
            raise click.UsageError("--processes is for one pass; run more watchers instead")
        watch_outbox(interval)
        return
    if processes > 1:
        result = send_pending_in_processes(utcnow(), processes)
    else:
        result = send_pending(utcnow())
    click.echo(str(result))


# A database outage backs the watcher off up to this long between tries.
WATCH_MAX_BACKOFF_SECONDS = 60.0


class StopSignal:
    """SIGTERM and SIGINT ask the watcher to stop; `sleep` returns as soon as one arrives.

    The handler only sets a flag: whatever runs (an SMTP exchange, a commit) finishes.
    Sleeping waits on a pipe that Python writes each signal to (signal.set_wakeup_fd),
    because setting a threading.Event from a handler can deadlock on the Event's own lock.
    A second signal of the same kind, with its default action back in place, ends the
    process at once.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # set_wakeup_fd needs a non-blocking fd

    def __enter__(self) -> StopSignal:
        self._old_wakeup_fd = signal.set_wakeup_fd(self._write_fd)
        self._old_handlers = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup_fd)
        os.close(self._read_fd)
        os.close(self._write_fd)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signum, signal.SIG_DFL)

    def __call__(self) -> bool:
        return self.requested

    def sleep(self, seconds: float) -> None:
        if not self.requested:
            select.select([self._read_fd], [], [], seconds)


def watch_outbox(interval: float) -> None:
    """Run send_pending until SIGTERM or SIGINT, then return (exit code 0).

    After a pass that sent something the next pass starts at once (more may have been
    queued meanwhile); otherwise it waits `interval`. Leasing is send_pending's, so
    several watchers, or a watcher and cron, never send one message twice in normal
    operation (send_pending's at-least-once crash window remains). SMTP failures
    are retried per message by send_pending; any other failure (the database is down) is
    reported in one line and retried with a backoff doubling up to a minute. On a signal
    the message being sent is finished and the rest of the batch is released at once.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from .extensions import db
    from .services.mail.mailer import send_pending

    click.echo(f"mail: watching the outbox (every {interval:g} s when idle)")
    failures = 0
    with StopSignal() as stop:
        while not stop():
            try:
                result = send_pending(utcnow(), should_stop=stop)
            except Exception as exc:  # noqa: BLE001 - the watcher outlives outages
                failures += 1
                delay = min(
                    WATCH_MAX_BACKOFF_SECONDS, max(interval, 1.0) * 2 ** min(failures - 1, 6)
                )
                reason = (str(exc).strip().splitlines() or [""])[0]
                click.echo(
                    f"mail: pass failed ({type(exc).__name__}: {reason}); "
                    f"trying again in {delay:g} s",
                    err=True,
                )
                if not isinstance(exc, SQLAlchemyError):  # a bug rather than an outage
                    log.exception("mail watcher pass failed")
                stop.sleep(delay)
                continue
            finally:
                db.session.remove()
            failures = 0
            if result.sent or result.retrying or result.failed:
                click.echo(str(result))
            if not result.sent:
                stop.sleep(interval)
    click.echo("mail: stopped")


@click.command("mail-health")
@click.option(
    "--stuck-minutes",
    type=click.IntRange(min=1),
    default=None,
    help="Stuck when a message has waited longer than this [default: MAIL_STUCK_MINUTES].",
)
@click.option(
    "--failed-hours",
    type=click.IntRange(min=1),
    default=None,
    help="Report messages given up this recently [default: MAIL_FAILED_WINDOW_HOURS].",
)
@click.option("--quiet", is_flag=True, help="Print nothing when mail flows (for cron).")
@with_appcontext
def mail_health(stuck_minutes: int | None, failed_hours: int | None, quiet: bool) -> None:
    """Exit 1 when mail is stuck or was given up recently, for cron and monitoring."""
    from datetime import timedelta

    from .services.mail.admin_mail import outbox_health

    health = outbox_health(
        utcnow(),
        stuck_after=timedelta(minutes=stuck_minutes) if stuck_minutes else None,
        failed_within=timedelta(hours=failed_hours) if failed_hours else None,
    )
    problems = health.problems()
    for line in problems:
        click.echo(line, err=True)
    if not quiet or problems:
        click.echo(health.summary())
    if problems:
        sys.exit(1)


@click.command("cleanup")
@with_appcontext
def cleanup() -> None:
    """Delete expired holds and log-in sessions, mark past shows finished (never touches
    paid data), then offer the seats that came back to the shows' waitlists."""
    from .services.booking.waitlist import run_waitlists
    from .services.ops.cleanup import run_cleanup

    now = utcnow()
    result = run_cleanup(now)
    click.echo(str(result))
    click.echo(f"waitlists: {run_waitlists(now)} offer(s) made")


@click.command("send-reminders")
@with_appcontext
def send_reminders() -> None:
    """Queue the show reminders that are due (each goes once, however many runs)."""
    from .services.mail.reminders import send_reminders as run

    click.echo(str(run(utcnow())))


@click.command("roll-up-reports")
@with_appcontext
def roll_up_reports() -> None:
    """Store the dashboard's figures of every closed day of the last year not stored yet
    (a day's figures never change once it has ended; the dashboard reads them back)."""
    from .services.ops.report_days import roll_up_closed_days

    click.echo(f"report days: {roll_up_closed_days(utcnow())} rolled up")


COMMANDS: list[click.Command] = [
    audit_ledger,
    seed_demo,
    create_admin,
    send_mail,
    mail_health,
    cleanup,
    send_reminders,
    roll_up_reports,
]


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
