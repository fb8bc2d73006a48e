"""Role weights and quotas: what the operator sets, kept in the registry, applied to offers.

``RoleSettings`` validates requests (rules and shapes in ``quota.py``), writes
them to the registry (``UpdateWeights``, ``UpdateQuota``), hands them to the
allocator, and takes them back from the registry when a master is elected.
Errors are ``CallRefused`` with Mesos' status and message; a refused request
changes nothing.

Precedence of ``--weights``: it only seeds a registry that has no weights yet.
Once weights are in the registry (seeded or set through the API) they win, and
a differing flag is ignored with a warning, as in Mesos.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from mesos_py.common.resources import RANGES, SET, Resources
from mesos_py.master import registry
from mesos_py.master.model import CallRefused
from mesos_py.master.quota import (
    QuotaConfig,
    overcommit_error,
    parse_quota_configs,
    parse_quota_request,
    parse_weight_infos,
    quantities_json,
)

if TYPE_CHECKING:
    from mesos_py.master.master import Master

log = Logger()


class RoleSettings:
    def __init__(self, master: Master) -> None:
        self.master = master
        self.weights: dict[str, float] = dict(master.config.weights)
        self.quotas: dict[str, QuotaConfig] = {}

    # -- failover ------------------------------------------------------------

    def recover(self, recovered: registry.Registry) -> None:
        """Take weights and quotas from the registry a new leader read."""
        flag = dict(self.master.config.weights)
        if recovered.weights:
            self.weights = dict(recovered.weights)
            if flag and any(self.weights.get(r) != w for r, w in flag.items()):
                log.warn("Ignoring --weights: the registry already holds weights")
        else:
            self.weights = flag
            if flag:
                self.master.store(registry.UpdateWeights(tuple(sorted(flag.items()))))
        self.master.allocator.set_weights(self.weights)
        self.quotas = {}
        for role, document in recovered.quotas.items():
            try:
                config = QuotaConfig.from_json(document)
            except ValueError as exc:
                log.error("Skipping the registry's quota of role {role}: {e}", role=role, e=exc)
                continue
            self._apply_quota(config)

    # -- weights -------------------------------------------------------------

    def update_weights(self, infos: Any) -> None:
        """UPDATE_WEIGHTS and ``PUT /weights``: the named roles get new weights."""
        try:
            weights = parse_weight_infos(infos)
        except ValueError as exc:
            raise CallRefused(400, str(exc)) from None
        self.master.store(registry.UpdateWeights(weights))
        self.weights.update(weights)
        self.master.allocator.set_weights(self.weights)
        self.master.request_allocation()

    # -- quota ---------------------------------------------------------------

    def update_quota(self, body: dict[str, Any]) -> None:
        """UPDATE_QUOTA: every config valid or nothing changes; a default config removes."""
        try:
            configs = parse_quota_configs(body.get("quota_configs"), self._non_scalar_names())
        except ValueError as exc:
            raise CallRefused(400, str(exc)) from None
        force = body.get("force", False)
        if not isinstance(force, bool):
            raise CallRefused(400, "Expecting 'force' to be a boolean")
        after = dict(self.quotas)
        for config in configs:
            after[config.role] = config
        error = overcommit_error(after.values(), self._capacity())
        if error is not None:
            if not force:
                raise CallRefused(
                    400, f"Invalid QuotaConfig: {error} (use 'force' flag to bypass this check)"
                )
            log.info("Using the force flag to override the quota overcommit check")
        for config in configs:
            self._store_and_apply(config)

    def set_quota(self, body: Any) -> None:
        """The deprecated SET_QUOTA and ``POST /quota``: a new role only; guarantee = limit."""
        try:
            config, force = parse_quota_request(body, self._non_scalar_names())
        except ValueError as exc:
            raise CallRefused(400, str(exc)) from None
        if config.role in self.quotas:
            raise CallRefused(
                400,
                "Failed to validate set quota request: Cannot set quota for role "
                f"'{config.role}' which already has quota",
            )
        error = overcommit_error([*self.quotas.values(), config], self._capacity())
        if error is not None and not force:
            raise CallRefused(
                409,
                f"Quota guarantees overcommit the cluster (use 'force' to bypass this check): "
                f"{error}",
            )
        self._store_and_apply(config)

    def remove_quota(self, role: Any) -> None:
        """The deprecated REMOVE_QUOTA and ``DELETE /quota/<role>``."""
        if not isinstance(role, str) or role not in self.quotas:
            raise CallRefused(400, f"Failed to remove quota: Role '{role}' has no quota set")
        self._store_and_apply(QuotaConfig(role))

    def roles_json(self) -> dict[str, Any]:
        """``/master/roles``: every role with a framework, a weight, a quota or a reservation."""
        master = self.master
        names = set(self.weights) | set(self.quotas)
        for framework in master.frameworks.values():
            names.update(framework.roles)
        for agent in master.agents.values():
            names.update(agent.total.reservation_roles())
        return {"roles": [self._role_json(name) for name in sorted(names)]}

    def _role_json(self, role: str) -> dict[str, Any]:
        master = self.master
        held = Resources.total(
            master.allocator.allocated(fid).allocated_part(role).unallocated()
            for fid in master.frameworks
        )
        offered = Resources.total(o.resources for o in master.offers.values() if o.role == role)
        allocated = held - offered if held.contains(offered) else held
        return {
            "name": role,
            "weight": self.weights.get(role, 1.0),
            "quota": self.role_quota_json(role),
            "resources": held.to_flat(),
            "allocated": allocated.to_flat(),
            "offered": offered.to_flat(),
            "reserved": Resources.total(
                a.total.reserved(role) for a in master.agents.values()
            ).to_flat(),
            "frameworks": sorted(
                fid for fid, framework in master.frameworks.items() if role in framework.roles
            ),
        }

    def role_quota_json(self, role: str) -> dict[str, Any]:
        """``quota`` of a ``/master/roles`` entry: guarantee, limit and consumption."""
        config = self.quotas.get(role, QuotaConfig(role))
        return {
            "role": role,
            "guarantee": quantities_json(config.guarantees),
            "limit": quantities_json(config.limits),
            "consumed": self.master.allocator.consumed(role),
        }

    # -- helpers -------------------------------------------------------------

    def _store_and_apply(self, config: QuotaConfig) -> None:
        document = None if config.is_default else config.to_json()
        self.master.store(registry.UpdateQuota(config.role, document))
        self._apply_quota(config)
        # Offers made before the change may break it: take the role's back and re-offer.
        for offer in list(self.master.offers.values()):
            if offer.role == config.role:
                self.master.rescind_offer(offer)
        self.master.request_allocation()

    def _apply_quota(self, config: QuotaConfig) -> None:
        if config.is_default:
            self.quotas.pop(config.role, None)
        else:
            self.quotas[config.role] = config
        self.master.allocator.set_quota(
            config.role,
            guarantees={n: v / 1000 for n, v in config.guarantees.items()},
            limits={n: v / 1000 for n, v in config.limits.items()},
        )

    def _capacity(self) -> dict[str, int]:
        """Scalars of every registered agent, connected or not (Mesos' capacity)."""
        total: dict[str, int] = {}
        for agent in self.master.agents.values():
            for name, milli in agent.total.scalar_milli().items():
                total[name] = total.get(name, 0) + milli
        return total

    def _non_scalar_names(self) -> set[str]:
        """Names some agent advertises as ranges or sets: quota cannot apply to them."""
        names = set()
        for agent in self.master.agents.values():
            for item in agent.total.to_json():
                if item.get("type") in (RANGES, SET):
                    names.add(item["name"])
        return names
