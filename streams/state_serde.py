"""JobState on the engine's changelog: a ``JobStateValue`` Avro record (``streams/state_record.py``),
in the codec's wire format like every other store value, so the writer schema travels with each
value and the compatibility guard covers it.

It also reads the format of earlier releases, a format byte (0x01) and a pickle of each
dataclass's field names and values, so a changelog they wrote restores; it never writes it. The
pickle is read with an unpickler that builds only our dataclasses and datetimes."""

from __future__ import annotations

import dataclasses
import io
import pickle
from collections.abc import Callable
from typing import Any

from jobstream.core.state import Incomplete, JobState
from jobstream.schemas import Codec, JobStateValue, all_record_classes, make_codec
from jobstream.streams.record_serde import RecordSerde
from jobstream.streams.state_record import from_record, to_record

PICKLE_FORMAT = b"\x01"  # earlier releases: read, never written

_LAYOUTS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (JobState, Incomplete, *all_record_classes())
}
_KNOWN: dict[type, frozenset[str]] = {cls: frozenset(names) for cls, names in _LAYOUTS.items()}


def _rebuild(cls: type, names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """Named in every pickled state (``jobstream.streams.state_serde._rebuild``): keep its name.
    A field gone from the class is dropped; a new one gets its default."""
    known = _KNOWN.get(cls)
    fields = dict(zip(names, values, strict=True))
    if known is not None and not known.issuperset(names):
        fields = {name: value for name, value in fields.items() if name in known}
    return cls(**fields)


class _StateUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "datetime" or module.startswith("jobstream."):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a job state does not hold {module}.{name}")


def _from_pickle(data: bytes) -> JobState:
    state = _StateUnpickler(io.BytesIO(data[1:])).load()
    if not isinstance(state, JobState):
        raise ValueError(f"the pickled job state is a {type(state).__name__}")
    return state


# The formats of earlier releases, by first byte, read and never written. Any other value is in the
# codec's wire format (Avro single-object, or Confluent's with a registry), the one written.
LEGACY_FORMATS: dict[bytes, Callable[[bytes], JobState]] = {PICKLE_FORMAT: _from_pickle}


class StateSerde:
    """``JobState`` values of the state processor's store. The codec and topic are the engine's
    (the topic names the registry subject with a schema registry); by default the single-object
    codec, which needs neither."""

    def __init__(self, codec: Codec | None = None, topic: str = "") -> None:
        self.records = RecordSerde(codec or make_codec(None), JobStateValue, topic)

    def encode(self, value: JobState) -> bytes:
        return self.records.encode(to_record(value))

    def decode(self, data: bytes) -> JobState:
        legacy = LEGACY_FORMATS.get(data[:1])
        if legacy is not None:
            return legacy(data)
        return from_record(self.records.decode(data))
