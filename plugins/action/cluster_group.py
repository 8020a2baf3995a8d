# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._cluster import (
    GROUP_PROPERTIES,
    NODE_PROPERTIES,
    OWNER_PROPERTIES,
    RESOURCE_PROPERTIES,
    ClusterActionMixin,
    cluster_params,
    shape_group,
    shape_node,
    short_name,
    site_resolver,
)
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import PlanError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

# ClusterGroupState values that no longer change by themselves (vmm-cluster-sql-notes.md §B.1).
SETTLED = ("Online", "Offline", "Failed", "PartialOnline")
FORCE_QUORUM_FIRST = ("force quorum first with site_recovery.hyperv.cluster_quorum (state=forced) on a node of the surviving site, "
                      "or run this task on a node of the cluster that has quorum")


def _up(node):
    return node is not None and node["state"] == "Up"


def _find(nodes, name):
    return next((n for n in nodes if short_name(n["name"]) == short_name(name)), None)


def candidates(group, nodes, site):
    """Up nodes of a site, in the role's preferred-owner order, then by name."""
    order = {short_name(n): i for i, n in enumerate(group["preferred_owners"])}
    at_site = [n for n in nodes if n["site"] == site and _up(n)]
    return sorted(at_site, key=lambda n: (order.get(short_name(n["name"]), len(order)), n["name"]))


def plan_group(group, nodes, state, node=None, site=None):
    """Pure decision: (calls as (cmdlet, params), expected after-view) or ([], None) when nothing is needed; PlanError to refuse."""
    owner = _find(nodes, group["owner_node"] or "")
    current = group["state"]
    if state == "offline":
        if current == "Offline":
            return [], None
        return [("Stop-ClusterGroup", {})], {"state": "Offline"}
    if node is not None:
        target = _find(nodes, node)
        if target is None:
            raise PlanError("node '%s' is not a node of the cluster (nodes: %s)." % (node, ", ".join(n["name"] for n in nodes)))
        if not _up(target):
            raise PlanError("node %s is %s, and a role can only go to a node that is Up. Bring it back (for a node that "
                            "returns with its site: site_recovery.hyperv.cluster_quorum state=started), or choose another node."
                            % (target["name"], target["state"]))
    elif site is not None:
        if current == "Online" and owner is not None and owner["site"] == site:
            return [], None
        found = candidates(group, nodes, site)
        if not found:
            known = sorted({n["site"] for n in nodes if n["site"]})
            raise PlanError("no node of site '%s' is Up (nodes there: %s; sites known: %s). Nodes get their site from "
                            "node_sites or the inventory variable site_recovery_site." % (
                                site, ", ".join("%s %s" % (n["name"], n["state"]) for n in nodes if n["site"] == site) or "none",
                                ", ".join(known) or "none"))
        target = found[0]
    else:
        if current == "Online":
            return [], None
        target = owner if _up(owner) else None
    if target is not None and owner is not None and short_name(target["name"]) == short_name(owner["name"]):
        if current == "Online":
            return [], None
        return [("Start-ClusterGroup", {})], {"state": "Online", "owner_node": owner["name"]}
    if target is None:
        return [("Start-ClusterGroup", {"ChooseBestNode": True})], {"state": "Online"}
    calls = [("Move-ClusterGroup", {"Node": target["name"]})]
    if current == "Offline":
        calls.append(("Start-ClusterGroup", {}))  # an offline role only changes owner when moved
    return calls, {"state": "Online", "owner_node": target["name"]}


class ActionModule(ClusterActionMixin, WindowsActionBase):

    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "online", "choices": ["online", "offline"]},
        "node": {"type": "str"},
        "site": {"type": "str"},
        "node_sites": {"type": "dict"},
        "cluster": {"type": "str"},
        "timeout": {"type": "int", "default": 600},
    }
    validation_kwargs = {"mutually_exclusive": [["node", "site"]]}

    def run(self, tmp=None, task_vars=None):
        self._task_vars = task_vars or {}
        return super().run(tmp, task_vars)

    def read(self, args, site_of):
        params = cluster_params(args)
        calls = [
            RunnerCall("Get-ClusterGroup", dict(params, Name=[args["name"]]), GROUP_PROPERTIES),
            RunnerCall("Get-ClusterNode", dict(params), NODE_PROPERTIES),
            RunnerCall("Get-ClusterOwnerNode", dict(params, Group=args["name"]), OWNER_PROPERTIES),
            RunnerCall("Get-ClusterResource", dict(params), RESOURCE_PROPERTIES),
        ]
        groups, nodes, owners, resources = self.run_calls(calls)
        owner_nodes = owners[0].get("OwnerNodes") if owners else []
        group = shape_group(groups[0], resources, {str(args["name"]).lower(): owner_nodes if isinstance(owner_nodes, list) else [owner_nodes]})
        return group, [shape_node(n, site_of) for n in nodes]

    def run_module(self, args):
        if args["state"] == "offline" and (args["node"] or args["site"]):
            return {"failed": True, "changed": False, "msg": "node and site apply to state=online only."}
        if args["timeout"] < 0:
            return {"failed": True, "changed": False, "msg": "timeout must be 0 (do not wait) or a number of seconds."}
        site_of = site_resolver(self._task_vars, args["node_sites"])
        try:
            before, nodes = self.read(args, site_of)
        except RunnerError as e:
            return {"failed": True, "changed": False, "msg": self.read_failure(args, e), "error": e.to_result()}
        if before["state"] == "Pending":
            # A move or start in progress: wait for it before deciding, so a re-run after a crash converges.
            (before, nodes), dummy = self.poll(lambda: self.read(args, site_of), lambda v: v[0]["state"] in SETTLED, args["timeout"])
        try:
            steps, expect = plan_group(before, nodes, args["state"], args["node"], args["site"])
        except PlanError as e:
            return {"failed": True, "changed": False, "group": before, "nodes": nodes, "actions": [],
                    "msg": "Nothing was changed on cluster node %s: role %s: %s" % (self.host_name, args["name"], e)}
        actions = [" ".join(["%s -Name '%s'" % (cmdlet, args["name"])] + ["-%s %s" % (k, v) if v is not True else "-%s" % k
                                                                          for k, v in params.items()]) for cmdlet, params in steps]
        result = {"changed": bool(steps), "group": before, "nodes": nodes, "actions": actions}
        if not steps:
            result["msg"] = "Role %s is already %s%s." % (args["name"], before["state"], " on %s" % before["owner_node"]
                                                          if before["state"] == "Online" else "")
            return result
        if self._task.check_mode:
            after = dict(before, **expect)
            result.update(group_after=after, msg="Would run: %s." % "; ".join(actions))
        else:
            after, failure = self.apply(args, steps, expect, site_of)
            result["group_after"] = after
            if failure:
                result.update(failed=True, msg=failure)
                return self.with_diff(result, before, after)
            result["msg"] = "Role %s is %s on %s (%s)." % (args["name"], after["state"], after["owner_node"], "; ".join(actions))
        return self.with_diff(result, before, result["group_after"])

    def with_diff(self, result, before, after):
        if self._task.diff and result.get("changed"):
            keys = ("owner_node", "state")
            result["diff"] = {"before": {k: before.get(k) for k in keys}, "after": {k: (after or {}).get(k) for k in keys}}
        return result

    def apply(self, args, steps, expect, site_of):
        """One batch with -Wait 0 (each call returns at once), then poll the role until it gets there, fails, or the timeout."""
        params = cluster_params(args)
        self.run_calls([RunnerCall(cmdlet, dict(params, Name=args["name"], Wait=0, **extra), GROUP_PROPERTIES) for cmdlet, extra in steps])
        (after, dummy), timed_out = self.poll(lambda: self.read(args, site_of),
                                              lambda v: self.reached(v[0], expect) or v[0]["state"] == "Failed", args["timeout"])
        if self.reached(after, expect):
            return after, None
        if timed_out:
            return after, ("Timed out after %d s waiting for role %s to be %s%s: it is %s on %s. The cluster keeps working on it: "
                           "run the task again to wait longer." % (args["timeout"], args["name"], expect["state"],
                                                                   " on %s" % expect["owner_node"] if expect.get("owner_node") else "",
                                                                   after["state"], after["owner_node"]))
        failed = [r["name"] for r in after["resources"] if r["state"] == "Failed"]
        detail = " (failed resources: %s)" % ", ".join(failed) if failed else ""
        text = "Role %s is %s on %s after %s, not %s%s." % (
            args["name"], after["state"], after["owner_node"], steps[0][0], expect["state"], detail)
        return after, text + " Look at the role in Failover Cluster Manager or with site_recovery.hyperv.cluster_info."

    @staticmethod
    def reached(group, expect):
        return all(short_name(group.get(k)) == short_name(v) if k == "owner_node" else group.get(k) == v for k, v in expect.items())

    def read_failure(self, args, error):
        if (error.fqid or "").startswith("ClusterEndpointNotRegistered"):
            return ("Nothing was changed: the cluster service on %s does not answer (%s), so the cluster has no quorum here or "
                    "its service is stopped: %s." % (self.host_name, error.message.splitlines()[0], FORCE_QUORUM_FIRST))
        if (error.fqid or "").startswith("ClusterObjectNotFound") and error.index == 0:
            return "Nothing was changed: cluster node %s has no role named '%s' (%s)." % (self.host_name, args["name"], error.message)
        return "Nothing was changed: " + self.explain_error(error)
