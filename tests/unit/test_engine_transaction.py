"""What the engine does with a transaction's failure: abort and redo, or exit for a restart."""

from __future__ import annotations

from confluent_kafka import KafkaError

from jobstream.streams.engine.transaction import Outcome, classify


def test_an_abortable_error_is_aborted_and_redone() -> None:
    error = KafkaError(KafkaError.CONCURRENT_TRANSACTIONS, retriable=True, txn_requires_abort=True)
    assert classify(error) is Outcome.ABORT
    assert classify(KafkaError(KafkaError.ILLEGAL_GENERATION, txn_requires_abort=True)) is Outcome.ABORT


def test_a_timeout_leaves_the_transaction_unknown_so_the_process_restarts() -> None:
    # after a broker outage: send_offsets_to_transaction timed out, retriable, not abortable
    assert classify(KafkaError(KafkaError._TIMED_OUT, retriable=True)) is Outcome.UNKNOWN


def test_fenced_or_fatal_ends_the_process() -> None:
    assert classify(KafkaError(KafkaError.PRODUCER_FENCED)) is Outcome.FATAL
    assert classify(KafkaError(KafkaError._FAIL, fatal=True)) is Outcome.FATAL
