"""Local test machines: systemd-nspawn machines on a private bridge, for the Ansible roles.

``python -m tools.machines up`` builds a Debian image once, boots the machines and writes
their Ansible inventory; ``down`` removes everything again.  See docs/deployment.md.
"""
