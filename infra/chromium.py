"""Debian's Chromium, which the dashboard's browser tests drive (Playwright never downloads one)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from jobstream.infra.process import InfraError

CHROMIUM = Path("/usr/bin/chromium")


def install_chromium() -> Path:
    """Install Debian's ``chromium`` package when missing (root, or sudo without a password)."""
    if CHROMIUM.exists():
        return CHROMIUM
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        result = subprocess.run(sudo + command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise InfraError(f"installing Chromium failed ({' '.join(command)}):\n{result.stderr[-2000:]}\n"
                             "install Debian's 'chromium' package: the dashboard's browser tests need it")
    if not CHROMIUM.exists():
        raise InfraError(f"the chromium package installed but {CHROMIUM} is missing")
    return CHROMIUM
