"""Artifacts from Maven Central, fetched by ``mvn`` into the cache once and unpacked there.

The schema registry and the Connect plugins come as archives (a ``tar.gz`` of an application or
of a plugin) or as a jar with its dependencies (a pom); each lands in a directory of its own under
the cache, filled aside and renamed into place, so a concurrent fetch or a reader never sees half.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from jobstream.infra.process import InfraError


def mvn(cache_dir: Path, *args: str) -> None:
    """Run Maven quietly on the project's local repository in the cache."""
    if shutil.which("mvn") is None:
        raise InfraError("Maven (mvn) is not on PATH; it fetches the jars from Maven Central")
    command = ["mvn", "-q", "-B", f"-Dmaven.repo.local={cache_dir / 'm2'}", *args]
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise InfraError(f"{' '.join(command[4:])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def fetched_once(target: Path, fill: Callable[[Path], None]) -> Path:
    """``target``, filled by ``fill(partial_dir)`` unless a complete copy is there already."""
    if (target / ".complete").exists():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        fill(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    (partial / ".complete").touch()
    try:
        partial.rename(target)
    except OSError:  # another process fetched it first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def unpacked_archive(cache_dir: Path, coordinates: str, target: Path) -> Path:
    """The ``tar.gz`` artifact ``group:artifact:version:tar.gz:classifier`` unpacked into ``target``."""

    def fill(partial: Path) -> None:
        download = partial / ".download"
        mvn(cache_dir, "dependency:copy", f"-Dartifact={coordinates}", f"-DoutputDirectory={download}")
        for archive in download.glob("*.tar.gz"):
            with tarfile.open(archive) as tar:
                tar.extractall(partial, filter="data")
        shutil.rmtree(download)

    return fetched_once(target, fill)


def copied_dependencies(cache_dir: Path, pom: Path, target: Path, *properties: str) -> Path:
    """The runtime jars of ``pom``'s dependencies copied into ``target``."""

    def fill(partial: Path) -> None:
        mvn(cache_dir, "-f", str(pom), *properties, "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}", "-DincludeScope=runtime")

    return fetched_once(target, fill)
