# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import PlanError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._sqlag import (
    CONNECTION_SPEC,
    SYNCHRONIZED,
    SYNCHRONIZING,
    UNSTARTABLE,
    AGActionMixin,
    at_risk,
    connection_params,
    data_loss_window,
    describe_copy,
    local_replica,
    provider_path,
)
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

PLANNED, FORCED = "planned", "forced"


def plan_failover(view, allow_data_loss):
    """PLANNED, FORCED or None (already primary) for making the local replica primary; PlanError when it must not happen.

    Pure decision on the local instance's view (vmm-cluster-sql-notes.md §C.2/§C.3):
    - a planned failover needs a synchronous-commit target whose databases are all marked failover ready;
    - a forced failover needs quorum and a SECONDARY or RESOLVING target, and is only made with the data-loss opt-in;
    - never force while this replica is connected to a running primary (split brain), nor to a copy that is
      REVERTING or INITIALIZING (it could not start as primary).
    """
    local = local_replica(view)
    if local is None:
        raise PlanError("the instance returned no row for its own replica of availability group '%s'" % view["name"])
    if local["role"] == "PRIMARY" and local["operational_state"] == "ONLINE":
        return None
    if local["operational_state"] == "FAILED_NO_QUORUM":
        raise PlanError(
            "the replica %s is RESOLVING because its cluster node has no quorum (operational state FAILED_NO_QUORUM). A failover, "
            "even a forced one, needs quorum: make this site's cluster nodes quorate first (force quorum when the primary site "
            "is lost), then run the task again." % local["server_name"])
    if local["role"] == "PRIMARY":
        raise PlanError("the replica %s is PRIMARY but %s; wait for it to come online." % (local["server_name"], local["operational_state"]))
    risky = at_risk(local)
    if local["planned_failover_ready"]:
        return PLANNED if not allow_data_loss or local["role"] == "SECONDARY" else FORCED
    connected = local["role"] == "SECONDARY" and local["connected_state"] == "CONNECTED"
    if connected:
        raise PlanError(
            "the replica %s is connected to a running primary but is not ready for a planned failover (%s). Forcing a failover "
            "while the primary runs would split the availability group. Make this replica synchronous-commit (on the primary, with "
            "site_recovery.hyperv.sql_ag_replica) and wait until its databases are SYNCHRONIZED, then fail over without data loss."
            % (local["server_name"], _why_not_ready(local, risky)))
    if not allow_data_loss:
        raise PlanError(
            "a failover to %s can only be forced, and a forced failover may lose data: %s. Transactions the primary committed "
            "after these last commit times are lost. Set allow_data_loss=true to force the failover." % (
                local["server_name"], "; ".join(describe_copy(d) for d in risky) or _why_not_ready(local, risky)))
    unstartable = [d for d in local["databases"] if d["synchronization_state"] in UNSTARTABLE]
    if unstartable:
        raise PlanError(
            "forcing a failover to %s would leave %s unable to start as primary databases (SQL Server documents this for copies in "
            "the REVERTING or INITIALIZING state). Wait until they are SYNCHRONIZING, or choose another replica."
            % (local["server_name"], ", ".join("%s (%s)" % (d["name"], d["synchronization_state"]) for d in unstartable)))
    return FORCED


def _why_not_ready(local, risky):
    if local["availability_mode"] != "SYNCHRONOUS_COMMIT":
        return "it uses %s" % (local["availability_mode"] or "an unknown availability mode")
    return "; ".join(describe_copy(d) for d in risky) or "its databases are not marked failover ready"


def plan_resume(view, databases, allow_data_loss):
    """The local copies to resume (suspended ones, optionally only `databases`); PlanError before any change."""
    local = local_replica(view)
    if local is None or local["role"] in (None, "RESOLVING"):
        raise PlanError("the replica on this instance is %s: data movement can be resumed only on a PRIMARY or SECONDARY replica."
                        % ((local or {}).get("role") or "not visible"))
    known = {d["name"].lower(): d for d in local["databases"]}
    unknown = [name for name in databases or [] if name.lower() not in known]
    if unknown:
        raise PlanError("availability group '%s' has no database %s (its databases: %s)." % (
            view["name"], ", ".join(unknown), ", ".join(sorted(known[k]["name"] for k in known))))
    chosen = [known[name.lower()] for name in databases] if databases else list(local["databases"])
    targets = [d for d in chosen if d["is_suspended"]]
    partner = [d["name"] for d in targets if d["suspend_reason"] == "SUSPEND_FROM_PARTNER"]
    if partner and not allow_data_loss and local["role"] == "SECONDARY":
        raise PlanError(
            "%s on %s were suspended by a forced failover (SUSPEND_FROM_PARTNER). Resuming them rolls back every transaction this copy "
            "holds that never reached the new primary; take a database snapshot first if you need them. Set allow_data_loss=true "
            "to resume." % (", ".join(partner), local["server_name"]))
    return local, targets


class ActionModule(AGActionMixin, WindowsActionBase):

    argument_spec = dict(CONNECTION_SPEC, **{
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "primary", "choices": ["primary", "resumed"]},
        "allow_data_loss": {"type": "bool", "default": False},
        "databases": {"type": "list", "elements": "str"},
        "wait_synchronized": {"type": "bool", "default": False},
        "timeout": {"type": "int", "default": 300},
    })

    def run_module(self, args):
        if args["timeout"] < 0:
            return {"failed": True, "changed": False, "msg": "timeout must be 0 (do not wait) or a number of seconds."}
        if args["databases"] is not None and args["state"] != "resumed":
            return {"failed": True, "changed": False, "msg": "databases applies to state=resumed only."}
        view, problem = self.find_group(args, self.read_groups(args))
        if problem:
            return {"failed": True, "changed": False, "msg": problem}
        if args["state"] == "resumed":
            return self.resume(args, view)
        if (local_replica(view) or {}).get("operational_state") == "PENDING_FAILOVER":
            # A failover is already under way (an earlier run stopped while waiting): let it finish, then decide.
            view = self.settled(args, self.role_settled, args["timeout"])[0]
        return self.failover(args, view)

    # ---- failover ----------------------------------------------------------------------------------
    def failover(self, args, view):
        local = local_replica(view)
        try:
            kind = plan_failover(view, args["allow_data_loss"])
        except PlanError as e:
            return {"failed": True, "changed": False, "msg": "Nothing was changed on %s: %s" % (self.host_name, e), "before": view,
                    "data_loss_window": data_loss_window(local) if local else []}
        result = {"changed": kind is not None, "failover": kind, "before": view, "after": view, "data_loss_window": data_loss_window(local)}
        if kind is None:
            result["msg"] = "The replica %s on %s is already the primary replica of availability group '%s'." % (
                local["server_name"], self.host_name, view["name"])
            return result
        if self._task.check_mode:
            result["after"] = _predicted(view, kind)
            return self.finish(result)
        params = {"Path": provider_path(args["sql_instance"], view["name"])}
        if kind == FORCED:
            # -Force: the cmdlet otherwise asks for confirmation, which a non-interactive session cannot answer.
            params.update(AllowDataLoss=True, Force=True)
        params.update(connection_params(args))
        try:
            self.run_calls([RunnerCall("Switch-SqlAvailabilityGroup", params, [])])
        except RunnerError as e:
            if kind == PLANNED and local["role"] == "RESOLVING":
                # Every database is failover ready but the primary is gone: SQL Server refuses a planned failover when the
                # cluster was started in forced-quorum mode (vmm-cluster-sql-notes.md §C.3), and then only a forced one works.
                e.message = ("SQL Server refused the planned failover of '%s' to %s: %s [%s]. The primary replica is not available; if "
                             "the cluster runs in forced-quorum mode only a forced failover is accepted. Every database here is marked "
                             "failover ready, so forcing should lose no data: set allow_data_loss=true to force it. Nothing was changed."
                             % (view["name"], local["server_name"], e.message, e.fqid or e.category))
                e.explained = True
            raise
        after, timed_out = self.settled(args, self.role_settled, args["timeout"])
        result["after"] = after
        if kind == FORCED:
            result["suspended_databases"] = _suspended_elsewhere(after)
        if timed_out:
            mine = local_replica(after) or {}
            result.update(failed=True, msg="Switch-SqlAvailabilityGroup was accepted on %s, but after %d s the replica is still %s (%s). "
                                           "The failover continues in SQL Server: run the task again to wait for it." % (
                                               self.host_name, args["timeout"], mine.get("role"), mine.get("operational_state")))
        return self.finish(result)

    def settled(self, args, done, timeout):
        groups, timed_out = self.wait_until(args, lambda groups: done(groups.get(args["name"].lower())), timeout)
        return groups.get(args["name"].lower()), timed_out

    @staticmethod
    def role_settled(view):
        """The failover is done: the local replica is PRIMARY, online, with its databases online."""
        mine = local_replica(view or {"replicas": []}) or {}
        return mine.get("role") == "PRIMARY" and mine.get("operational_state") == "ONLINE" and mine.get("recovery_health") == "ONLINE"

    # ---- resume ------------------------------------------------------------------------------------
    def resume(self, args, view):
        try:
            local, targets = plan_resume(view, args["databases"], args["allow_data_loss"])
        except PlanError as e:
            return {"failed": True, "changed": False, "msg": "Nothing was changed on %s: %s" % (self.host_name, e), "before": view}
        names = [d["name"] for d in targets]
        result = {"changed": bool(targets), "resumed": names, "before": view, "after": view}
        if not targets:
            result["msg"] = "No database of availability group '%s' is suspended on %s." % (view["name"], local["server_name"])
            return result
        if self._task.check_mode:
            result["after"] = _predicted_resumed(view, names)
            return self.finish(result)
        calls = []
        for name in names:
            params = {"Path": provider_path(args["sql_instance"], view["name"], database=name)}
            params.update(connection_params(args))
            calls.append(RunnerCall("Resume-SqlAvailabilityDatabase", params, []))
        self.run_calls(calls)
        want_synchronized = args["wait_synchronized"] and local["availability_mode"] == "SYNCHRONOUS_COMMIT" and local["role"] == "SECONDARY"
        after, timed_out = self.settled(args, lambda v: _moving(v, names, want_synchronized), args["timeout"])
        result["after"] = after
        if timed_out:
            states = [describe_copy(d) for d in (local_replica(after) or {}).get("databases", []) if d["name"] in names]
            result.update(failed=True, msg="Data movement was resumed on %s, but after %d s not every database is %s: %s." % (
                self.host_name, args["timeout"], "SYNCHRONIZED" if want_synchronized else "moving data again", "; ".join(states)))
        return self.finish(result)

    def finish(self, result):
        if self._task.diff and result.get("changed"):
            result["diff"] = {"before": _summary(result["before"]), "after": _summary(result["after"])}
        return result


def _moving(view, names, synchronized):
    mine = local_replica(view or {"replicas": []}) or {}
    wanted = (SYNCHRONIZED,) if synchronized else (SYNCHRONIZING, SYNCHRONIZED)
    copies = [d for d in mine.get("databases", []) if d["name"] in names]
    return bool(copies) and all(not d["is_suspended"] and d["synchronization_state"] in wanted for d in copies)


def _suspended_elsewhere(view):
    """After a forced failover, as the new primary sees them: the secondary copies left suspended (resume each on its replica)."""
    out = []
    for replica in (view or {}).get("replicas", []):
        if replica["is_local"]:
            continue
        for copy in replica["databases"]:
            if copy["is_suspended"]:
                out.append({"replica": replica["server_name"], "database": copy["name"], "suspend_reason": copy["suspend_reason"]})
    return out


def _predicted(view, kind):
    """Check mode: the local replica primary; after a forced failover every other visible copy suspended."""
    after = _copy_view(view)
    for replica in after["replicas"]:
        if replica["is_local"]:
            replica.update(role="PRIMARY", operational_state="ONLINE", connected_state="CONNECTED")
        elif kind == FORCED:
            for copy in replica["databases"]:
                copy.update(is_suspended=True, suspend_reason="SUSPEND_FROM_PARTNER")
    after.update(local_role="PRIMARY", local_operational_state="ONLINE", primary_replica=view["local_replica"], complete_view=True)
    return after


def _predicted_resumed(view, names):
    after = _copy_view(view)
    for copy in local_replica(after)["databases"]:
        if copy["name"] in names:
            copy.update(is_suspended=False, suspend_reason=None, synchronization_state=SYNCHRONIZING)
    return after


def _copy_view(view):
    out = dict(view)
    out["replicas"] = [dict(r, databases=[dict(d) for d in r["databases"]]) for r in view["replicas"]]
    return out


def _summary(view):
    """The diff's view: each replica's role and each copy's synchronization state and suspension."""
    if not view:
        return {}
    return {"primary_replica": view.get("primary_replica"),
            "replicas": {r["server_name"] or r["replica_id"]: {"role": r["role"], "databases": {
                d["name"]: {"synchronization_state": d["synchronization_state"], "is_suspended": d["is_suspended"]}
                for d in r["databases"] if d["visible"] or r["is_local"]}} for r in view.get("replicas", [])}}
