"""Running the deploy code's Ansible tools from tests, on this machine only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """An Ansible command from this venv (ansible-core and ansible-lint are test extras)."""
    path = BIN / name
    if not path.exists():
        raise AssertionError(f"{path} is missing: install the test extra, pip install -e '.[test]'")
    return str(path)


def local_inventory(groups: dict[str, dict[str, dict]], **common: object) -> dict:
    """An inventory whose hosts are all this machine (local connection, no become)."""
    return {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_become": False, **common},
            "children": {group: {"hosts": hosts} for group, hosts in groups.items()},
        }
    }


def run_playbook(
    tmp_path: Path, inventory: dict, playbook: str, *args: str
) -> subprocess.CompletedProcess:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    environ = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    return subprocess.run(
        [tool("ansible-playbook"), "-i", str(path), str(REPO / playbook), *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
