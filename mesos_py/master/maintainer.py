"""The master's maintenance and agent draining: what the operator endpoints change.

``Maintainer`` holds the maintenance schedule (``maintenance.Maintenance``)
and the deactivated/draining agents, keeps both in the registry, and acts on
the master's books through ``Master``'s own methods: rescinding offers,
killing a draining agent's tasks, removing the agents of a machine that goes
DOWN.  ``Master`` calls its hooks when agents register, tasks end and status
updates pass.  Errors are ``CallRefused`` with Mesos' status and message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from mesos_py.common.protocol import ident
from mesos_py.master import registry
from mesos_py.master.maintenance import (
    DOWN,
    Maintenance,
    MaintenanceError,
    kill_grace_nanoseconds,
    parse_drain_config,
    parse_machines,
    parse_schedule,
)
from mesos_py.master.model import CallRefused

if TYPE_CHECKING:
    from mesos_py.master.master import Master
    from mesos_py.master.model import AgentRecord

log = Logger()

DRAINING_REASON = "REASON_AGENT_DRAINING"


class Maintainer:
    def __init__(self, master: Master) -> None:
        self.master = master
        self.maintenance = Maintenance()
        # agent_id -> {} (deactivated) or {"drain_info": DrainInfo}: the registry's copy,
        # also for agents not registered right now (recovered, unreachable).
        self.deactivated: dict[str, dict[str, Any]] = {}
        self._to_check: set[str] = set()  # draining agents that lost a task

    # ------------------------------------------------------------- recovery

    def recover(self, recovered: registry.Registry) -> None:
        try:
            self.maintenance = Maintenance.from_registry(recovered.maintenance)
        except MaintenanceError as exc:
            log.error("Ignoring the registry's unreadable maintenance state: {e}", e=exc)
        self.deactivated = {k: dict(v) for k, v in recovered.deactivated.items()}
        for agent_id in self.deactivated:
            agent = self.master.agents.get(agent_id)
            if agent is not None:
                self._deactivate_in_books(agent)

    # ------------------------------------------------------------- queries

    def drain_info(self, agent_id: str) -> dict[str, Any] | None:
        return self.deactivated.get(agent_id, {}).get("drain_info")

    def is_deactivated(self, agent_id: str) -> bool:
        return agent_id in self.deactivated

    def _machine(self, agent: AgentRecord) -> tuple[str, str]:
        return agent.hostname, agent.ip

    def refusal(self, hostname: str, ip: str) -> str | None:
        """Why an agent at ``hostname``/``ip`` may not register now, if it may not."""
        if self.maintenance.agent_mode(hostname, ip) == DOWN:
            return "Agent attempted to register while its machine is DOWN for maintenance"
        return None

    def unavailability(self, agent: AgentRecord) -> dict[str, Any] | None:
        """Offer.unavailability for an agent on a DRAINING machine."""
        return self.maintenance.unavailability(*self._machine(agent))

    # -------------------------------------------------------------- hooks

    def agent_registered(self, agent: AgentRecord) -> None:
        """A (re-)registered agent keeps its deactivation; a draining one is drained again."""
        if agent.agent_id not in self.deactivated:
            return
        self._deactivate_in_books(agent)
        if self.drain_info(agent.agent_id) is not None:
            self._kill_tasks(agent)
            self._check_drained(agent)

    def task_removed(self, agent_id: str) -> None:
        """A task left an agent's books (terminal and acknowledged, or lost).

        The check waits for the reactor's next turn: a re-registration removes
        the tasks the agent no longer reports before it adds those it does.
        """
        if self.drain_info(agent_id) is None or agent_id in self._to_check:
            return
        self._to_check.add(agent_id)
        if len(self._to_check) == 1:
            self.master.clock.callLater(0, self._check_removals)

    def _check_removals(self) -> None:
        to_check, self._to_check = self._to_check, set()
        for agent_id in to_check:
            agent = self.master.agents.get(agent_id)
            if agent is not None:
                self._check_drained(agent)

    def decorate(self, agent: AgentRecord, status: dict[str, Any]) -> dict[str, Any]:
        """Status updates of a draining agent's kills carry REASON_AGENT_DRAINING (Mesos 1.9).

        Mesos' agent adds the reason (and, draining with ``mark_gone``, turns
        TASK_KILLED into TASK_GONE_BY_OPERATOR); here the master does it for its agents.
        """
        drain = self.drain_info(agent.agent_id)
        if drain is None or status.get("state") not in ("TASK_KILLING", "TASK_KILLED"):
            return status
        status = dict(status, reason=DRAINING_REASON)
        if status["state"] == "TASK_KILLED" and drain.get("config", {}).get("mark_gone"):
            status["state"] = "TASK_GONE_BY_OPERATOR"
        return status

    # ------------------------------------------------------------ schedule

    def update_schedule(self, schedule: Any) -> None:
        before = self.maintenance
        try:
            self.maintenance = before.with_schedule(parse_schedule(schedule))
        except MaintenanceError as exc:
            raise CallRefused(400, str(exc)) from None
        self._persist_maintenance()
        # Offers made before carry the old unavailability: take them back (as Mesos does).
        for agent in list(self.master.agents.values()):
            machine = self._machine(agent)
            if before.unavailability(*machine) != self.maintenance.unavailability(*machine):
                self._rescind_offers(agent)
        self.master.request_allocation()

    def machines_down(self, body: Any) -> None:
        """``machine/down``: DRAINING machines go DOWN; their agents are removed."""
        try:
            machines = parse_machines(body)
            self.maintenance = self.maintenance.start(machines)
        except MaintenanceError as exc:
            raise CallRefused(400, str(exc)) from None
        self._persist_maintenance()
        for agent in list(self.master.agents.values()):
            if self.maintenance.agent_mode(*self._machine(agent)) == DOWN:
                log.info("Agent {id}: its machine is DOWN; removing it", id=agent.agent_id)
                self.master.remove_agent(
                    agent,
                    "REASON_AGENT_REMOVED",
                    "Agent's machine was brought DOWN for maintenance",
                    partition_aware_state="TASK_GONE",
                )

    def machines_up(self, body: Any) -> None:
        """``machine/up``: DOWN machines are UP again and leave the schedule."""
        try:
            self.maintenance = self.maintenance.stop(parse_machines(body))
        except MaintenanceError as exc:
            raise CallRefused(400, str(exc)) from None
        self._persist_maintenance()

    def _persist_maintenance(self) -> None:
        self.master.store(registry.UpdateMaintenance(self.maintenance.to_registry()))

    # ------------------------------------------------------------- agents

    def _known(self, agent_id: Any) -> str:
        master = self.master
        if not isinstance(agent_id, str) or not (
            agent_id in master.agents
            or agent_id in master.recovered_agents
            or agent_id in master.unreachable_agents
        ):
            raise CallRefused(400, f"Unknown agent {agent_id}")
        return agent_id

    def drain(self, agent_id: Any, body: dict[str, Any]) -> None:
        """DRAIN_AGENT: no offers, every task killed, DRAINING until none is left, DRAINED."""
        agent_id = self._known(agent_id)
        try:
            config = parse_drain_config(body)
        except MaintenanceError as exc:
            raise CallRefused(400, str(exc)) from None
        drain = self.drain_info(agent_id)
        state = drain["state"] if drain is not None else "DRAINING"
        self._set(agent_id, {"drain_info": {"state": state, "config": config}})
        agent = self.master.agents.get(agent_id)
        log.info("Draining agent {id} ({config})", id=agent_id, config=config)
        if agent is not None:
            self._deactivate_in_books(agent)
            self._kill_tasks(agent)
            self._check_drained(agent)

    def deactivate(self, agent_id: Any) -> None:
        """DEACTIVATE_AGENT: no more offers; tasks keep running."""
        agent_id = self._known(agent_id)
        if agent_id not in self.deactivated:
            self._set(agent_id, {})
        agent = self.master.agents.get(agent_id)
        if agent is not None:
            self._deactivate_in_books(agent)

    def reactivate(self, agent_id: Any) -> None:
        """REACTIVATE_AGENT: offers again; a drain in progress or done is forgotten."""
        agent_id = self._known(agent_id)
        if agent_id not in self.deactivated:
            raise CallRefused(400, f"Agent {agent_id} is not deactivated")
        del self.deactivated[agent_id]
        self.master.store(registry.ReactivateAgent(agent_id))
        agent = self.master.agents.get(agent_id)
        if agent is not None:
            agent.active = True
            if agent.connected:
                self.master.allocator.activate_agent(agent_id)
                self.master.request_allocation()
        log.info("Agent {id} reactivated", id=agent_id)

    def agent_gone(self, agent_id: str) -> None:
        """The agent was removed for good (the registry's MarkGone drops it too)."""
        self.deactivated.pop(agent_id, None)

    def _set(self, agent_id: str, entry: dict[str, Any]) -> None:
        self.deactivated[agent_id] = entry
        self.master.store(registry.DeactivateAgent(agent_id, entry.get("drain_info")))

    def _deactivate_in_books(self, agent: AgentRecord) -> None:
        agent.active = False
        self.master.allocator.deactivate_agent(agent.agent_id)
        self._rescind_offers(agent)

    def _rescind_offers(self, agent: AgentRecord) -> None:
        for offer_id in list(agent.offers):
            self.master.rescind_offer(self.master.offers[offer_id])

    def _kill_tasks(self, agent: AgentRecord) -> None:
        config = (self.drain_info(agent.agent_id) or {}).get("config", {})
        for task in list(agent.tasks.values()):
            if task.terminal:
                continue
            kill: dict[str, Any] = {
                "framework_id": ident(task.framework_id),
                "task_id": ident(task.task_id),
            }
            grace = kill_grace_nanoseconds(task.info, config)
            if grace is not None:
                kill["kill_policy"] = {"grace_period": {"nanoseconds": grace}}
            agent.send({"type": "KILL_TASK", "kill_task": kill})

    def _check_drained(self, agent: AgentRecord) -> None:
        """DRAINING -> DRAINED once no task is left on the agent (Mesos' rule)."""
        drain = self.drain_info(agent.agent_id)
        if drain is None or drain["state"] != "DRAINING" or agent.tasks:
            return
        drained = {"state": "DRAINED", "config": drain["config"]}
        self._set(agent.agent_id, {"drain_info": drained})
        log.info("Agent {id} is drained", id=agent.agent_id)
        if drain["config"].get("mark_gone"):
            self.master.remove_agent(
                agent,
                "REASON_AGENT_REMOVED",
                "Agent was drained and marked gone",
                partition_aware_state="TASK_GONE_BY_OPERATOR",
            )
