"""What became of a command, from the events it caused or the poison topic (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobstream.projections.batch import Batch
from jobstream.projections.command_results import poisoned_row, result_of, results_of
from jobstream.projections.rows import EventRow, PoisonedRow
from jobstream.schemas import CommandStatus, SingleObjectCodec, SubmitJob, make_codec
from jobstream.schemas.actors import worker_actor
from jobstream.schemas.codec import MARKER
from tests.unit.builders import command, spec

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def submit(job_id: str, command_id: str) -> SubmitJob:
    return command(SubmitJob, job_id, command_id, spec=spec())  # type: ignore[return-value]


def event(seq: int, kind: str, cause: str, **payload: str) -> EventRow:
    return EventRow(f"j:{seq}", "j", seq, kind, AT.replace(second=seq), "api", cause, None, dict(payload))


def poisoned(command_id: str) -> PoisonedRow:
    return PoisonedRow(command_id, "j", "unknown schema fingerprint 00", "p.commands", 3, 7, AT)


def test_a_command_that_caused_events_was_accepted_with_them_in_order() -> None:
    result = result_of("c1", [event(1, "JobSubmitted", "c1"), event(2, "JobQueued", "c1")], None)

    assert result is not None and result.status is CommandStatus.ACCEPTED and result.reason is None
    expected = ("j", ["j:1", "j:2"], AT.replace(second=2))
    assert (result.job_id, [e.event_id for e in result.events], result.at) == expected


def test_a_rejection_event_makes_it_rejected_with_its_reason() -> None:
    result = result_of("c2", [event(3, "CommandRejected", "c2", reason="job is running")], None)

    assert result is not None and (result.status, result.reason) == (CommandStatus.REJECTED, "job is running")


def test_a_poisoned_command_is_poisoned_and_an_unknown_one_has_no_result() -> None:
    result = result_of("c3", [], poisoned("c3"))

    assert result is not None and (result.status, result.reason, result.events) == (
        CommandStatus.POISONED, "unknown schema fingerprint 00", [])
    assert result_of("c4", [], None) is None


def test_results_of_several_commands_group_the_events_by_cause() -> None:
    events = [event(1, "JobSubmitted", "a"), event(2, "CommandRejected", "b", reason="no"), event(3, "JobQueued", "a")]

    results = results_of(["a", "b", "c", "a"], events, {"c": poisoned("c")})

    assert [(r.command_id, r.status, len(r.events)) for r in results] == [
        ("a", CommandStatus.ACCEPTED, 2), ("b", CommandStatus.REJECTED, 1), ("c", CommandStatus.POISONED, 0)]


def headers(topic: str) -> dict[str, bytes]:
    return {"origin.topic": topic.encode(), "origin.partition": b"3", "origin.offset": b"7",
            "reason": b"unknown schema fingerprint 0102030405060708"}


def test_a_command_of_an_unknown_schema_is_filed_under_the_id_its_body_starts_with() -> None:
    # Given a SubmitJob whose header names a schema nobody knows (a producer's own .avsc, say)
    body = SingleObjectCodec().encode(submit("job-1", command_id="cmd-42"))[10:]
    value = MARKER + bytes(range(1, 9)) + body

    row = poisoned_row(headers("p.commands"), b"job-1", value, 1_767_323_045_000, "p.commands", make_codec(None))

    assert row == PoisonedRow("cmd-42", "job-1", "unknown schema fingerprint 0102030405060708", "p.commands", 3, 7,
                              datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_a_decodable_command_gives_its_id_and_other_poison_is_not_a_command() -> None:
    codec = make_codec(None)
    value = codec.encode(submit("job-2", command_id="cmd-7"))

    row = poisoned_row(headers("p.commands"), b"job-2", value, 0, "p.commands", codec)

    assert row is not None and row.command_id == "cmd-7" and isinstance(codec.decode(value, topic="", partition=0,
                                                                                     offset=0), SubmitJob)
    assert poisoned_row(headers("p.events"), b"job-2", value, 0, "p.commands", codec) is None
    assert poisoned_row(headers("p.commands"), b"job-2", b"garbage", 0, "p.commands", codec) is None


def test_a_batch_publishes_results_of_clients_commands_not_of_workers_reports() -> None:
    def event(seq: int, actor: str, causation: str) -> EventRow:
        return EventRow(f"j:{seq}", "j", seq, "JobSubmitted", AT, actor, causation, None, {})

    batch = Batch()
    batch.events = {e.event_id: e for e in (event(1, "api", "submit-1"), event(2, "api", "submit-1"),
                                            event(3, worker_actor("w1"), "j.1:started"))}
    assert batch.decided() == ["submit-1"]
