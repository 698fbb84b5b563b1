"""Recurring jobs through decide/evolve with a fixed clock: fires, misfires, overlap, pause/resume,
schedule changes, and the commands a decision sends to its runs and parent."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jobstream.core.decide import decide
from jobstream.core.follow_ups import follow_up_commands
from jobstream.core.scheduling import run_job_id_for, schedule_timer_id
from jobstream.core.state import JobState, Status, evolve
from jobstream.schemas import (
    CancelJob,
    CommandRejected,
    ConcurrencyPolicy,
    FireTimer,
    JobCompleted,
    JobEvent,
    JobPatch,
    JobPaused,
    JobResumed,
    JobScheduled,
    JobUpdated,
    MisfirePolicy,
    NotifyUpstreamFinished,
    PauseJob,
    ResumeJob,
    Schedule,
    ScheduleEnded,
    ScheduleFired,
    ScheduleRunFinished,
    ScheduleSkipped,
    SkipReason,
    SubmitJob,
    TimerPurpose,
    UpdateJob,
)
from tests.unit.builders import T0, command, spec

S = timedelta(seconds=1)


def apply(state: JobState, cmd: Any, now: datetime = T0) -> tuple[JobState, list[JobEvent]]:
    events = decide(state, cmd, now)
    for event in events:
        state = evolve(state, event)
    return state, events


def kinds(events: list[JobEvent]) -> list[str]:
    return [e.envelope.type for e in events]


def recurring(**schedule: Any) -> JobState:
    state, events = apply(JobState("job-1"), command(SubmitJob, spec=spec(schedule=Schedule(**schedule))))
    assert kinds(events) == ["JobSubmitted", "JobScheduled"], events
    return state


def fire(state: JobState, now: datetime) -> tuple[JobState, list[JobEvent]]:
    """The timer of the fire the job waits for, handled at ``now``."""
    assert state.next_run_at is not None
    due = state.next_run_at
    return apply(state, command(FireTimer, timer_id=schedule_timer_id("job-1", due), due_at=due,
                                purpose=TimerPurpose.SCHEDULE), now)


def ended(state: JobState, run_number: int, status: str = "completed") -> tuple[JobState, list[JobEvent]]:
    return apply(state, command(NotifyUpstreamFinished, upstream_job_id=run_job_id_for("job-1", run_number),
                                upstream_status=status))


def test_every_second_fires_a_run_per_second_and_a_repeated_fire_does_nothing() -> None:
    state = recurring(every_s=1)
    assert state.status == Status.SCHEDULED and state.next_run_at == T0 + S
    for n in range(1, 6):
        timer = schedule_timer_id("job-1", state.next_run_at)  # type: ignore[arg-type]
        state, events = fire(state, T0 + n * S)
        assert kinds(events) == ["ScheduleFired", "JobScheduled"]
        fired = events[0]
        assert isinstance(fired, ScheduleFired)
        assert (fired.run_number, fired.run_job_id, fired.due_at) == (n, f"job-1.r{n}", T0 + n * S)
        assert state.next_run_at == T0 + (n + 1) * S
        again = command(FireTimer, timer_id=timer, due_at=T0 + n * S, purpose=TimerPurpose.SCHEDULE)
        assert decide(state, again, T0 + n * S) == []
    assert state.runs == 5 and len(state.active_runs) == 5  # concurrency allow: all five still run


def test_cron_in_a_zone_shows_next_run_at_in_utc() -> None:
    state = recurring(cron="0 3 * * *", timezone="Europe/Paris")  # T0 is 2026-01-01 12:00 UTC
    assert state.next_run_at == datetime.fromisoformat("2026-01-02T02:00:00+00:00")


def test_a_late_fire_skips_the_missed_times_with_reasons_and_runs_once() -> None:
    state = recurring(every_s=1)
    state, events = fire(state, T0 + 10.5 * S)  # down for ten seconds
    skipped = [e for e in events if isinstance(e, ScheduleSkipped)]
    assert [e.due_at for e in skipped] == [T0 + n * S for n in range(1, 10)]
    assert {e.reason for e in skipped} == {SkipReason.MISFIRE}
    [fired] = [e for e in events if isinstance(e, ScheduleFired)]
    assert fired.due_at == T0 + 10 * S and state.next_run_at == T0 + 11 * S


def test_misfire_skip_and_run_all() -> None:
    state, events = fire(recurring(every_s=1, misfire=MisfirePolicy.SKIP), T0 + 10.5 * S)
    assert [e.due_at for e in events if isinstance(e, ScheduleFired)] == [T0 + 10 * S]  # on time: runs
    state, events = fire(recurring(every_s=1, misfire=MisfirePolicy.RUN_ALL, misfire_cap=3), T0 + 10.5 * S)
    assert [e.due_at for e in events if isinstance(e, ScheduleFired)] == [T0 + n * S for n in (8, 9, 10)]


def test_a_starting_deadline_skips_a_run_that_would_start_too_late() -> None:
    state, events = fire(recurring(every_s=60, starting_deadline_s=5), T0 + 70 * S)
    [skipped] = [e for e in events if isinstance(e, ScheduleSkipped)]
    assert skipped.reason == SkipReason.DEADLINE and state.next_run_at == T0 + 120 * S


def test_forbid_skips_a_fire_while_the_previous_run_goes_on() -> None:
    state = recurring(every_s=60, concurrency=ConcurrencyPolicy.FORBID)
    state, _ = fire(state, T0 + 60 * S)
    state, events = fire(state, T0 + 120 * S)
    assert kinds(events) == ["ScheduleSkipped", "JobScheduled"] and events[0].reason == SkipReason.OVERLAP
    state, events = ended(state, 1)
    assert [type(e) for e in events] == [ScheduleRunFinished] and state.active_runs == ()
    assert ended(state, 1)[1] == [], "a repeated notice changes nothing"
    state, events = fire(state, T0 + 180 * S)
    assert [e.run_job_id for e in events if isinstance(e, ScheduleFired)] == ["job-1.r2"]


def test_replace_cancels_the_previous_run() -> None:
    state = recurring(every_s=60, concurrency=ConcurrencyPolicy.REPLACE)
    state, _ = fire(state, T0 + 60 * S)
    before = state
    state, events = fire(state, T0 + 120 * S)
    fired = events[0]
    assert isinstance(fired, ScheduleFired) and fired.replaces == ["job-1.r1"] and state.active_runs == ("job-1.r2",)
    sent = follow_up_commands(before, state, events)
    assert [(type(c), c.envelope.job_id) for c in sent] == [(SubmitJob, "job-1.r2"), (CancelJob, "job-1.r1")]


def test_each_fire_submits_its_run_with_the_parents_spec_and_a_deterministic_id() -> None:
    state = recurring(every_s=60)
    before = state
    state, events = fire(state, T0 + 60 * S)
    [submit] = follow_up_commands(before, state, events)
    assert isinstance(submit, SubmitJob) and submit.envelope.command_id == "submit:job-1.r1"
    assert submit.spec.schedule is None and submit.spec.task == before.spec.task  # type: ignore[union-attr]
    assert submit.spec.run_of is not None and (submit.spec.run_of.parent_job_id, submit.spec.run_of.run_number,
                                               submit.spec.run_of.due_at) == ("job-1", 1, T0 + 60 * S)
    assert follow_up_commands(before, state, events) == [submit], "resending the decision repeats the same command"


def test_a_run_joins_its_recurring_jobs_namespace_and_is_admitted_with_it() -> None:
    from dataclasses import replace

    from jobstream.core.quotas import shell_refusal
    from jobstream.schemas import ShellTask

    state = replace(recurring(every_s=60), namespace="acme")
    state = replace(state, spec=replace(state.spec, task=ShellTask(argv=["echo $X"], shell=True)))
    before = state
    state, events = fire(state, T0 + 60 * S)
    [submit] = follow_up_commands(before, state, events)
    assert isinstance(submit, SubmitJob) and submit.envelope.namespace == "acme"
    run, run_events = apply(JobState("job-1.r1"), submit)
    assert run.namespace == "acme" and {e.envelope.namespace for e in run_events} == {"acme"}
    assert shell_refusal(JobState("job-1.r1"), submit, set()) is None  # its parent was admitted


def test_a_run_tells_its_parent_once_when_it_ends() -> None:
    parent = recurring(every_s=60)
    parent, events = fire(parent, T0 + 60 * S)
    [submit] = follow_up_commands(recurring(every_s=60), parent, events)
    run, _ = apply(JobState("job-1.r1"), submit)
    assert run.status == Status.QUEUED and follow_up_commands(JobState("job-1.r1"), run, []) == []
    finished = JobCompleted(envelope=_envelope("job-1.r1", run.seq + 1), execution_id="job-1.r1.1", attempt=1)
    done = evolve(run, finished)
    [notice] = follow_up_commands(run, done, [finished])
    assert isinstance(notice, NotifyUpstreamFinished)
    told = (notice.envelope.job_id, notice.upstream_job_id, notice.upstream_status)
    assert told == ("job-1", "job-1.r1", "completed")
    assert follow_up_commands(done, done, [finished]) == [], "only the transition into a final state tells"


def test_cancelling_the_recurring_job_cancels_its_active_runs() -> None:
    state, _ = fire(recurring(every_s=60), T0 + 60 * S)
    after, events = apply(state, command(CancelJob))
    assert after.status == Status.CANCELLED
    assert [(type(c), c.envelope.job_id) for c in follow_up_commands(state, after, events)] == [(CancelJob, "job-1.r1")]


def test_max_runs_ends_the_schedule() -> None:
    state = recurring(every_s=1, max_runs=2)
    state, _ = fire(state, T0 + S)
    state, events = fire(state, T0 + 2 * S)
    assert kinds(events) == ["ScheduleFired", "ScheduleEnded"] and state.status == Status.COMPLETED
    assert isinstance(events[1], ScheduleEnded) and events[1].runs == 2


def test_pause_ignores_fires_and_resume_skips_what_was_missed_as_paused() -> None:
    state = recurring(every_s=1)
    state, events = apply(state, command(PauseJob))
    assert [type(e) for e in events] == [JobPaused] and state.status == Status.PAUSED
    assert fire(state, T0 + S)[1] == []
    state, events = apply(state, command(ResumeJob), T0 + 5.5 * S)
    assert isinstance(events[0], JobResumed) and state.status == Status.SCHEDULED
    skipped = [e for e in events if isinstance(e, ScheduleSkipped)]
    assert [e.due_at for e in skipped] == [T0 + n * S for n in (1, 2, 3, 4)]
    assert {e.reason for e in skipped} == {SkipReason.PAUSED}
    assert [e.due_at for e in events if isinstance(e, ScheduleFired)] == [T0 + 5 * S]
    assert isinstance(events[-1], JobScheduled) and state.next_run_at == T0 + 6 * S
    assert isinstance(apply(state, command(ResumeJob))[1][0], CommandRejected)


def test_a_one_shot_paused_past_its_time_is_skipped_or_run_by_its_misfire_policy() -> None:
    for policy, expected in ((MisfirePolicy.SKIP, ["ScheduleSkipped", "JobCancelled"]),
                             (MisfirePolicy.RUN_ONCE, ["ScheduleFired", "JobQueued"])):
        state, _ = apply(JobState("job-1"), command(SubmitJob, spec=spec(schedule=Schedule(at=T0 + S, misfire=policy))))
        state, _ = apply(state, command(PauseJob))
        state, events = apply(state, command(ResumeJob), T0 + 60 * S)
        assert kinds(events) == ["JobResumed", *expected]


def test_a_schedule_change_recomputes_next_run_at_and_the_old_fire_does_nothing() -> None:
    state = recurring(every_s=1)
    old = state.next_run_at
    now = T0 + 0.5 * S
    state, events = apply(state, command(UpdateJob, patch=JobPatch(schedule=Schedule(every_s=60))), now)
    assert [type(e) for e in events] == [JobUpdated, JobScheduled] and state.next_run_at == now + 60 * S
    stale = command(FireTimer, timer_id=schedule_timer_id("job-1", old), due_at=old,  # type: ignore[arg-type]
                    purpose=TimerPurpose.SCHEDULE)
    assert decide(state, stale, T0 + S) == []


def test_schedule_changes_that_make_no_sense_are_refused_with_the_reason() -> None:
    once = spec(schedule=Schedule(at=T0 + 60 * S))
    queued, _ = apply(JobState("job-2"), command(SubmitJob, job_id="job-2", spec=spec()))
    cases = [
        (recurring(every_s=1), Schedule(at=T0 + 60 * S), "cannot become one-shot"),
        (queued, Schedule(every_s=5), "only a job submitted with a schedule"),
        (apply(JobState("job-1"), command(SubmitJob, spec=once))[0], Schedule(cron="not cron"), "schedule.cron"),
    ]
    for state, schedule, reason in cases:
        _, events = apply(state, command(UpdateJob, job_id=state.job_id, patch=JobPatch(schedule=schedule)))
        assert isinstance(events[0], CommandRejected) and reason in events[0].reason, events


def test_a_paused_job_keeps_its_new_schedule_until_resumed() -> None:
    state, _ = apply(recurring(every_s=1), command(PauseJob))
    state, events = apply(state, command(UpdateJob, patch=JobPatch(schedule=Schedule(every_s=60))), T0 + 10 * S)
    assert [type(e) for e in events] == [JobUpdated] and state.status == Status.PAUSED
    state, events = apply(state, command(ResumeJob), T0 + 20 * S)
    assert state.next_run_at == T0 + 70 * S and not any(isinstance(e, ScheduleFired) for e in events)


def _envelope(job_id: str, seq: int):  # type: ignore[no-untyped-def]
    from jobstream.schemas import Envelope

    return Envelope(event_id=f"{job_id}:{seq}", job_id=job_id, seq=seq, type="JobCompleted", occurred_at=T0, actor="w")


def test_after_a_schedule_change_no_due_time_of_before_the_change_is_planned() -> None:
    # An hourly cron fired at 13:00; at 13:30 it becomes "15 * * * *" with run_all
    state = recurring(cron="0 * * * *", misfire=MisfirePolicy.RUN_ALL)  # T0 is 12:00
    state, _ = fire(state, T0 + 3600 * S)
    change = Schedule(cron="15 * * * *", misfire=MisfirePolicy.RUN_ALL)
    state, _ = apply(state, command(UpdateJob, patch=JobPatch(schedule=change)), T0 + 5400 * S)
    assert state.next_run_at == T0 + 8100 * S  # 14:15
    state, events = fire(state, T0 + 8100 * S)
    assert [e.due_at for e in events if isinstance(e, ScheduleFired)] == [T0 + 8100 * S]
    assert not any(isinstance(e, ScheduleSkipped) for e in events), "13:15 was before the change"


def test_a_one_shot_fired_late_follows_its_misfire_policy_and_deadline() -> None:
    for schedule, expected in ((Schedule(at=T0 + S), ["ScheduleFired", "JobQueued"]),  # run_once: runs late
                               (Schedule(at=T0 + S, misfire=MisfirePolicy.SKIP), ["ScheduleSkipped", "JobCancelled"]),
                               (Schedule(at=T0 + S, starting_deadline_s=60), ["ScheduleSkipped", "JobCancelled"])):
        state, _ = apply(JobState("job-1"), command(SubmitJob, spec=spec(schedule=schedule)))
        _, events = fire(state, T0 + 3 * 3600 * S)  # three hours late
        assert kinds(events) == expected, schedule
