"""How a transaction's failure is handled: retried, aborted and redone, or the end of the process."""

from __future__ import annotations

import time
from enum import Enum

from confluent_kafka import KafkaError, KafkaException, Producer

# A newer owner of the transactional id or of the group member took over: this process is a zombie.
FENCED = frozenset({KafkaError._FATAL, KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                    KafkaError.INVALID_PRODUCER_EPOCH,
                    KafkaError.FENCED_INSTANCE_ID, KafkaError.TRANSACTION_COORDINATOR_FENCED})


class Outcome(Enum):
    ABORT = "abort"  # abort, drop the staged state, consume the batch again
    FATAL = "fatal"  # exit: the supervisor restarts the process
    UNKNOWN = "unknown"  # a call timed out: the transaction's fate is unknown; a new producer's init fences it


class Fatal(Exception):
    """The process cannot go on (fenced, or a fatal client error); exit non-zero."""


def classify(error: KafkaError) -> Outcome:
    """librdkafka says what an error means for the transaction. A stale group generation
    (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID) is abortable: the aborted batch goes back to
    whoever owns its partitions after the rebalance this member then goes through."""
    if error.fatal() or error.code() in FENCED:
        return Outcome.FATAL
    if error.retriable() and not error.txn_requires_abort():
        # Retried to its deadline (commit) or timed out (send_offsets): aborting is not safe either;
        # a new producer's init_transactions settles it (and waits for the broker).
        return Outcome.UNKNOWN
    return Outcome.ABORT


def error_of(exception: KafkaException) -> KafkaError:
    error = exception.args[0] if exception.args else None
    if isinstance(error, KafkaError):
        return error
    return KafkaError(KafkaError._FAIL, str(exception))


def commit(producer: Producer, timeout_s: float) -> None:
    """Commit, retrying what librdkafka calls retriable (a timeout: the outcome is not known yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            producer.commit_transaction(max(0.1, deadline - time.monotonic()))
            return
        except KafkaException as exception:
            error = error_of(exception)
            if not error.retriable() or time.monotonic() > deadline:
                raise


def abort(producer: Producer, timeout_s: float) -> None:
    try:
        producer.abort_transaction(timeout_s)
    except KafkaException as exception:
        raise Fatal(f"abort failed: {error_of(exception)}") from exception
