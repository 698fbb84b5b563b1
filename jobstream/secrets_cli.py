"""``jobstream secrets set|ls|rm|shred|rotate-kek``: secrets on the secrets topic, written and read
directly (whoever runs them reaches the broker and holds the KEK: an operator of the deployment).
A value is read from stdin, never from the command line (which ``ps`` shows)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from jobstream.api_client import Output
from jobstream.config import Settings
from jobstream.schemas import DEFAULT_NAMESPACE, NAMESPACE_PATTERN, valid_namespace
from jobstream.tables import Format, print_data, print_rows

app = typer.Typer(no_args_is_help=True, help="Secrets that tasks refer to (env_from): set, list, delete, shred.")
Namespace = Annotated[str, typer.Option(help="the namespace of the secret")]


def _namespace(namespace: str) -> str:
    if not valid_namespace(namespace):
        raise typer.BadParameter(f"must match {NAMESPACE_PATTERN}", param_hint="--namespace")
    return namespace


def _read_value() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("value", hide_input=True))
    return sys.stdin.read().removesuffix("\n")


@app.command("set")
def set_(name: Annotated[str, typer.Argument(help="the secret's name, e.g. db-password")],
         namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Set a secret's value, read from stdin (or a hidden prompt): only its ciphertext is written."""
    from jobstream.core.secret_book import SECRET_NAME_PATTERN, valid_secret_name
    from jobstream.secrets_admin import set_secret

    if not valid_secret_name(name):
        raise typer.BadParameter(f"must match {SECRET_NAME_PATTERN}", param_hint="NAME")
    value = _read_value()
    if not value:
        raise typer.BadParameter("the value is empty", param_hint="stdin")
    record = set_secret(Settings.from_env(), _namespace(namespace), name, value, datetime.now(UTC))
    typer.echo(f"secret {name} of {namespace}: version {record.version}")


@app.command("ls")
def list_secrets(namespace: Namespace = DEFAULT_NAMESPACE, output: Output = Format.TABLE) -> None:
    """A namespace's secrets: names and versions, never values."""
    from jobstream.secrets_admin import read_book

    rows = [{"name": i.name, "version": i.version, "set_at": i.set_at.isoformat(), "actor": i.actor}
            for i in read_book(Settings.from_env()).listed(_namespace(namespace))]
    if output != Format.TABLE:
        print_data(rows, output)
        return
    print_rows(rows, ("name", "version", "set_at", "actor"))


@app.command("rm")
def remove(name: Annotated[str, typer.Argument(help="the secret's name")],
           namespace: Namespace = DEFAULT_NAMESPACE) -> None:
    """Delete a secret: jobs that refer to it fail from then on."""
    from jobstream.secrets_admin import delete_secret

    if not delete_secret(Settings.from_env(), _namespace(namespace), name, datetime.now(UTC)):
        typer.secho(f"error: no secret {name} in {namespace}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"secret {name} of {namespace} deleted")


@app.command()
def shred(namespace: Annotated[str, typer.Option(help="the namespace whose data keys to delete")]) -> None:
    """Crypto-shredding: delete the namespace's data keys; its secrets, in every old record too, no longer open."""
    from jobstream.secrets_admin import shred_namespace

    count = shred_namespace(Settings.from_env(), _namespace(namespace), datetime.now(UTC))
    typer.echo(f"namespace {namespace}: {count} data keys deleted; its secrets can no longer be read")


@app.command("rotate-kek")
def rotate() -> None:
    """Wrap every data key under a new key-encryption key (see docs/security.md, rotating keys)."""
    from jobstream.secrets_admin import rotate_kek

    kek_id, count = rotate_kek(Settings.from_env(), datetime.now(UTC))
    typer.echo(f"{count} data keys rewrapped under KEK {kek_id}")
