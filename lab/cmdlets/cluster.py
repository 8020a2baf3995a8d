"""FailoverClusters cmdlets, answered from the lab's clusters (lab/world/cluster.py).

Sources: vmm-cluster-sql-notes.md §B (VCS), timings.md §7.4 (TIM), and real error transcripts quoted below. Handler
signature as in hyperv.py: (world, host_name, bound) -> list[dict]. A cmdlet runs on a cluster node (or on the VMM
role's client access point, which reaches the role's owner node).

Connections. The cmdlets talk to the cluster service of the node they run on, or of the node/cluster named by
-Cluster. The local cluster service answers only while the node is a member of a running cluster; otherwise the
call fails as Windows prints it ("The cluster service is not running ... no more endpoints available from the
endpoint mapper", ClusterEndpointNotRegistered; transcript in dpaulson45/HealthChecker#195 and dataplat/dbachecks#314).
Only Start-ClusterNode and Stop-ClusterNode of the local node work without it (VCS §B.3 force-quorum steps 1-2: the
node is stopped and started with -FixQuorum while the cluster has no quorum; INFERRED: through the service manager).
Another node or the cluster name is a second hop from a WinRM session: an unreachable one fails with
"... The RPC server is unavailable" (ClusterRpcConnection; transcript in dsccommunity/FailoverClusterDsc#148); one
whose cluster service does not run has no endpoint (ClusterEndpointNotRegistered, INFERRED for a remote node); a
running one refuses the session's credentials, which NTLM and Basic sessions cannot delegate ("You do not have
administrative privileges on the cluster ... Access is denied", text from MicrosoftDocs/azure-docs#42640; the
FullyQualifiedErrorId ClusterAccessDenied is INFERRED). That is also why Start-ClusterNode "cannot be run remotely
without CredSSP" (VCS §B.3) is modelled as: the local node only.

Not modelled (fail with LabNotModelled): Start-Cluster, Set-ClusterQuorum, Move-ClusterVirtualMachineRole,
Get-Cluster -Domain, -VMId.
"""

from __future__ import annotations

from lab._powershell import not_recognized
from lab.cmdlets.errors import CmdletError, not_modelled, record
from lab.cmdlets.objects import PSObject
from lab.world import cluster as wc

_NS = "Microsoft.FailoverClusters.PowerShell."
_LOCAL = ("", ".", "localhost", "127.0.0.1")
# TIM §3.1: a resource that stays pending longer than PendingTimeout (180 s) is terminated: no wait lasts longer.
PENDING_TIMEOUT_S = 180.0


def _locks_world(fn):
    fn.locks_world = True
    return fn


class ClusterObject(PSObject):
    """A FailoverClusters object; its string form is its Name (as Format-Table shows them in the docs' examples)."""

    def __init__(self, kind: str, props: dict) -> None:
        super().__init__(_NS + kind, props, str(props.get("Name") or ""))


# ---- errors ----------------------------------------------------------------------------------------
def _cluster_error(bound, message: str, error_id: str, category: str, target: str = "") -> CmdletError:
    return CmdletError(record(message, "{0},{1}".format(error_id, bound.command_type), category, "ClusterCmdletException",
                              target=target, command=bound.cmdlet))


def endpoint_not_registered(bound) -> CmdletError:
    return _cluster_error(bound, "The cluster service is not running.  Make sure that the service is running on all nodes in the "
                                 "cluster.\n    There are no more endpoints available from the endpoint mapper",
                          "ClusterEndpointNotRegistered", "ConnectionError")


def rpc_unavailable(bound, target: str) -> CmdletError:
    return _cluster_error(bound, "Check the spelling of the cluster name. Otherwise, there might be a problem with your network. Make "
                                 "sure the cluster nodes are turned on and connected to the network or contact your network "
                                 "administrator.\n    The RPC server is unavailable", "ClusterRpcConnection", "ConnectionError", target)


def access_denied(bound, target: str) -> CmdletError:
    return _cluster_error(bound, "You do not have administrative privileges on the cluster. Contact your network administrator to "
                                 "request access.\n    Access is denied", "ClusterAccessDenied", "PermissionDenied", target)


def _operation_failed(bound, what: str, name: str, win32: str) -> CmdletError:
    """Transcript (Move-ClusterGroup, Storage Replica known issues page): "An error occurred while moving the clustered role
    'x'.\\n<Windows error>", NotSpecified, fqid "<cmdlet>,<command type>". The start/stop wordings are INFERRED alike."""
    return CmdletError(record("An error occurred while {0} '{1}'.\n{2}".format(what, name, win32), "{0},{1}".format(
        bound.cmdlet, bound.command_type), "NotSpecified", "ClusterCmdletException", target=name, command=bound.cmdlet))


def _not_found(bound, kind: str, name: str, win32: str) -> CmdletError:
    # INFERRED wording around the Windows error text (ERROR_GROUP_NOT_FOUND / _RESOURCE_ / _CLUSTER_NODE_NOT_FOUND).
    return _cluster_error(bound, "An error occurred opening {0} '{1}'.\n    {2}".format(kind, name, win32), "ClusterObjectNotFound",
                          "ObjectNotFound", name)


# ---- where a call runs ---------------------------------------------------------------------------
def _local(world, host_name: str, bound):
    """(cluster, node) of the host the cmdlet runs on; the VMM role's network name reaches the role's owner node."""
    host = world.host(host_name)
    vmm = world.vmm_server
    if host.role == "vmm" and vmm is not None and vmm.highly_available:
        cluster = vmm.cluster()
        return cluster, cluster.node(vmm.active_node())
    cluster = world.cluster_of(host.name)
    if cluster is None:
        # INFERRED: the Failover Clustering tools are installed on the cluster nodes only.
        raise CmdletError(not_recognized(bound.cmdlet))
    return cluster, cluster.node(host.name)


def _target_node(world, cluster, local, target: str):
    """The node a -Cluster value names (the cluster name reaches the core group's owner); None if it names nothing."""
    low = target.lower()
    if low in _LOCAL:
        return local
    if low in (cluster.name.lower(), cluster.fqdn.lower()):
        return cluster.nodes.get(cluster.groups[wc.CORE_GROUP].owner) if cluster.running() else None
    return cluster.node(target)


def _connect(world, host_name: str, bound, target: str | None = None, need_service: bool = True):
    """(cluster, local node) for a call that talks to the cluster service; raises the documented connection errors."""
    cluster, local = _local(world, host_name, bound)
    cluster.sync()
    target = bound.params.get("Cluster") if target is None else target
    if target is not None:
        other = _target_node(world, cluster, local, str(target))
        if other is not local:
            _second_hop(world, bound, other, str(target))
    if need_service and not local.member:
        raise endpoint_not_registered(bound)
    return cluster, local


def _second_hop(world, bound, other, target: str) -> None:
    """Another node from a WinRM session: unreachable -> RPC unavailable; its cluster service down -> no endpoint
    (INFERRED: the endpoint mapper answers before any authentication); else the undelegated credentials are refused."""
    if other is None or not world.host_reachable(other.name):
        raise rpc_unavailable(bound, target)
    if not other.member:
        raise endpoint_not_registered(bound)
    raise access_denied(bound, target)


def _input_name(bound, kind: str) -> str | None:
    """The Name of an object given to -InputObject (a FailoverClusters object from an earlier call), or None."""
    value = bound.params.get("InputObject")
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) != 1:
            raise not_modelled(bound.cmdlet, bound.command_type, "-InputObject with several objects")
        value = value[0]
    name = value.get("Name") if isinstance(value, dict) else None
    if getattr(value, "type_name", _NS + kind) != _NS + kind or not name:
        raise not_modelled(bound.cmdlet, bound.command_type, "-InputObject other than a {0} object".format(kind))
    return str(name)


# ---- objects ------------------------------------------------------------------------------------------
def cluster_object(world, cluster) -> ClusterObject:
    # FixQuorum / PreventQuorum / DynamicQuorum are cluster common properties (INFERRED that Get-Cluster shows them, as
    # `Get-Cluster | Format-List *` lists common properties); DynamicQuorum 0: the lab does not model dynamic quorum.
    return ClusterObject("Cluster", {"Name": cluster.name, "Domain": world.domain, "Id": cluster.id,
                                     "FixQuorum": 1 if cluster.forced_quorum else 0, "PreventQuorum": 0, "DynamicQuorum": 0})


def node_object(cluster, node) -> ClusterObject:
    """VCS §B.1: ClusterNode with State, NodeWeight, DynamicWeight, DrainStatus, NeedsPreventQuorum (and NodeName)."""
    return ClusterObject("ClusterNode", {
        "Name": node.name, "NodeName": node.name, "Id": cluster.object_id("node", node.name), "State": cluster.node_state(node.name),
        "NodeWeight": node.node_weight, "DynamicWeight": node.dynamic_weight,
        "DrainStatus": "Completed" if node.paused else "NotInitiated", "NeedsPreventQuorum": 0, "Cluster": cluster.name,
    })


def group_object(cluster, group) -> ClusterObject:
    # VCS §B.1: State (ClusterGroupState) and GroupType; OwnerNode is the node object, printed by its name.
    return ClusterObject("ClusterGroup", {
        "Name": group.name, "OwnerNode": group.owner, "State": group.state(), "GroupType": group.group_type,
        "IsCoreGroup": group.is_core, "Id": cluster.object_id("group", group.name), "Cluster": cluster.name,
        "PersistentState": 1 if group.persistent_online else 0,
    })


def resource_object(cluster, group, res) -> ClusterObject:
    return ClusterObject("ClusterResource", {
        "Name": res.name, "State": res.state, "OwnerGroup": group.name, "ResourceType": res.resource_type, "OwnerNode": group.owner,
        "IsCoreResource": group.is_core, "Id": cluster.object_id("resource", res.name), "Cluster": cluster.name,
    })


def quorum_object(cluster) -> ClusterObject:
    # VCS §B.1: ClusterQuorumSettings has QuorumResource and QuorumType (Unknown, Majority, DiskOnly; THIRD-PARTY names).
    witness = cluster.groups[wc.CORE_GROUP].resource("File Share Witness")
    obj = ClusterObject("ClusterQuorumSettings", {"Cluster": cluster.name, "QuorumResource": witness.name if witness else None,
                                                  "QuorumType": "Majority"})
    obj.text = cluster.name
    return obj


# ---- lookups -------------------------------------------------------------------------------------------
def _group(cluster, bound, name: str):
    group = cluster.group(name)
    if group is None:
        raise _not_found(bound, "cluster group", name, "The cluster group could not be found.")  # ERROR_GROUP_NOT_FOUND (5013)
    return group


def _node(cluster, bound, name: str):
    node = cluster.node(name)
    if node is None:
        raise _not_found(bound, "cluster node", name, wc.NODE_NOT_FOUND)
    return node


def _resource(cluster, bound, name: str):
    for group in cluster.groups.values():
        res = group.resource(name)
        if res is not None:
            return group, res
    raise _not_found(bound, "resource", name, "The cluster resource could not be found.")  # ERROR_RESOURCE_NOT_FOUND (5007)


def _names(bound) -> list[str]:
    names = bound.params.get("Name") or []
    return [names] if isinstance(names, str) else list(names)


def _unsupported(bound, *pnames: str) -> None:
    for pname in pnames:
        if bound.params.get(pname) not in (None, False):
            raise not_modelled(bound.cmdlet, bound.command_type, "-" + pname)


# ---- waiting (VCS §B.2: no -Wait waits for completion, -Wait 0 returns at once, -Wait n waits up to n s) -------------------
def _wait(world, cluster, done, wait, default_limit: float) -> None:
    """Wait without world.lock until done() or the -Wait limit; the simulated clock moves on meanwhile."""
    limit = default_limit if wait is None else max(0.0, float(wait))
    start = world.clock.now()
    while True:
        with world.lock:
            cluster.sync()
            if done():
                return
            step = cluster.next_due()
        now = world.clock.now()
        left = limit - (now - start).total_seconds()
        if left <= 0:
            return
        step_s = (step - now).total_seconds() if step is not None else left
        world.durations.wait(min(max(step_s, 0.001), left))


def _group_settled(group):
    return lambda: group.state() != "Pending" and group.moving_to is None


# ---- read cmdlets ------------------------------------------------------------------------------------
def get_cluster(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "Domain")
    cluster, dummy = _connect(world, host_name, bound, target=bound.params.get("Name"))
    return [cluster_object(world, cluster)]


def get_clusternode(world, host_name: str, bound) -> list[dict]:
    cluster, dummy = _connect(world, host_name, bound)
    names = _names(bound)
    nodes = [_node(cluster, bound, n) for n in names] if names else list(cluster.nodes.values())
    return [node_object(cluster, n) for n in nodes]


def get_clustergroup(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "VMId")
    cluster, dummy = _connect(world, host_name, bound)
    names = _names(bound)
    groups = [_group(cluster, bound, n) for n in names] if names else list(cluster.groups.values())
    return [group_object(cluster, g) for g in groups]


def get_clusterresource(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "VMId")
    cluster, dummy = _connect(world, host_name, bound)
    in_group = _input_name(bound, "ClusterGroup")  # Get-ClusterGroup x | Get-ClusterResource
    pairs = [(g, r) for g in cluster.groups.values() for r in g.resources if in_group is None or g.name.lower() == in_group.lower()]
    names = _names(bound)
    if names:
        pairs = [_resource(cluster, bound, n) for n in names]
    return [resource_object(cluster, g, r) for g, r in pairs]


def get_clusterownernode(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "ResourceType", "InputObject")
    cluster, dummy = _connect(world, host_name, bound)
    if bound.params.get("Group"):
        group = _group(cluster, bound, bound.params["Group"])
        # INFERRED object type name; OwnerNodes is the preferred owners list, in order (empty: no preference).
        obj = ClusterObject("ClusterOwnerNodeList", {"Name": group.name, "ClusterObject": group.name, "OwnerNodes": list(group.preferred)})
        return [obj]
    if bound.params.get("Resource"):
        dummy, res = _resource(cluster, bound, bound.params["Resource"])
        # INFERRED: every node is a possible owner of every resource in the lab.
        return [ClusterObject("ClusterOwnerNodeList", {"Name": res.name, "ClusterObject": res.name, "OwnerNodes": list(cluster.nodes)})]
    raise not_modelled(bound.cmdlet, bound.command_type, "without -Group or -Resource")


def get_clusterquorum(world, host_name: str, bound) -> list[dict]:
    cluster, dummy = _connect(world, host_name, bound)
    return [quorum_object(cluster)]


# ---- roles ----------------------------------------------------------------------------------------------
def _role(cluster, bound):
    name = bound.params.get("Name") or _input_name(bound, "ClusterGroup")
    if not name:
        raise not_modelled(bound.cmdlet, bound.command_type, "without -Name or -InputObject")
    return _group(cluster, bound, name)


def _check_target(bound, cluster, node, group, verb: str) -> None:
    """VCS §B.1 node states: a role only goes to a node that is Up (Windows errors 5005 / 5070)."""
    if not node.member or node.lost_at is not None:
        raise _operation_failed(bound, verb, group.name, wc.NODE_NOT_AVAILABLE)
    if node.paused:
        raise _operation_failed(bound, verb, group.name, wc.NODE_PAUSED)


@_locks_world
def move_clustergroup(world, host_name: str, bound) -> list[dict]:
    """VCS §B.2: Move-ClusterGroup [[-Name]] [[-Node]] [-Wait]; without -Node the role goes to another node."""
    with world.lock:
        cluster, dummy = _connect(world, host_name, bound)
        group = _role(cluster, bound)
        verb = "moving the clustered role"
        if bound.params.get("Node"):
            target = cluster.node(bound.params["Node"])
            if target is None:
                raise _operation_failed(bound, verb, group.name, wc.NODE_NOT_FOUND)
        else:
            target = cluster.best_node(group, exclude=group.owner)  # INFERRED: the best other node (preferred owners first)
            if target is None:
                raise _operation_failed(bound, verb, group.name, wc.NODE_NOT_AVAILABLE)
        _check_target(bound, cluster, target, group, verb)
        if target.name != group.owner or group.state() not in ("Online", "Pending"):
            cluster.move_group(group, target, world.clock.now())
            world.audit_event("cluster", target.name, cluster=cluster.name, event="role-move", group=group.name)
    _wait(world, cluster, _group_settled(group), bound.params.get("Wait"), PENDING_TIMEOUT_S)
    with world.lock:
        return [group_object(cluster, group)]


@_locks_world
def start_clustergroup(world, host_name: str, bound) -> list[dict]:
    """VCS §B.2: Start-ClusterGroup [-ChooseBestNode] [-Wait]."""
    with world.lock:
        cluster, dummy = _connect(world, host_name, bound)
        group = _role(cluster, bound)
        owner = cluster.nodes.get(group.owner)
        node = None
        if bound.params.get("ChooseBestNode") or owner is None or not owner.member or owner.paused:
            node = cluster.best_node(group)
            if node is None:
                raise _operation_failed(bound, "starting the clustered role", group.name, wc.NODE_NOT_AVAILABLE)
        if group.state() != "Online" or group.moving_to is not None:
            cluster.start_group(group, world.clock.now(), node)
            world.audit_event("cluster", group.owner, cluster=cluster.name, event="role-start", group=group.name)
    _wait(world, cluster, _group_settled(group), bound.params.get("Wait"), PENDING_TIMEOUT_S)
    with world.lock:
        return [group_object(cluster, group)]


@_locks_world
def stop_clustergroup(world, host_name: str, bound) -> list[dict]:
    """VCS §B.2: Stop-ClusterGroup [-Wait]."""
    with world.lock:
        cluster, dummy = _connect(world, host_name, bound)
        group = _role(cluster, bound)
        if group.state() != "Offline":
            cluster.stop_group(group, world.clock.now())
            world.audit_event("cluster", group.owner, cluster=cluster.name, event="role-stop", group=group.name)
        else:
            group.persistent_online = False
    _wait(world, cluster, _group_settled(group), bound.params.get("Wait"), PENDING_TIMEOUT_S)
    with world.lock:
        return [group_object(cluster, group)]


def _resource_call(world, host_name: str, bound, online: bool) -> list[dict]:
    with world.lock:
        cluster, dummy = _connect(world, host_name, bound)
        name = bound.params.get("Name") or _input_name(bound, "ClusterResource")
        if not name:
            raise not_modelled(bound.cmdlet, bound.command_type, "without -Name or -InputObject")
        group, res = _resource(cluster, bound, name)
        owner = cluster.nodes.get(group.owner)
        if online and (owner is None or not owner.member):
            raise _operation_failed(bound, "bringing the resource online", res.name, wc.NODE_NOT_AVAILABLE)
        cluster.set_resource(group, res, online, world.clock.now())
    _wait(world, cluster, lambda: res.pending is None, bound.params.get("Wait"), PENDING_TIMEOUT_S)
    with world.lock:
        return [resource_object(cluster, group, res)]


@_locks_world
def start_clusterresource(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "ChooseBestNode")
    return _resource_call(world, host_name, bound, True)


@_locks_world
def stop_clusterresource(world, host_name: str, bound) -> list[dict]:
    return _resource_call(world, host_name, bound, False)


# ---- nodes -----------------------------------------------------------------------------------------
def _node_targets(world, host_name: str, bound, kind_target: str = "ClusterNode"):
    """The nodes a node cmdlet names (default: the local node). Another node is a second hop (CredSSP note, VCS §B.3)."""
    cluster, local = _local(world, host_name, bound)
    cluster.sync()
    names = _names(bound) or ([_input_name(bound, kind_target)] if bound.params.get("InputObject") is not None else [local.name])
    if bound.params.get("Cluster") is not None:
        _connect(world, host_name, bound, need_service=False)
    for name in names:
        node = cluster.node(name)
        if node is None:
            raise rpc_unavailable(bound, name)
        if node is not local:
            # INFERRED: the service manager of another node is a second hop too (Start-ClusterNode "cannot be run
            # remotely without CredSSP", VCS §B.3); unreachable -> RPC unavailable, else access denied.
            if not world.host_reachable(node.name):
                raise rpc_unavailable(bound, name)
            raise access_denied(bound, name)
    return cluster, local


@_locks_world
def start_clusternode(world, host_name: str, bound) -> list[dict]:
    """VCS §B.3: Start-ClusterNode [-ForceQuorum|-FixQuorum|-fq] [-PreventQuorum] [-IgnorePersistentState] [-Wait]."""
    with world.lock:
        cluster, node = _node_targets(world, host_name, bound)
        force = bool(bound.params.get("ForceQuorum"))
        try:
            cluster.start_node(node, world.clock.now(), force=force, prevent=bool(bound.params.get("PreventQuorum")),
                               ignore_persistent=bool(bound.params.get("IgnorePersistentState")))
        except wc.ClusterError as exc:
            raise _operation_failed(bound, "starting the cluster service on node", node.name, exc.win32) from None
        # -ClearQuarantine: the lab never quarantines a node, so there is nothing to clear.
    # INFERRED: without -Wait the cmdlet waits for the node's start (NODE_START_S) and returns its state then: Up, or
    # Joining while no quorum has formed (the doc's examples show Joining; VCS §B.3 "it will wait for other nodes").
    _wait(world, cluster, lambda: node.member, bound.params.get("Wait"), wc.NODE_START_S)
    with world.lock:
        return [node_object(cluster, node)]


@_locks_world
def stop_clusternode(world, host_name: str, bound) -> list[dict]:
    """Stop-ClusterNode: the local node's cluster service stops (its roles move first); -WhatIf changes nothing."""
    with world.lock:
        cluster, node = _node_targets(world, host_name, bound)
        if bound.params.get("WhatIf") or bound.common.get("WhatIf"):
            return []  # INFERRED: under -WhatIf the cmdlet only reports what it would do and writes no object
        # INFERRED: stopping a service that is already stopped is no error (the node is Down either way).
        cluster.stop_node(node, world.clock.now())
        return [node_object(cluster, node)]


def suspend_clusternode(world, host_name: str, bound) -> list[dict]:
    """VCS §B.2: Suspend-ClusterNode [-Drain [-ForceDrain]] [-TargetNode]; a cluster operation of the local service."""
    cluster, local = _connect(world, host_name, bound)
    names = _names(bound) or ([_input_name(bound, "ClusterNode")] if bound.params.get("InputObject") is not None else [local.name])
    nodes = [_node(cluster, bound, n) for n in names]
    if bound.params.get("WhatIf") or bound.common.get("WhatIf"):
        return []  # INFERRED, as Stop-ClusterNode -WhatIf
    now = world.clock.now()
    for node in nodes:
        if not node.member:
            raise _operation_failed(bound, "pausing node", node.name, wc.NODE_NOT_AVAILABLE)
        if bound.params.get("TargetNode"):
            target = _node(cluster, bound, bound.params["TargetNode"])
            for group in cluster.groups.values():
                if group.owner == node.name and not group.is_core:
                    _check_target(bound, cluster, target, group, "draining node")
                    group.drained_from = node.name
                    cluster.move_group(group, target, now)
            node.paused = True
        else:
            cluster.suspend_node(node, now, drain=bool(bound.params.get("Drain")))
        world.audit_event("cluster", node.name, cluster=cluster.name, event="node-paused", drain=bool(bound.params.get("Drain")))
    return [node_object(cluster, n) for n in nodes]


def resume_clusternode(world, host_name: str, bound) -> list[dict]:
    """VCS §B.2: Resume-ClusterNode [-Failback NoFailback|Immediate|Policy] (Policy: INFERRED no automatic failback)."""
    cluster, local = _connect(world, host_name, bound)
    names = _names(bound) or ([_input_name(bound, "ClusterNode")] if bound.params.get("InputObject") is not None else [local.name])
    nodes = [_node(cluster, bound, n) for n in names]
    now = world.clock.now()
    for node in nodes:
        if node.paused:
            cluster.resume_node(node, now, bound.params.get("Failback"))
            world.audit_event("cluster", node.name, cluster=cluster.name, event="node-resumed", failback=bound.params.get("Failback"))
    return [node_object(cluster, n) for n in nodes]


HANDLERS = {
    "Get-Cluster": get_cluster,
    "Get-ClusterNode": get_clusternode,
    "Get-ClusterGroup": get_clustergroup,
    "Get-ClusterResource": get_clusterresource,
    "Get-ClusterOwnerNode": get_clusterownernode,
    "Get-ClusterQuorum": get_clusterquorum,
    "Move-ClusterGroup": move_clustergroup,
    "Start-ClusterGroup": start_clustergroup,
    "Stop-ClusterGroup": stop_clustergroup,
    "Start-ClusterResource": start_clusterresource,
    "Stop-ClusterResource": stop_clusterresource,
    "Start-ClusterNode": start_clusternode,
    "Stop-ClusterNode": stop_clusternode,
    "Suspend-ClusterNode": suspend_clusternode,
    "Resume-ClusterNode": resume_clusternode,
}
