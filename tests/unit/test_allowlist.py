"""A worker runs the Python entrypoints its allowlist allows (deny by default: the modules of its
python path and those it is told to allow), and fails the others before importing anything
(child process or inline)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from jobstream.config import Settings
from jobstream.schemas import Outcome, PythonTask
from jobstream.supervisor import default_children
from jobstream.worker.allowlist import ANY_MODULE, modules_in, refused_entrypoint, worker_allowlist
from jobstream.worker.executors import ExecutorOptions
from tests.unit.test_executors import JOBS, run


def test_patterns_match_the_entrypoints_module() -> None:
    assert refused_entrypoint("mypkg.tasks:run", ("mypkg.*",)) is None
    assert refused_entrypoint("os:system", ("mypkg.*",)) == (
        "entrypoint 'os:system' is not allowed on this worker (it allows mypkg.*; allow it with --allow-module "
        "or JOBSTREAM_WORKER_ALLOW_MODULES)")
    assert refused_entrypoint("mypkg:run", ("mypkg.*",)) is not None  # the package itself needs its own pattern
    assert refused_entrypoint("os:system", (ANY_MODULE,)) is None


def test_a_worker_told_nothing_runs_no_python_module() -> None:
    for entrypoint in ("os:system", "builtins:eval", "subprocess:run", f"{JOBS}:shout"):
        assert "it allows no Python module" in (refused_entrypoint(entrypoint, worker_allowlist([], ())) or "")


def test_the_packages_and_modules_of_the_python_path_are_allowed(tmp_path: Path) -> None:
    (tmp_path / "mypkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "loose.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "not-a-name").mkdir()
    (tmp_path / "logging").mkdir()  # a folder of logs, say: not the standard library's module
    (tmp_path / "json.py").write_text("")
    assert modules_in([str(tmp_path)]) == ("loose", "loose.*", "mypkg", "mypkg.*")
    allowed = worker_allowlist(["other.*"], (str(tmp_path),))
    assert allowed == ("other.*", "loose", "loose.*", "mypkg", "mypkg.*")
    for entrypoint in ("mypkg:run", "mypkg.jobs.deep:run", "loose:f", "other.x:f"):
        assert refused_entrypoint(entrypoint, allowed) is None, entrypoint
    for entrypoint in ("os:system", "mypkgx:run", "other:f", "builtins:exec"):
        assert refused_entrypoint(entrypoint, allowed) is not None, entrypoint


def test_the_child_process_names_the_setting_as_the_settings_do() -> None:
    from jobstream.config import WORKER_ALLOW_MODULES
    from jobstream.worker.allowlist import ALLOW_MODULES_ENV

    assert ALLOW_MODULES_ENV == WORKER_ALLOW_MODULES


def test_the_environment_names_patterns_comma_or_colon_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSTREAM_WORKER_ALLOW_MODULES", "mypkg.*, other ,third.*:fourth")
    settings = Settings.from_env()
    assert settings.worker_allow_modules == ("mypkg.*", "other", "third.*", "fourth")
    name = "JOBSTREAM_WORKER_ALLOW_MODULES"
    monkeypatch.setenv(name, settings.as_env()[name])  # as a worker's supervisor hands it on
    assert Settings.from_env().worker_allow_modules == settings.worker_allow_modules


def test_run_passes_allowed_modules_to_its_workers_only() -> None:
    children = dict(default_children(workers=2, allow_modules=("mypkg.*", "other")))
    for name in ("worker-1", "worker-2"):
        assert children[name][-4:] == ["--allow-module", "mypkg.*", "--allow-module", "other"]
    assert not any("--allow-module" in args for name, args in children.items() if not name.startswith("worker"))


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_a_refused_entrypoint_fails_the_execution_without_running(isolation: str) -> None:
    task = PythonTask(entrypoint=f"{JOBS}:shout", args_json=json.dumps(["hey"]), isolation=isolation)
    for refusing in (ExecutorOptions(), ExecutorOptions(allowed_modules=("mypkg.*",))):
        result, pieces, started = run(task, refusing)
        assert result.outcome == Outcome.FAILED and "not allowed on this worker" in (result.error or "")
        assert "hey" not in "".join(p.data for p in pieces) and started == [None]
    allowed, _, _ = run(task, ExecutorOptions(allowed_modules=("tests.integration.*",)))
    assert allowed.outcome == Outcome.SUCCEEDED


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_an_allowed_module_is_no_door_to_the_modules_it_imports(isolation: str) -> None:
    allowed = ExecutorOptions(allowed_modules=(JOBS,))
    for entrypoint, why in ((f"{JOBS}:os.getcwd", "reaches module os"),  # its `import os`, walked through
                            (f"{JOBS}:report", "defined in module jobstream.worker.progress")):  # imported by name
        task = PythonTask(entrypoint=entrypoint, isolation=isolation)
        result, _, _ = run(task, allowed)
        assert result.outcome == Outcome.FAILED and why in (result.error or ""), result.error
    greeted, _, _ = run(PythonTask(entrypoint=f"{JOBS}:greet", args_json='["x"]', isolation=isolation), allowed)
    assert greeted.outcome == Outcome.SUCCEEDED, greeted.error


def test_a_method_of_a_class_of_an_allowed_module_is_allowed(tmp_path: Path) -> None:
    from jobstream.worker.python_runner import load_entrypoint

    (tmp_path / "walker_mod.py").write_text("class Tasks:\n    @staticmethod\n    def run():\n        return 1\n")
    try:
        assert load_entrypoint("walker_mod:Tasks.run", (str(tmp_path),), ("walker_mod",))() == 1
    finally:
        sys.modules.pop("walker_mod", None)
        sys.path.remove(str(tmp_path))
