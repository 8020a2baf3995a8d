# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._cluster import (
    CLUSTER_PROPERTIES,
    MEMBER_STATES,
    NODE_PROPERTIES,
    SERVICE_NOT_RUNNING,
    ClusterActionMixin,
    classify,
    shape_cluster,
    shape_node,
    short_name,
    site_resolver,
)
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

OPT_IN = "allow_forced_quorum"


def guard_refusal(probes):
    """Why quorum must not be forced, or None: every node of the lost site must be unreachable (split-brain guard).

    A node that answers in any way (its cluster runs; its cluster service is stopped but the host is up; it refuses the
    session's credentials) is up, and could run, or start, a cluster of its own: forcing quorum here would give two.
    Only "the RPC server is unavailable" counts as lost; any other failure is unknown, and unknown is refused too.
    """
    reasons = []
    for probe in probes:
        if probe["result"] == "unreachable":
            continue
        if probe["result"] == "running":
            reasons.append("node %s answers and its cluster service runs (state %s): the cluster is running there" % (
                probe["node"], probe["state"]))
        elif probe["result"] == SERVICE_NOT_RUNNING:
            reasons.append("node %s answers (its cluster service does not run, but the host is up and could start it and "
                           "form a cluster with the witness)" % probe["node"])
        elif probe["result"] == "denied":
            reasons.append("node %s answers (it refused this session's credentials on the second hop, so it is up)" % probe["node"])
        else:
            reasons.append("could not tell whether node %s is down: %s" % (probe["node"], probe["message"]))
    if not reasons:
        return None
    return ("refusing to force quorum: %s. Forcing quorum while the other site's nodes are up can leave two clusters running "
            "(split brain). Make sure those nodes are down and will stay down (shut them down, or isolate the site), or, if "
            "their cluster has quorum, use it instead." % "; ".join(reasons))


def node_view(cluster_rows, node_rows, name, site_of):
    """This node's view: its own node state and the cluster's forced-quorum flag; None when its cluster service does not answer."""
    cluster = shape_cluster(cluster_rows[0] if cluster_rows else None)
    nodes = [shape_node(n, site_of) for n in node_rows]
    me = next((n for n in nodes if short_name(n["name"]) == short_name(name)), None)
    return {"answering": True, "state": me["state"] if me else None, "forced_quorum": bool(cluster and cluster["forced_quorum"]),
            "cluster": cluster, "nodes": nodes}


class ActionModule(ClusterActionMixin, WindowsActionBase):

    argument_spec = {
        "state": {"type": "str", "required": True, "choices": ["forced", "started"]},
        OPT_IN: {"type": "bool", "default": False},
        "lost_nodes": {"type": "list", "elements": "str", "default": []},
        "ignore_persistent_state": {"type": "bool", "default": False},
        "node_name": {"type": "str"},
        "node_sites": {"type": "dict"},
        "timeout": {"type": "int", "default": 300},
    }

    def run(self, tmp=None, task_vars=None):
        self._task_vars = task_vars or {}
        return super().run(tmp, task_vars)

    def read(self, name, site_of):
        try:
            cluster_rows, node_rows = self.run_calls([RunnerCall("Get-Cluster", {}, CLUSTER_PROPERTIES),
                                                      RunnerCall("Get-ClusterNode", {}, NODE_PROPERTIES)])
        except RunnerError as e:
            if e.index == 0 and classify(e) == SERVICE_NOT_RUNNING:
                return {"answering": False, "state": None, "forced_quorum": False, "cluster": None, "nodes": [],
                        "reason": "%s [%s]" % (e.message.splitlines()[0], e.fqid)}
            raise
        return node_view(cluster_rows, node_rows, name, site_of)

    def run_module(self, args):
        name = self.node_name(args)
        refusal = self.check_input(args, name)
        if refusal:
            return {"failed": True, "changed": False, "msg": refusal}
        site_of = site_resolver(self._task_vars, args["node_sites"])
        before = self.read(name, site_of)
        result = {"changed": False, "node": name, "before": before, "after": before, "probes": [], "actions": []}
        if before["state"] in MEMBER_STATES:
            forced = " in forced-quorum mode (FixQuorum)" if before["forced_quorum"] else " with quorum"
            result.update(action="none", msg="Node %s is already %s in a running cluster%s: nothing to do." % (name, before["state"], forced))
            return result
        if args["state"] == "forced":
            return self.force(args, name, site_of, before, result)
        return self.start(args, name, site_of, before, result)

    def check_input(self, args, name):
        if args["timeout"] <= 0:
            return "timeout must be a positive number of seconds (got %d)." % args["timeout"]
        if args["state"] == "started" and (args[OPT_IN] or args["lost_nodes"] or args["ignore_persistent_state"]):
            return "%s, lost_nodes and ignore_persistent_state apply to state=forced only." % OPT_IN
        if args["state"] != "forced":
            return None
        if not args[OPT_IN]:
            return ("Nothing was changed on %s: forcing quorum makes this node's copy of the cluster configuration authoritative "
                    "and starts the cluster without a majority of votes - a last resort for a lost site (Start-ClusterNode "
                    "-ForceQuorum). Set %s: true to do it, with lost_nodes listing the other site's nodes." % (self.host_name, OPT_IN))
        if not args["lost_nodes"]:
            return ("Nothing was changed on %s: lost_nodes must list the nodes of the lost site; each is asked first, and any that "
                    "answers stops the task (split-brain guard)." % self.host_name)
        if any(short_name(n) == short_name(name) for n in args["lost_nodes"]):
            return "Nothing was changed: lost_nodes lists %s, the node this task runs on and would force quorum on." % name
        return None

    def force(self, args, name, site_of, before, result):
        """VCS §B.3: only after every lost node was asked and none answered; then Stop-ClusterNode, Start-ClusterNode -FixQuorum."""
        probes = self.probe(args["lost_nodes"])
        result["probes"] = probes
        if before["answering"]:
            result.update(failed=True, msg="Nothing was changed: the cluster service on %s answers but the node is %s, not Up. Look "
                                           "with site_recovery.hyperv.cluster_info." % (name, before["state"]))
            return result
        why = guard_refusal(probes)
        if why:
            result.update(failed=True, msg="Nothing was changed on %s: %s" % (self.host_name, why))
            return result
        start = {"ForceQuorum": True, "Wait": 0}
        if args["ignore_persistent_state"]:
            start["IgnorePersistentState"] = True
        ignore = " -IgnorePersistentState" if args["ignore_persistent_state"] else ""
        result["actions"] = ["Stop-ClusterNode", "Start-ClusterNode -ForceQuorum" + ignore]
        return self.act(args, name, site_of, before, result, [RunnerCall("Stop-ClusterNode", {}, ["Name", "State"]),
                                                              RunnerCall("Start-ClusterNode", start, ["Name", "State"])], "forced")

    def start(self, args, name, site_of, before, result):
        result["actions"] = ["Start-ClusterNode"]
        return self.act(args, name, site_of, before, result, [RunnerCall("Start-ClusterNode", {"Wait": 0}, ["Name", "State"])], "joined")

    def act(self, args, name, site_of, before, result, calls, action):
        result.update(changed=True, action=action)
        if self._task.check_mode:
            result["after"] = dict(before, answering=True, state="Up", forced_quorum=action == "forced" or before["forced_quorum"])
            result["msg"] = "Would run on %s: %s." % (name, "; ".join(result["actions"]))
            return self.with_diff(result)
        self.run_calls(calls)
        after, timed_out = self.poll(lambda: self.read(name, site_of), lambda v: v["state"] in MEMBER_STATES, args["timeout"])
        result["after"] = after
        if timed_out:
            hint = ("the cluster has no quorum: no running cluster to join and too few votes to form one. Force quorum on one "
                    "surviving node first (state=forced), then start the others" if action == "joined" else
                    "look at the node with site_recovery.hyperv.cluster_info")
            result.update(failed=True, msg="The cluster service on %s was started (%s), but after %d s the node is not Up: %s." % (
                name, "; ".join(result["actions"]), args["timeout"], hint))
        elif action == "forced":
            result["msg"] = ("Quorum forced on %s: the cluster runs%s. Start the other surviving nodes normally, one at a time "
                             "(state=started); the cluster leaves forced-quorum mode by itself once a majority of votes is back."
                             % (name, " in forced-quorum mode (FixQuorum)" if after["forced_quorum"] else ""))
        else:
            result["msg"] = "Node %s joined the running cluster (%s)." % (name, "forced-quorum mode" if after["forced_quorum"] else "with quorum")
        return self.with_diff(result)

    def with_diff(self, result):
        if self._task.diff and result.get("changed"):
            keys = ("answering", "state", "forced_quorum")
            result["diff"] = {"before": {k: result["before"].get(k) for k in keys}, "after": {k: result["after"].get(k) for k in keys}}
        return result
