"""Installing a Debian package the project needs, when it is missing (root, or sudo without a password)."""

from __future__ import annotations

import os
import subprocess

from jobstream.infra.process import InfraError


def apt_install(package: str, otherwise: str) -> None:
    """``apt-get install`` ``package``; ``otherwise`` tells the user what else to do if that fails."""
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        result = subprocess.run(sudo + command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise InfraError(f"installing {package} failed ({' '.join(command)}):\n{result.stderr[-2000:]}\n"
                             + otherwise)
