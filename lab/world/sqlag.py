"""SQL Server Always On availability groups of the stretch-cluster layout (VMM's database).

Sources: vmm-cluster-sql-notes.md §C (VCS below) and §B.3 (quorum), with the Microsoft pages its legend
names, read at the commits it gives: [SQLDOCS:dm-ar-states] (replica roles, operational and connected
states), [SQLDOCS:dm-db-states] (per-database synchronization state and health, suspension, LSNs,
last_commit_time, secondary_lag_seconds), [SQLDOCS:planned], [SQLDOCS:forced]; timings.md §7.4 (TIM).
The catalog views sys.availability_groups / sys.availability_replicas and the cluster-states DMV are
modelled from their own pages in the same repository (MicrosoftDocs/sql-docs, docs/relational-databases/...).

Model. Each database has one log "timeline": the spans of clock time during which a primary wrote it
(positions are seconds of log; LSNs derive from them). Each replica holds a copy of each database:
the online primary's copy follows the timeline; a secondary copy to which data flows follows it
`lag` seconds behind (0 for synchronous commit) after a catch-up; any other copy is frozen at the
last commit it hardened. Nothing runs in the background: `sync(now)` looks at the cluster and the
hosts, and applies what changed since the last look (a change is dated at the last look, which the
lab takes right before every cmdlet and fault) and what the clock made due (a failover finishing,
an automatic failover, a catch-up).

A replica is "up" when its host answers and its node is a member of the running cluster, its cluster
service running; an instance whose node is not is RESOLVING (VCS §B.3, [SQLDOCS:forced-quorum-dr]:
quorum loss takes every AG offline). The AG is also a role of its cluster (a group named like the AG,
lab/world/cluster.py): the primary serves only while that role is Online on its node. WSFC moves the
role when its owner is lost (automatic failover, about detection 20 s + online 10 s, TIM §7.4) and takes it
offline with quorum; the role's hooks (`can_online`, `on_online`, `on_offline`) let the AG accept or refuse
such a move and follow it. A manual failover moves the role itself (`Cluster.place_group`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import uuid

from lab.world.durations import LINK_BYTES_PER_S

SYNC, ASYNC = "SYNCHRONOUS_COMMIT", "ASYNCHRONOUS_COMMIT"
AUTOMATIC, MANUAL = "AUTOMATIC", "MANUAL"
PRIMARY, SECONDARY, RESOLVING = "PRIMARY", "SECONDARY", "RESOLVING"
NOT_SYNCHRONIZING, SYNCHRONIZING, SYNCHRONIZED, REVERTING = "NOT SYNCHRONIZING", "SYNCHRONIZING", "SYNCHRONIZED", "REVERTING"
# [SQLDOCS:dm-db-states] suspend_reason_desc values the lab produces.
SUSPEND_FROM_USER, SUSPEND_FROM_PARTNER = "SUSPEND_FROM_USER", "SUSPEND_FROM_PARTNER"
DEFAULT_INSTANCE = "MSSQLSERVER"

# TIM §7.4 defaults: planned manual failover 10 s, forced failover 15 s.
PLANNED_FAILOVER_S = 10.0
FORCED_FAILOVER_S = 15.0
# TIM §7.4: resume data movement to SYNCHRONIZED = 30 s + log backlog / send rate.
CATCH_UP_BASE_S = 30.0
LOG_BYTES_PER_S = 256 * 1024  # INFERRED: log VMM's database writes per second of service
SEND_BYTES_PER_S = LINK_BYTES_PER_S  # INFERRED: the lab's one "1 Gbps" effective link rate (durations.py)
# INFERRED: undoing the log a new primary never had ([SQLDOCS:dm-db-states] REVERTING) takes this long.
REVERT_S = 10.0
# INFERRED: an asynchronous-commit secondary runs this many seconds behind unless the topology says otherwise.
DEFAULT_LAG_S = 5.0
# INFERRED LSN shape ([SQLDOCS:dm-db-states] "a log-block ID padded with zeroes"): VLF sequence x 10^15 + block x 10^5.
_VLF_BYTES = 64 * 1024 * 1024
_FIRST_VLF = 41
_NAMESPACE = uuid.UUID("3d0f3c1e-8b0a-5c7e-a6e2-53f0d8a1c9b7")


class AgError(Exception):
    """SQL Server refuses an AG command; `number` is the SQL error number (None when the lab made the text up)."""

    def __init__(self, message: str, number: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.number = number


def _seconds(delta: datetime.timedelta) -> float:
    return delta.total_seconds()


def _after(moment: datetime.datetime, seconds: float) -> datetime.datetime:
    return moment + datetime.timedelta(seconds=seconds)


class Timeline:
    """The log of one database: spans [start, end or None, position at start] during which a primary wrote it.

    Commit times are clock times inside the spans (INFERRED: VMM commits continuously while its database
    is writable); positions are seconds of log and only grow.
    """

    def __init__(self, start: datetime.datetime, start_pos: float) -> None:
        self.spans: list[list] = [[start, None, start_pos]]

    @property
    def writing(self) -> bool:
        return self.spans[-1][1] is None

    def open(self, at: datetime.datetime) -> None:
        if not self.writing:
            self.spans.append([at, None, self.pos(self.spans[-1][1])])

    def close(self, at: datetime.datetime) -> None:
        if self.writing:
            self.spans[-1][1] = max(at, self.spans[-1][0])

    def last_commit(self, now: datetime.datetime) -> datetime.datetime:
        end = self.spans[-1][1]
        return now if end is None else end

    def clamp(self, moment: datetime.datetime) -> datetime.datetime:
        """The latest commit time that is not after `moment`."""
        for start, end, dummy in reversed(self.spans):
            if moment >= start:
                return moment if end is None or moment <= end else end
        return self.spans[0][0]

    def pos(self, commit: datetime.datetime) -> float:
        for start, end, start_pos in reversed(self.spans):
            if commit >= start:
                stop = commit if end is None else min(commit, end)
                return start_pos + _seconds(stop - start)
        return self.spans[0][2]

    def fork(self, commit: datetime.datetime, at: datetime.datetime) -> None:
        """A forced failover to a copy that holds `commit`: later log is lost; the new primary writes from `at`."""
        keep_pos = self.pos(commit)
        kept = [list(span) for span in self.spans if span[0] <= commit]
        if kept and (kept[-1][1] is None or kept[-1][1] > commit):
            kept[-1][1] = commit
        # INFERRED: the failover itself writes a few log records (one second's worth) before new commits.
        self.spans = kept + [[at, None, keep_pos + 1.0]]


def lsn(pos: float | None) -> int | None:
    if pos is None:
        return None
    written = int(pos * LOG_BYTES_PER_S)
    return (_FIRST_VLF + written // _VLF_BYTES) * 10 ** 15 + ((written % _VLF_BYTES) // 512) * 10 ** 5


@dataclasses.dataclass
class Replica:
    server: str  # the cluster node (lab host) running the default instance that hosts the replica
    availability_mode: str
    failover_mode: str
    lag_s: float
    configured_lag_s: float  # the topology's lag, which clearing fault ag-lag restores
    replica_id: str
    server_name: str  # replica_server_name: the instance's @@SERVERNAME (INFERRED: the host name in capitals)
    created: datetime.datetime
    modified: datetime.datetime


@dataclasses.dataclass
class Copy:
    """One database on one replica. `mode`: "primary" (follows the timeline), "flowing" or "frozen"."""

    replica: str
    database: str
    commit: datetime.datetime  # the last commit it holds, when frozen
    mode: str = "frozen"
    flow_since: datetime.datetime | None = None  # when data movement (re)started (after any revert)
    flow_from: datetime.datetime | None = None  # the commit it held then
    catch_up_s: float = 0.0  # seconds to reach the primary's log from flow_from
    suspended: bool = False
    suspend_reason: str | None = None
    diverged_pos: float | None = None  # its end of log past the fork of a forced failover: it must revert
    fork_commit: datetime.datetime | None = None  # where the reverted copy rejoins the new timeline
    broken: bool = False  # forced over while REVERTING: cannot start as a primary ([SQLDOCS:forced])


def catch_up_seconds(backlog_s: float) -> float:
    """TIM §7.4: 30 s plus the log backlog over the send rate."""
    return CATCH_UP_BASE_S + max(0.0, backlog_s) * LOG_BYTES_PER_S / SEND_BYTES_PER_S


class AvailabilityGroup:
    """One availability group: replicas on cluster nodes, databases, their copies and the roles."""

    def __init__(self, world, name: str, spec: dict, now: datetime.datetime) -> None:
        self.world = world
        self.name = name
        self.cluster_name = spec["cluster"]
        self.group_id = str(uuid.uuid5(_NAMESPACE, world.name + "/" + name.lower()))
        self.resource_id = str(uuid.uuid5(_NAMESPACE, self.group_id + "/resource"))
        self.resource_group_id = str(uuid.uuid5(_NAMESPACE, self.group_id + "/group"))
        self.databases: list[str] = list(spec["databases"])
        created = now - datetime.timedelta(days=30)  # INFERRED: the AG was built a month before the lab starts
        self.replicas: dict[str, Replica] = {}
        primary = None
        for server, rspec in spec["replicas"].items():
            self.replicas[server] = Replica(
                server=server, availability_mode=rspec["availability_mode"], failover_mode=rspec["failover_mode"],
                lag_s=float(rspec["lag_seconds"]), configured_lag_s=float(rspec["lag_seconds"]),
                replica_id=str(uuid.uuid5(_NAMESPACE, self.group_id + "/" + server)),
                server_name=server.upper(), created=created, modified=created)
            if rspec["role"] == "primary":
                primary = server
        self.primary: str | None = primary  # who holds the primary role in the cluster's store
        self.sequence = 1
        self.fault_resolving = False  # fault ag-resolving: the AG's role is taken offline and may not come online
        self.transition: dict | None = None  # a failover in progress: kind, target, old, start, end
        self.timelines = {db: Timeline(now - datetime.timedelta(days=3), 3 * 86400.0 + 7919.0 * i)
                          for i, db in enumerate(self.databases)}
        self.copies = {(server, db): Copy(server, db, commit=now) for server in self.replicas for db in self.databases}
        # is_failover_ready as the cluster stores it ([SQLDOCS:forced]: it keeps its value when quorum is lost).
        self.ready = {key: True for key in self.copies}
        self._in_hook = False
        self._linked_primary: str | None = None  # the primary and availability _relink last applied
        self._linked_seen: dict = {}
        self.observed_at = now
        self.seen = self._availability()
        # INFERRED: the lab starts in steady state, every secondary caught up (an asynchronous one `lag` behind).
        for copy in self.copies.values():
            copy.commit = _after(now, -self.lag_of(copy))
        self._relink(now)
        for copy in self.copies.values():
            copy.catch_up_s = 0.0
        self._update_ready(now)

    # ---- the cluster and the hosts ---------------------------------------------------------------
    def cluster(self):
        return cluster_named(self.world, self.cluster_name)

    def role_group(self):
        """The AG's role in its cluster (a group named like the AG)."""
        cluster = self.cluster()
        return cluster.group(self.name) if cluster is not None else None

    def _availability(self) -> dict[str, str]:
        """Per replica: "down" (host unreachable), "resolving" (its node is no member of a running cluster, or its cluster
        service is stopped) or "up". Reads the cluster as it stands (the caller synced it)."""
        cluster = self.cluster()
        out = {}
        for server in self.replicas:
            node = cluster.node(server) if cluster is not None else None
            if self.world.host_is_down(server):
                out[server] = "down"
            elif cluster is not None and cluster.running() and node is not None and node.member and node.service:
                out[server] = "up"
            else:
                out[server] = "resolving"
        return out

    def online_primary(self) -> str | None:
        """The replica serving the primary role: it holds it, it is up, no failover runs and the AG's role is Online there."""
        if self.primary is None or self.transition is not None or self.seen.get(self.primary) != "up":
            return None
        group = self.role_group()
        if group is None or group.owner != self.primary or group.state() != "Online":
            return None
        return self.primary

    def has_quorum(self, server: str) -> bool:
        """The replica's node is a member of a running cluster: its instance can talk to WSFC."""
        return self.seen.get(server) == "up"

    # ---- lazy evaluation -------------------------------------------------------------------------
    def sync(self, now: datetime.datetime) -> None:
        """Apply what changed since the last look (dated then) and what the clock made due."""
        if now < self.observed_at:
            return
        cluster = self.cluster()
        if cluster is not None and not self._in_hook:
            cluster.sync(now)  # fires the role's hooks at their own times (on_online / on_offline below)
        self._look(now, dated=self.observed_at)
        if self.transition is not None and self.transition["end"] <= now:
            self._finish_failover(self.transition["end"])
        self._update_ready(now)
        self.observed_at = now

    def _look(self, now: datetime.datetime, dated: datetime.datetime) -> None:
        """Take in a change of the replicas' availability or of the AG's role state since the last look, dated `dated`."""
        status = self._availability()
        if status != self.seen:
            self._update_ready(dated)
            self.seen = status
        # The role can also stop being Online without a hook yet (OfflinePending): the primary stops serving then.
        if self.online_primary() != self._linked_primary or status != self._linked_seen:
            self._relink(dated)
        self.observed_at = max(self.observed_at, now)

    # ---- the AG's cluster role (hooks called by lab/world/cluster.py) ------------------------------
    def can_online(self, group, node: str) -> str | None:
        """Whether the role may come online on `node`: a reason to fail the resource, or None.

        [SQLDOCS:forced]: after quorum was forced, every AG must be failed over by hand (the role does not come back by
        itself); sys.availability_replicas: automatic failover only to a synchronized synchronous-commit replica in
        AUTOMATIC failover mode (and from a primary in that mode).
        """
        del group
        cluster = self.cluster()
        if self.fault_resolving:
            return "the availability group resource is failed (lab fault ag-resolving)"
        if cluster.forced_quorum:
            return "the WSFC cluster was started in forced-quorum mode: fail the availability group over by hand"
        if node == self.primary:
            return None
        target, old = self.replicas.get(node), self.replicas.get(self.primary or "")
        if target is None:
            return "{0} hosts no replica of availability group {1}".format(node, self.name)
        if old is None or (old.availability_mode, old.failover_mode) != (SYNC, AUTOMATIC) \
                or (target.availability_mode, target.failover_mode) != (SYNC, AUTOMATIC):
            return "{0} is not an automatic failover partner of the primary replica".format(node)
        if not all(self.ready[(node, db)] for db in self.databases):
            return "the databases on {0} were not synchronized when the primary was lost".format(node)
        return None

    def on_online(self, group, node: str, at: datetime.datetime) -> None:
        """The role came online on `node`: the primary serves again there, or WSFC failed the AG over to it (automatic)."""
        del group
        with self._hook(at):
            if node != self.primary:
                self.world.audit_event("sqlag", node, change="automatic-failover", ag=self.name, old=self.primary)
                self.primary = node
                self.sequence += 1

    def on_offline(self, group, at: datetime.datetime) -> None:
        """The role went offline (quorum lost, the role stopped): the primary stops serving."""
        del group
        with self._hook(at):
            pass

    @contextlib.contextmanager
    def _hook(self, at: datetime.datetime):
        self._in_hook = True
        try:
            # A change of the hosts since the last look happened then (the world looks right before every change).
            at = max(at, self.observed_at)
            self._look(at, dated=self.observed_at)
            self._update_ready(at)
            yield
            self._relink(at)
            self._update_ready(at)
        finally:
            self._in_hook = False

    # ---- copies ----------------------------------------------------------------------------------
    def effective_sync(self, server: str) -> bool:
        """Synchronous commit needs both the replica and the primary in that mode ([SQLDOCS:planned])."""
        primary = self.replicas.get(self.primary or "")
        return self.replicas[server].availability_mode == SYNC and primary is not None and primary.availability_mode == SYNC

    def _should_flow(self, copy: Copy, primary: str | None) -> bool:
        if primary is None or copy.replica == primary or self.seen.get(copy.replica) != "up":
            return False
        return not copy.suspended and not self.copies[(primary, copy.database)].suspended

    def _relink(self, at: datetime.datetime) -> None:
        """Bring every copy's mode and every timeline in line with the roles and links at `at`."""
        primary = self.online_primary()
        self._linked_primary, self._linked_seen = primary, dict(self.seen)
        for db, timeline in self.timelines.items():
            if primary is None:
                timeline.close(at)
            else:
                timeline.open(at)
        for copy in self.copies.values():
            wanted = "primary" if copy.replica == primary else ("flowing" if self._should_flow(copy, primary) else "frozen")
            if wanted != copy.mode:
                copy.commit = self.commit_of(copy, at)
                copy.mode = wanted
                if wanted == "flowing":
                    self._start_flow(copy, at)
                else:
                    copy.flow_since = copy.flow_from = None

    def _start_flow(self, copy: Copy, at: datetime.datetime) -> None:
        timeline = self.timelines[copy.database]
        start = at
        if copy.diverged_pos is not None:
            # VCS §C.4: a resumed secondary rolls back the log the new primary never had, then catches up.
            copy.commit = copy.fork_commit
            copy.diverged_pos = None
            start = _after(at, REVERT_S)
        copy.flow_since = start
        copy.flow_from = copy.commit
        copy.catch_up_s = catch_up_seconds(_seconds(timeline.last_commit(start) - copy.commit))

    def _held(self, server: str | None, now: datetime.datetime) -> dict:
        """The commits of the flowing copies a change of `server`'s settings moves (every copy when it is the primary)."""
        return {key: self.commit_of(copy, now) for key, copy in self.copies.items()
                if copy.mode == "flowing" and (server is None or copy.replica == server or server == self.primary)
                and copy.flow_since is not None and now >= copy.flow_since}

    def _reanchor(self, held: dict, at: datetime.datetime) -> None:
        """Flowing copies whose target moved (lag or availability mode changed) keep what they hold and approach the new
        target from there. INFERRED: a copy switched to synchronous commit catches up (SYNCHRONIZING) before it is
        SYNCHRONIZED, as after a resume (TIM §7.4)."""
        for key, commit in held.items():
            copy = self.copies[key]
            copy.commit = copy.flow_from = commit
            copy.flow_since = at
            backlog = _seconds(self.timelines[copy.database].last_commit(at) - commit)
            copy.catch_up_s = catch_up_seconds(backlog) if self.effective_sync(copy.replica) else 0.0

    def lag_of(self, copy: Copy) -> float:
        return 0.0 if self.effective_sync(copy.replica) else self.replicas[copy.replica].lag_s

    def commit_of(self, copy: Copy, now: datetime.datetime) -> datetime.datetime:
        """The last commit the copy holds at `now`."""
        timeline = self.timelines[copy.database]
        if copy.mode == "primary":
            return timeline.last_commit(now)
        if copy.mode != "flowing" or copy.flow_since is None or now <= copy.flow_since:
            return copy.commit if copy.mode != "flowing" else copy.flow_from
        target = timeline.clamp(_after(now, -self.lag_of(copy)))
        if target <= copy.flow_from:
            return copy.flow_from
        share = 1.0 if copy.catch_up_s <= 0 else min(1.0, _seconds(now - copy.flow_since) / copy.catch_up_s)
        return timeline.clamp(copy.flow_from + (target - copy.flow_from) * share)

    def caught_up(self, copy: Copy, now: datetime.datetime) -> bool:
        if copy.mode != "flowing" or copy.flow_since is None or now < copy.flow_since:
            return False
        return copy.catch_up_s <= 0 or _seconds(now - copy.flow_since) >= copy.catch_up_s

    def pos_of(self, copy: Copy, now: datetime.datetime) -> float:
        if copy.diverged_pos is not None:
            return copy.diverged_pos
        return self.timelines[copy.database].pos(self.commit_of(copy, now))

    def sync_state(self, copy: Copy, now: datetime.datetime) -> str:
        """[SQLDOCS:dm-db-states] synchronization_state_desc of one copy as its own replica sees it."""
        if copy.mode == "primary":
            if copy.suspended:
                return NOT_SYNCHRONIZING
            # "A primary database shows SYNCHRONIZED in place of SYNCHRONIZING" - INFERRED: once a synchronous partner is.
            partners = [c for (server, db), c in self.copies.items() if db == copy.database and server != copy.replica]
            if any(self.effective_sync(c.replica) and self.sync_state(c, now) == SYNCHRONIZED for c in partners):
                return SYNCHRONIZED
            return SYNCHRONIZING
        if copy.mode != "flowing":
            return NOT_SYNCHRONIZING
        if copy.flow_since is not None and now < copy.flow_since:
            return REVERTING
        if self.caught_up(copy, now) and self.effective_sync(copy.replica):
            return SYNCHRONIZED
        return SYNCHRONIZING

    def health(self, server: str, state: str) -> str:
        """[SQLDOCS:dm-db-states] synchronization_health: state against the replica's availability mode."""
        if state in (NOT_SYNCHRONIZING, REVERTING):
            return "NOT_HEALTHY"
        if self.replicas[server].availability_mode == ASYNC:
            return "HEALTHY"
        return "HEALTHY" if state == SYNCHRONIZED else "PARTIALLY_HEALTHY"

    def _update_ready(self, at: datetime.datetime) -> None:
        """The primary marks in the cluster which copies are synchronized ([SQLDOCS:forced] is_failover_ready);
        without an online primary (or quorum) nobody updates the marks, so they keep their last value."""
        primary = self.online_primary()
        if primary is None:
            return
        for key, copy in self.copies.items():
            self.ready[key] = copy.replica == primary or (self.effective_sync(copy.replica) and self.sync_state(copy, at) == SYNCHRONIZED)

    # ---- roles -----------------------------------------------------------------------------------
    def role(self, server: str) -> tuple[str, str]:
        """(role_desc, operational_state_desc) of the replica as its own instance reports it ([SQLDOCS:dm-ar-states])."""
        availability = self.seen.get(server)
        if availability != "up":
            return RESOLVING, "FAILED_NO_QUORUM"
        if self.transition is not None and server in (self.transition["target"], self.transition["old"]):
            return RESOLVING, "PENDING_FAILOVER"
        primary = self.online_primary()
        if server == primary:
            return PRIMARY, "ONLINE"
        if primary is not None or (self.transition is not None and server != self.transition["target"]):
            return SECONDARY, "ONLINE"
        # No primary: "the availability group currently lacks a primary replica".
        return RESOLVING, "OFFLINE"

    def database_state(self, copy: Copy) -> str:
        """[SQLDOCS:dm-db-states] database_state_desc (as sys.databases)."""
        role, dummy = self.role(copy.replica)
        if copy.broken:
            return "RECOVERY_PENDING"  # INFERRED: a database forced over while REVERTING does not start
        if role == RESOLVING:
            # INFERRED: the AG's databases do not come online on a replica without a role.
            return "RECOVERY_PENDING" if self.transition is None else "RECOVERING"
        return "ONLINE"

    def database_writable(self, db_name: str, now: datetime.datetime | None = None) -> bool:
        """Whether clients can write the database: a reachable replica is PRIMARY, the database is online there and
        the cluster has quorum (the cluster model asks this before VMM's service answers)."""
        with self.world.lock:
            now = now or self.world.clock.now()
            self.sync(now)
            db = self.database_name(db_name)
            primary = self.online_primary()
            if db is None or primary is None:
                return False
            copy = self.copies[(primary, db)]
            return self.database_state(copy) == "ONLINE"

    def database_name(self, name: str) -> str | None:
        return next((db for db in self.databases if db.lower() == name.lower()), None)

    def replica_on(self, host: str) -> Replica | None:
        try:
            key = self.world.host(host).name
        except KeyError:
            return None
        return self.replicas.get(key)

    # ---- commands ---------------------------------------------------------------------------------
    def failover(self, target: str, allow_data_loss: bool, now: datetime.datetime) -> str:
        """ALTER AVAILABILITY GROUP ... FAILOVER / FORCE_FAILOVER_ALLOW_DATA_LOSS run on `target`; returns the kind."""
        self.sync(now)
        self._check_failover(target, allow_data_loss)
        cluster = self.cluster()
        ready = all(self.ready[(target, db)] for db in self.databases)
        # [SQLDOCS:forced]: with a healthy quorum, forcing to a synchronized secondary is a planned failover.
        kind = "planned" if (not allow_data_loss or (ready and not cluster.forced_quorum)) else "forced"
        old = self.primary
        self._update_ready(now)
        self.transition = {"kind": kind, "target": target, "old": old, "start": now,
                           "end": _after(now, PLANNED_FAILOVER_S if kind == "planned" else FORCED_FAILOVER_S)}
        self._relink(now)
        self.world.audit_event("sqlag", target, change="failover", ag=self.name, failover=kind, old=old)
        return kind

    def _check_failover(self, target: str, allow_data_loss: bool) -> None:
        if self.seen.get(target) != "up":
            # INFERRED wording; [SQLDOCS:forced]: "The only time that you cannot perform a forced failover is when
            # the WSFC cluster lacks quorum."
            raise AgError("Cannot fail over availability group '{0}' to this instance of SQL Server: the local Windows Server "
                          "Failover Clustering (WSFC) node is not online or the WSFC cluster does not have quorum. Start the "
                          "cluster service (forcing quorum if the cluster cannot reach it), then retry.".format(self.name))
        if self.transition is not None:
            raise AgError("Availability group '{0}' is already processing a failover command. Wait for it to finish, then "
                          "retry.".format(self.name))  # INFERRED wording
        if self.online_primary() == target:
            raise AgError("Cannot failover availability group '{0}' to this instance of SQL Server. The local availability "
                          "replica is already the primary replica of the availability group. To failover this availability "
                          "group to another instance, run the failover command on that instance. If local instance is "
                          "intended to host the primary replica of the availability group, then no action is required."
                          .format(self.name), 41122)
        if allow_data_loss:
            return
        cluster = self.cluster()
        ready = all(self.ready[(target, db)] for db in self.databases)
        if cluster.forced_quorum or not ready or self.replicas[target].availability_mode != SYNC:
            raise AgError("The availability replica for availability group '{0}' on this instance of SQL Server cannot become "
                          "the primary replica. One or more databases are not synchronized or have not joined the availability "
                          "group, or the WSFC cluster was started in Force Quorum mode. If the cluster was started in Force Quorum "
                          "mode or the availability replica uses the asynchronous-commit mode, consider performing a forced "
                          "manual failover (with possible data loss). Otherwise, once all local secondary databases are joined "
                          "and synchronized, you can perform a planned manual failover to this secondary replica (without data "
                          "loss). For more information, see SQL Server Books Online.".format(self.name), 41142)

    def _finish_failover(self, at: datetime.datetime) -> None:
        move = self.transition
        self.transition = None
        target = move["target"]
        if self.seen.get(target) != "up":
            # INFERRED: the target lost its node before the failover completed; the AG stays without a primary.
            self.world.audit_event("sqlag", target, change="failover-abandoned", ag=self.name)
            self._relink(at)
            return
        if move["kind"] == "forced":
            self._fork(target, at)
        self.primary = target
        self.fault_resolving = False
        self.sequence += 1
        # The AG's role moves with it: online on the new primary's node (the failover brought the AG online there).
        group = self.role_group()
        group.persistent_online = True
        self.cluster().place_group(group.name, target)
        self._relink(at)
        self._update_ready(at)

    def _fork(self, target: str, at: datetime.datetime) -> None:
        """VCS §C.3/§C.4: the target's log becomes the truth; every other copy is suspended (SUSPEND_FROM_PARTNER),
        and the copies that hold log past the target's must revert when resumed."""
        for db, timeline in self.timelines.items():
            target_copy = self.copies[(target, db)]
            if target_copy.mode == "flowing" and target_copy.flow_since is not None and at < target_copy.flow_since:
                target_copy.broken = True  # [SQLDOCS:forced]: forced while REVERTING, it cannot start as a primary
            keep = target_copy.commit
            keep_pos = timeline.pos(keep)
            for server in self.replicas:
                copy = self.copies[(server, db)]
                if server == target:
                    continue
                own_pos = self.pos_of(copy, at)
                if own_pos > keep_pos:
                    copy.diverged_pos = own_pos
                    copy.fork_commit = keep
                copy.suspended, copy.suspend_reason = True, SUSPEND_FROM_PARTNER
            timeline.fork(keep, at)

    def set_suspended(self, server: str, db: str, suspended: bool, now: datetime.datetime,
                      reason: str = SUSPEND_FROM_USER) -> bool:
        """ALTER DATABASE ... SET HADR SUSPEND/RESUME on `server`; returns whether anything changed."""
        self.sync(now)
        if self.seen.get(server) != "up" or self.role(server)[0] == RESOLVING:
            # INFERRED wording: SET HADR needs the local replica in the PRIMARY or SECONDARY role.
            raise AgError("Cannot complete this ALTER DATABASE <SET HADR> operation on database '{0}'. The local availability "
                          "replica of availability group '{1}' is not in the PRIMARY or SECONDARY role. Wait until the replica "
                          "is online, then retry the command.".format(db, self.name))
        copy = self.copies[(server, db)]
        if copy.suspended == suspended:
            return False
        copy.suspended = suspended
        copy.suspend_reason = reason if suspended else None
        self.world.audit_event("sqlag", server, change="suspend" if suspended else "resume", ag=self.name, database=db)
        self._relink(now)
        return True

    def set_replica(self, server: str, availability_mode: str | None, failover_mode: str | None, now: datetime.datetime,
                    on: str) -> bool:
        """ALTER AVAILABILITY GROUP ... MODIFY REPLICA, run on replica `on`: VCS §C.4 (run on the primary)."""
        self.sync(now)
        if self.online_primary() != on:
            raise AgError("Availability group '{0}' cannot process the ALTER AVAILABILITY GROUP command, because the local "
                          "availability replica is not the primary replica. Connect to the server instance that is currently "
                          "hosting the primary replica of this availability group, and rerun the command.".format(self.name), 41140)
        replica = self.replicas[server]
        mode = availability_mode or replica.availability_mode
        failover = failover_mode or replica.failover_mode
        if failover == AUTOMATIC and mode != SYNC:
            # sys.availability_replicas: automatic failover is supported only with synchronous commit. INFERRED wording.
            raise AgError("Cannot set the failover mode of availability replica '{0}' to AUTOMATIC: automatic failover requires "
                          "the SYNCHRONOUS_COMMIT availability mode.".format(replica.server_name))
        if (mode, failover) == (replica.availability_mode, replica.failover_mode):
            return False
        self._update_ready(now)
        held = self._held(server, now) if mode != replica.availability_mode else {}
        replica.availability_mode, replica.failover_mode = mode, failover
        replica.modified = now
        self.sequence += 1
        self._reanchor(held, now)
        self._update_ready(now)
        self.world.audit_event("sqlag", on, change="modify-replica", ag=self.name, replica=server, availability_mode=mode,
                               failover_mode=failover)
        return True

    # ---- faults -----------------------------------------------------------------------------------
    def set_fault_resolving(self, resolving: bool, now: datetime.datetime) -> None:
        """Fault ag-resolving: the AG's role goes offline and its resource refuses to come online, so every replica is
        RESOLVING ([SQLDOCS:dm-ar-states]); cleared, the role starts again on its owner. A manual failover also ends it."""
        self.sync(now)
        self.fault_resolving = resolving
        cluster, group = self.cluster(), self.role_group()
        if resolving:
            cluster.stop_group(group, now)
        else:
            cluster.start_group(group, now)
        self.world.audit_event("fault", "-", change="ag-resolving", ag=self.name, resolving=resolving)

    def set_lag(self, server: str, seconds: float, now: datetime.datetime) -> None:
        """Fault ag-lag: the replica's asynchronous-commit lag."""
        self.sync(now)
        held = {key: commit for key, commit in self._held(server, now).items() if key[0] == server}
        self.replicas[server].lag_s = float(seconds)
        self._reanchor(held, now)

    # ---- summary ---------------------------------------------------------------------------------
    def status(self, now: datetime.datetime) -> dict:
        self.sync(now)
        replicas = []
        for server, replica in sorted(self.replicas.items()):
            role, operational = self.role(server) if self.seen.get(server) != "down" else (None, None)
            dbs = {}
            for db in self.databases:
                copy = self.copies[(server, db)]
                commit = self.commit_of(copy, now)
                dbs[db] = {"state": self.sync_state(copy, now) if role else None, "suspended": copy.suspend_reason,
                           "last_commit": commit.isoformat(), "failover_ready": self.ready[(server, db)]}
            replicas.append({"server": server, "role": role, "operational_state": operational,
                             "availability_mode": replica.availability_mode, "failover_mode": replica.failover_mode,
                             "lag_seconds": replica.lag_s, "databases": dbs})
        return {"name": self.name, "cluster": self.cluster_name, "primary": self.online_primary(),
                "failover_in_progress": dict(self.transition, start=self.transition["start"].isoformat(),
                                             end=self.transition["end"].isoformat()) if self.transition else None,
                "role": {"owner": self.role_group().owner, "state": self.role_group().state()},
                "fault_resolving": self.fault_resolving, "replicas": replicas,
                "writable": {db: self.database_writable(db, now) for db in self.databases}}


def cluster_named(world, name: str):
    """The cluster model of lab/world/cluster.py by name (world.clusters: a dict by name, or a list of objects)."""
    clusters = getattr(world, "clusters", None) or {}
    items = clusters.values() if isinstance(clusters, dict) else clusters
    for cluster in items:
        if str(getattr(cluster, "name", "")).lower() == name.lower():
            return cluster
    if isinstance(clusters, dict):
        return next((c for key, c in clusters.items() if str(key).lower() == name.lower()), None)
    return None


# ---- topology ----------------------------------------------------------------------------------------
_AG_KEYS = {"cluster", "databases", "replicas"}
_REPLICA_KEYS = {"role", "availability_mode", "failover_mode", "lag_seconds"}
_MODES = {"synchronous_commit": SYNC, "asynchronous_commit": ASYNC}
_FAILOVER_MODES = {"automatic": AUTOMATIC, "manual": MANUAL}


class AgTopologyError(ValueError):
    """The availability_groups section is inconsistent; lab/world/topology.py re-raises it as a TopologyError."""


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise AgTopologyError(message)


def validate(section, clusters: list) -> dict:
    """`availability_groups:` of a topology -> {name: spec}. Each AG names a cluster of the topology (clusters as
    topology.py validated them); its replicas are nodes of that cluster, one of them primary; the cluster has the
    AG's role (a group named like the AG) owned by the primary's node."""
    if not section:
        return {}
    _require(isinstance(section, dict), "availability_groups: must be a mapping of AG name to its definition")
    out = {}
    for name, spec in section.items():
        _require(isinstance(spec, dict), "availability group '{0}': must be a mapping".format(name))
        unknown = set(spec) - _AG_KEYS
        _require(not unknown, "availability group '{0}': unknown keys {1}".format(name, sorted(unknown)))
        cluster = next((c for c in clusters if c["name"].lower() == str(spec.get("cluster") or "").lower()), None)
        _require(cluster is not None, "availability group '{0}': cluster '{1}' is not a cluster of the topology".format(name, spec.get("cluster")))
        dbs = [str(db) for db in spec.get("databases") or []]
        _require(bool(dbs) and len({d.lower() for d in dbs}) == len(dbs),
                 "availability group '{0}': databases must list at least one database, each once".format(name))
        nodes = [n["name"] for n in cluster["nodes"]]
        replicas = {}
        for host, rspec in (spec.get("replicas") or {}).items():
            _require(str(host).lower() in nodes, "availability group '{0}': replica host '{1}' is not a node of cluster '{2}'".format(
                name, host, cluster["name"]))
            replicas[str(host).lower()] = _replica(name, str(host), rspec or {})
        _require(len(replicas) >= 2, "availability group '{0}': at least two replicas are required".format(name))
        primaries = [h for h, r in replicas.items() if r["role"] == "primary"]
        _require(len(primaries) == 1, "availability group '{0}': exactly one replica must have role primary".format(name))
        _require(replicas[primaries[0]]["availability_mode"] == SYNC or all(r["failover_mode"] == MANUAL for r in replicas.values()),
                 "availability group '{0}': automatic failover needs a synchronous-commit primary".format(name))
        role = next((g for g in cluster["groups"] if g["name"].lower() == str(name).lower()), None)
        _require(role is not None, "availability group '{0}': cluster '{1}' needs the AG's role, a group named '{0}'".format(
            name, cluster["name"]))
        _require(role["owner"] == primaries[0], "availability group '{0}': its role in cluster '{1}' is owned by '{2}', but the primary "
                                                "replica is '{3}'".format(name, cluster["name"], role["owner"], primaries[0]))
        out[str(name)] = {"cluster": cluster["name"], "databases": dbs, "replicas": replicas}
    return out


def _replica(ag: str, host: str, spec: dict) -> dict:
    unknown = set(spec) - _REPLICA_KEYS
    _require(not unknown, "availability group '{0}', replica '{1}': unknown keys {2}".format(ag, host, sorted(unknown)))
    role = str(spec.get("role", "secondary")).lower()
    _require(role in ("primary", "secondary"), "availability group '{0}', replica '{1}': role must be primary or secondary".format(ag, host))
    mode = _MODES.get(str(spec.get("availability_mode", "synchronous_commit")).lower())
    _require(mode is not None, "availability group '{0}', replica '{1}': availability_mode must be synchronous_commit or "
                               "asynchronous_commit".format(ag, host))
    failover = _FAILOVER_MODES.get(str(spec.get("failover_mode", "manual")).lower())
    _require(failover is not None, "availability group '{0}', replica '{1}': failover_mode must be automatic or manual".format(ag, host))
    # sys.availability_replicas: "Automatic failover is supported only if the availability mode is set to synchronous commit".
    _require(failover == MANUAL or mode == SYNC, "availability group '{0}', replica '{1}': automatic failover needs "
                                                 "synchronous_commit".format(ag, host))
    lag = spec.get("lag_seconds", 0.0 if mode == SYNC else DEFAULT_LAG_S)
    _require(isinstance(lag, (int, float)) and not isinstance(lag, bool) and lag >= 0,
             "availability group '{0}', replica '{1}': lag_seconds must be a number >= 0".format(ag, host))
    return {"role": role, "availability_mode": mode, "failover_mode": failover, "lag_seconds": float(lag)}


def load(world, specs: dict) -> dict[str, AvailabilityGroup]:
    """Build the AGs of a validated topology and tie each to its cluster role (the role's hooks are the AG)."""
    now = world.clock.now()
    groups = {}
    for name, spec in (specs or {}).items():
        cluster = cluster_named(world, spec["cluster"])
        group = AvailabilityGroup(world, name, spec, now)
        cluster.hooks[group.role_group().name] = group
        groups[name] = group
    return groups


def groups_on(world, host: str) -> list[AvailabilityGroup]:
    """The AGs with a replica on this host (its default instance), in name order."""
    out = []
    for name in sorted(getattr(world, "availability_groups", {}) or {}):
        group = world.availability_groups[name]
        if group.replica_on(host) is not None:
            out.append(group)
    return out


def settle(world, now: datetime.datetime) -> None:
    with world.lock:
        for group in (getattr(world, "availability_groups", {}) or {}).values():
            group.sync(now)


# ---- faults (lab/service.py, `python -m lab fault ...`) ---------------------------------------------------
FAULTS = ("ag-resolving", "ag-lag", "ag-suspend")


def apply_fault(world, spec: dict) -> None:
    """ag-resolving <AG>: the AG's role offline, every replica RESOLVING; ag-lag <host> --seconds N: that replica's
    asynchronous-commit lag; ag-suspend <host> --database X: suspend (clear: resume) X's copy there (SUSPEND_FROM_USER)."""
    kind, clear = spec.get("kind"), bool(spec.get("clear"))
    groups = getattr(world, "availability_groups", {}) or {}
    with world.lock:
        now = world.clock.now()
        if kind == "ag-resolving":
            group = next((g for name, g in groups.items() if name.lower() == str(spec.get("ag") or "").lower()), None)
            if group is None:
                raise ValueError("no availability group %r in this lab (groups: %s)" % (spec.get("ag"), ", ".join(sorted(groups)) or "none"))
            group.set_fault_resolving(not clear, now)
            return
        hosted = groups_on(world, spec.get("host") or "")
        if not hosted:
            raise ValueError("host %r runs no availability replica in this lab" % spec.get("host"))
        for group in hosted:
            server = group.replica_on(spec["host"]).server
            if kind == "ag-lag":
                seconds = group.replicas[server].configured_lag_s if clear else float(spec.get("seconds") or 0.0)
                if seconds < 0:
                    raise ValueError("ag-lag needs --seconds >= 0")
                group.set_lag(server, seconds, now)
            elif kind == "ag-suspend":
                db = group.database_name(str(spec.get("database") or ""))
                if db is None:
                    raise ValueError("ag-suspend needs --database, one of %s" % ", ".join(group.databases))
                try:
                    group.set_suspended(server, db, not clear, now)
                except AgError as exc:
                    raise ValueError(exc.message) from None
            else:
                raise ValueError("unknown availability group fault %r (%s)" % (kind, ", ".join(FAULTS)))
        world.audit_event("fault", spec["host"], change=kind, cleared=clear, seconds=spec.get("seconds"), database=spec.get("database"))
