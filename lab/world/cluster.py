"""Windows Server Failover Clustering in the lab: nodes and their cluster service, votes and quorum, roles (groups)
and their resources.

Sources: vmm-cluster-sql-notes.md §B (VCS below), timings.md §3.1 and §7.4 (TIM). Choices no document settles are
marked INFERRED.

Everything derives lazily from the clock, like lab/world/vmm.py: `sync(now)` replays the events that fell due since
the last look, in time order (a lost node noticed by the others, a node that finished starting, a role that finished
coming online), so the state is the same whenever it is looked at. Reachability changes (site-down, host-down) reach
the cluster through World._reachability_changed at the time they happen.

The model, in short:
- Each node's cluster service is running or stopped (Stop-/Start-ClusterNode, a host crash). A node whose service runs
  and that is not yet a member is Joining: it joins a running cluster it can reach, or forms one together with other
  such nodes once they hold a majority of the votes (VCS §B.3: Start-ClusterNode "will wait for other nodes to join.
  The cluster will begin to run when a quorum has formed").
- Votes: each node's NodeWeight plus the file share witness. INFERRED simplification: dynamic quorum is off (the
  lab reports DynamicQuorum 0 and DynamicWeight = NodeWeight), so a majority is over the configured votes and a
  series of single failures counts like a simultaneous one.
- Losing the majority stops the cluster: every clustered role goes offline (VCS §B.3, forced-quorum-dr: "quorum loss
  takes every clustered service ... offline") and the surviving nodes' cluster service keeps trying to join
  (INFERRED: the service restarts after Event 1177 and waits for quorum). Cluster cmdlets on such a node fail with
  "The cluster service is not running" (see lab/cmdlets/cluster.py).
- `Start-ClusterNode -ForceQuorum` on a node whose service is stopped forms the cluster on that node alone, in
  forced-quorum mode (FixQuorum); other nodes then join normally; the mode ends by itself once a real majority of
  votes is back (VCS §B.3). Forcing while the other site's cluster runs is not refused here: Windows allows it and
  it is the operator's (or the module's) job to make sure the other site is down.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

# TIM §7.4: node failure detection across sites is Delay 1 s x Threshold 20 (WS2016+); the lab's nodes span two sites.
DETECTION_S = 20.0
# TIM §7.4: Start-ClusterNode -ForceQuorum 30 s (Kind M, no published figure). INFERRED: the same for a normal start,
# for a node that boots with its site and for the next join attempt of a waiting node.
NODE_START_S = 30.0
# TIM §7.4: Move-ClusterGroup of a non-VM role 15 s (Kind M). INFERRED split: 5 s offline on the old owner, 10 s
# online on the new one; Start-/Stop-ClusterGroup take the online/offline part. A group can override both
# (the VMM role's offline takes 30 s, TIM §7.4; see lab/topologies/stretch_cluster.yml).
GROUP_OFFLINE_S = 5.0
GROUP_ONLINE_S = 10.0
CORE_GROUP = "Cluster Group"
# VCS §B.1 ClusterNodeState names (THIRD-PARTY stub) used by the lab.
UP, DOWN, PAUSED, JOINING = "Up", "Down", "Paused", "Joining"
# VCS §B.1 ClusterResourceState names used by the lab.
ONLINE, OFFLINE, FAILED, ONLINE_PENDING, OFFLINE_PENDING = "Online", "Offline", "Failed", "OnlinePending", "OfflinePending"
_NAMESPACE = uuid.UUID("5b0f9e1c-2a7d-5c63-8e41-9d2f6a1c7b30")


class ClusterError(Exception):
    """The cluster refuses an operation; `win32` is the Windows error text the cmdlet shows under its own message."""

    def __init__(self, win32: str, kind: str = "InvalidOperation") -> None:
        super().__init__(win32)
        self.win32 = win32
        self.kind = kind


# Windows system error texts (winerror.h) the cluster API returns; the cmdlets print them under their message.
NODE_NOT_AVAILABLE = "A cluster node is not available for this operation."  # ERROR_HOST_NODE_NOT_AVAILABLE (5005)
NODE_PAUSED = "The cluster node is paused."  # ERROR_CLUSTER_NODE_PAUSED (5070)
NODE_NOT_FOUND = "The cluster node was not found."  # ERROR_CLUSTER_NODE_NOT_FOUND (5042)
ALREADY_RUNNING = "An instance of the service is already running."  # ERROR_SERVICE_ALREADY_RUNNING (1056)


@dataclasses.dataclass
class Resource:
    name: str
    resource_type: str
    state: str = ONLINE
    online_since: datetime.datetime | None = None
    # {"to": Online|Offline, "due": datetime}: a transition in progress (OnlinePending / OfflinePending until due).
    pending: dict | None = None


@dataclasses.dataclass
class Group:
    """A clustered role (resource group). Its State derives from its resources as VCS §B.1 defines it."""

    name: str
    group_type: str
    owner: str
    preferred: list
    resources: list
    is_core: bool = False
    online_s: float = GROUP_ONLINE_S
    offline_s: float = GROUP_OFFLINE_S
    # The cluster's persistent state: whether the role comes online when the cluster (re)forms or its owner is lost.
    persistent_online: bool = True
    moving_to: str | None = None  # Move-ClusterGroup in progress: the owner changes when the resources come online there
    drained_from: str | None = None  # Suspend-ClusterNode -Drain moved it off this node (Resume-ClusterNode -Failback)

    def state(self) -> str:
        """VCS §B.1 (CLUSTER_GROUP_STATE): Failed if a resource failed, Pending if one is pending, else Online/Offline/PartialOnline."""
        states = [r.state for r in self.resources]
        if not states:
            return "Offline"
        if FAILED in states:
            return "Failed"
        if any(s in (ONLINE_PENDING, OFFLINE_PENDING) for s in states):
            return "Pending"
        if all(s == ONLINE for s in states):
            return "Online"
        if all(s == OFFLINE for s in states):
            return "Offline"
        return "PartialOnline"

    def resource(self, name: str) -> Resource | None:
        return next((r for r in self.resources if r.name.lower() == name.lower()), None)


@dataclasses.dataclass
class Node:
    name: str
    site: str
    node_weight: int = 1
    service: bool = True  # the Cluster service (ClusSvc) runs on the node
    member: bool = True  # the node is part of the running cluster
    join_at: datetime.datetime | None = None  # a started service joins/forms from this time on (Joining until then)
    forced: bool = False  # started with -ForceQuorum: it forms the cluster on its own at join_at
    prevent_quorum: bool = False  # started with -PreventQuorum: it joins but never forms
    ignore_persistent: bool = False  # started with -IgnorePersistentState: roles stay offline when it forms
    paused: bool = False
    lost_at: datetime.datetime | None = None  # the member stopped answering (crash, host down): noticed DETECTION_S later
    fault_stopped: bool = False  # the quorum-lost fault stopped its service
    waiting: bool = False  # started, found no quorum: waits until something changes (VCS §B.3 "will wait for other nodes")
    cluster: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def state(self) -> str:
        """Up, Down, Paused or Joining, as the running cluster reports the node (VCS §B.1)."""
        self.cluster.sync()
        return self.cluster.node_state(self.name)

    @property
    def dynamic_weight(self) -> int:
        # INFERRED: dynamic quorum is not modelled (DynamicQuorum 0), so the dynamic weight is the configured one.
        return self.node_weight


class Cluster:
    """One failover cluster of the world (topology key `clusters:`)."""

    def __init__(self, world, spec: dict) -> None:
        self.world = world
        self.name = spec["name"]
        self.fqdn = "{0}.{1}".format(self.name, world.domain)
        self.id = str(uuid.uuid5(_NAMESPACE, world.name + "/" + self.name))
        self.nodes: dict[str, Node] = {n["name"]: Node(n["name"], n["site"], int(n.get("node_weight", 1)), cluster=self)
                                       for n in spec["nodes"]}
        self.witness: dict | None = dict(spec["witness"]) if spec.get("witness") else None
        self.witness_failed = False
        self.forced_quorum = False
        # Group name -> object with optional can_online(group, node) -> str | None (a reason to fail instead) and
        # on_online(group, node, at) / on_offline(group, at): how another model (e.g. lab/world/sqlag.py) ties into a role.
        self.hooks: dict[str, object] = {}
        now = world.clock.now()
        # INFERRED: the roles have been online for three days when the lab starts (as the VMs have been running).
        since = now - datetime.timedelta(days=3)
        self.groups: dict[str, Group] = {}
        for gspec in spec["groups"]:
            resources = [Resource(r["name"], r["type"], ONLINE if gspec.get("online", True) else OFFLINE,
                                  online_since=since if gspec.get("online", True) else None) for r in gspec["resources"]]
            self.groups[gspec["name"]] = Group(gspec["name"], gspec["type"], gspec["owner"], list(gspec["preferred_owners"]), resources,
                                               is_core=gspec.get("is_core", False), online_s=float(gspec.get("online_s", GROUP_ONLINE_S)),
                                               offline_s=float(gspec.get("offline_s", GROUP_OFFLINE_S)),
                                               persistent_online=gspec.get("online", True))
        self._reachable = {name: True for name in self.nodes}
        self._last_sync = now
        self.formed_at: datetime.datetime | None = now  # INFERRED: the cluster runs with every node Up when the lab starts

    # ---- identity ---------------------------------------------------------------------------
    def object_id(self, *parts: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join((self.world.name, self.name) + parts).lower()))

    def node(self, name: str) -> Node | None:
        """By short name or FQDN, case-insensitively."""
        short = name.lower().split(".", 1)[0] if name.lower().endswith("." + self.world.domain.lower()) else name.lower()
        return next((n for n in self.nodes.values() if n.name.lower() == short), None)

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups.values() if g.name.lower() == name.lower()), None)

    # ---- inputs -----------------------------------------------------------------------------
    def reachable(self, name: str) -> bool:
        return self.world.host_reachable(name)

    def witness_up(self) -> bool:
        if self.witness is None or self.witness_failed:
            return False
        return not self.world.sites[self.witness["site"]]["down"]

    def total_votes(self) -> int:
        return sum(n.node_weight for n in self.nodes.values()) + (1 if self.witness else 0)

    def _majority(self, votes: int) -> bool:
        return 2 * votes > self.total_votes()

    def members(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.member]

    def running(self) -> bool:
        return any(n.member for n in self.nodes.values())

    def votes_present(self) -> int:
        """Votes of the running cluster: its members' NodeWeight plus the witness when it answers."""
        if not self.running():
            return 0
        return sum(n.node_weight for n in self.members()) + (1 if self.witness_up() else 0)

    # ---- the interface other models use ---------------------------------------------------------
    def has_quorum(self, now: datetime.datetime | None = None) -> bool:
        """Whether a cluster instance runs (with a majority of votes, or in forced-quorum mode)."""
        self.sync(now)
        return self.running()

    def node_running(self, name: str) -> bool:
        """The cluster service runs on that node and the node is reachable (a Joining node counts)."""
        node = self.node(name)
        return node is not None and node.service and self.reachable(node.name)

    def node_active(self, name: str) -> bool:
        """The node is a member (Up or Paused) of the running cluster."""
        self.sync()
        node = self.node(name)
        return node is not None and node.member and self.reachable(node.name)

    def node_state(self, name: str) -> str:
        """The node's State as the running cluster reports it (VCS §B.1): Up, Paused, Joining or Down."""
        node = self.node(name)
        if node.member:
            return PAUSED if node.paused else UP
        if node.service and self.reachable(node.name) and node.join_at is not None:
            return JOINING
        return DOWN

    def group_online_since(self, group_name: str, resource_name: str | None = None) -> datetime.datetime | None:
        """Since when the role (or one of its resources) is Online on a member, None if it is not."""
        self.sync()
        group = self.group(group_name)
        if group is None or not self.running() or not self.node_active(group.owner):
            return None
        targets = [group.resource(resource_name)] if resource_name else group.resources
        if any(r is None or r.state != ONLINE for r in targets):
            return None
        return max(r.online_since for r in targets)

    def place_group(self, group_name: str, node_name: str) -> None:
        """Make node the owner of a role with its resources online at once (for other models that move a role themselves)."""
        with self.world.lock:
            group = self.group(group_name)
            now = self.world.clock.now()
            group.owner, group.moving_to = self.node(node_name).name, None
            for res in group.resources:
                res.state, res.online_since, res.pending = ONLINE, now, None

    # ---- lazy progress ---------------------------------------------------------------------------
    def sync(self, now: datetime.datetime | None = None) -> None:
        """Replay the events due up to now, in time order."""
        with self.world.lock:
            now = now or self.world.clock.now()
            if now < self._last_sync:
                now = self._last_sync
            self._notice_unreachable()
            for dummy in range(10000):  # each event consumes state; the bound only guards against a modelling bug
                when = self._next_event(now)
                if when is None:
                    break
                self._step(when)
            self._last_sync = now
            self._witness_resource()

    def next_due(self) -> datetime.datetime | None:
        """When the next pending change (a node's start or join, a resource's transition) falls due, if any."""
        with self.world.lock:
            times = [n.join_at for n in self.nodes.values() if not n.member and n.service and n.join_at is not None and not n.waiting]
            times += [n.lost_at + datetime.timedelta(seconds=DETECTION_S) for n in self.nodes.values() if n.member and n.lost_at]
            times += [r.pending["due"] for g in self.groups.values() for r in g.resources if r.pending is not None]
            return min(times) if times else None

    def _witness_resource(self) -> None:
        """INFERRED: the file share witness resource fails while its share does not answer and comes back when it does."""
        res = self.groups[CORE_GROUP].resource("File Share Witness")
        if res is None or not self.running():
            return
        if res.state == ONLINE and not self.witness_up():
            res.state, res.online_since = FAILED, None
        elif res.state == FAILED and self.witness_up():
            res.state, res.online_since = ONLINE, self._last_sync

    def _notice_unreachable(self) -> None:
        # A member that stopped answering without the world telling us (defensive): count it lost from the last look.
        for node in self.nodes.values():
            if node.member and node.lost_at is None and not (node.service and self.reachable(node.name)):
                node.lost_at = self._last_sync

    def _next_event(self, now: datetime.datetime) -> datetime.datetime | None:
        times = []
        for node in self.nodes.values():
            if node.member and node.lost_at is not None:
                times.append(node.lost_at + datetime.timedelta(seconds=DETECTION_S))
            elif not node.member and node.service and node.join_at is not None and not node.waiting and self.reachable(node.name):
                times.append(node.join_at)
        for group in self.groups.values():
            for res in group.resources:
                if res.pending is not None:
                    times.append(res.pending["due"])
        due = [t for t in times if t <= now]
        return min(due) if due else None

    def _step(self, at: datetime.datetime) -> None:
        for node in self.nodes.values():
            if node.member and node.lost_at is not None and node.lost_at + datetime.timedelta(seconds=DETECTION_S) <= at:
                self._remove_member(node, at)
        for group in self.groups.values():
            for res in group.resources:
                if res.pending is not None and res.pending["due"] <= at:
                    self._finish_resource(group, res, at)
        self._quorum_check(at)
        self._joins(at)
        self._place_groups(at)
        self._forced_exit()

    # ---- membership ----------------------------------------------------------------------------
    def _remove_member(self, node: Node, at: datetime.datetime) -> None:
        node.member, node.paused, node.lost_at = False, False, None
        if node.service and self.reachable(node.name):
            node.join_at, node.waiting = at, False  # INFERRED: the service of a node that is still up keeps trying to join
        self.world.audit_event("cluster", node.name, cluster=self.name, event="node-removed")

    def _quorum_check(self, at: datetime.datetime) -> None:
        """VCS §B.3: without a majority of votes (and outside forced-quorum mode) the cluster stops."""
        if not self.running():
            if self.formed_at is not None:
                self._stopped(at, votes=0)  # its last member left
            return
        if self.forced_quorum:
            return
        # Members that stopped answering still count until the others notice (DETECTION_S); the witness counts at once.
        votes = sum(n.node_weight for n in self.members()) + (1 if self.witness_up() else 0)
        if self._majority(votes):
            return
        for node in self.members():
            node.member, node.paused, node.lost_at = False, False, None
            if node.service and self.reachable(node.name):
                node.join_at, node.waiting = at, False  # INFERRED: Event 1177, the service restarts and waits for quorum
        self._stopped(at, votes)

    def _stopped(self, at: datetime.datetime, votes: int) -> None:
        """VCS §B.3 (forced-quorum-dr): quorum loss takes every clustered role offline."""
        self.formed_at = None
        self.forced_quorum = False
        for group in self.groups.values():
            group.moving_to = None
            for res in group.resources:
                res.state, res.online_since, res.pending = OFFLINE, None, None
            self._hook(group, "on_offline", at)
        self.world.audit_event("cluster", "-", cluster=self.name, event="quorum-lost", votes=votes, total=self.total_votes())

    def _ready(self, node: Node, at: datetime.datetime) -> bool:
        return (not node.member and node.service and node.join_at is not None and node.join_at <= at
                and self.reachable(node.name))

    def _joins(self, at: datetime.datetime) -> None:
        ready = [n for n in self.nodes.values() if self._ready(n, at)]
        if not ready:
            return
        if self.running():
            for node in ready:  # INFERRED: no network partition is modelled, so every up node reaches the running cluster
                self._join(node)
            return
        forcing = sorted((n for n in ready if n.forced), key=lambda n: n.join_at)
        if forcing:
            # VCS §B.3: the forcing node's copy of the configuration is authoritative; the cluster runs on it alone at first.
            first = forcing[0]
            self.forced_quorum = True
            self._form([first], at, ignore_persistent=first.ignore_persistent)
            for node in ready:
                if node is not first:
                    node.join_at, node.waiting = at + datetime.timedelta(seconds=NODE_START_S), False  # INFERRED: next attempt
            return
        candidates = [n for n in ready if not n.prevent_quorum]
        votes = sum(n.node_weight for n in candidates) + (1 if self.witness_up() else 0)
        if candidates and self._majority(votes):
            self._form(ready, at, ignore_persistent=any(n.ignore_persistent for n in ready))
            return
        for node in ready:
            node.waiting = True  # VCS §B.3: it waits for other nodes until a quorum forms

    def _join(self, node: Node) -> None:
        node.member, node.join_at, node.waiting, node.lost_at = True, None, False, None
        node.forced = node.prevent_quorum = node.ignore_persistent = False
        self.world.audit_event("cluster", node.name, cluster=self.name, event="node-joined", forced_quorum=self.forced_quorum)

    def _form(self, nodes: list, at: datetime.datetime, ignore_persistent: bool) -> None:
        for node in nodes:
            self._join(node)
        self.formed_at = at
        self.world.audit_event("cluster", nodes[0].name, cluster=self.name, event="cluster-formed", forced_quorum=self.forced_quorum,
                               nodes=[n.name for n in nodes])
        if ignore_persistent:
            # VCS §B.3: -IgnorePersistentState starts the node without bringing resources online.
            for group in self.groups.values():
                if not group.is_core:
                    group.persistent_online = False

    def _forced_exit(self) -> None:
        """VCS §B.3: forced-quorum mode switches back to normal by itself once a real majority of votes is back."""
        if self.forced_quorum and self.running() and self._majority(self.votes_present()):
            self.forced_quorum = False
            self.world.audit_event("cluster", "-", cluster=self.name, event="forced-quorum-ended", votes=self.votes_present())

    # ---- roles ---------------------------------------------------------------------------------
    def best_node(self, group: Group, exclude: str | None = None) -> Node | None:
        """INFERRED placement of a non-VM role: its preferred owners in order, then any other Up member by name."""
        up = [n for n in self.members() if not n.paused and n.lost_at is None and n.name != exclude]
        by_name = {n.name: n for n in up}
        for name in group.preferred:
            if name in by_name:
                return by_name[name]
        return sorted(up, key=lambda n: n.name)[0] if up else None

    def _place_groups(self, at: datetime.datetime) -> None:
        """Roles whose owner is no member fail over to the best node; roles of a (re)formed cluster come online."""
        if not self.running():
            return
        for group in self.groups.values():
            owner = self.nodes.get(group.owner)
            busy = any(r.pending for r in group.resources)
            if owner is not None and owner.member:
                if group.persistent_online and not busy and group.state() == "Offline" and self.formed_at == at:
                    self._bring_online(group, at)
                continue
            target = self.best_node(group)
            if target is None:
                continue
            group.owner, group.moving_to = target.name, None
            for res in group.resources:
                res.pending = None
                if res.state != OFFLINE:
                    res.state, res.online_since = OFFLINE, None
            self.world.audit_event("cluster", target.name, cluster=self.name, event="role-failover", group=group.name)
            if group.persistent_online:
                self._bring_online(group, at)

    def _bring_online(self, group: Group, at: datetime.datetime) -> None:
        due = at + datetime.timedelta(seconds=group.online_s)
        for res in group.resources:
            if res.state != ONLINE:
                res.state, res.pending = ONLINE_PENDING, {"to": ONLINE, "due": due}

    def _finish_resource(self, group: Group, res: Resource, at: datetime.datetime) -> None:
        target = res.pending
        res.pending = None
        if target["to"] == OFFLINE:
            res.state, res.online_since = OFFLINE, None
            if group.moving_to and all(r.state == OFFLINE and r.pending is None for r in group.resources):
                self._arrive(group, at)
            elif group.state() == "Offline":
                self._hook(group, "on_offline", at)
            return
        owner = self.nodes.get(group.owner)
        if owner is None or not owner.member:
            res.state = OFFLINE  # the owner left meanwhile; _place_groups fails the role over
            return
        reason = self._hook(group, "can_online", owner.name)
        if reason:
            res.state = FAILED
            self.world.audit_event("cluster", owner.name, cluster=self.name, event="resource-failed", group=group.name,
                                   resource=res.name, reason=reason)
            return
        res.state, res.online_since = ONLINE, target["due"]
        if group.state() == "Online":
            self._hook(group, "on_online", owner.name, at)

    def _arrive(self, group: Group, at: datetime.datetime) -> None:
        """Move-ClusterGroup: offline on the old owner done; the new owner brings the role online (VCS §B.2)."""
        target = self.nodes.get(group.moving_to)
        group.moving_to = None
        if target is None or not target.member or target.paused:
            return  # INFERRED: the target left during the move; the role stays offline on its owner
        group.owner = target.name
        if group.persistent_online:
            self._bring_online(group, at)

    def _hook(self, group: Group, name: str, *args):
        hook = self.hooks.get(group.name)
        method = getattr(hook, name, None) if hook is not None else None
        return method(group, *args) if callable(method) else None

    # ---- operations (the cmdlets call these under world.lock, after sync) ----------------------------
    def start_group(self, group: Group, at: datetime.datetime, node: Node | None = None) -> None:
        """Start-ClusterGroup (VCS §B.2): online on its owner, or on `node` when the owner is not Up."""
        group.persistent_online = True
        if group.moving_to is not None:
            return  # a move in progress brings the role online on its target
        if node is not None and node.name != group.owner:
            group.owner = node.name
        if group.state() != "Online":
            self._bring_online(group, at)

    def stop_group(self, group: Group, at: datetime.datetime) -> None:
        """Stop-ClusterGroup (VCS §B.2); the role stays offline when the cluster re-forms (persistent state)."""
        group.persistent_online = False
        group.moving_to = None
        due = at + datetime.timedelta(seconds=group.offline_s)
        for res in group.resources:
            if res.state != OFFLINE:
                res.state, res.pending = OFFLINE_PENDING, {"to": OFFLINE, "due": due}

    def move_group(self, group: Group, target: Node, at: datetime.datetime) -> None:
        """Move-ClusterGroup (VCS §B.2): offline on the owner, then online on the target. An offline role only changes owner."""
        if group.state() in ("Offline",) and not any(r.pending for r in group.resources):
            group.owner = target.name  # INFERRED: moving an offline role moves it and leaves it offline
            return
        group.persistent_online = True
        group.moving_to = target.name
        due = at + datetime.timedelta(seconds=group.offline_s)
        for res in group.resources:
            if res.state == OFFLINE and res.pending is None:
                continue
            res.state, res.pending = OFFLINE_PENDING, {"to": OFFLINE, "due": due}
        if all(r.pending is None for r in group.resources):
            self._arrive(group, at)

    def set_resource(self, group: Group, res: Resource, online: bool, at: datetime.datetime) -> None:
        """Start-/Stop-ClusterResource: one resource only (the group may end up PartialOnline, VCS §B.1)."""
        if online and res.state != ONLINE:
            res.state, res.pending = ONLINE_PENDING, {"to": ONLINE, "due": at + datetime.timedelta(seconds=group.online_s)}
        elif not online and res.state != OFFLINE:
            res.state, res.pending = OFFLINE_PENDING, {"to": OFFLINE, "due": at + datetime.timedelta(seconds=group.offline_s)}

    def stop_node(self, node: Node, at: datetime.datetime) -> None:
        """Stop-ClusterNode: INFERRED the service moves the node's roles to other nodes before it stops; quorum is re-checked."""
        if node.member:
            node.member, node.paused = False, False
            for group in self.groups.values():
                if group.owner == node.name or group.moving_to == node.name:
                    self._drain(group, node, at)
            self._quorum_check(at)
        node.service, node.join_at, node.forced, node.prevent_quorum, node.ignore_persistent = False, None, False, False, False
        node.lost_at = None
        self.world.audit_event("cluster", node.name, cluster=self.name, event="service-stopped")
        self._place_groups(at)

    def start_node(self, node: Node, at: datetime.datetime, force: bool = False, prevent: bool = False,
                   ignore_persistent: bool = False) -> None:
        """Start-ClusterNode (VCS §B.3): the service starts and the node joins or forms NODE_START_S later."""
        if node.service:
            if force:
                # VCS §B.3 (force-quorum step 1): the service must be stopped before it is started with -FixQuorum.
                raise ClusterError(ALREADY_RUNNING)
            return
        node.service, node.waiting = True, False
        node.join_at = at + datetime.timedelta(seconds=NODE_START_S)
        node.forced, node.prevent_quorum, node.ignore_persistent = force, prevent, ignore_persistent
        self.world.audit_event("cluster", node.name, cluster=self.name, event="service-started", force_quorum=force)

    def suspend_node(self, node: Node, at: datetime.datetime, drain: bool) -> None:
        node.paused = True
        if drain:
            for group in self.groups.values():
                if group.owner == node.name and not group.is_core:
                    self._drain(group, node, at)

    def resume_node(self, node: Node, at: datetime.datetime, failback: str | None) -> None:
        node.paused = False
        if failback == "Immediate":
            for group in self.groups.values():
                if group.drained_from == node.name and group.owner != node.name:
                    group.drained_from = None
                    self.move_group(group, node, at)

    def _drain(self, group: Group, node: Node, at: datetime.datetime) -> None:
        target = self.best_node(group, exclude=node.name)
        if target is None:
            return
        group.drained_from = node.name
        if group.state() == "Offline" and not any(r.pending for r in group.resources):
            group.owner = target.name
            return
        self.move_group(group, target, at)

    # ---- reachability and faults -------------------------------------------------------------------
    def reachability_changed(self, now: datetime.datetime) -> None:
        """Called by the world right after a site/host changed: crashed members are lost, returning nodes boot."""
        with self.world.lock:
            for node in self.nodes.values():
                was, now_up = self._reachable[node.name], self.reachable(node.name)
                self._reachable[node.name] = now_up
                if was and not now_up:
                    if node.member and node.lost_at is None:
                        node.lost_at = now
                elif now_up and not was:
                    # INFERRED: the host boots with its site; ClusSvc starts automatically and the node joins NODE_START_S later.
                    if node.member:
                        node.member, node.lost_at = False, None
                    node.service = not node.fault_stopped
                    node.join_at = now + datetime.timedelta(seconds=NODE_START_S) if node.service else None
                    node.waiting = False
                    node.forced = node.prevent_quorum = node.ignore_persistent = node.paused = False
            self._wake_waiting(now)
            self._last_sync = max(self._last_sync, now)
            self._step(now)

    def _wake_waiting(self, now: datetime.datetime) -> None:
        """Something changed: nodes waiting for quorum evaluate it again."""
        for node in self.nodes.values():
            if node.waiting:
                node.waiting, node.join_at = False, max(node.join_at, now)

    def set_quorum_lost(self, lost: bool) -> None:
        """The quorum-lost fault: the witness fails and the cluster service crashes on nodes (the witness site's first)
        until the votes left are no majority; the hosts keep answering. Clearing it restarts those services."""
        with self.world.lock:
            now = self.world.clock.now()
            self.sync(now)
            if lost:
                self.witness_failed = self.witness is not None
                order = sorted(self.nodes.values(), key=lambda n: (n.site != (self.witness or {}).get("site"), n.name))
                for node in order:
                    left = sum(n.node_weight for n in self.nodes.values() if n.service and not n.fault_stopped)
                    if not self._majority(left):
                        break
                    if node.service:
                        node.fault_stopped, node.service = True, False
                        node.join_at = None
                        if node.member and node.lost_at is None:
                            node.lost_at = now
            else:
                self.witness_failed = False
                for node in self.nodes.values():
                    if node.fault_stopped:
                        node.fault_stopped = False
                        if self.reachable(node.name):
                            node.member = False
                            self.start_node(node, now)
                self._wake_waiting(now)
            self.world.audit_event("fault", "-", change="quorum-lost", cluster=self.name, lost=lost)
            self._step(now)

    # ---- summary -------------------------------------------------------------------------------------
    def status(self) -> dict:
        self.sync()
        return {
            "name": self.name, "has_quorum": self.running(), "forced_quorum": self.forced_quorum,
            "votes": {"present": self.votes_present(), "total": self.total_votes()},
            "witness": None if self.witness is None else {"path": self.witness["path"], "site": self.witness["site"],
                                                          "up": self.witness_up()},
            "nodes": [{"name": n.name, "site": n.site, "state": self.node_state(n.name), "service": self.node_running(n.name),
                       "node_weight": n.node_weight} for n in self.nodes.values()],
            "groups": [{"name": g.name, "owner": g.owner, "state": g.state(), "type": g.group_type} for g in self.groups.values()],
        }
