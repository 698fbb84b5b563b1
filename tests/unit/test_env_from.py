"""A task's references to secrets: where each kind carries them, and where their values go."""

from __future__ import annotations

from jobstream.core.env_from import refs_in_document, with_secret_refs, with_values, without_refs
from jobstream.schemas import HttpTask, PythonTask, ShellTask


def test_each_kind_of_task_runs_without_its_references_and_gets_the_values_where_they_were() -> None:
    shell = ShellTask(argv=["env"], env=with_secret_refs({"A": "1"}, {"PW": "db"}))
    python = PythonTask(entrypoint="m:f", env=with_secret_refs({"A": "1"}, {"PW": "db"}))
    http = HttpTask(url="https://x/", headers=with_secret_refs({"X-A": "1"}, {"Authorization": "token"}))
    for task in (shell, python):
        running, refs = without_refs(task)
        assert refs == {"PW": "db"} and running.env == {"A": "1"}  # type: ignore[union-attr]
        assert with_values(running, {"PW": "v"}) == (running, {"PW": "v"})  # into the process's environment
    running, refs = without_refs(http)
    assert refs == {"Authorization": "token"} and running.headers == {"X-A": "1"}  # type: ignore[union-attr]
    sent, env = with_values(running, {"Authorization": "Bearer v"})
    assert sent.headers == {"X-A": "1", "Authorization": "Bearer v"} and env == {}  # type: ignore[union-attr]
    assert without_refs(ShellTask(argv=["true"], env={"A": "1"}))[1] == {}


def test_the_read_models_json_of_a_task_gives_its_references() -> None:
    assert refs_in_document({"kind": "ShellTask", "env": {"A": "1", "secret:PW": "db"}}) == {"PW": "db"}
    assert refs_in_document({"kind": "PythonTask", "env": {"secret:PW": "db"}}) == {"PW": "db"}
    assert refs_in_document({"kind": "HttpTask", "headers": {"secret:Authorization": "t"}, "env": {}}) == {
        "Authorization": "t"}
    assert refs_in_document({"kind": "PythonTask"}) == {}


def test_a_python_task_may_not_set_what_the_interpreter_runs_before_its_entrypoint() -> None:
    from jobstream.core.validation import validate_spec
    from jobstream.schemas import JobSpec

    for env in ({"PYTHONWARNINGS": "ignore::antigravity.x"}, {"LD_PRELOAD": "/tmp/x.so"},
                with_secret_refs({}, {"PYTHONPATH": "paths"}), {"GCONV_PATH": "/tmp"}):
        problems = validate_spec(JobSpec(name="n", task=PythonTask(entrypoint="m:f", env=env)))
        assert [field for field, _ in problems] == ["task.env"], env
    assert validate_spec(JobSpec(name="n", task=PythonTask(entrypoint="m:f", env={"API_URL": "x", "PYTH": "y"}))) == []
    assert validate_spec(JobSpec(name="n", task=ShellTask(argv=["env"], env={"PYTHONPATH": "x"}))) == []
