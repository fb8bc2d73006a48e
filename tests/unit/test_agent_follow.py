"""An agent following the leading master (what its ZooKeeper detector reports)."""

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from mesos_py.common.http import make_site
from tests.unit.test_agent_harness import AgentHarness, FakeMaster, command_task, wait_for


class FollowTest(unittest.TestCase):
    def second_master(self):
        master = FakeMaster()
        port = reactor.listenTCP(0, make_site(master), interface="127.0.0.1")

        def stop():
            for link in master.links:
                link.close()
            return port.stopListening()

        self.addCleanup(stop)
        return master, f"127.0.0.1:{port.getHost().port}"

    @defer.inlineCallbacks
    def test_a_new_leader_gets_a_reregistration_with_the_tasks(self):
        h = AgentHarness(self)
        yield h.registered()
        h.run_task(command_task("t1", {"value": "sleep 30"}))
        yield h.wait_states("t1", "TASK_RUNNING")
        new, address = self.second_master()
        h.agent.link.follow(address)
        yield wait_for(lambda: new.of_type("REGISTER"), what="REGISTER to the new leader")
        (call,) = new.of_type("REGISTER")
        self.assertEqual(call["agent_id"], {"value": "M-S0"})
        self.assertEqual([t["task_id"]["value"] for t in call["register"]["tasks"]], ["t1"])
        yield h.registered()
        self.assertEqual(h.agent.link.master, address)
        self.assertTrue(h.master.links[0].closed)

    @defer.inlineCallbacks
    def test_no_leader_means_waiting(self):
        h = AgentHarness(self)
        yield h.registered()
        old = h.agent.link.master
        h.agent.link.follow(None)
        self.assertFalse(h.agent.link.registered)
        yield task.deferLater(reactor, 0.3, lambda: None)
        self.assertEqual(len(h.master.of_type("REGISTER")), 1)  # no attempt meanwhile
        h.agent.link.follow(old)
        yield wait_for(lambda: len(h.master.of_type("REGISTER")) == 2, what="re-registration")
        yield h.registered()
