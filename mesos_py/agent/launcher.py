"""Starting and stopping task and executor processes without forking the agent.

The agent's heap can be large, so processes are started with
``subprocess.Popen``, which vforks when it can; switching to another user is
done by exec'ing ``setpriv`` in the child rather than asking Popen to
``setuid`` (which would make it fork).  Every process gets its own session and
process group, so that a kill reaches its whole tree and an executor that
kills its own process group (pymesos does on shutdown) cannot hit the agent.
Exits are learnt from a pidfd watched by the reactor: no SIGCHLD handler and
no blocking wait.

``PosixLauncher`` is the seam where cgroups isolation and per-task
supervision will plug in later.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorFDSet, IReactorTime, IReadDescriptor
from twisted.logger import Logger
from zope.interface import implementer

log = Logger()

SETPRIV = shutil.which("setpriv")


class LaunchError(Exception):
    """The process could not be started; the message says why."""


@dataclass(frozen=True)
class RunAs:
    """A user to run a process as."""

    name: str
    uid: int
    gid: int


def lookup_user(name: str) -> RunAs:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise LaunchError(f"Failed to get user information for '{name}': no such user") from None
    return RunAs(name, entry.pw_uid, entry.pw_gid)


def exit_description(wait_status: int) -> str:
    """'exited with status N' / 'terminated with signal NAME', as Mesos words it."""
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        try:
            name = signal.strsignal(number) or f"signal {number}"
        except ValueError:
            name = f"signal {number}"
        return f"terminated with signal {name}"
    return f"exited with status {os.WEXITSTATUS(wait_status)}"


def _wait_status(returncode: int) -> int:
    """Popen's return code back into the raw status ``waitpid`` reported."""
    return -returncode if returncode < 0 else returncode << 8


@implementer(IReadDescriptor)
class _ExitWatcher:
    """Readable when the process has exited (pidfd semantics)."""

    def __init__(self, process: Process) -> None:
        self._process = process
        self._fd = os.pidfd_open(process.pid)

    def fileno(self) -> int:
        return self._fd

    def doRead(self) -> None:
        self._process._poll()

    def connectionLost(self, reason: object) -> None:
        pass

    def logPrefix(self) -> str:
        return "pidfd"

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Process:
    """A launched process, the leader of its own process group."""

    def __init__(self, reactor: IReactorFDSet, clock: IReactorTime, popen: subprocess.Popen):
        self.pid = popen.pid
        self.wait_status: int | None = None
        self._reactor = reactor
        self._clock = clock
        self._popen = popen
        self._waiters: list[defer.Deferred[int]] = []
        self._escalation: IDelayedCall | None = None
        # Readable at once if the process is already gone.
        self._watcher = _ExitWatcher(self)
        reactor.addReader(self._watcher)

    def when_exited(self) -> defer.Deferred[int]:
        """A Deferred firing with the wait status (as ``waitpid`` gives it)."""
        if self.wait_status is not None:
            return defer.succeed(self.wait_status)
        waiter: defer.Deferred[int] = defer.Deferred()
        self._waiters.append(waiter)
        return waiter

    def signal(self, number: int) -> None:
        """Send a signal to the whole process group (ignored once it is gone)."""
        try:
            os.killpg(self.pid, number)
        except OSError as exc:
            if exc.errno not in (errno.ESRCH, errno.EPERM):
                raise

    def kill(self, grace_period: float) -> defer.Deferred[int]:
        """SIGTERM the group, SIGKILL it after the grace period; fires on exit."""
        if self.wait_status is None:
            if grace_period <= 0:
                self.signal(signal.SIGKILL)
            else:
                self.signal(signal.SIGTERM)
                self.signal(signal.SIGCONT)
                if self._escalation is None:
                    self._escalation = self._clock.callLater(grace_period, self._escalate)
        return self.when_exited()

    def _escalate(self) -> None:
        self._escalation = None
        if self.wait_status is None:
            self.signal(signal.SIGKILL)

    def _poll(self) -> None:
        returncode = self._popen.poll()
        if returncode is None:
            return
        self._reactor.removeReader(self._watcher)
        self._watcher.close()
        if self._escalation is not None and self._escalation.active():
            self._escalation.cancel()
        self._escalation = None
        # The container ends with its leader: take any stragglers with it.
        self.signal(signal.SIGKILL)
        self.wait_status = _wait_status(returncode)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(self.wait_status)


def _open_output(path: str, run_as: RunAs | None) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    if run_as is not None:
        os.fchown(fd, run_as.uid, run_as.gid)
    return fd


class PosixLauncher:
    """Processes in their own sessions, as the Mesos POSIX launcher does."""

    def __init__(self, reactor: IReactorFDSet) -> None:
        self._reactor = reactor

    def launch(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        stdout: str,
        stderr: str,
        executable: str | None = None,
        run_as: RunAs | None = None,
    ) -> Process:
        """Start ``argv`` (``executable`` overrides the program run for argv[0])."""
        argv = list(argv)
        if not argv:
            raise LaunchError("Failed to launch: empty command")
        kwargs: dict = {}
        if run_as is not None:
            if SETPRIV is not None and executable in (None, argv[0]):
                argv = [
                    SETPRIV,
                    f"--reuid={run_as.uid}",
                    f"--regid={run_as.gid}",
                    "--init-groups",
                    "--",
                    *argv,
                ]
                executable = None
            else:
                kwargs = {
                    "user": run_as.uid,
                    "group": run_as.gid,
                    "extra_groups": os.getgrouplist(run_as.name, run_as.gid),
                }
        out_fd = err_fd = -1
        try:
            out_fd = _open_output(stdout, run_as)
            err_fd = _open_output(stderr, run_as)
            popen = subprocess.Popen(
                argv,
                executable=executable,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out_fd,
                stderr=err_fd,
                start_new_session=True,
                close_fds=True,
                **kwargs,
            )
        except OSError as exc:
            program = executable or argv[0]
            raise LaunchError(f"Failed to launch '{program}': {exc.strerror or exc}") from None
        except (ValueError, TypeError) as exc:  # e.g. a NUL byte in argv or env
            raise LaunchError(f"Failed to launch '{argv[0]}': {exc}") from None
        finally:
            for fd in (out_fd, err_fd):
                if fd >= 0:
                    os.close(fd)
        return Process(self._reactor, self._reactor, popen)
