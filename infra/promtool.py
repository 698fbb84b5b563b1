"""promtool, Prometheus's rule checker, from Debian's ``prometheus`` package: the test suite checks
and unit-tests the shipped alert rules with it (``jobstream infra install`` installs it)."""

from __future__ import annotations

import shutil
from pathlib import Path

from jobstream.infra.apt import apt_install
from jobstream.infra.process import InfraError


def find_promtool() -> Path | None:
    found = shutil.which("promtool")
    return Path(found) if found else None


def install_promtool() -> Path:
    """promtool's path, installing Debian's ``prometheus`` package first when it is missing."""
    found = find_promtool()
    if found is not None:
        return found
    apt_install("prometheus", "install Debian's 'prometheus' package (it provides promtool)")
    found = find_promtool()
    if found is None:
        raise InfraError("the prometheus package installed but promtool is not on PATH")
    return found
