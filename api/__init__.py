"""jobstream.api: the HTTP API (FastAPI) over the Postgres read model; commands go to Kafka."""

from jobstream.api.app import create_app, run_api
from jobstream.api.commands import ApiOptions

__all__ = ["ApiOptions", "create_app", "run_api"]
