"""A private one-node Slurm cluster for benchmarks, started and always stopped by us.

Everything lives in one temporary directory: a fresh munge key and its own
``munged`` socket, a generated ``slurm.conf`` (this host's name and its real
CPUs and memory, as ``slurmd -C`` reports them; free loopback ports), state,
spool, pid and log files. ``munged``, ``slurmctld`` and ``slurmd`` run in the
foreground as child processes of the caller (each in its own session, and
told to exit if the caller dies); ``stop()`` ends them by pid, plus any
``slurmstepd`` or job process they left (found by our unique ``SLURM_CONF`` in
their environment). The Slurm tools find the configuration through
``SLURM_CONF``. No system-wide Slurm or munge file or service is used,
written, started or stopped.

Configurations (``TUNINGS``):

* ``default``: only what a private cluster needs (paths, ports, munge socket,
  ``SlurmUser=root``, the node and one partition; ``proctrack/linuxproc``
  because the default ``proctrack/cgroup`` would write into this machine's
  cgroup tree; ``select/cons_tres`` with ``CR_CPU`` so that jobs get single
  CPUs instead of whole nodes; ``MaxArraySize``/``MaxJobCount`` large enough for
  the array). Every scheduling parameter keeps Slurm's default;
* ``high-throughput``: the same plus the settings of SchedMD's "High
  Throughput Computing Administration Guide" that apply to one node.

``oversubscribe=K`` adds ``OverSubscribe=FORCE:K`` to the partition: each CPU
runs up to K jobs at once (the node still declares its real CPUs). Without it
a node runs one job per CPU.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
TOOLS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel", "slurmctld", "slurmd", "munged")
PACKAGES = ("slurm-wlm", "munge")
INSTALL_HINT = "apt-get install " + " ".join(PACKAGES)

# Job states after which a job does nothing more (squeue's long names).
TERMINAL_STATES = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "OUT_OF_MEMORY",
}


@dataclass(frozen=True)
class Tuning:
    """A named set of slurm.conf lines added on top of the private cluster's base."""

    name: str
    label: str
    lines: tuple[str, ...] = ()
    munge_threads: int = 2  # munged's own default
    controller_ports: int = 1
    min_job_age: int = 300  # Slurm's default; also how long finished jobs stay visible


TUNINGS = {
    "default": Tuning("default", "default config"),
    # SchedMD's guide lists batch_sched_delay=20 and sched_min_interval=2000000 for a
    # large cluster, where each pass can start hundreds of jobs on many nodes. On one
    # node every pass is capped by the node's job slots, so throughput is slots per
    # pass interval: here the delay goes down instead (1 s; the default is 3 s) and
    # sched_min_interval keeps its 2 us default (0.5 s measured slower).
    "high-throughput": Tuning(
        "high-throughput",
        "SchedMD HTC guide settings, tuned for one node",
        lines=(
            "SchedulerType=sched/builtin",
            "PriorityType=priority/basic",
            "SchedulerParameters=defer,batch_sched_delay=1,default_queue_depth=1000",
            "SlurmctldDebug=error",
            "SlurmdDebug=error",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
        ),
        munge_threads=10,
        controller_ports=4,
        min_job_age=5,
    ),
}


def _search_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])


def which(tool: str) -> str | None:
    return shutil.which(tool, path=_search_path())


def missing_tools() -> list[str]:
    """The Slurm and munge programs this module needs that are not installed."""
    return [tool for tool in TOOLS if which(tool) is None]


def _daemon_pids(names: tuple[str, ...] = ("munged", "slurmctld", "slurmd")) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in names:
                    pids.add(int(entry.name))
    return pids


def install() -> str:
    """Install Slurm and munge with apt (root only). Returns a one-line summary.

    Debian's maintainer scripts may start the packaged services (on machines
    whose ``policy-rc.d`` allows it); those are system services, not ours, so
    they are only reported, never touched.
    """
    if os.geteuid() != 0:
        raise PermissionError("installing Slurm needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    command = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    before = _daemon_pids()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        # Stale package lists are the usual cause; refresh them once.
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise RuntimeError(f"{' '.join(command)} failed:\n{tail}")
    summary = f"installed {', '.join(PACKAGES)} with apt"
    started = _daemon_pids() - before
    if started:
        summary += (
            f" (note: the packages' scripts started system daemon pid(s) "
            f"{sorted(started)}; they are not this bench's and were left alone)"
        )
    return summary


def slurm_version() -> str:
    """``22.05.8`` or similar, from ``slurmd -V`` (which, unlike sinfo, needs no config)."""
    slurmd = which("slurmd")
    if slurmd is None:
        return "?"
    output = subprocess.run([slurmd, "-V"], capture_output=True, text=True).stdout
    return output.split()[-1] if output.split() else "?"


def _free_port_range(count: int) -> int:
    """First port of ``count`` consecutive free TCP ports on loopback."""
    for _ in range(200):
        base = random.randint(20000, 60000 - count)
        probes = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


def _node_hardware() -> str:
    """This machine's node description (CPUs, topology, RealMemory) for slurm.conf."""
    slurmd = which("slurmd")
    keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    if slurmd is not None:
        # Point -C at an empty config so that no system slurm.conf is read.
        result = subprocess.run(
            [slurmd, "-C"],
            capture_output=True,
            text=True,
            env=dict(os.environ, SLURM_CONF="/dev/null"),
            timeout=30,
        )
        for line in result.stdout.splitlines():
            if line.startswith("NodeName="):
                pairs = dict(item.split("=", 1) for item in line.split() if "=" in item)
                if "CPUs" in pairs and "RealMemory" in pairs:
                    return " ".join(f"{key}={pairs[key]}" for key in keep if key in pairs)
    memory_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return f"CPUs={os.cpu_count() or 1} RealMemory={memory_kib // 1024}"


PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the bench process dies without stopping us."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used itself so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    """User + system CPU seconds of every child (and its descendants) we have reaped."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap_adopted_stepds() -> int:
    """Reap exited ``slurmstepd`` processes that were re-parented to us; returns how many.

    slurmd detaches each slurmstepd with a double fork. While a cluster runs we are
    a child subreaper, so these orphans become our children instead of init's, and
    their exit is collected here rather than left to whatever runs as PID 1.
    """
    me = os.getpid()
    reaped = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        if fields[0] == "Z" and int(fields[1]) == me and comm.endswith("(slurmstepd"):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry.name), os.WNOHANG)
                reaped += 1
    return reaped


@dataclass
class ArrayResult:
    tasks: int
    submit_seconds: float  # the sbatch call alone
    elapsed: float  # sbatch started -> every task seen in a final state
    states: Counter = field(default_factory=Counter)
    unseen: int = 0  # tasks purged (MinJobAge) before a poll saw their final state
    polls: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds over the run, by process

    @property
    def rate(self) -> float:
        return self.tasks / self.elapsed

    @property
    def failures(self) -> int:
        return sum(count for state, count in self.states.items() if state != "COMPLETED")


class SlurmCluster:
    """slurmctld + one slurmd + munged in a temporary directory. Use as a context manager."""

    def __init__(
        self,
        tuning: Tuning,
        max_jobs: int,
        oversubscribe: int = 1,
        work_dir: Path | None = None,
    ) -> None:
        self.tuning = tuning
        self.max_jobs = max_jobs
        self.oversubscribe = oversubscribe
        self.owns_dir = work_dir is None
        self.dir = Path(work_dir or tempfile.mkdtemp(prefix="mesos-py-slurm-"))
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.dir / "etc" / "slurm.conf"
        self.socket = self.dir / "munge-socket" / "munge.socket.2"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf), PATH=_search_path())
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list = []
        self._old_sigterm = None
        self.final_logs = ""  # tails of the daemons' logs, kept when stop() removes the directory

    # -- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> SlurmCluster:
        self._old_sigterm = signal.getsignal(signal.SIGTERM)
        # A SIGTERM to the bench unwinds through __exit__ instead of killing it outright.
        signal.signal(signal.SIGTERM, _raise_system_exit)
        try:
            self.start()
        except BaseException:
            self.stop()
            signal.signal(signal.SIGTERM, self._old_sigterm)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop()
        finally:
            signal.signal(signal.SIGTERM, self._old_sigterm)

    def start(self, timeout: float = 60.0) -> None:
        for sub in ("etc", "munge", "state", "spool", "log", "run", "jobs"):
            (self.dir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        # munged insists that everyone may traverse to its socket (the key stays 0400
        # in the 0700 "munge" directory).
        self.dir.chmod(0o711)
        self.socket.parent.mkdir(mode=0o755, exist_ok=True)
        self.socket.parent.chmod(0o755)
        self._write_munge_key()
        self._write_conf()
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        munged = [
            which("munged"),
            "--foreground",
            f"--socket={self.socket}",
            f"--key-file={self.dir / 'munge' / 'munge.key'}",
            f"--pid-file={self.dir / 'run' / 'munged.pid'}",
            f"--log-file={self.dir / 'log' / 'munged.log'}",
            f"--seed-file={self.dir / 'munge' / 'munged.seed'}",
            f"--num-threads={self.tuning.munge_threads}",
        ]
        self._spawn("munged", munged)
        self._wait(lambda: self.socket.exists(), timeout, "munged's socket")
        # -D: foreground; -c: start from an empty state (the directory is fresh anyway).
        self._spawn("slurmctld", [which("slurmctld"), "-D", "-c", "-f", str(self.conf)])
        self._spawn("slurmd", [which("slurmd"), "-D", "-c", "-N", self.node, "-f", str(self.conf)])
        self._wait(self._node_idle, timeout, f"node {self.node} to become idle")

    def stop(self) -> None:
        """Stop every process we started (and anything they left behind). Idempotent."""
        for name in ("slurmd", "slurmctld", "munged"):
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        # slurmstepd and job processes are started by slurmd but not its children for
        # long; they carry our SLURM_CONF, which is unique to this cluster.
        stragglers = self._stragglers()
        for pid in stragglers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if stragglers:
            time.sleep(0.2)
        _reap_adopted_stepds()
        _prctl(PR_SET_CHILD_SUBREAPER, 0)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if (self.dir / "log").exists():
            self.final_logs = self.logs()
        if self.owns_dir and self.dir.exists() and not self._stragglers():
            shutil.rmtree(self.dir, ignore_errors=True)

    def running(self) -> list[str]:
        """Names of our daemons still alive (for checks)."""
        alive = [name for name, process in self.processes.items() if process.poll() is None]
        return alive + [f"pid {pid}" for pid in self._stragglers()]

    def logs(self, lines: int = 20) -> str:
        parts = []
        for path in sorted((self.dir / "log").glob("*")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- jobs ---------------------------------------------------------------------------

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> str:
        result = subprocess.run(
            list(argv), env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout}")
        return result.stdout

    def run_array(self, count: int, command: str = "true", timeout: float = 600) -> ArrayResult:
        """Submit ``count`` tasks of ``command`` as one job array; wait until all are final.

        Polls ``squeue`` (about 11 ms for 2,000 records here) every 0.5 s, and
        every 0.1 s once the observed rate says that the end is near. A task
        whose record was purged (``MinJobAge``) before a poll saw its final
        state is counted in ``unseen``. CPU seconds are measured over the same
        interval: each daemon's own, the client tools' (sbatch, squeue), and
        the slurmstepd processes' including the jobs they ran (reaped by us).
        """
        daemons_before = {name: _cpu_seconds(p.pid) for name, p in self.processes.items()}
        children_before = _children_cpu()
        tools = 0.0

        def tool(*argv: str) -> subprocess.CompletedProcess:
            nonlocal tools
            before = _children_cpu()
            try:
                return subprocess.run(
                    list(argv), env=self.env, capture_output=True, text=True, timeout=60
                )
            finally:
                tools += _children_cpu() - before

        started = time.perf_counter()
        submitted = tool(
            "sbatch",
            "--parsable",
            f"--array=0-{count - 1}",
            f"--wrap={command}",
            "--job-name=bench",
            "--output=/dev/null",
            "--error=/dev/null",
            f"--chdir={self.dir / 'jobs'}",
        )
        submit_seconds = time.perf_counter() - started
        if submitted.returncode != 0:
            raise RuntimeError(f"sbatch: {submitted.stderr.strip()}")
        job_id = submitted.stdout.strip().split(";")[0]
        states: dict[str, str] = {}
        polls = 0
        deadline = started + timeout
        while True:
            polls += 1
            _reap_adopted_stepds()
            result = tool(
                "squeue", "--noheader", "--array", "--states=all", f"--jobs={job_id}",
                "--format=%K %T",
            )  # fmt: skip
            now = time.perf_counter()
            live = 0
            if result.returncode == 0:
                for line in result.stdout.splitlines():
                    index, _, state = line.strip().partition(" ")
                    states[index] = state
                    if state not in TERMINAL_STATES:
                        live += 1
            elif "Invalid job id" not in result.stderr:
                raise RuntimeError(f"squeue: {result.stderr.strip()}")
            # Done when no task is live; "Invalid job id" means every record was purged.
            if live == 0 and (states or result.returncode != 0):
                break
            if now > deadline:
                self.run("scancel", job_id, check=False)
                raise TimeoutError(f"array {job_id}: {live} of {count} tasks still live")
            done = count - live
            rate = done / (now - started) if done else 0.0
            near_end = rate > 0 and live / rate < 1.5
            time.sleep(0.1 if near_end else 0.5)
        # Let the last slurmstepds exit, then collect them for the CPU figure.
        time.sleep(0.3)
        _reap_adopted_stepds()
        cpu = {
            name: _cpu_seconds(self.processes[name].pid) - seconds
            for name, seconds in daemons_before.items()
        }
        cpu["slurmstepd+jobs"] = _children_cpu() - children_before - tools
        cpu["sbatch+squeue"] = tools
        final = Counter(state for state in states.values() if state in TERMINAL_STATES)
        return ArrayResult(
            tasks=count,
            submit_seconds=submit_seconds,
            elapsed=now - started,
            states=final,
            unseen=max(0, count - sum(final.values())),
            polls=polls,
            cpu=cpu,
        )

    # -- internals ----------------------------------------------------------------------

    def _write_munge_key(self) -> None:
        key = self.dir / "munge" / "munge.key"
        descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(1024))

    def _write_conf(self) -> None:
        tuning = self.tuning
        ctld_port = _free_port_range(tuning.controller_ports)
        slurmd_port = _free_port_range(1)
        ctld_ports = (
            str(ctld_port)
            if tuning.controller_ports == 1
            else f"{ctld_port}-{ctld_port + tuning.controller_ports - 1}"
        )
        d = self.dir
        lines = [
            f"# Private one-node cluster for bench/e2e_launch.py ({tuning.name}).",
            f"ClusterName=bench{os.getpid()}",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={ctld_ports}",
            f"SlurmdPort={slurmd_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.socket}",
            f"StateSaveLocation={d / 'state'}",
            f"SlurmdSpoolDir={d / 'spool'}",
            f"SlurmctldPidFile={d / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={d / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={d / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            f"MaxArraySize={max(1001, self.max_jobs + 1)}",
            f"MaxJobCount={max(10000, 2 * self.max_jobs)}",
            f"MinJobAge={tuning.min_job_age}",
            *tuning.lines,
            f"NodeName={self.node} NodeAddr=127.0.0.1 {_node_hardware()} State=UNKNOWN",
            f"PartitionName=bench Nodes={self.node} Default=YES MaxTime=INFINITE State=UP"
            + (f" OverSubscribe=FORCE:{self.oversubscribe}" if self.oversubscribe > 1 else ""),
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _spawn(self, name: str, argv: list) -> None:
        if argv[0] is None:
            raise FileNotFoundError(f"{name} is not installed ({INSTALL_HINT})")
        log = open(self.dir / "log" / f"{name}.out", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            [str(arg) for arg in argv],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            dead = [name for name, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited early\n{self.logs()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.1)

    def _node_idle(self) -> bool:
        result = subprocess.run(
            ["sinfo", "--noheader", f"--nodes={self.node}", "--format=%T"],
            env=self.env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        return result.returncode == 0 and result.stdout.strip() == "idle"

    def _stragglers(self) -> list[int]:
        """Processes (other than ours above) whose environment names our slurm.conf."""
        marker = f"SLURM_CONF={self.conf}".encode()
        mine = {os.getpid(), *(process.pid for process in self.processes.values())}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in mine:
                continue
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
        return found


def _raise_system_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
