"""The machines' Debian image: built once with debootstrap, rebuilt when its recipe changes.

The machines have no route to any package registry, so everything the Ansible roles
install with apt must already be in the image: IMAGE_PACKAGES is that list, kept here
and nowhere else.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable

from tools.machines import apt_sources

SUITE = "bookworm"

IMAGE_PACKAGES = (
    # booting with systemd inside systemd-nspawn, reachable over ssh
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "procps",
    "util-linux",
    "sudo",
    # what Ansible needs on a managed host (python3-apt for ansible.builtin.apt)
    "python3",
    "python3-apt",
    # the common and mesos_py roles: a virtual environment installed from wheels
    "python3-venv",
    "python3-pip",
    "ca-certificates",
    # the zookeeper role: Debian's ZooKeeper 3.8 and a Java runtime for it
    "zookeeper",
    "default-jre-headless",
    # health checks from the roles and the testinfra suite
    "curl",
)

# Bump when the customisation below changes in a way that needs a rebuild.
RECIPE_VERSION = 1

# apt's periodic jobs would take the dpkg lock while Ansible runs apt (and find no network).
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer")
ENABLED_UNITS = ("systemd-networkd.service",)

APT_SOURCE_FILES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*")


class ImageError(RuntimeError):
    """The image could not be built; the message says why and where the log is."""


def fingerprint() -> str:
    """Identifies what the image holds: changes exactly when a rebuild is needed."""
    recipe = "\n".join([SUITE, str(RECIPE_VERSION), *sorted(IMAGE_PACKAGES)])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def host_apt_sources() -> dict[str, str]:
    """Texts of this machine's apt source files, by path."""
    files: dict[str, str] = {}
    for pattern in APT_SOURCE_FILES:
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    files[path] = handle.read()
    return files


class Image:
    """The cached image under ``cache_dir``: ``image/`` plus ``image.fingerprint``."""

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        self.root = os.path.join(cache_dir, "image")
        self._stamp = os.path.join(cache_dir, "image.fingerprint")
        self._debs = os.path.join(cache_dir, "debs")

    def is_current(self) -> bool:
        try:
            with open(self._stamp, encoding="utf-8") as handle:
                return handle.read().strip() == fingerprint() and os.path.isdir(self.root)
        except FileNotFoundError:
            return False

    def build(self, log: Callable[[str], None]) -> float:
        """Build the image from scratch; returns the seconds it took."""
        started = time.monotonic()
        try:
            source = apt_sources.mirror_for(host_apt_sources(), SUITE)
        except apt_sources.NoMirrorError as exc:
            raise ImageError(str(exc)) from exc
        staging = self.root + ".new"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(self._debs, exist_ok=True)
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(IMAGE_PACKAGES)}",
            f"--cache-dir={os.path.abspath(self._debs)}",
        ]
        if source.keyring and os.path.isfile(source.keyring):
            command.append(f"--keyring={source.keyring}")
        command += [SUITE, staging, source.uri]
        log(f"image: debootstrap {SUITE} from {source.uri} ({len(IMAGE_PACKAGES)} packages)")
        with open(os.path.join(self.cache_dir, "debootstrap.log"), "w") as out:
            result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise ImageError(
                f"debootstrap failed (exit {result.returncode}); "
                f"see {self.cache_dir}/debootstrap.log"
            )
        self._customise(staging)
        shutil.rmtree(self.root, ignore_errors=True)
        os.rename(staging, self.root)
        with open(self._stamp, "w", encoding="utf-8") as handle:
            handle.write(fingerprint() + "\n")
        return time.monotonic() - started

    @staticmethod
    def _customise(root: str) -> None:
        """Make the image a template: no identity of its own, networkd on, apt timers off."""
        subprocess.run(
            ["systemctl", "--quiet", f"--root={root}", "enable", *ENABLED_UNITS], check=True
        )
        subprocess.run(
            ["systemctl", "--quiet", f"--root={root}", "mask", *MASKED_UNITS], check=True
        )
        # Each machine gets its own host keys, machine ID and hostname when it is created.
        for key in glob.glob(os.path.join(root, "etc/ssh/ssh_host_*")):
            os.remove(key)
        with open(os.path.join(root, "etc/machine-id"), "w"):
            pass
        for leftover in ("etc/hostname", "var/lib/dbus/machine-id"):
            path = os.path.join(root, leftover)
            if os.path.lexists(path):
                os.remove(path)
        for deb in glob.glob(os.path.join(root, "var/cache/apt/archives/*.deb")):
            os.remove(deb)
