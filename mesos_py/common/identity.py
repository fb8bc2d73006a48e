"""What a daemon says about itself: its build (``/version``) and its address."""

from __future__ import annotations

import socket

from mesos_py import MESOS_API_VERSION, __version__

# The body of ``/version``: clients parse ``version`` as dotted integers.
BUILD_INFO = {
    "version": MESOS_API_VERSION,
    "build_date": "",
    "build_time": 0,
    "build_user": "mesos-py",
    "git_tag": f"mesos-py-{__version__}",
}


def advertised_ip(bind_ip: str, advertise_ip: str | None) -> str:
    """The address peers should use: --advertise_ip, else the bound one, else the host's."""
    if advertise_ip:
        return advertise_ip
    if bind_ip not in ("0.0.0.0", ""):
        return bind_ip
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
