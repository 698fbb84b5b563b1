"""Namespace quotas, pure: a ``jobstream quotas set`` merged into the namespace's last record, the
in-flight caps and the namespaces allowing ``shell: true`` as folds of the keys topic's QuotaSet
records, and the refusal of a shell submission in a namespace that does not allow it.

A QuotaSet holds all of a namespace's quotas and the last one holds, whole: setting one quota
carries the others forward from the record before, so ``--max-in-flight`` never resets a rate.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import datetime

from jobstream.core.state import JobState
from jobstream.schemas import DEFAULT_NAMESPACE, Command, JobSpec, QuotaSet, ShellTask, SubmitJob

NO_RATE = 0.0  # a submit_rate of 0: the API's default namespace rate applies


def merged_quota(current: QuotaSet | None, namespace: str, now: datetime, actor: str, *,
                 submit_rate: float | None = None, max_in_flight: int | None = None,
                 allow_shell: bool | None = None) -> QuotaSet:
    """The record that sets what is given and keeps the rest of ``current``; a ``max_in_flight``
    of 0 removes the cap."""
    if max_in_flight is not None and max_in_flight < 0:
        raise ValueError(f"max_in_flight must be 0 (no cap) or more, got {max_in_flight}")
    rate = submit_rate if submit_rate is not None else current.submit_rate if current else NO_RATE
    cap = current.max_in_flight if current and max_in_flight is None else max_in_flight or None
    shell = allow_shell if allow_shell is not None else current.allow_shell if current else False
    return QuotaSet(namespace=namespace, submit_rate=rate, set_at=now, actor=actor, max_in_flight=cap,
                    allow_shell=shell)


def fold_cap(caps: dict[str, int], quota: QuotaSet) -> None:
    """Apply one QuotaSet to the caps (namespace -> max in flight; absent: no cap), in place."""
    if quota.max_in_flight is None:
        caps.pop(quota.namespace, None)
    else:
        caps[quota.namespace] = quota.max_in_flight


def fold_shell(namespaces: set[str], quota: QuotaSet) -> None:
    """Apply one QuotaSet to the namespaces whose shell tasks may say ``shell: true``, in place."""
    if quota.allow_shell:
        namespaces.add(quota.namespace)
    else:
        namespaces.discard(quota.namespace)


def shell_refusal(state: JobState, command: Command, shell_namespaces: Container[str]) -> str | None:
    """Why a new submission is refused because its task says ``shell: true`` in a namespace that
    does not allow it; None for anything else (a repeat of a decided command decides nothing new)."""
    if not isinstance(command, SubmitJob) or state.exists or state.has_applied(command.envelope.command_id):
        return None
    if command.spec.run_of is not None:  # a recurring job's run: the job was admitted when it was submitted
        return None
    return shell_problem(command.spec, command.envelope.namespace or DEFAULT_NAMESPACE, shell_namespaces)


def shell_problem(spec: JobSpec, namespace: str, shell_namespaces: Container[str]) -> str | None:
    """``task.shell: why`` when ``spec``'s task says ``shell: true`` in a namespace that does not
    allow it (the API checks this before sending, the state processor when deciding); else None."""
    if not isinstance(spec.task, ShellTask) or not spec.task.shell or namespace in shell_namespaces:
        return None
    return f"task.shell: {SHELL_NOT_ALLOWED.format(namespace=namespace)}"


SHELL_NOT_ALLOWED = ("namespace {namespace} does not allow shell: true (give argv instead; an admin allows it "
                     "with jobstream quotas set --namespace {namespace} --allow-shell)")


def cap_reason(namespace: str, cap: int, in_flight: int) -> str | None:
    """Why a queued job of ``namespace`` waits when the namespace has ``in_flight`` executions
    assigned or running against its ``cap``; None when it has room."""
    if in_flight < cap:
        return None
    return f"namespace {namespace} is at its in-flight cap: {in_flight} of {cap} executions assigned or running"
