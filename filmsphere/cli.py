"""Flask CLI commands; crontab.txt runs the periodic ones (cleanup, send-mail, audit-ledger)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from .models.types import utcnow


@click.command("audit-ledger")
@with_appcontext
def audit_ledger() -> None:
    """Verify every wallet balance equals the sum of its ledger entries (exit 1 if not)."""
    from .services.wallet import unbalanced_wallets

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

    from .services.demo import seed_demo as run

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
    from .services.accounts import create_admin as run
    from .services.errors import DomainError

    try:
        run(email=email, username=username, full_name=full_name, password=password, now=utcnow())
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"admin {username} created")


@click.command("send-mail")
@with_appcontext
def send_mail() -> None:
    """Send due messages from the outbox, with retries and backoff."""
    from .services.mailer import send_pending

    result = send_pending(utcnow())
    click.echo(str(result))


@click.command("cleanup")
@with_appcontext
def cleanup() -> None:
    """Delete expired holds and mark past shows finished (never touches paid data)."""
    from .services.cleanup import run_cleanup

    result = run_cleanup(utcnow())
    click.echo(str(result))


COMMANDS: list[click.Command] = [audit_ledger, seed_demo, create_admin, send_mail, cleanup]


def register(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
