"""jobstream.schemas: the Avro event contract (commands, job events, worker events) and its wire formats.

The .avsc files under avro/ are the source of truth; the dataclasses in types.py mirror
them one for one, the catalog pairs the two, and codecs turn records into Kafka bytes.
"""

from .catalog import CATALOG, Catalog, all_record_classes, record_class, schema_for
from .codec import Codec, SingleObjectCodec, bench_codec, make_codec
from .common import DEFAULT_NAMESPACE, NAMESPACE_PATTERN, valid_namespace
from .compat import Incompatibility, check_compatibility, snapshot_baseline
from .confluent import ConfluentCodec, subject_for
from .convert import from_avro, to_avro
from .errors import MessageDecodeError, PoisonMessage, SchemaRegistryError
from .loader import AVRO_DIR, BASELINE_DIR, LoadedSchema, SchemaSet, load_schema_set
from .registry_client import SchemaRegistryClient
from .samples import sample
from .types import *  # noqa: F403  (every record and enum type)
from .types import __all__ as _types_all

__all__ = [
    *_types_all,
    "CATALOG", "Catalog", "all_record_classes", "record_class", "schema_for",
    "to_avro", "from_avro",
    "Codec", "SingleObjectCodec", "ConfluentCodec", "SchemaRegistryClient", "subject_for", "make_codec", "bench_codec",
    "MessageDecodeError", "PoisonMessage", "SchemaRegistryError",
    "Incompatibility", "check_compatibility", "snapshot_baseline",
    "AVRO_DIR", "BASELINE_DIR", "LoadedSchema", "SchemaSet", "load_schema_set",
    "sample", "DEFAULT_NAMESPACE", "NAMESPACE_PATTERN", "valid_namespace",
]
