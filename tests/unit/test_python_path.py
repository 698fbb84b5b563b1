"""A worker's python path: where it comes from (--python-path, JOBSTREAM_WORKER_PYTHONPATH, `run`)
and that child-process and inline Python tasks both import from it."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from jobstream.cli import worker_python_path
from jobstream.config import Settings
from jobstream.schemas import Outcome, PythonTask
from jobstream.supervisor import default_children
from jobstream.worker.allowlist import worker_allowlist
from jobstream.worker.executors import ExecutorOptions
from jobstream.worker.python_path import resolve_python_path
from tests.unit.test_executors import run


@pytest.fixture
def job_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory holding a module ``pathjobs`` found nowhere else; sys.path and sys.modules are
    restored afterwards (inline tasks import into this process)."""
    code = tmp_path / "code"
    (code / "pathjobs").mkdir(parents=True)
    (code / "pathjobs" / "__init__.py").write_text("def where(x):\n    return [__file__, x]\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield code
    sys.modules.pop("pathjobs", None)


def test_directories_are_absolute_in_order_once_and_a_missing_one_is_named(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_python_path(["b", "a", str(tmp_path / "b")], "--python-path") == (
        str(tmp_path / "b"), str(tmp_path / "a"))
    with pytest.raises(ValueError, match="^--python-path: 'nope' is not a directory$"):
        resolve_python_path(["a", "nope"], "--python-path")


def test_the_environment_adds_directories_after_the_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cli", "env1", "env2"):
        (tmp_path / name).mkdir()
    listed = [str(tmp_path / "env1"), "", str(tmp_path / "cli"), str(tmp_path / "env2")]
    monkeypatch.setenv("JOBSTREAM_WORKER_PYTHONPATH", os.pathsep.join(listed))
    settings = Settings.from_env()
    assert settings.as_env()["JOBSTREAM_WORKER_PYTHONPATH"] == os.pathsep.join(settings.worker_python_path)
    assert worker_python_path([str(tmp_path / "cli")], settings) == tuple(
        str(tmp_path / name) for name in ("cli", "env1", "env2"))
    monkeypatch.setenv("JOBSTREAM_WORKER_PYTHONPATH", str(tmp_path / "gone"))
    with pytest.raises(typer.BadParameter, match="JOBSTREAM_WORKER_PYTHONPATH: .*gone' is not a directory"):
        worker_python_path([], Settings.from_env())


def test_run_passes_the_python_path_to_every_worker_and_only_to_workers() -> None:
    children = dict(default_children(workers=2, python_path=("/code/a", "/code/b")))
    for name in ("worker-1", "worker-2"):
        assert children[name][-4:] == ["--python-path", "/code/a", "--python-path", "/code/b"]
    assert not any("--python-path" in args for name, args in children.items() if not name.startswith("worker"))
    assert "--python-path" not in default_children(workers=1)[-1][1]


def worker_options(job_code: Path) -> ExecutorOptions:
    """A worker's options with ``job_code`` as its python path, whose modules it therefore allows."""
    return ExecutorOptions(python_path=(str(job_code),), allowed_modules=worker_allowlist([], (str(job_code),)))


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_a_python_task_imports_from_the_python_path(job_code: Path, isolation: str) -> None:
    task = PythonTask(entrypoint="pathjobs:where", args_json="[7]", isolation=isolation)
    result, _, _ = run(task, worker_options(job_code))
    assert result.outcome == Outcome.SUCCEEDED, result.error
    assert json.loads(result.result_json or "null") == [str(job_code / "pathjobs" / "__init__.py"), 7]


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_without_it_the_error_says_where_job_code_is_looked_for(job_code: Path, isolation: str) -> None:
    result, _, _ = run(PythonTask(entrypoint="pathjobs:where", args_json="[7]", isolation=isolation),
                       ExecutorOptions(allowed_modules=("pathjobs",)))
    assert result.outcome == Outcome.FAILED
    assert (result.error or "").startswith("ModuleNotFoundError: No module named 'pathjobs'; the worker imports "
                                           "job code from its working directory and its python path (now: none)")


def test_a_module_the_job_imports_is_not_blamed_on_the_python_path(job_code: Path) -> None:
    (job_code / "broken.py").write_text("import not_installed_anywhere\n")
    task = PythonTask(entrypoint="broken:f", isolation="inline")
    result, _, _ = run(task, worker_options(job_code))
    assert result.error == "ModuleNotFoundError: No module named 'not_installed_anywhere'"
