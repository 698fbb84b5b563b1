"""The ``jobstream`` command line: one entry point, sub-commands wired explicitly."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from jobstream.client import register as register_client_commands
from jobstream.config import WORKER_ALLOW_MODULES, WORKER_PYTHONPATH, Settings, SettingsError
from jobstream.connect_cli import app as connect_app
from jobstream.gc_tuning import tune_gc
from jobstream.infra.process import InfraError
from jobstream.infra.topics import Topics
from jobstream.kafka_cli import register_kafka_tools
from jobstream.keys_cli import app as keys_app
from jobstream.keys_cli import quotas_app
from jobstream.schemas_cli import app as schemas_app
from jobstream.secrets_cli import app as secrets_app
from jobstream.tls import server_files

app = typer.Typer(no_args_is_help=True, help="jobstream: event-sourced job scheduling on Kafka")
infra_app = typer.Typer(no_args_is_help=True, help="Start, stop and inspect the local broker and database.")
app.add_typer(infra_app, name="infra")
register_client_commands(app)  # the HTTP API's client: submit, get, ls, ..., workers, dlq, logs
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: figures, not pass/fail tests. Each runs on topics "
                                                   "of its own and deletes them and its consumer groups at the end.")
app.add_typer(bench_app, name="bench")
app.add_typer(schemas_app, name="schemas")
app.add_typer(keys_app, name="keys")
app.add_typer(quotas_app, name="quotas")
app.add_typer(secrets_app, name="secrets")
app.add_typer(connect_app, name="connect")
register_kafka_tools(app)  # kafka TOOL [ARGS...]: Kafka's operator tools against the configured broker

InstanceId = Annotated[str | None, typer.Option(help="static group membership id")]
MetricsPort = Annotated[int | None, typer.Option("--metrics-port", help="serve Prometheus /metrics on this port")]


def _keep_option() -> bool:
    return typer.Option(False, "--keep", help="leave the run's topics and consumer groups for inspection; "
                                              "their prefix is printed")


def _infra(brokers: int | None = None, secure: bool = False):  # type: ignore[no-untyped-def]
    """The local infrastructure: ``brokers`` Kafka nodes if given, else as configured, else as many
    as the cluster an earlier `infra up --brokers N` left in the state directory, else one. Secure
    if asked, configured, or made so by an earlier `infra up --secure`."""
    from jobstream.infra.stack import Infra, local_cluster_size, local_secure

    settings = Settings.from_env()
    if brokers is None and "kafka_brokers" not in settings.model_fields_set:
        brokers = local_cluster_size(settings)
    if secure or ("kafka_secure" not in settings.model_fields_set and local_secure(settings)):
        settings = settings.with_(kafka_secure=True)
    return Infra(settings.with_(kafka_brokers=brokers) if brokers else settings)


Brokers = Annotated[int | None, typer.Option("--brokers", min=1, max=9,
                                             help="Kafka nodes: 3 for a cluster (default: $JOBSTREAM_KAFKA_BROKERS)")]


def _python_path_option() -> list[str]:
    return typer.Option([], "--python-path", metavar="DIR",
                        help=f"import Python tasks' code from DIR, first (repeatable); also ${WORKER_PYTHONPATH}, "
                             f"{os.pathsep}-separated")


def _allow_module_option() -> list[str]:
    return typer.Option([], "--allow-module", metavar="PATTERN",
                        help="module pattern Python tasks may call into, e.g. 'mypkg.*' (repeatable; also "
                             f"${WORKER_ALLOW_MODULES}, comma-separated). The packages in the python path are "
                             "allowed; nothing else unless named ('*': any module, os included)")


def worker_python_path(given: list[str], settings: Settings) -> tuple[str, ...]:
    """--python-path's directories, then the environment's, absolute; a clear error for a missing one."""
    from jobstream.worker.python_path import resolve_python_path

    try:
        first = resolve_python_path(given, "--python-path")
        then = resolve_python_path(settings.worker_python_path, WORKER_PYTHONPATH)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return first + tuple(d for d in then if d not in first)


def is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _process(process: str) -> tuple[Settings, Topics]:
    """A long-running process's settings and topics, its logging set up (logging_setup.py)."""
    from jobstream.logging_setup import configure_logging

    settings = Settings.from_env()
    try:
        configure_logging(process, settings.log_format)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return settings, Topics(settings.topic_prefix)


TlsCert = Annotated[Path | None, typer.Option("--tls-cert", help="serve the API over HTTPS with this certificate "
                                              "chain, PEM (default: $JOBSTREAM_TLS_CERT)")]
TlsKey = Annotated[Path | None, typer.Option("--tls-key", help="the certificate's private key, PEM "
                                             "(default: $JOBSTREAM_TLS_KEY)")]


def _tls(settings: Settings, cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """The API's certificate and key (options, else settings), absolute: both, or neither."""
    try:
        files = server_files(cert or settings.tls_cert, key or settings.tls_key)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--tls-cert/--tls-key") from None
    return (files[0].resolve(), files[1].resolve()) if files else None


def _api_options(no_auth: bool, tls: tuple[Path, Path] | None) -> list[str]:
    """What `jobstream run` passes on to its `jobstream api`."""
    return (["--no-auth"] if no_auth else []) + (["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])] if tls else [])


def _started(process: str, what: str, metrics_port: int | None) -> None:
    """The one line a process says at start: what it is, where it listens, its topics."""
    metrics = f"metrics on 127.0.0.1:{metrics_port}" if metrics_port else "no metrics port"
    logging.getLogger(f"jobstream.{process}").info("%s; %s", what, metrics)


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)


@infra_app.command("install")
def infra_install() -> None:
    """Fetch the Kafka broker jars, the schema registry and the Connect plugins, and install Debian's
    PostgreSQL server, Chromium (for the dashboard's browser tests) and promtool (for the alert rules'
    tests), when missing."""
    from jobstream.infra.chromium import install_chromium
    from jobstream.infra.postgres import install_server
    from jobstream.infra.promtool import install_promtool

    infra = _infra()
    if not infra.settings.external_kafka:
        infra.kafka.ensure_jars()
        typer.echo(f"kafka {infra.settings.kafka_version} jars: {infra.kafka.libs}")
    typer.echo(f"schema registry: {infra.registry.ensure_app()}")
    typer.echo(f"kafka connect plugins: {infra.connect.ensure_plugins()}")
    if not infra.settings.external_database_url:
        typer.echo(f"postgres server binaries: {install_server()}")
    typer.echo(f"chromium: {install_chromium()}")
    typer.echo(f"promtool (checks the alert rules in tests): {install_promtool()}")


@infra_app.command("up")
def infra_up(brokers: Brokers = None, registry: Annotated[bool, typer.Option(
        "--registry", help="also start a schema registry (Apicurio, in memory) for Confluent's wire format")] = False,
             connect: Annotated[bool, typer.Option(
        "--connect", help="also start a Kafka Connect worker with the JDBC sink (and the registry)")] = False,
             secure: Annotated[bool, typer.Option(
        "--secure", help="a SASL_SSL broker: local CA, SCRAM users per role, ACLs (also $JOBSTREAM_KAFKA_SECURE)")]
             = False,
) -> None:
    """Start Kafka (KRaft, one node or a cluster) and Postgres in the background, wait until ready,
    create topics (replicated 3 times on a cluster)."""
    _print_lines(_infra(brokers, secure).up(registry=registry, connect=connect))


@infra_app.command("down")
def infra_down(brokers: Brokers = None) -> None:
    """Stop the local Kafka node(s), Postgres (and registry, Connect worker) started by `infra up`."""
    infra = _infra(brokers)
    _print_lines(infra.down())
    if brokers is None and infra.settings.kafka_brokers > 1 and (infra.settings.state_dir / "kafka").exists():
        _print_lines([_infra(1).kafka.down()])  # a single broker started there before the cluster


@infra_app.command("status")
def infra_status(brokers: Brokers = None) -> None:
    """Say whether each Kafka node and the database run and answer; on a cluster, list the
    under-replicated partitions."""
    _print_lines(_infra(brokers).status())


@app.command("state-processor")
def state_processor(instance_id: InstanceId = None,
                    metrics_port: MetricsPort = None) -> None:
    """Run the job state processor (the only writer of job events), exactly-once on streams/engine."""
    from jobstream.streams.state_processor import run_state_processor

    settings, topics = _process("state-processor")
    _started("state-processor", f"state processor: consumes {topics.commands}, appends to {topics.events}",
             metrics_port)
    run_state_processor(settings, instance_id=instance_id, metrics_port=metrics_port)


@app.command("dispatcher")
def dispatcher(instance_id: InstanceId = None,
               metrics_port: MetricsPort = None) -> None:
    """Run the dispatcher (matches ready executions to workers' credits, per queue)."""
    from jobstream.streams.dispatcher import run_dispatcher

    settings, topics = _process("dispatcher")
    _started("dispatcher", f"dispatcher: consumes {topics.dispatch} and {topics.workers}, assigns work on "
                           f"{topics.assignments}", metrics_port)
    run_dispatcher(settings, instance_id=instance_id, metrics_port=metrics_port)


@app.command("timer-processor")
def timer_processor(instance_id: InstanceId = None,
                    metrics_port: MetricsPort = None) -> None:
    """Run the timer processor (a durable timing wheel that fires retries)."""
    from jobstream.streams.timer_processor import run_timer_processor

    settings, topics = _process("timer-processor")
    _started("timer-processor", f"timer processor: consumes {topics.timer_requests}, fires timers on "
                                f"{topics.commands}", metrics_port)
    run_timer_processor(settings, instance_id=instance_id, metrics_port=metrics_port)


@app.command("worker-monitor")
def worker_monitor(instance_id: InstanceId = None,
                   metrics_port: MetricsPort = None,
                   window_s: float = typer.Option(6.0, "--window-s",
                                                  help="declare a worker lost after this long silent")
                   ) -> None:
    """Run the worker monitor (declares silent workers lost, so their executions run again)."""
    from jobstream.streams.worker_monitor import run_worker_monitor

    settings, topics = _process("worker-monitor")
    _started("worker-monitor", f"worker monitor: watches {topics.workers}, declares a worker lost after "
                               f"{window_s:g} s silent (its executions run again, via {topics.commands})", metrics_port)
    run_worker_monitor(settings, instance_id=instance_id, metrics_port=metrics_port, window_s=window_s)


@app.command("analytics-projector")
def analytics_projector(instance_id: InstanceId = None, metrics_port: MetricsPort = None) -> None:
    """Run the analytics projector (each job event as one flat row, for Kafka Connect sinks)."""
    from jobstream.streams.analytics import run_analytics_projector

    settings, topics = _process("analytics-projector")
    _started("analytics-projector", f"analytics projector: consumes {topics.events}, publishes flat rows on "
                                    f"{topics.analytics_job_events}", metrics_port)
    run_analytics_projector(settings, instance_id=instance_id, metrics_port=metrics_port)


@app.command("worker")
def worker(
    queue: list[str] = typer.Option(["default"], "--queue", "-q", help="queue to serve (repeatable)"),
    slots: int = typer.Option(4, help="executions at once"),
    cpu: float = typer.Option(None, help="CPU cores offered (default: all)"),
    memory_mb: int = typer.Option(4096, "--memory-mb", help="memory offered, MiB"),
    label: list[str] = typer.Option([], "--label", "-l", help="k=v label (repeatable)"),
    metrics_port: MetricsPort = None,
    worker_id: str = typer.Option(None, "--worker-id", help="this worker's id (default: host-pid-random)"),
    python_path: list[str] = _python_path_option(),
    allow_module: list[str] = _allow_module_option(),
) -> None:
    """Run a worker that executes jobs from the given queues."""
    from jobstream.worker.allowlist import worker_allowlist
    from jobstream.worker.process import WorkerSpec, run_worker

    settings, _ = _process("worker")  # its start line names its id and partition (worker/process.py)
    labels = dict(item.split("=", 1) for item in label if "=" in item)
    optional = {"cpu": cpu, "worker_id": worker_id}
    dirs = worker_python_path(python_path, settings)
    spec = WorkerSpec(queues=tuple(queue), slots=slots, memory_mb=memory_mb, labels=labels, python_path=dirs,
                      allowed_modules=worker_allowlist([*allow_module, *settings.worker_allow_modules], dirs),
                      **{name: value for name, value in optional.items() if value is not None})
    run_worker(settings, spec, metrics_port)


@app.command("projector")
def projector(schema: str = typer.Option("jobstream", help="Postgres schema of the read model"),
              metrics_port: MetricsPort = None,
              ) -> None:
    """Run the projector: events and worker events into the Postgres read model."""
    from jobstream.projections.projector import run_projector
    from jobstream.streams.metrics import serve

    settings, topics = _process("projector")
    _started("projector", f"projector: projects {topics.events}, {topics.workers}, {topics.templates} and the commands "
                          f"set aside on {topics.poison} into Postgres schema {schema}; command results to "
                          f"{topics.command_results}",
             metrics_port)
    serve(metrics_port)
    run_projector(settings, schema)


@app.command("logs-projector")
def logs_projector(schema: str = typer.Option("jobstream", help="Postgres schema of the read model"),
                   metrics_port: MetricsPort = None,
                   ) -> None:
    """Run the logs projector: executions' output (the logs topic) into Postgres."""
    from jobstream.projections.logs import run_logs_projector
    from jobstream.streams.metrics import serve

    settings, topics = _process("logs-projector")
    _started("logs-projector", f"logs projector: projects {topics.logs} into Postgres schema {schema}", metrics_port)
    serve(metrics_port)
    run_logs_projector(settings, schema)


@app.command("api")
def api(host: str = "127.0.0.1", port: int = 8000,
        schema: str = typer.Option("jobstream", help="Postgres schema of the read model"),
        access_log: bool = typer.Option(False, "--access-log", help="log one line per HTTP request"),
        no_auth: bool = typer.Option(False, "--no-auth", help="accept every request as an admin's: loopback only"),
        tls_cert: TlsCert = None, tls_key: TlsKey = None) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json), over HTTPS when given a certificate."""
    from jobstream.api.app import run_api

    if no_auth and not is_loopback(host):
        raise typer.BadParameter(f"--no-auth is allowed on a loopback address only, not {host}", param_hint="--host")
    settings, topics = _process("api")
    tls = _tls(settings, tls_cert, tls_key)
    if no_auth:
        logging.getLogger("jobstream.api").warning("authentication is OFF (--no-auth): every caller on this machine "
                                                   "is an admin of every namespace")
    if access_log:
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    _started("api", f"api: {'https' if tls else 'http'}://{host}:{port} (OpenAPI at /openapi.json), sends commands "
                    f"to {topics.commands}, reads Postgres schema {schema}", None)
    run_api(settings, host=host, port=port, schema=schema, access_log=access_log, no_auth=no_auth, tls=tls)


@app.command("replay")
def replay(schema: str = typer.Option("jobstream", help="Postgres schema to rebuild")) -> None:
    """Drop the read model and rebuild it by replaying the topics from the start."""
    import json

    from jobstream.progress import progress_bar
    from jobstream.projections.replay import replay_command

    settings, _ = _process("replay")
    with progress_bar("replaying", "messages") as update:  # on stderr: stdout stays the JSON
        result = replay_command(settings, schema, update)
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command("run")
def run(workers: int = typer.Option(1, help="worker processes"), slots: int = typer.Option(4, help="slots each"),
        instances: int = typer.Option(1, min=1, max=9, help="instances of each processor, sharing its partitions"),
        python_path: list[str] = _python_path_option(), allow_module: list[str] = _allow_module_option(),
        no_auth: bool = typer.Option(False, "--no-auth", help="serve the API without authentication (loopback)"),
        tls_cert: TlsCert = None, tls_key: TlsKey = None) -> None:
    """Run the whole stack in the foreground: processors, projector, API and workers. Ctrl-C stops it.
    On first start an admin key is created and written to the CLI's credentials file."""
    from datetime import UTC, datetime

    from jobstream.keys_admin import ensure_admin_key
    from jobstream.report_secret import with_report_signing
    from jobstream.secrets_admin import ensure_kek
    from jobstream.supervisor import Supervisor, default_children

    infra = _infra()  # one broker, or the cluster `infra up --brokers N` left
    dirs = worker_python_path(python_path, infra.settings)  # checked before anything starts
    signing, made = with_report_signing(infra.settings)
    infra = replace(infra, settings=signing)  # every child, whatever broker user it is, signs or checks reports
    tls = _tls(infra.settings, tls_cert, tls_key)
    if tls and not infra.settings.api_url.startswith("https://"):  # the credentials file is keyed by it
        raise typer.BadParameter(f"the API will serve HTTPS: set JOBSTREAM_API_URL to its https:// URL (now "
                                 f"{infra.settings.api_url}), for the CLI and its credentials file")
    for line in infra.up():
        typer.echo(line)
    settings = infra.as_role("admin")  # the settings unless the broker is secure
    if not no_auth and (key_id := ensure_admin_key(settings, datetime.now(UTC))) is not None:
        typer.echo(f"admin key {key_id} created; its token is in {settings.credentials_file} (mode 0600)")
    if ensure_kek(settings):
        typer.echo(f"key-encryption key of secrets created in {settings.kek_path} (mode 0600)")
    if made:
        typer.echo(f"secret of the workers' report keys created in {settings.reports_secret_file} (mode 0600)")
    children = default_children(workers, slots, dirs, instances, api_port=settings.api_port,
                                metrics_base=settings.metrics_port_base, allow_modules=tuple(allow_module))
    options = _api_options(no_auth, tls)
    children = [(name, [*args, *options] if name == "api" else args) for name, args in children]
    as_role = infra.as_role if settings.kafka_security_protocol != "PLAINTEXT" else None
    raise SystemExit(Supervisor(settings, children, as_role=as_role).run())


@bench_app.command("e2e")
def bench_e2e(jobs: int = typer.Option(10_000, help="no-op jobs to run, per kind"),
              kind: list[str] = typer.Option(["inline", "python", "shell"], "--kind",
                                             help="job kind: inline, python or shell (repeatable)"),
              workers: int = typer.Option(2, help="worker processes"),
              slots: int = typer.Option(16, help="slots per worker"),
              timeout_s: float = typer.Option(600, help="give up when no job has finished for this long"),
              rate: float = typer.Option(None, help="submit at this many jobs/s (default: all at once)"),
              keep: bool = _keep_option()) -> None:
    """The whole stack; N no-op jobs of each kind: jobs/s, latencies, messages and CPU per job; prints JSON."""
    import json

    from jobstream.bench_e2e import run_full_e2e

    result = run_full_e2e(Settings.from_env(), jobs, kind, workers, slots, timeout_s, rate, keep)
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("floor")
def bench_floor(jobs: int = typer.Option(20_000, help="jobs through the stand-ins"),
                rate: float = typer.Option(None, help="submit at this many jobs/s (default: all at once)"),
                at_least_once: bool = typer.Option(False, help="the processors' stand-ins without transactions"),
                timeout_s: float = typer.Option(600, help="give up after this long")) -> None:
    """The pipeline's floor: a job's records along the same topics and transactions by stand-ins that
    do no work (no Avro, no decisions, no Postgres); jobs/s, offsets and CPU per job; prints JSON."""
    import json

    from jobstream.bench_floor import run_floor

    typer.echo(json.dumps(run_floor(Settings.from_env(), jobs, rate, not at_least_once, timeout_s), indent=2))


@bench_app.command("dispatch")
def bench_dispatch(idle_jobs: int = typer.Option(200, help="jobs run one at a time on an idle system"),
                   rate: list[float] = typer.Option([100.0, 200.0], help="offered jobs/s (repeatable)"),
                   jobs: int = typer.Option(2000, help="jobs per offered rate"),
                   workers: int = typer.Option(3, help="worker processes"),
                   slots: int = typer.Option(8, help="slots per worker"),
                   keep: bool = _keep_option()) -> None:
    """Queued-to-running latency (p50, p99) idle and at sustained rates; prints JSON."""
    import json

    from jobstream.bench_dispatch import run_dispatch_bench

    result = run_dispatch_bench(Settings.from_env(), idle_jobs, rate, jobs, workers, slots, keep)
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("dag")
def bench_dag(nodes: int = typer.Option(1000, help="jobs in the DAG"),
              layers: int = typer.Option(20, help="layers; each node depends on nodes of the layer before"),
              fan_in: int = typer.Option(2, help="at most this many upstreams per node"),
              workers: int = typer.Option(2, help="worker processes"),
              slots: int = typer.Option(16, help="slots per worker"),
              timeout_s: float = typer.Option(600, help="give up when no job has finished for this long"),
              keep: bool = _keep_option()) -> None:
    """A layered DAG from submit to last node done, beside its critical path; prints JSON."""
    import json

    from jobstream.bench_dag import run_dag_bench

    result = run_dag_bench(Settings.from_env(), nodes, layers, fan_in, workers, slots, timeout_s, keep)
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("timers")
def bench_timers(schedules: int = typer.Option(100_000, help="schedules active at once"),
                 window_s: float = typer.Option(120, help="their first fires spread over this many seconds"),
                 one_shot: bool = typer.Option(False, "--one-shot", help="one-shot `at` jobs instead of recurring"),
                 timeout_s: float = typer.Option(900, help="give up after this long"),
                 keep: bool = _keep_option()) -> None:
    """Fire lateness (p50/p99/max) and timer-processor memory with N schedules active; prints JSON."""
    import json

    from jobstream.bench_timers import run_timers

    result = run_timers(Settings.from_env(), schedules, window_s, timeout_s, recurring=not one_shot, keep=keep)
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("chaos")
def bench_chaos(jobs: int = typer.Option(10_000, help="jobs submitted over the load (shell, Python, retried, a DAG)"),
                duration_s: float = typer.Option(180, help="seconds of load, with a kill every --every-s"),
                every_s: float = typer.Option(5, help="seconds between two kills"),
                seed: int = typer.Option(11, help="seeds the workload's mix and the kill schedule"),
                keep: bool = _keep_option()) -> None:
    """SIGKILL a random process (processor instance, worker, broker node, Postgres) every few seconds
    under a mixed load on the local 3-node cluster; then the checks (lost jobs, duplicates, gaps,
    fenced writes, replay) as JSON. Needs `jobstream infra up --brokers 3`."""
    import json

    from jobstream.bench_chaos import run_chaos
    from jobstream.infra.kafka_cluster import LocalKafkaCluster

    infra = _infra()
    if infra.settings.external_kafka or not isinstance(infra.kafka, LocalKafkaCluster):
        raise InfraError("bench chaos kills broker nodes of the local cluster: start it with "
                         "`jobstream infra up --brokers 3` (and leave JOBSTREAM_KAFKA_BOOTSTRAP unset)")
    postgres = None if infra.settings.external_database_url else infra.postgres
    result = run_chaos(infra.settings, infra.kafka, postgres, jobs, duration_s, every_s, seed, keep)
    typer.echo(json.dumps(result, indent=2, default=str))
    raise SystemExit(1 if result["violations"] else 0)


@bench_app.command("failover")
def bench_failover(jobs: int = typer.Option(8, help="jobs running on the worker that is killed"),
                   trials: int = typer.Option(5, help="workers killed, one after the other"),
                   timeout_s: float = typer.Option(120, help="give up on a trial after this long"),
                   keep: bool = _keep_option()) -> None:
    """kill -9 a worker running N jobs: time to WorkerLost and to all its jobs queued again; prints JSON."""
    import json

    from jobstream.bench_failover import run_failover

    typer.echo(json.dumps(run_failover(Settings.from_env(), jobs, trials, timeout_s, keep), indent=2))


@bench_app.command("clean")
def bench_clean(prefix: str = typer.Option(None, help="only this run's topics and groups (as --keep printed it)")
                ) -> None:
    """Delete the topics and consumer groups earlier bench runs left (by their bench-... prefixes)."""
    from jobstream.bench_cleanup import clean

    removal, running = clean(Settings.from_env().kafka_bootstrap, prefix)
    for name in removal.removed.topics + removal.removed.groups:
        typer.echo(f"deleted {name}")
    for run in running:
        typer.echo(f"skipped {run}: its consumer groups have members (a bench still running?)")
    for name in removal.left.topics + removal.left.groups:
        typer.echo(f"not deleted: {name}")
    typer.echo(f"{len(removal.removed.topics)} topics and {len(removal.removed.groups)} consumer groups deleted")
    if removal.left:
        raise SystemExit(1)


@bench_app.command("projector")
def bench_projector(jobs: int = typer.Option(20_000, help="job lifecycles (5 events each) to replay; 0: no replay"),
                    profile: str = typer.Option(None, help="write the replay's cProfile stats to this file"),
                    rate: float = typer.Option(None, help="also time read-your-writes at this many jobs/s, live"),
                    seconds: float = typer.Option(10, help="how long to publish at --rate"),
                    keep: bool = _keep_option()) -> None:
    """Replay N jobs' events into a fresh schema: projector events/s beside the broker's raw rate; with --rate,
    publish-to-visible latency through a live projector; prints JSON."""
    import json

    from jobstream.projections.bench import bench_projector as run_projector_bench
    from jobstream.projections.bench_live import bench_read_your_writes

    settings = Settings.from_env()
    result = {"replay": run_projector_bench(settings, jobs, profile, keep) if jobs else None,
              "read_your_writes": bench_read_your_writes(settings, rate, seconds, keep) if rate else None}
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("dashboard")
def bench_dashboard(jobs: int = typer.Option(1_000_000, help="jobs in the read model"),
                    repeat: int = typer.Option(5, help="timed requests per route (after one to warm up)"),
                    database_url: str = typer.Option(None, help="an existing server (a schema of its own is made and "
                                                                "dropped); default: a private one on a free port"),
                    no_baseline: bool = typer.Option(False, "--no-baseline",
                                                     help="skip timing the pages before the indexes exist")) -> None:
    """Server time (p50/p95/max ms) of the dashboard's list and overview pages and GET /v1/jobs with each
    common filter over N loaded jobs, keys only and then with the read model's indexes; prints JSON."""
    import json

    from jobstream.bench_dashboard import run_dashboard_bench

    typer.echo(json.dumps(run_dashboard_bench(jobs, repeat, database_url, baseline=not no_baseline), indent=2))


@bench_app.command("state-processor")
def bench_state_processor(commands: int = typer.Option(200_000, help="SubmitJob commands to decide"),
                          timeout_s: float = typer.Option(1800, help="give up after this long"),
                          keep: bool = _keep_option()) -> None:
    """One state processor on N queued commands: commands/s, events/s and CPU per command; prints JSON."""
    import json

    from jobstream.bench_state import run_state_bench

    typer.echo(json.dumps(run_state_bench(Settings.from_env(), commands, timeout_s, keep), indent=2))


@bench_app.command("codec")
def bench_codec(commands: int = typer.Option(5_000, help="SubmitJob commands per round"),
                rounds: int = typer.Option(5, help="rounds per step; the best is reported"),
                profile: str = typer.Option(None, help="write a cProfile of the whole pipeline to this file")) -> None:
    """CPU µs per command of the state processor's pure steps (decode, decide, encode, state), no Kafka; prints JSON."""
    import json

    from jobstream.bench_codec import run_codec_bench

    typer.echo(json.dumps(run_codec_bench(commands, rounds, profile), indent=2))


def main() -> None:
    tune_gc()
    try:
        app()
    except (InfraError, SettingsError) as error:  # a failure to report, not a traceback
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
