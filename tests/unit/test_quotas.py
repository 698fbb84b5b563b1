"""Namespace quotas: a set merges into the last record, the caps and the shell switch fold of
QuotaSet records, and a shell: true submission refused where the namespace does not allow it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobstream.core.decide import decide, refuse
from jobstream.core.quotas import NO_RATE, fold_cap, fold_shell, merged_quota, shell_refusal
from jobstream.core.state import JobState, evolve
from jobstream.schemas import (
    CommandEnvelope,
    CommandRejected,
    JobSpec,
    PythonTask,
    QuotaSet,
    ShellTask,
    SubmitJob,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def quota(rate: float = 10.0, cap: int | None = None, namespace: str = "acme", shell: bool = False) -> QuotaSet:
    return QuotaSet(namespace=namespace, submit_rate=rate, set_at=NOW, actor="cli:a", max_in_flight=cap,
                    allow_shell=shell)


def submit(task: ShellTask | PythonTask, namespace: str | None = "acme", command_id: str = "c1") -> SubmitJob:
    envelope = CommandEnvelope(command_id=command_id, job_id="j1", type="SubmitJob", issued_at=NOW,
                               actor="key:k1", namespace=namespace)
    return SubmitJob(envelope=envelope, spec=JobSpec(name="x", task=task))


SHELL = ShellTask(argv=["echo $HOME"], shell=True)


def test_setting_a_cap_keeps_the_rate_set_before() -> None:
    merged = merged_quota(quota(rate=10.0), "acme", NOW, "cli:b", max_in_flight=50)
    assert (merged.submit_rate, merged.max_in_flight, merged.actor) == (10.0, 50, "cli:b")


def test_setting_a_rate_keeps_the_cap_set_before() -> None:
    merged = merged_quota(quota(rate=10.0, cap=50), "acme", NOW, "cli:b", submit_rate=3.0)
    assert (merged.submit_rate, merged.max_in_flight) == (3.0, 50)


def test_a_first_cap_leaves_the_default_rate() -> None:
    merged = merged_quota(None, "acme", NOW, "cli:b", max_in_flight=2)
    assert (merged.submit_rate, merged.max_in_flight) == (NO_RATE, 2)


def test_a_cap_of_zero_removes_the_cap() -> None:
    assert merged_quota(quota(cap=50), "acme", NOW, "cli:b", max_in_flight=0).max_in_flight is None


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        merged_quota(None, "acme", NOW, "cli:b", max_in_flight=-1)


def test_the_shell_switch_is_carried_forward_until_set_again() -> None:
    allowed = merged_quota(quota(cap=5), "acme", NOW, "cli:b", allow_shell=True)
    assert (allowed.allow_shell, allowed.max_in_flight) == (True, 5)
    assert merged_quota(allowed, "acme", NOW, "cli:c", submit_rate=1.0).allow_shell is True
    assert merged_quota(allowed, "acme", NOW, "cli:c", allow_shell=False).allow_shell is False
    assert merged_quota(None, "acme", NOW, "cli:b", max_in_flight=2).allow_shell is False


def test_the_shell_fold_keeps_the_last_record_of_each_namespace() -> None:
    namespaces: set[str] = set()
    for record in (quota(shell=True), quota(shell=True, namespace="beta"), quota(cap=3, namespace="beta")):
        fold_shell(namespaces, record)
    assert namespaces == {"acme"}


def test_a_shell_true_submission_is_refused_where_its_namespace_does_not_allow_it() -> None:
    empty = JobState("j1")
    reason = shell_refusal(empty, submit(SHELL), set())
    assert reason is not None and reason.startswith("task.shell: namespace acme does not allow shell: true")
    assert "jobstream quotas set --namespace acme --allow-shell" in reason
    assert shell_refusal(empty, submit(SHELL), {"acme"}) is None
    assert shell_refusal(empty, submit(SHELL, namespace="beta"), {"acme"}) is not None
    assert shell_refusal(empty, submit(SHELL, namespace=None), {"acme"}) is not None  # the default namespace's
    assert shell_refusal(empty, submit(SHELL, namespace=None), {"default"}) is None
    assert shell_refusal(empty, submit(ShellTask(argv=["echo", "hi"])), set()) is None  # argv: always allowed
    assert shell_refusal(empty, submit(PythonTask(entrypoint="m:f")), set()) is None


def test_a_refused_submission_is_a_rejection_and_its_repeat_decides_nothing() -> None:
    command = submit(SHELL)
    reason = shell_refusal(JobState("j1"), command, set())
    assert reason is not None
    events = refuse(JobState("j1"), command, NOW, reason)
    assert [type(e) for e in events] == [CommandRejected] and events[0].reason == reason  # type: ignore[union-attr]
    after = evolve(JobState("j1"), events[0])
    assert not after.exists and shell_refusal(after, command, set()) is None
    assert decide(after, command, NOW) == []  # the same command again, even once the namespace allows it


def test_the_caps_fold_keeps_the_last_record_of_each_namespace() -> None:
    caps: dict[str, int] = {}
    for record in (quota(cap=5), quota(cap=2, namespace="beta"), quota(cap=3), quota(cap=None, namespace="beta")):
        fold_cap(caps, record)
    assert caps == {"acme": 3}


def test_a_quota_without_a_cap_goes_over_the_wire_as_no_cap() -> None:
    from jobstream.schemas import make_codec

    codec = make_codec(None)
    decoded = codec.decode(codec.encode(quota(cap=None), "jobstream.keys"), topic="jobstream.keys", partition=0,
                           offset=0)
    assert isinstance(decoded, QuotaSet) and decoded.max_in_flight is None


def test_quotas_set_needs_a_quota_to_set() -> None:
    from typer.testing import CliRunner

    from jobstream.keys_cli import quotas_app

    result = CliRunner().invoke(quotas_app, ["set", "--namespace", "acme"])
    assert result.exit_code == 2 and "--max-in-flight" in result.output


def test_quotas_set_says_what_now_holds() -> None:
    from jobstream.keys_cli import describe

    assert describe(quota(10.0, 50)) == "10 submissions a second, at most 50 in flight, argv only"
    assert describe(quota(NO_RATE, None, shell=True)) == ("the default submission rate, no in-flight cap, "
                                                         "shell: true allowed")
