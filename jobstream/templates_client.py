"""CLI commands for job templates, through the HTTP API: ``templates create/ls/get/run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from jobstream.api_client import Api, ApiUrl, Format, Output
from jobstream.submit_body import json_or_text, parse_pairs
from jobstream.tables import TEMPLATE_COLUMNS, print_data, print_fields, print_page, show_job

Version = Annotated[int | None, typer.Option(min=1, help="A version (the latest by default)")]


def read_template(path: str) -> dict[str, Any]:
    """A template file's JSON object (``-``: standard input)."""
    text = typer.get_text_stream("stdin").read() if path == "-" else Path(path).read_text()
    try:
        body = json.loads(text)
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="FILE") from None
    if not isinstance(body, dict):
        raise typer.BadParameter("must hold a JSON object (name, spec, params)", param_hint="FILE")
    return body


def run_body(params: list[str] | None, version: int | None, idempotency_key: str | None,
             labels: list[str] | None) -> dict[str, Any]:
    """What ``templates run`` sends: ``--param k=v`` values are JSON when they parse, else strings."""
    body: dict[str, Any] = {"params": {k: json_or_text(v) for k, v in parse_pairs(params, "--param").items()}}
    if version is not None:
        body["version"] = version
    if idempotency_key:
        body["idempotency_key"] = idempotency_key
    if labels:
        body["labels"] = parse_pairs(labels, "--label")
    return body


def register_templates(app: typer.Typer, api: Api) -> None:
    templates = typer.Typer(no_args_is_help=True, help="Job templates: a job spec with {{param}} placeholders.")
    app.add_typer(templates, name="templates")

    @templates.command("create")
    def templates_create(file: Annotated[str, typer.Argument(help="JSON: name, spec, params, description "
                                                                  "(- for standard input)")],
                         api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """Create a template, or the next version of the one with the same name."""
        status, created = api.call(api_url, "POST", "/v1/templates", json=read_template(file))
        if output != Format.TABLE:
            print_data(created, output)
        else:
            typer.echo(f"{created['name']} version {created['version']}"
                       + (" (accepted, not visible yet)" if status == 202 else ""))

    @templates.command("ls")
    def templates_ls(limit: Annotated[int, typer.Option(help="Templates per page")] = 50,
                     cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
                     api_url: ApiUrl = None, output: Output = Format.TABLE) -> None:
        """List templates by name, with their latest version."""
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        print_page(api.call(api_url, "GET", "/v1/templates", params=params)[1], TEMPLATE_COLUMNS, output)

    @templates.command("get")
    def templates_get(name: str, version: Version = None, api_url: ApiUrl = None,
                      output: Output = Format.JSON) -> None:
        """Print one version of a template (its spec and parameters), as JSON by default."""
        params = {"version": version} if version is not None else {}
        template = api.call(api_url, "GET", f"/v1/templates/{name}", params=params)[1]
        if output != Format.TABLE:
            print_data(template, output)
        else:
            print_fields(template)

    @templates.command("run")
    def templates_run(
        name: str,
        param: Annotated[list[str] | None, typer.Option(help="KEY=VALUE (JSON, else a string), repeatable")] = None,
        version: Version = None,
        idempotency_key: Annotated[str | None, typer.Option(help="Submit at most once per key")] = None,
        label: Annotated[list[str] | None, typer.Option(help="KEY=VALUE added to the job's labels")] = None,
        api_url: ApiUrl = None, output: Output = Format.TABLE,
    ) -> None:
        """Submit the template's job with these parameters (the job's label jobstream.template names the
        version used)."""
        body = run_body(param, version, idempotency_key, label)
        show_job(api.call(api_url, "POST", f"/v1/templates/{name}:run", json=body), output)
