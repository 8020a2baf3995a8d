"""Hyper-V Replica relationships, with replication progress derived lazily from the clock.

No background threads: every property is computed from the relationship's configuration, the
simulated time and the outage intervals (host/site down, replication suspended). References:
hyperv-replica-states.md (HRS) and timings.md (TIM) in the shared reference set.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

HOUR = 3600.0
# TIM §1.2 / §7.1: Warning when more than 3,600 s since the last replication.
WARNING_AFTER_S = 3600.0
# TIM §1.2 / §7.1: Warning when more than 20 % of the cycles in the monitoring interval were missed.
MISSED_CYCLE_LIMIT = 0.20
# INFERRED: default MonitoringInterval of a Replica server is 12 h (TIM §1.2 lists the choices only).
MONITORING_INTERVAL_S = 12 * HOUR
# States in which changes are shipped each cycle (HRS §1.1: Replicating is the steady state).
_SHIPPING = {"Replicating"}
# Side states after Start-VMFailover on the replica (HRS §1.1 states 6 and 7).
FAILED_OVER = ("FailedOverWaitingCompletion", "FailedOver")
# HRS §3.0: no replication has completed before initial replication finishes.
_BEFORE_INITIAL = {"ReadyForInitialReplication", "InitialReplicationInProgress", "WaitingForInitialReplication"}
# TIM §1.2: Warning for initial replication not finished, failover started without reverse, paused.
# PreparedForFailover and FiredrillInProgress are INFERRED to count as "failover started"; FailedOver (completed,
# not yet reversed) is "failover started but reverse replication not set up"; Resynchronizing is INFERRED Warning.
_WARNING_STATES = {"ReadyForInitialReplication", "InitialReplicationInProgress", "WaitingForInitialReplication",
                   "FailedOverWaitingCompletion", "FailedOver", "Suspended", "PreparedForFailover", "FiredrillInProgress",
                   "Resynchronizing"}
# TIM §1.2: "resync required" makes health Critical; Error is INFERRED Critical too.
_CRITICAL_STATES = {"WaitingForStartResynchronize", "Error", "ResynchronizeSuspended"}


@dataclasses.dataclass
class RecoveryPoint:
    time: datetime.datetime
    kind: str  # SnapshotType name: Replica or AppConsistentReplica (HRS §4, mapping INFERRED there)


@dataclasses.dataclass
class Replication:
    """One Simple relationship: a VM on primary_host replicated to replica_host."""

    vm_name: str
    vm_id: str
    primary_host: str
    replica_host: str
    primary_fqdn: str
    replica_fqdn: str
    frequency: int
    recovery_history: int
    vss_hours: int
    port: int
    auth: str
    established: datetime.datetime  # initial replication completed; cycles count from here
    state: str = "Replicating"
    # When the state last left Replicating: no cycle ships after it (set by the World's transitions).
    stopped_at: datetime.datetime | None = None
    # Per-host state where the two sides differ, e.g. PreparedForFailover on the primary only (HRS §3.1).
    side_states: dict = dataclasses.field(default_factory=dict)
    # Periods when no cycle could ship: [start, end or None]; filled by World on host/site down and suspend.
    outages: list = dataclasses.field(default_factory=list)
    # Per-host mode where a side was converted on its own (Set-VMReplication -AsReplica, TIM §1.4).
    side_modes: dict = dataclasses.field(default_factory=dict)
    # (start, new frequency, previous frequency) per Set-VMReplication -ReplicationFrequencySec: the grid changes there.
    frequency_changes: list = dataclasses.field(default_factory=list)
    # Final log shipped by Start-VMFailover -Prepare: an off-grid point, no data loss (HRS §3.1, TIM §1.1).
    synced_at: datetime.datetime | None = None
    # Start-VMFailover on the replica: {"host", "point", "planned", "previous"}; "completed" after Complete-VMFailover.
    failover: dict | None = None
    # Name of the TestReplica VM while a test failover runs (HRS §3.3).
    test_vm: str | None = None
    # Initial replication or resync in progress: {"kind": "ir"|"resync", "start", "end"} (progress derived from the clock).
    job: dict | None = None
    # Reset-VMReplicationStatistics restarts the statistics window here (HRS §1.2).
    stats_reset_at: datetime.datetime | None = None
    # A state-changing cmdlet is running against the relationship (TIM §1.2: one failover operation at a time).
    busy: str | None = None
    # Sides whose Remove-VMReplication ran (HRS §3.5: each side is removed separately).
    removed: set = dataclasses.field(default_factory=set)
    compression: bool = True
    seeded: bool = False  # the Replica VM was a copy prepared with Enable-VMReplication -AsReplica (HRS §3.0 step 4)
    auto_resync: bool = False
    allowed_primary: str | None = None
    monitoring_interval: float = MONITORING_INTERVAL_S

    def mode_on(self, host: str) -> str:
        if host in self.removed:
            return "None"
        if host in self.side_modes:
            return self.side_modes[host]
        if host == self.primary_host:
            return "Primary"
        if host == self.replica_host:
            return "Replica"
        return "None"

    def state_on(self, host: str) -> str:
        return self.side_states.get(host, self.state)

    def other_host(self, host: str) -> str:
        return self.replica_host if host == self.primary_host else self.primary_host

    def shipping(self) -> bool:
        """Cycles ship only while both sides replicate (INFERRED: a side that failed over or prepared stops them)."""
        if self.removed:
            return False
        return all(self.state_on(h) in _SHIPPING for h in (self.primary_host, self.replica_host))

    def _inactive_at(self, t: datetime.datetime) -> tuple | None:
        for start, end in self.outages:
            if start <= t and (end is None or t < end):
                return start, end
        return None

    def _grid_floor(self, t: datetime.datetime) -> datetime.datetime | None:
        """Latest cycle boundary <= t on the configured cadence (TIM §1.1), honouring frequency changes."""
        if t < self.established:
            return None
        start, freq = self.established, self.frequency
        if self.frequency_changes:
            start, freq = self.established, self.frequency_changes[0][2]
            for seg_start, new_freq, dummy in self.frequency_changes:
                if seg_start <= t:
                    start, freq = seg_start, new_freq
        elapsed = (t - start).total_seconds()
        return start + datetime.timedelta(seconds=int(elapsed // freq) * freq)

    def _last_cycle_before(self, t: datetime.datetime) -> datetime.datetime | None:
        """Latest cycle boundary <= t at which a cycle actually shipped (HRS §1.1 Replicating; TIM §1.1 cadence)."""
        candidate = self._grid_floor(t)
        while candidate is not None:
            outage = self._inactive_at(candidate)
            if outage is None:
                return candidate
            # The last boundary strictly before this outage began.
            candidate = self._grid_floor(outage[0] - datetime.timedelta(microseconds=1))
        return None

    def last_replication_time(self, now: datetime.datetime) -> datetime.datetime | None:
        """LastReplicationTime: the last shipped cycle; frozen while not Replicating (HRS §1.1, TIM §1.2)."""
        if self.state in _BEFORE_INITIAL:
            return None
        limit = now if self.shipping() or self.stopped_at is None else min(now, self.stopped_at)
        last = self._last_cycle_before(limit)
        if self.synced_at is not None and self.synced_at <= now and (last is None or self.synced_at > last):
            return self.synced_at
        return last

    def missed_fraction(self, now: datetime.datetime) -> float:
        """Share of cycle boundaries in the monitoring window that fell inside an outage (TIM §1.2)."""
        window_start = self.window_start(now)
        total = (now - window_start).total_seconds() / self.frequency
        if total < 1:
            return 0.0
        missed = 0.0
        for start, end in self.outages:
            lo = max(start, window_start)
            hi = min(end or now, now)
            if hi > lo:
                missed += (hi - lo).total_seconds() / self.frequency
        return min(1.0, missed / total)

    def window_start(self, now: datetime.datetime) -> datetime.datetime:
        """Start of the statistics window (HRS §1.2: MonitoringInterval; Reset-VMReplicationStatistics restarts it)."""
        start = max(self.established, now - datetime.timedelta(seconds=self.monitoring_interval))
        return max(start, self.stats_reset_at) if self.stats_reset_at else start

    def _stale(self, now: datetime.datetime, last: datetime.datetime | None) -> bool:
        """TIM §1.2: more than an hour without a replication; INFERRED: counted from a statistics reset too."""
        since = last
        if self.stats_reset_at is not None and (since is None or self.stats_reset_at > since):
            since = self.stats_reset_at
        return since is None or (now - since).total_seconds() > WARNING_AFTER_S

    def health(self, now: datetime.datetime, host: str | None = None) -> str:
        """ReplicationHealth as seen on host (default: the relationship's common state)."""
        state = self.state_on(host) if host else self.state
        if state == "Disabled":
            return "NotApplicable"
        if state in _CRITICAL_STATES:
            return "Critical"
        if state in _WARNING_STATES:
            return "Warning"
        if self._stale(now, self.last_replication_time(now)):
            return "Warning"
        if self.missed_fraction(now) > MISSED_CYCLE_LIMIT:
            return "Warning"
        return "Normal"

    def health_details(self, now: datetime.datetime, host: str | None = None) -> list[str]:
        """Human-readable reasons, shaped like Measure-VMReplication's ReplicationHealthDetails (wording INFERRED)."""
        last = self.last_replication_time(now)
        state = self.state_on(host) if host else self.state
        details = []
        if state in _WARNING_STATES | _CRITICAL_STATES:
            details.append("Replication state is {0}.".format(state))
        if self._stale(now, last):
            details.append("Replication has not completed for more than 1 hour.")
        if self.missed_fraction(now) > MISSED_CYCLE_LIMIT:
            details.append("More than 20 percent of replication cycles were missed in the monitoring interval.")
        return details

    def recovery_points(self, now: datetime.datetime) -> list[RecoveryPoint]:
        """Points on the replica, oldest first (HRS §4; TIM §1.1).

        INFERRED layout: the latest point (last cycle) plus one point per elapsed hour since
        `established` (the last cycle that hour had shipped), at most RecoveryHistory of them; every
        VSSSnapshotFrequencyHour-th hourly point is application-consistent. Hours with no new cycle
        (outage) add no point.
        """
        latest = self.last_replication_time(now)
        if latest is None:
            return []
        if self.failover and self.failover.get("completed"):
            # HRS §4 / §3.2 step 4: Complete-VMFailover keeps only the point failed over to.
            return [self.failover["point"]]
        hourly: list[RecoveryPoint] = []
        if self.recovery_history > 0:
            limit = latest
            n = int((limit - self.established).total_seconds() // HOUR)
            # Walk hour marks backwards; an hour whose last shipped cycle differs from the previous hour's adds a point.
            while n >= 1 and len(hourly) < self.recovery_history:
                shipped = self._last_cycle_before(self.established + datetime.timedelta(hours=n))
                earlier = self._last_cycle_before(self.established + datetime.timedelta(hours=n - 1))
                if shipped is not None and shipped != earlier:
                    kind = "AppConsistentReplica" if self.vss_hours and n % self.vss_hours == 0 else "Replica"
                    hourly.append(RecoveryPoint(shipped, kind))
                n -= 1
            hourly.reverse()
        if hourly and hourly[-1].time == latest:
            return hourly
        # HRS §4: the planned-failover point is SyncedReplica (mapping INFERRED there).
        return hourly + [RecoveryPoint(latest, "SyncedReplica" if latest == self.synced_at else "Replica")]

    def snapshot_id(self, point: RecoveryPoint) -> str:
        return str(uuid.uuid5(uuid.UUID(self.vm_id), point.kind + "@" + point.time.isoformat()))
