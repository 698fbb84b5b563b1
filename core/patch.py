"""Applying a JobPatch to a JobSpec: null fields leave the spec as it is; env merges, labels replace."""

from __future__ import annotations

from dataclasses import replace

from jobstream.schemas import JobPatch, JobSpec, ShellTask


def apply_patch(spec: JobSpec, patch: JobPatch) -> JobSpec:
    changes: dict[str, object] = {
        name: getattr(patch, name)
        for name in ("priority", "queue", "timeout_s", "retry", "schedule", "labels")
        if getattr(patch, name) is not None
    }
    if patch.env is not None and isinstance(spec.task, ShellTask):
        changes["task"] = replace(spec.task, env={**spec.task.env, **patch.env})
    return replace(spec, **changes)  # type: ignore[arg-type]
