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
# HRS §3.0: no replication has completed before initial replication finishes.
_BEFORE_INITIAL = {"ReadyForInitialReplication", "InitialReplicationInProgress", "WaitingForInitialReplication"}
# TIM §1.2: Warning for initial replication not finished, failover started without reverse, paused.
# PreparedForFailover and FiredrillInProgress are INFERRED to count as "failover started".
_WARNING_STATES = {"ReadyForInitialReplication", "InitialReplicationInProgress", "WaitingForInitialReplication",
                   "FailedOverWaitingCompletion", "Suspended", "PreparedForFailover", "FiredrillInProgress"}
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

    def mode_on(self, host: str) -> str:
        if host == self.primary_host:
            return "Primary"
        if host == self.replica_host:
            return "Replica"
        return "None"

    def state_on(self, host: str) -> str:
        return self.side_states.get(host, self.state)

    def _inactive_at(self, t: datetime.datetime) -> tuple | None:
        for start, end in self.outages:
            if start <= t and (end is None or t < end):
                return start, end
        return None

    def _last_cycle_before(self, t: datetime.datetime) -> datetime.datetime | None:
        """Latest cycle boundary <= t at which a cycle actually shipped (HRS §1.1 Replicating; TIM §1.1 cadence)."""
        if t < self.established:
            return None
        elapsed = (t - self.established).total_seconds()
        candidate = self.established + datetime.timedelta(seconds=int(elapsed // self.frequency) * self.frequency)
        while candidate >= self.established:
            outage = self._inactive_at(candidate)
            if outage is None:
                return candidate
            # Jump to the last boundary strictly before this outage began.
            before = (outage[0] - self.established).total_seconds()
            steps = int(before // self.frequency)
            if steps * self.frequency == before:
                steps -= 1
            if steps < 0:
                return None
            candidate = self.established + datetime.timedelta(seconds=steps * self.frequency)
        return None

    def last_replication_time(self, now: datetime.datetime) -> datetime.datetime | None:
        """LastReplicationTime: the last shipped cycle; frozen while not Replicating (HRS §1.1, TIM §1.2)."""
        if self.state in _BEFORE_INITIAL:
            return None
        limit = now if self.state in _SHIPPING or self.stopped_at is None else min(now, self.stopped_at)
        return self._last_cycle_before(limit)

    def missed_fraction(self, now: datetime.datetime) -> float:
        """Share of cycle boundaries in the monitoring window that fell inside an outage (TIM §1.2)."""
        window_start = max(self.established, now - datetime.timedelta(seconds=MONITORING_INTERVAL_S))
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

    def health(self, now: datetime.datetime, host: str | None = None) -> str:
        """ReplicationHealth as seen on host (default: the relationship's common state)."""
        state = self.state_on(host) if host else self.state
        if state == "Disabled":
            return "NotApplicable"
        if state in _CRITICAL_STATES:
            return "Critical"
        if state in _WARNING_STATES:
            return "Warning"
        last = self.last_replication_time(now)
        if last is None or (now - last).total_seconds() > WARNING_AFTER_S:
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
        if last is None or (now - last).total_seconds() > WARNING_AFTER_S:
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
        return hourly + [RecoveryPoint(latest, "Replica")]

    def snapshot_id(self, point: RecoveryPoint) -> str:
        return str(uuid.uuid5(uuid.UUID(self.vm_id), point.kind + "@" + point.time.isoformat()))
