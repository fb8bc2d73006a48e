"""Starting and stopping task and executor processes without forking the agent.

The agent's heap can be large, so processes are started with
``subprocess.Popen``, which vforks when it can; switching to another user is
done by exec'ing ``setpriv`` in the child rather than asking Popen to
``setuid`` (which would make it fork).  Every process gets its own session and
process group, so that a kill reaches its whole tree and an executor that
kills its own process group (pymesos does on shutdown) cannot hit the agent.
Exits are learnt from a pidfd watched by the reactor: no SIGCHLD handler and
no blocking wait.

A process that must enter cgroups, or outlive the agent (a checkpointing
framework's), is started through ``WRAPPER``: a few lines of ``/bin/sh`` that
first write their own pid into each ``cgroup.procs`` (so the task and
everything it forks are born inside its cgroups; the agent never forks and
there is no window in which a child could escape), then either exec the task,
or, when a status path is given, run it as a child, wait for it and write its
exit code atomically (temp + rename) to that path before exiting with it.  An
agent restarted after a crash reads that file for tasks that ended while it
was down, and re-attaches to live ones with ``os.pidfd_open``, which works for
processes that are not its children.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
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


# $1: status path ('' = exec the task); then cgroup.procs files up to '--'; then argv.
# Trapped signals interrupt ``wait``; the loop waits again until the child is gone.
# A background child of a non-interactive sh starts with SIGINT/SIGQUIT ignored.
WRAPPER = """status=$1; shift
while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift
[ -z "$status" ] && exec "$@"
trap : TERM HUP
"$@" &
child=$!
while :; do wait $child; code=$?; kill -0 $child 2>/dev/null || break; done
printf '%s\\n' $code > "$status.tmp" && mv -f "$status.tmp" "$status"
exit $code
"""


def shell_code_status(code: int) -> int:
    """The wait status for a shell's ``$?`` (128+N means killed by signal N)."""
    if 128 < code < 128 + 65:
        return code - 128
    return (code & 0xFF) << 8


def read_exit_code(path: str) -> int | None:
    """The exit code the wrapper recorded, None when there is none (or it is garbled)."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) < 256 else None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), None if gone.

    With the pid it identifies a process across pid reuse.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def process_statistics(groups: set[int]) -> dict[str, float]:
    """CPU times, RSS and count of the processes in ``groups`` (posix/cpu, posix/mem).

    Reads /proc/*/stat once; processes that vanish meanwhile are skipped.
    """
    user = system = rss = processes = 0
    page = os.sysconf("SC_PAGE_SIZE")
    if groups:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    data = f.read()
                fields = data[data.rfind(b")") + 2 :].split()
                if int(fields[2]) not in groups:
                    continue
                user += int(fields[11])
                system += int(fields[12])
                rss += int(fields[21]) * page
                processes += 1
            except (OSError, IndexError, ValueError):
                continue
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "cpus_user_time_secs": user / ticks,
        "cpus_system_time_secs": system / ticks,
        "mem_rss_bytes": rss,
        "processes": processes,
    }


UNKNOWN_WAIT_STATUS = -1  # the process ended while nobody could wait for it


@implementer(IReadDescriptor)
class _ExitWatcher:
    """Readable when the process has exited (pidfd semantics)."""

    def __init__(self, process: Process, fd: int) -> None:
        self._process = process
        self._fd = fd

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


Reap = Callable[[], int | None]


class Process:
    """A launched (or re-attached) process, the leader of its own process group.

    ``reap`` returns the wait status once the process has ended, None before.
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        clock: IReactorTime,
        pid: int,
        reap: Reap,
        pidfd: int,
        signals: bool = True,
    ) -> None:
        self.pid = pid
        # False for a process found gone at re-attach: its pid may be someone else's now.
        self._signals = signals
        self.wait_status: int | None = None
        self._reactor = reactor
        self._clock = clock
        self._reap = reap
        self._waiters: list[defer.Deferred[int]] = []
        self._escalation: IDelayedCall | None = None
        # Readable at once if the process is already gone.
        self._watcher = _ExitWatcher(self, pidfd)
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
        if not self._signals:
            return
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
        wait_status = self._reap()
        if wait_status is None:
            return
        self._reactor.removeReader(self._watcher)
        self._watcher.close()
        if self._escalation is not None and self._escalation.active():
            self._escalation.cancel()
        self._escalation = None
        # The container ends with its leader: take any stragglers with it.
        self.signal(signal.SIGKILL)
        self.wait_status = wait_status
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
        cgroups: Sequence[str] = (),
        status_path: str | None = None,
    ) -> Process:
        """Start ``argv`` (``executable`` overrides the program run for argv[0]).

        With ``cgroups`` (``cgroup.procs`` files) or a ``status_path`` it runs
        under ``WRAPPER``; the wrapper execs ``executable`` with argv[1:], so
        argv[0] is then the executable's path.
        """
        argv = list(argv)
        if not argv:
            raise LaunchError("Failed to launch: empty command")
        wrapped = bool(cgroups) or status_path is not None
        if wrapped and executable not in (None, argv[0]):
            argv, executable = [executable, *argv[1:]], None
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
            elif wrapped:  # the wrapper must stay root to join cgroups and write the status
                raise LaunchError("Switching users for an isolated task needs 'setpriv'")
            else:
                kwargs = {
                    "user": run_as.uid,
                    "group": run_as.gid,
                    "extra_groups": os.getgrouplist(run_as.name, run_as.gid),
                }
        if wrapped:
            argv = [
                "/bin/sh",
                "-c",
                WRAPPER,
                "mesos-py-wrapper",
                status_path or "",
                *cgroups,
                "--",
                *argv,
            ]
            executable = None
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
        supervised = status_path is not None

        def reap() -> int | None:
            code = popen.poll()
            if code is None:
                return None
            if code < 0:  # the process itself died of a signal
                return -code
            return shell_code_status(code) if supervised else code << 8

        return Process(self._reactor, self._reactor, popen.pid, reap, os.pidfd_open(popen.pid))

    def adopt(self, pid: int, started: int | None, status_path: str | None) -> Process:
        """Re-attach to a wrapper started by an earlier agent (not our child).

        ``started`` is its recorded start time; a pid now used by another
        process counts as ended.  Its end is read from ``status_path``.
        """

        def reap() -> int | None:
            if start_time(pid) == started and _alive(pid):
                return None
            code = read_exit_code(status_path) if status_path else None
            return UNKNOWN_WAIT_STATUS if code is None else shell_code_status(code)

        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = -1
        if fd >= 0 and start_time(pid) != started:
            os.close(fd)
            fd = -1
        if fd < 0:  # already gone: an eventfd that is readable at once stands in
            return Process(
                self._reactor, self._reactor, pid, reap, os.eventfd(1, os.EFD_CLOEXEC), False
            )
        return Process(self._reactor, self._reactor, pid, reap, fd)


def _alive(pid: int) -> bool:
    """False for a process that is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] not in (b"Z", b"X")
