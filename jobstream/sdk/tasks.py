"""Task bodies (``shell``, ``python``, ``http``) and ``@task``: a Python function submitted by name.

    client = jobstream.Client.from_env()

    @jobstream.task(client, queue="maths")
    def add(a: int, b: int) -> int:
        return a + b

    job = add.submit(1, 2)        # a python job running mymodule:add(1, 2) on a worker
    add(1, 2)                     # still a plain call, here

The client is passed in, not found in a global: a module may define tasks for several APIs, and
importing it (as the worker does to run ``add``) only builds a client object, without any I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, Protocol, TypeVar

from jobstream.api.views import JobView

P = ParamSpec("P")
R = TypeVar("R")


def shell(*argv: str, env: Mapping[str, str] | None = None, cwd: str | None = None,
          secrets: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A shell task: ``argv`` exec'd as given; ``secrets`` maps variables to secret names (env_from)."""
    task: dict[str, Any] = {"type": "shell", "argv": list(argv), "env": dict(env or {})}
    if secrets:
        task["env_from"] = {variable: {"secret": name} for variable, name in secrets.items()}
    return task | ({"cwd": cwd} if cwd else {})


def python(entrypoint: str, *args: Any, isolation: str = "process", **kwargs: Any) -> dict[str, Any]:
    """A Python task: ``package.module:function(*args, **kwargs)``, arguments as JSON."""
    return {"type": "python", "entrypoint": entrypoint, "args": list(args), "kwargs": kwargs, "isolation": isolation}


def http(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None, body: str | None = None,
         expected_status: list[int] | None = None) -> dict[str, Any]:
    """An HTTP task: one request; success is a status in ``expected_status`` (any 2xx when empty)."""
    task: dict[str, Any] = {"type": "http", "url": url, "method": method, "headers": dict(headers or {}),
                            "expected_status": expected_status or []}
    return task | ({"body": body} if body is not None else {})


class Submitter(Protocol):
    def submit(self, task: Mapping[str, Any], *, name: str | None = None, queue: str | None = None,
               priority: int | None = None, labels: Mapping[str, str] | None = None,
               idempotency_key: str | None = None, **fields: Any) -> JobView: ...


def entrypoint_of(function: Callable[..., Any]) -> str:
    """``module:qualname``, as a worker imports it; a function a worker cannot import is refused here."""
    module, qualname = function.__module__, function.__qualname__
    if module == "__main__" or "<" in qualname:
        raise ValueError(f"{qualname} cannot be a task: a worker imports tasks by module and name, so define it "
                         "at the top level of an importable module (not __main__, not inside a function)")
    return f"{module}:{qualname}"


class Task(Generic[P, R]):
    """A function and how to submit it; calling it still runs it here."""

    def __init__(self, function: Callable[P, R], client: Submitter, options: Mapping[str, Any]) -> None:
        self.function, self.client, self.options = function, client, dict(options)
        self.entrypoint = entrypoint_of(function)
        self.__name__: str = function.__name__
        # Its module, name and doc are the function's: a worker allows what its module defines.
        functools.update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.function(*args, **kwargs)

    def submit(self, *args: P.args, **kwargs: P.kwargs) -> JobView:
        """Submit a job calling the function with these (JSON) arguments on a worker."""
        isolation = self.options.get("isolation", "process")
        fields = {k: v for k, v in self.options.items() if k != "isolation"}
        return self.client.submit(python(self.entrypoint, *args, isolation=isolation, **kwargs),
                                  **({"name": self.__name__} | fields))

    def using(self, client: Submitter) -> Task[P, R]:
        """The same task, submitted through another client."""
        return Task(self.function, client, self.options)


def task(client: Submitter, *, name: str | None = None, queue: str | None = None, priority: int | None = None,
         isolation: str = "process", **fields: Any) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Make a top-level function a task submitted through ``client`` (job fields as ``Client.submit``)."""
    options = {"queue": queue, "priority": priority, "isolation": isolation, **fields}
    if name is not None:
        options["name"] = name

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        return Task(function, client, {k: v for k, v in options.items() if v is not None})

    return decorate
