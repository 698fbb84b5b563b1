"""A thin exactly-once processor loop over confluent-kafka: one consumer in a group, one
transactional producer, a state store per partition backed by a compacted changelog.

Each polled batch is one transaction: the handler's outputs, the changelog records of the state it
changed and the input offsets commit together, or not at all. The hot processors run on it; the
modules are small: ``config`` (clients), ``store`` (committed state and a batch's overlay),
``processor`` (what an application implements), ``restore``, ``transaction`` (error handling),
``liveness`` and ``loop``."""

from jobstream.streams.engine.config import EngineConfig
from jobstream.streams.engine.loop import Engine
from jobstream.streams.engine.processor import Batch, Processor
from jobstream.streams.engine.store import Overlay, Serde, Stores

__all__ = ["Batch", "Engine", "EngineConfig", "Overlay", "Processor", "Serde", "Stores"]
