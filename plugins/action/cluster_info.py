# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._cluster import (
    ClusterActionMixin,
    no_quorum,
    short_name,
    site_resolver,
)
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase


def local_node(view, name, site_of, error=None):
    """The node the task ran on: its state in the cluster, or what is known when its cluster service does not answer."""
    if view is None:
        return {"name": name, "state": None, "site": site_of(name), "member": False, "cluster_service": "not_answering",
                "reason": "%s [%s]" % (error.message, error.fqid)}
    row = next((n for n in view["nodes"] if short_name(n["name"]) == short_name(name)), None)
    state = row["state"] if row else None
    return {"name": row["name"] if row else name, "state": state, "site": site_of(name), "member": state in ("Up", "Paused"),
            "cluster_service": "answering", "reason": None}


def summary(host, view, node, probes):
    if view is None:
        text = ("The cluster service on %s does not answer: no cluster with quorum runs on this node (the cluster lost "
                "quorum, or its service is stopped)." % host)
    else:
        quorum = view["quorum"]
        votes = quorum["votes"]
        text = "Cluster %s on %s: quorum%s, %d of %d votes present (%d needed); node %s is %s." % (
            view["cluster"]["name"], host, " FORCED (FixQuorum)" if quorum["forced"] else "", votes["present"], votes["total"],
            votes["needed"], node["name"], node["state"])
    answered = ", ".join(p["node"] for p in probes if p["answered"]) or "none"
    silent = ", ".join(p["node"] for p in probes if not p["answered"]) or "none"
    if probes:
        text += " Asked nodes: %s answered, %s did not." % (answered, silent)
    return text


class ActionModule(ClusterActionMixin, WindowsActionBase):

    argument_spec = {
        "cluster": {"type": "str"},
        "node_name": {"type": "str"},
        "node_sites": {"type": "dict"},
        "probe_nodes": {"type": "list", "elements": "str", "default": []},
        "preferred_owners": {"type": "bool", "default": True},
    }

    def run(self, tmp=None, task_vars=None):
        self._task_vars = task_vars or {}
        return super().run(tmp, task_vars)

    def run_module(self, args):
        site_of = site_resolver(self._task_vars, args["node_sites"])
        name = self.node_name(args)
        view, error = self.read_view(args, site_of)
        if view is not None and args["preferred_owners"]:
            owners = self.read_owners(args, [g["name"] for g in view["groups"]])
            for group in view["groups"]:
                group["preferred_owners"] = owners.get(str(group["name"]).lower(), [])
        node = local_node(view, name, site_of, error)
        probes = self.probe([p for p in args["probe_nodes"] if short_name(p) != short_name(name)])
        result = {
            "changed": False,
            "cluster": view["cluster"] if view else None,
            "node": node,
            "nodes": view["nodes"] if view else [],
            "groups": view["groups"] if view else [],
            "quorum": view["quorum"] if view else no_quorum(error),
            "probes": probes,
        }
        result["msg"] = summary(self.host_name, view, node, probes)
        return result
