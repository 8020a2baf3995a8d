# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import PlanError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._sqlag import (
    CONNECTION_SPEC,
    AGActionMixin,
    connection_params,
    local_replica,
    provider_path,
)
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

# Option values -> what sys.availability_replicas shows, and the SMO enum names Set-SqlAvailabilityReplica takes.
MODES = {"synchronous_commit": ("SYNCHRONOUS_COMMIT", "SynchronousCommit"), "asynchronous_commit": ("ASYNCHRONOUS_COMMIT", "AsynchronousCommit")}
FAILOVER_MODES = {"automatic": ("AUTOMATIC", "Automatic"), "manual": ("MANUAL", "Manual")}


def plan_replica(view, replica_name, availability_mode, failover_mode):
    """(target replica, current settings, wanted settings, ordered Set-SqlAvailabilityReplica parameters); PlanError when refused.

    vmm-cluster-sql-notes.md §C.4: run on the primary. sys.availability_replicas: automatic failover needs synchronous
    commit, so a replica leaving synchronous commit drops automatic failover first, and one gaining automatic failover
    gets synchronous commit first.
    """
    local = local_replica(view)
    if local is None or local["role"] != "PRIMARY":
        primary = view.get("primary_replica")
        raise PlanError("the replica on this instance is %s, and SQL Server changes replica settings only on the primary replica%s. "
                        "Run the task on the primary." % ((local or {}).get("role") or "not visible",
                                                          " (%s)" % primary if primary else ""))
    name = replica_name or local["server_name"]
    target = next((r for r in view["replicas"] if (r["server_name"] or "").lower() == name.lower()), None)
    if target is None:
        raise PlanError("availability group '%s' has no replica '%s' (replicas: %s)." % (
            view["name"], name, ", ".join(sorted(r["server_name"] for r in view["replicas"] if r["server_name"]))))
    current = {"availability_mode": target["availability_mode"], "failover_mode": target["failover_mode"]}
    wanted = {"availability_mode": MODES[availability_mode][0] if availability_mode else current["availability_mode"],
              "failover_mode": FAILOVER_MODES[failover_mode][0] if failover_mode else current["failover_mode"]}
    if wanted["failover_mode"] == "AUTOMATIC" and wanted["availability_mode"] != "SYNCHRONOUS_COMMIT":
        raise PlanError("automatic failover needs synchronous commit: replica %s would be %s with failover mode AUTOMATIC. Set "
                        "failover_mode=manual too, or keep synchronous_commit." % (target["server_name"], wanted["availability_mode"]))
    steps = []
    mode_step = {"AvailabilityMode": MODES[availability_mode][1]} if availability_mode and wanted["availability_mode"] != current["availability_mode"] else None
    failover_step = {"FailoverMode": FAILOVER_MODES[failover_mode][1]} if failover_mode and wanted["failover_mode"] != current["failover_mode"] else None
    if wanted["availability_mode"] == "SYNCHRONOUS_COMMIT":
        steps = [s for s in (mode_step, failover_step) if s]
    else:
        steps = [s for s in (failover_step, mode_step) if s]
    return target, current, wanted, steps


class ActionModule(AGActionMixin, WindowsActionBase):

    argument_spec = dict(CONNECTION_SPEC, **{
        "name": {"type": "str", "required": True},
        "replica": {"type": "str"},
        "availability_mode": {"type": "str", "choices": list(MODES)},
        "failover_mode": {"type": "str", "choices": list(FAILOVER_MODES)},
    })
    validation_kwargs = {"required_one_of": [["availability_mode", "failover_mode"]]}

    def run_module(self, args):
        view, problem = self.find_group(args, self.read_groups(args))
        if problem:
            return {"failed": True, "changed": False, "msg": problem}
        try:
            target, current, wanted, steps = plan_replica(view, args["replica"], args["availability_mode"], args["failover_mode"])
        except PlanError as e:
            return {"failed": True, "changed": False, "msg": "Nothing was changed on %s: %s" % (self.host_name, e)}
        result = {"changed": bool(steps), "replica": target["server_name"], "before": current, "after": wanted}
        if self._task.diff and steps:
            result["diff"] = {"before": current, "after": wanted}
        if not steps:
            result["msg"] = "Replica %s of '%s' already has availability mode %s and failover mode %s." % (
                target["server_name"], view["name"], current["availability_mode"], current["failover_mode"])
            return result
        if self._task.check_mode:
            return result
        calls = []
        for step in steps:
            params = dict(step, Path=provider_path(args["sql_instance"], view["name"], replica=target["server_name"]))
            params.update(connection_params(args))
            calls.append(RunnerCall("Set-SqlAvailabilityReplica", params, []))
        self.run_calls(calls)
        after = self.read_groups(args).get(args["name"].lower()) or view
        settled = next((r for r in after["replicas"] if r["replica_id"] == target["replica_id"]), target)
        result["after"] = {"availability_mode": settled["availability_mode"], "failover_mode": settled["failover_mode"]}
        return result
