"""The shipped alert rules and Grafana dashboard: promtool checks and unit-tests the rules (cases
that fire and cases that stay quiet), every metric they use is one a jobstream process exports,
and the metrics themselves pass promtool's naming lint."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from jobstream.api.middleware import ApiMetrics
from jobstream.infra.promtool import install_promtool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "tests" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "infra" / "grafana" / "jobstream.json"
# Each process's entry module: importing them declares every metric a process can export.
PROCESSES = ["jobstream.streams.state_processor", "jobstream.streams.dispatcher", "jobstream.streams.worker_monitor",
             "jobstream.streams.timer_processor", "jobstream.projections.projector", "jobstream.projections.logs",
             "jobstream.worker.process"]
METRIC = re.compile(r"\b(jobstream(?::[a-z0-9_]+)+|jobstream_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"],
            "summary": ["", "_sum", "_count"]}


@pytest.fixture(scope="module")
def promtool() -> Path:
    return install_promtool()  # Debian's prometheus package, as `jobstream infra install` does


def _registries() -> list[CollectorRegistry]:
    for module in PROCESSES:
        importlib.import_module(module)
    return [REGISTRY, ApiMetrics().registry]


def exported_series() -> set[str]:
    """The series names jobstream processes export (a histogram's _bucket, _sum and _count)."""
    names: set[str] = set()
    for registry in _registries():
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, [""]))
    return {name for name in names if name.startswith("jobstream_")}


def dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]


def rules() -> list[dict[str, str]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules(promtool: Path) -> None:
    checked = subprocess.run([str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True)
    found = f"SUCCESS: {len(rules())} rules found"  # every rule of the file, none skipped
    assert checked.returncode == 0 and found in checked.stdout, checked.stdout + checked.stderr


def test_the_rules_fire_on_trouble_and_stay_quiet_on_a_healthy_system(promtool: Path) -> None:
    tested = subprocess.run([str(promtool), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                            cwd=RULE_TESTS.parent)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    tested_alerts = re.findall(r"alertname: (\w+)", RULE_TESTS.read_text())
    assert alerts == set(tested_alerts), "every alert has a firing and a quiet case"


def test_every_metric_the_dashboard_and_the_rules_use_is_exported_by_a_process() -> None:
    exported = exported_series()
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    used = {name for expr in [*dashboard_exprs(), *(rule["expr"] for rule in rules())] for name in METRIC.findall(expr)}
    assert used, "the dashboard and the rules use metrics"
    assert {name for name in used if ":" in name} <= recorded, "a recording rule used is one the rules define"
    missing = sorted(name for name in used if ":" not in name and name not in exported)
    assert not missing, f"used but exported by no process: {missing}"


def test_the_dashboard_shows_what_the_issue_lists() -> None:
    titles = " ".join(panel["title"].lower() for panel in json.loads(DASHBOARD.read_text())["panels"])
    for topic in ["throughput", "failure", "scheduling latency", "turnaround", "queue depth", "oldest",
                  "consumer lag", "timer lateness", "worker slots", "dead letters"]:
        assert topic in titles, topic


def test_promtool_finds_nothing_to_say_about_the_metrics_names(promtool: Path) -> None:
    exposition = b""
    for registry in _registries():
        for collector in list(registry._collector_to_names):  # give each labelled metric one child to show
            if isinstance(collector, MetricWrapperBase) and collector._labelnames:
                collector.labels(*["x"] * len(collector._labelnames))
        exposition += generate_latest(registry)
    linted = subprocess.run([str(promtool), "check", "metrics"], input=exposition, capture_output=True)
    problems = [line for line in linted.stderr.decode().splitlines() if line.startswith("jobstream")]
    assert not problems, "\n".join(problems)
