"""The POSIX launcher with real processes, signals and process groups."""

import os
import shutil
import signal
import tempfile
import time

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from mesos_py.agent.launcher import LaunchError, PosixLauncher, exit_description, lookup_user


class LauncherTest(unittest.TestCase):
    def setUp(self):
        self.sandbox = tempfile.mkdtemp(prefix="launcher-")
        self.addCleanup(shutil.rmtree, self.sandbox, True)
        self.launcher = PosixLauncher(reactor)

    def launch(self, argv, **kwargs):
        kwargs.setdefault("env", {"PATH": "/usr/bin:/bin", "GREETING": "hello"})
        process = self.launcher.launch(
            argv,
            cwd=self.sandbox,
            stdout=os.path.join(self.sandbox, "stdout"),
            stderr=os.path.join(self.sandbox, "stderr"),
            **kwargs,
        )
        self.addCleanup(self._reap, process)
        return process

    def _reap(self, process):
        return process.kill(0)

    def read(self, name):
        with open(os.path.join(self.sandbox, name)) as f:
            return f.read()

    @defer.inlineCallbacks
    def test_exit_status_output_cwd_and_env(self):
        process = self.launch(["/bin/sh", "-c", 'echo "$GREETING $(pwd)"; echo err >&2; exit 3'])
        status = yield process.when_exited()
        self.assertTrue(os.WIFEXITED(status))
        self.assertEqual(os.WEXITSTATUS(status), 3)
        self.assertEqual(self.read("stdout"), f"hello {os.path.realpath(self.sandbox)}\n")
        self.assertEqual(self.read("stderr"), "err\n")
        self.assertEqual(exit_description(status), "exited with status 3")

    @defer.inlineCallbacks
    def test_own_session_and_process_group(self):
        process = self.launch(["/bin/sh", "-c", "sleep 30"])
        self.assertEqual(os.getpgid(process.pid), process.pid)
        self.assertNotEqual(os.getpgid(process.pid), os.getpgid(0))
        self.assertEqual(os.getsid(process.pid), process.pid)
        status = yield process.kill(5)
        self.assertTrue(os.WIFSIGNALED(status))
        self.assertEqual(os.WTERMSIG(status), signal.SIGTERM)
        self.assertEqual(exit_description(status), "terminated with signal Terminated")

    @defer.inlineCallbacks
    def test_kill_of_own_group_does_not_reach_the_agent(self):
        process = self.launch(["/bin/sh", "-c", "kill -KILL 0"])
        status = yield process.when_exited()
        self.assertEqual(os.WTERMSIG(status), signal.SIGKILL)

    @defer.inlineCallbacks
    def test_kill_escalates_to_sigkill_when_term_is_ignored(self):
        process = self.launch(["/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30"])
        yield self._wait_for_output("ready")
        started = time.monotonic()
        status = yield process.kill(0.5)
        elapsed = time.monotonic() - started
        self.assertEqual(os.WTERMSIG(status), signal.SIGKILL)
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 5)

    @defer.inlineCallbacks
    def test_kill_reaches_the_whole_group(self):
        process = self.launch(["/bin/sh", "-c", "sleep 30 & echo $! > child; wait"])
        yield self._wait_for_output("", name="child")
        child = int(self.read("child"))
        yield process.kill(5)
        yield self._wait_gone(child)

    @defer.inlineCallbacks
    def test_stragglers_die_with_the_leader(self):
        process = self.launch(["/bin/sh", "-c", "sleep 30 & echo $! > child"])
        yield process.when_exited()
        yield self._wait_gone(int(self.read("child")))

    def test_missing_executable_is_a_launch_error(self):
        error = self.assertRaises(
            LaunchError,
            self.launcher.launch,
            ["/nonexistent/prog"],
            cwd=self.sandbox,
            env={},
            stdout=os.path.join(self.sandbox, "stdout"),
            stderr=os.path.join(self.sandbox, "e"),
        )
        self.assertIn("/nonexistent/prog", str(error))
        self.assertIn("No such file", str(error))

    def test_nul_byte_is_a_launch_error(self):
        self.assertRaises(
            LaunchError,
            self.launcher.launch,
            ["/bin/echo", "a\0b"],
            cwd=self.sandbox,
            env={},
            stdout=os.path.join(self.sandbox, "o"),
            stderr=os.path.join(self.sandbox, "e"),
        )

    @defer.inlineCallbacks
    def test_executable_differs_from_argv0(self):
        process = self.launch(["myname", "-c", 'echo "$0"'], executable="/bin/sh")
        yield process.when_exited()
        self.assertEqual(self.read("stdout"), "myname\n")

    @defer.inlineCallbacks
    def test_run_as_another_user(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("switching users needs root")
        nobody = lookup_user("nobody")
        os.chmod(self.sandbox, 0o777)
        process = self.launch(["/bin/sh", "-c", "id -u; id -g"], run_as=nobody)
        status = yield process.when_exited()
        self.assertEqual(status, 0)
        self.assertEqual(self.read("stdout").split(), [str(nobody.uid), str(nobody.gid)])
        self.assertEqual(os.stat(os.path.join(self.sandbox, "stdout")).st_uid, nobody.uid)
        # the Popen fallback when argv[0] is not the executable
        process = self.launch(["x", "-c", "id -u >> stdout"], executable="/bin/sh", run_as=nobody)
        yield process.when_exited()
        self.assertEqual(self.read("stdout").split()[-1], str(nobody.uid))

    def test_unknown_user(self):
        error = self.assertRaises(LaunchError, lookup_user, "no-such-user-xyz")
        self.assertIn("no-such-user-xyz", str(error))

    @defer.inlineCallbacks
    def _wait_for_output(self, text, name="stdout"):
        for _ in range(200):
            path = os.path.join(self.sandbox, name)
            if os.path.exists(path) and text in self.read(name) and os.path.getsize(path):
                return
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.fail(f"{name} never contained {text!r}")

    @defer.inlineCallbacks
    def _wait_gone(self, pid):
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            # a zombie reparented to init still answers kill(0)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split(")")[-1].split()[0] == "Z":
                        return
            except FileNotFoundError:
                return
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.fail(f"process {pid} survived")
