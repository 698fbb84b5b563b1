"""``jobstream keys create|ls|revoke``: API keys, written to and read from the keys topic directly
(whoever runs them reaches the broker: an operator of the deployment)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from jobstream.api_client import Output
from jobstream.config import Settings
from jobstream.core.access import Role
from jobstream.core.keys import parse_duration, refusal
from jobstream.schemas import DEFAULT_NAMESPACE, NAMESPACE_PATTERN, QuotaSet, valid_namespace
from jobstream.tables import Format, print_data, print_rows

app = typer.Typer(no_args_is_help=True, help="API keys: create (the token is printed once), list, revoke.")


@app.command()
def create(namespace: Annotated[str, typer.Option(help="the namespace the key acts in")] = DEFAULT_NAMESPACE,
           role: Annotated[Role, typer.Option(help="what the key may do there")] = Role.SUBMITTER,
           expires_in: Annotated[str | None, typer.Option("--expires-in", help="e.g. 30d, 12h; default never")] = None,
           name: Annotated[str, typer.Option(help="a label for humans, e.g. ci")] = "",
           worker_id: Annotated[str | None, typer.Option("--worker-id", help="a worker key: the one worker id "
                                                         "it may act as (default: any)")] = None) -> None:
    """Create a key; its token is printed once, only an argon2id hash of it is kept."""
    from jobstream.keys_admin import create_key

    if worker_id is not None and (role is not Role.WORKER or not worker_id.strip()):
        raise typer.BadParameter("binds a worker key (--role worker) to a worker id", param_hint="--worker-id")
    if not valid_namespace(namespace):
        raise typer.BadParameter(f"must match {NAMESPACE_PATTERN}", param_hint="--namespace")
    try:
        lifetime = parse_duration(expires_in) if expires_in else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--expires-in") from None
    token, record = create_key(Settings.from_env(), namespace, role, datetime.now(UTC), name=name,
                               expires_in=lifetime, worker_id=worker_id)
    expires = record.expires_at.isoformat() if record.expires_at else "never"
    bound = f" as worker {worker_id} only" if worker_id else ""
    typer.echo(f"key {record.key_id}: {role}{bound} in namespace {namespace}, expires {expires}", err=True)
    typer.echo(token.token)


@app.command("ls")
def list_keys(output: Output = Format.TABLE) -> None:
    """Every key: id, namespace, role, bound worker id, name, state, created and expiry."""
    from jobstream.keys_admin import read_keys

    now = datetime.now(UTC)
    rows = [{"key_id": k.key_id, "namespace": k.namespace, "role": k.role.value, "worker_id": k.worker_id,
             "name": k.name,
             "state": refusal(k, now) or "active", "created_at": k.created_at.isoformat(),
             "expires_at": k.expires_at.isoformat() if k.expires_at else None}
            for k in sorted(read_keys(Settings.from_env()).values(), key=lambda k: k.created_at)]
    if output != Format.TABLE:
        print_data(rows, output)
        return
    print_rows(rows, ("key_id", "namespace", "role", "worker_id", "name", "state", "created_at", "expires_at"))


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id (see keys ls)")]) -> None:
    """Revoke a key: the API refuses it from then on (within a second)."""
    from jobstream.keys_admin import read_keys, revoke_key

    settings = Settings.from_env()
    if key_id not in read_keys(settings):
        typer.secho(f"error: no key {key_id}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    revoke_key(settings, key_id, datetime.now(UTC))
    typer.echo(f"key {key_id} revoked")


quotas_app = typer.Typer(no_args_is_help=True,
                         help="Namespaces' submission rates (per key: JOBSTREAM_KEY_SUBMIT_RATE) and in-flight caps.")


@quotas_app.command("set")
def set_quotas(namespace: Annotated[str, typer.Option(help="the namespace")],
               submit_rate: Annotated[float | None, typer.Option(
                   "--submit-rate", min=0.001, help="submissions a second, burst twice that")] = None,
               max_in_flight: Annotated[int | None, typer.Option(
                   "--max-in-flight", min=0, help="executions assigned or running at once; 0: no cap")] = None,
               allow_shell: Annotated[bool | None, typer.Option(
                   "--allow-shell/--no-allow-shell", help="whether shell tasks may say shell: true (/bin/sh -c); "
                                                          "no namespace may until allowed")] = None) -> None:
    """Set a namespace's quotas (what is not given stays as it was): every API applies the rate
    within a second, every dispatcher the cap, every API and state processor the shell switch."""
    from jobstream.keys_admin import set_quota

    if not valid_namespace(namespace):
        raise typer.BadParameter(f"must match {NAMESPACE_PATTERN}", param_hint="--namespace")
    if submit_rate is None and max_in_flight is None and allow_shell is None:
        raise typer.BadParameter("give --submit-rate, --max-in-flight, --allow-shell or --no-allow-shell")
    quota = set_quota(Settings.from_env(), namespace, datetime.now(UTC), submit_rate=submit_rate,
                      max_in_flight=max_in_flight, allow_shell=allow_shell)
    typer.echo(f"namespace {namespace}: {describe(quota)}")


def describe(quota: QuotaSet) -> str:
    rate = f"{quota.submit_rate:g} submissions a second" if quota.submit_rate > 0 else "the default submission rate"
    cap = f"at most {quota.max_in_flight} in flight" if quota.max_in_flight else "no in-flight cap"
    shell = "shell: true allowed" if quota.allow_shell else "argv only"
    return f"{rate}, {cap}, {shell}"


@quotas_app.command("ls")
def list_quotas(output: Output = Format.TABLE) -> None:
    """The quotas set per namespace (others have JOBSTREAM_NAMESPACE_SUBMIT_RATE and no cap)."""
    from jobstream.keys_admin import read_quotas

    rows = [{"namespace": q.namespace, "submit_rate": q.submit_rate, "max_in_flight": q.max_in_flight,
             "allow_shell": q.allow_shell, "set_at": q.set_at.isoformat(), "actor": q.actor}
            for q in sorted(read_quotas(Settings.from_env()).values(), key=lambda q: q.namespace)]
    if output != Format.TABLE:
        print_data(rows, output)
        return
    print_rows(rows, ("namespace", "submit_rate", "max_in_flight", "allow_shell", "set_at", "actor"))


@app.command()
def token(api_url: Annotated[str | None, typer.Option("--api-url", help="default: $JOBSTREAM_API_URL")] = None) -> None:
    """Print the token the CLI presents to the API (for curl: -H "Authorization: Bearer $(...)")."""
    from jobstream.credentials import token_for

    settings = Settings.from_env()
    found = token_for(settings, api_url or settings.api_url)
    if found is None:
        typer.secho(f"error: no token for {api_url or settings.api_url} in {settings.credentials_file} "
                    "(jobstream run writes one) nor in JOBSTREAM_TOKEN", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(found)
