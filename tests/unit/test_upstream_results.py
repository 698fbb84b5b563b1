"""What a dependent's task gets of its upstreams' results: every upstream listed, each result parsed;
the keyword argument only for a function that names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jobstream.schemas import Dependency
from jobstream.worker.python_runner import call
from jobstream.worker.upstream_results import ENV, upstream_results, with_upstream_results, write_results_file
from tests.unit.builders import spec


def asks(x: int, upstream_results: dict[str, Any]) -> dict[str, Any]:
    return {"x": x, "got": upstream_results}


def does_not_ask(x: int, **kwargs: Any) -> dict[str, Any]:
    return {"x": x, "kwargs": kwargs}


def test_every_upstream_is_listed_with_its_result_parsed_or_none() -> None:
    dependent = spec(depends_on=[Dependency(job_id="a"), Dependency(job_id="b"), Dependency(job_id="a")],
                     upstream_results={"a": '{"n": 1}'})

    assert upstream_results(dependent) == {"a": {"n": 1}, "b": None}
    assert upstream_results(spec()) == {}


def test_only_a_function_that_names_the_parameter_gets_it_and_a_caller_value_wins() -> None:
    results = {"a": 1}

    assert with_upstream_results(asks, {}, results) == {"upstream_results": results}
    assert with_upstream_results(does_not_ask, {}, results) == {}
    assert with_upstream_results(asks, {"upstream_results": "mine"}, results) == {"upstream_results": "mine"}
    assert with_upstream_results(len, {}, results) == {}


def test_the_python_runner_passes_them_and_the_file_holds_them(tmp_path: Path) -> None:
    result = call(f"{__name__}:asks", [3], {}, upstream={"a": [1, 2]})
    assert json.loads(result) == {"x": 3, "got": {"a": [1, 2]}}

    env = write_results_file(tmp_path, {"a": None})
    assert json.loads(Path(env[ENV]).read_text()) == {"a": None}
