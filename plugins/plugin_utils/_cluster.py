# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the failover cluster modules share: the property lists, the shapes of cluster objects, how a node's view of
its cluster is read, how other nodes are asked whether they answer (a second hop), and how cluster errors are told apart.

PRIVATE to the collection: no compatibility promise.

The FailoverClusters cmdlets talk to the cluster service of the node they run on. When that service does not answer
(the cluster has no quorum, or the service is stopped), every call fails with ``ClusterEndpointNotRegistered``; the
modules then report what they still know instead of failing.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError

CLUSTER_PROPERTIES = ["Name", "Domain", "Id", "FixQuorum", "DynamicQuorum"]
NODE_PROPERTIES = ["Name", "Id", "State", "NodeWeight", "DynamicWeight", "DrainStatus"]
GROUP_PROPERTIES = ["Name", "OwnerNode", "State", "GroupType", "IsCoreGroup"]
RESOURCE_PROPERTIES = ["Name", "State", "OwnerGroup", "ResourceType", "OwnerNode"]
QUORUM_PROPERTIES = ["Cluster", "QuorumResource", "QuorumType"]
OWNER_PROPERTIES = ["ClusterObject", "OwnerNodes"]

# How a cluster call failed, from its FullyQualifiedErrorId.
SERVICE_NOT_RUNNING = "service_not_running"  # ClusterEndpointNotRegistered: the node's cluster service does not answer
UNREACHABLE = "unreachable"  # ClusterRpcConnection: the RPC server is unavailable (node down, or no route to it)
DENIED = "denied"  # access denied: the node answered, but refused the session's credentials (a second hop)
OTHER = "error"

# Node states (ClusterNodeState) of a member of the running cluster.
MEMBER_STATES = ("Up", "Paused")
POLL_FIRST_DELAY = 0.5
POLL_MAX_DELAY = 10.0


def classify(error):
    """The kind of a cluster call's failure (one of the constants above)."""
    fqid = (error.fqid or "").split(",", 1)[0]
    message = error.message or ""
    if fqid == "ClusterEndpointNotRegistered" or "cluster service is not running" in message:
        return SERVICE_NOT_RUNNING
    if fqid == "ClusterRpcConnection" or "RPC server is unavailable" in message:
        return UNREACHABLE
    if fqid == "ClusterAccessDenied" or "Access is denied" in message:
        return DENIED
    return OTHER


def short_name(name):
    """A node's cluster name from a host name: the first DNS label, lower-cased."""
    return str(name or "").split(".", 1)[0].lower()


def cluster_params(args):
    return {"Cluster": args["cluster"]} if args.get("cluster") else {}


def read_calls(args):
    """One batch: the cluster, its nodes, roles, resources and quorum configuration, as this node's cluster service sees them."""
    params = cluster_params(args)
    return [
        RunnerCall("Get-Cluster", dict(params), CLUSTER_PROPERTIES),
        RunnerCall("Get-ClusterNode", dict(params), NODE_PROPERTIES),
        RunnerCall("Get-ClusterGroup", dict(params), GROUP_PROPERTIES),
        RunnerCall("Get-ClusterResource", dict(params), RESOURCE_PROPERTIES),
        RunnerCall("Get-ClusterQuorum", dict(params), QUORUM_PROPERTIES),
    ]


def site_resolver(task_vars, node_sites):
    """node name -> site: O(node_sites) first, else the inventory variable site_recovery_site of the node's host."""
    given = {short_name(k): v for k, v in (node_sites or {}).items()}
    hostvars = (task_vars or {}).get("hostvars") or {}
    inventory = {}
    try:
        for host in hostvars:
            inventory.setdefault(short_name(host), host)
    except TypeError:
        inventory = {}

    def site_of(name):
        key = short_name(name)
        if key in given:
            return given[key]
        host = inventory.get(key)
        if host is None:
            return None
        try:
            return hostvars[host].get("site_recovery_site")
        except (KeyError, AttributeError):
            return None

    return site_of


def shape_cluster(row):
    if not row:
        return None
    return {"name": row.get("Name"), "domain": row.get("Domain"), "id": row.get("Id"),
            "forced_quorum": bool(row.get("FixQuorum")), "dynamic_quorum": bool(row.get("DynamicQuorum"))}


def shape_node(row, site_of):
    return {"name": row.get("Name"), "id": row.get("Id"), "state": row.get("State"), "site": site_of(row.get("Name")),
            "node_weight": row.get("NodeWeight"), "dynamic_weight": row.get("DynamicWeight"), "drain_status": row.get("DrainStatus")}


def shape_resource(row):
    return {"name": row.get("Name"), "state": row.get("State"), "resource_type": row.get("ResourceType")}


def shape_group(row, resources, owners=None):
    name = row.get("Name")
    return {
        "name": name, "owner_node": row.get("OwnerNode"), "state": row.get("State"), "group_type": row.get("GroupType"),
        "is_core": bool(row.get("IsCoreGroup")),
        "preferred_owners": list((owners or {}).get(str(name).lower()) or []),
        "resources": [shape_resource(r) for r in resources if str(r.get("OwnerGroup")).lower() == str(name).lower()],
    }


def shape_quorum(cluster, nodes, resources, quorum_row):
    """Quorum configuration and the votes present (dynamic quorum off: every NodeWeight counts, plus the witness)."""
    witness = (quorum_row or {}).get("QuorumResource")
    witness_state = next((r.get("State") for r in resources if witness and r.get("Name") == witness), None)
    total = sum(int(n.get("node_weight") or 0) for n in nodes) + (1 if witness else 0)
    present = sum(int(n.get("node_weight") or 0) for n in nodes if n.get("state") in MEMBER_STATES)
    present += 1 if witness_state == "Online" else 0
    return {
        "has_quorum": True,  # this node's cluster service answers: the cluster runs with quorum (maybe forced)
        "forced": bool(cluster and cluster["forced_quorum"]),
        "type": (quorum_row or {}).get("QuorumType"),
        "witness": witness,
        "witness_state": witness_state,
        "votes": {"total": total, "present": present, "needed": total // 2 + 1},
    }


def no_quorum(error):
    """The quorum view of a node whose cluster service does not answer."""
    return {"has_quorum": False, "forced": False, "type": None, "witness": None, "witness_state": None, "votes": None,
            "reason": "%s [%s]" % (error.message, error.fqid)}


def probe_calls(node):
    """Ask another node's cluster service about itself (a second hop from this node)."""
    return [RunnerCall("Get-ClusterNode", {"Cluster": node, "Name": [node]}, ["Name", "State"])]


def probe_outcome(node, rows, error):
    """What asking a node told: result running / service_not_running / denied / unreachable / error, and whether it answered."""
    if error is None:
        state = rows[0].get("State") if rows else None
        return {"node": node, "answered": True, "result": "running", "state": state, "message": None}
    kind = classify(error)
    return {"node": node, "answered": kind in (SERVICE_NOT_RUNNING, DENIED), "result": kind, "state": None,
            "message": "%s [%s]" % (error.message, error.fqid)}


class ClusterActionMixin:
    """Reading, probing, polling and error wording shared by the cluster action plugins (mixed into WindowsActionBase)."""

    host_name = None

    def read_view(self, args, site_of):
        """This node's view of its cluster, or (None, error) when its cluster service does not answer."""
        try:
            cluster, nodes, groups, resources, quorum = self.run_calls(read_calls(args))
        except RunnerError as e:
            if e.index == 0 and classify(e) in (SERVICE_NOT_RUNNING, UNREACHABLE, DENIED):
                return None, e
            raise
        cluster_view = shape_cluster(cluster[0] if cluster else None)
        node_views = [shape_node(n, site_of) for n in nodes]
        view = {
            "cluster": cluster_view,
            "nodes": node_views,
            "groups": [shape_group(g, resources) for g in groups],
            "quorum": shape_quorum(cluster_view, node_views, resources, quorum[0] if quorum else None),
        }
        return view, None

    def read_owners(self, args, group_names):
        """Preferred owners of each role, in order (Get-ClusterOwnerNode -Group), in one batch."""
        if not group_names:
            return {}
        params = cluster_params(args)
        results = self.run_calls([RunnerCall("Get-ClusterOwnerNode", dict(params, Group=g), OWNER_PROPERTIES) for g in group_names])
        owners = {}
        for name, rows in zip(group_names, results):
            nodes = rows[0].get("OwnerNodes") if rows else []
            owners[str(name).lower()] = [str(n) for n in (nodes if isinstance(nodes, list) else [nodes]) if n]
        return owners

    def probe(self, nodes):
        """Ask each node on its own (one node's failure must not hide another's answer)."""
        out = []
        for node in nodes:
            try:
                rows = self.run_calls(probe_calls(node))[0]
                out.append(probe_outcome(node, rows, None))
            except RunnerError as e:
                out.append(probe_outcome(node, [], e))
        return out

    def poll(self, read, done, timeout):
        """Re-read with backoff (0.5 s doubling, capped at 10 s) until done(view) or timeout; returns (view, timed_out)."""
        deadline = time.monotonic() + timeout
        delay = POLL_FIRST_DELAY
        while True:
            view = read()
            if done(view):
                return view, False
            if time.monotonic() + delay > deadline:
                return view, True
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX_DELAY)

    def node_name(self, args):
        """The node the task runs on, as the cluster names it: O(node_name), else the inventory host's short name."""
        name = args.get("node_name") or short_name(self.host_name)
        if not name:
            raise AnsibleActionFail("Cannot tell which cluster node %s is: set node_name." % self.host_name)
        return name

    def explain_error(self, error):
        if getattr(error, "explained", False):
            return error.message
        kind = classify(error)
        hint = ""
        if kind == SERVICE_NOT_RUNNING:
            hint = (" The cluster service on %s does not answer: the cluster has no quorum here, or the service is stopped. "
                    "Look with site_recovery.hyperv.cluster_info; to bring a surviving site into service, force quorum first "
                    "with site_recovery.hyperv.cluster_quorum." % self.host_name)
        return "%s failed on cluster node %s: %s [%s].%s" % (error.cmdlet, self.host_name, error.message, error.fqid or error.category, hint)
