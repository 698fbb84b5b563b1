"""`jobstream run --instances N`: every processor N times, each instance with an id and a port of its own."""

from __future__ import annotations

from collections import Counter

from jobstream.supervisor import PROCESSORS, default_children


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_one_instance_keeps_the_names_ids_and_ports_of_a_single_stack() -> None:
    children = dict(default_children(workers=1))
    assert children["dispatcher"] == ["dispatcher", "--instance-id", "dispatcher-1", "--metrics-port", "9102"]
    assert children["monitor"][:3] == ["worker-monitor", "--instance-id", "worker-monitor-1"]


def test_n_instances_of_each_processor_with_distinct_ids_and_ports() -> None:
    children = default_children(workers=2, instances=3)
    commands = Counter(args[0] for _, args in children)
    assert all(commands[command[0]] == 3 for _, command, _, _ in PROCESSORS)
    assert commands["api"] == 1 and commands["worker"] == 2
    names = [name for name, _ in children]
    ids = [_option(args, "--instance-id") for _, args in children if "--instance-id" in args]
    ports = [_option(args, "--metrics-port") for _, args in children if "--metrics-port" in args]
    assert len(set(names)) == len(names) and len(set(ids)) == len(ids) == 12 and len(set(ports)) == len(ports)
