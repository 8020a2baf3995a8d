"""Simulated durations of the state-changing Hyper-V operations, and how a cmdlet waits for them.

One table, the defaults column of timings.md §7.1 (TIM); values the table does not give are INFERRED.
A cmdlet that takes time waits `seconds / clock.scale` real seconds without holding world.lock, so the
simulated clock has moved on by `seconds` when it applies its change. Tests can use mode "advance"
(the clock jumps by the duration at once: deterministic and instant) or a clock with a large scale.
"""

from __future__ import annotations

import threading

MB = 1024 * 1024
GB = 1024 * MB

# Simulated seconds per operation (TIM §7.1 defaults).
SECONDS = {
    "stop_vm": 30,  # guest shutdown (Stop-VM, graceful)
    "prepare_failover": 15,  # Start-VMFailover -Prepare (one final log shipment)
    "planned_failover": 20,  # Start-VMFailover on the replica after -Prepare
    "reverse": 10,  # Set-VMReplication -Reverse
    "start_vm": 5,  # Start-VM to Running
    "guest_boot": 60,  # Running to heartbeat OK
    "unplanned_failover": 15,  # Start-VMFailover to the latest point
    "unplanned_per_hour_back": 5,  # extra per hour between the latest point and the chosen one
    "complete_failover": 10,  # Complete-VMFailover
    "test_failover_create": 20,  # Start-VMFailover -AsTest
    "test_failover_stop": 10,  # Stop-VMFailover of a test failover
    "as_replica": 5,  # Set-VMReplication -AsReplica
    "turn_off": 1,  # INFERRED: Stop-VM -TurnOff is a power cut, about a second
    "save_vm": 10,  # INFERRED: Save-VM / Stop-VM -Save writes memory to disk
    "cancel_failover": 5,  # INFERRED: Stop-VMFailover of a (prepared) failover discards the failover disk
}
# TIM §7.1: initial replication at size / 20 MB/s ("1 Gbps").
INITIAL_REPLICATION_BYTES_PER_S = 20 * MB
# TIM §7.1: resync compares the VHD at 22 MB/s, then sends the changed bytes at the link rate.
RESYNC_COMPARE_BYTES_PER_S = 22 * MB
LINK_BYTES_PER_S = 20 * MB  # INFERRED: the same "1 Gbps" effective rate as initial replication


def initial_replication_seconds(disk_gb: float) -> float:
    return disk_gb * GB / INITIAL_REPLICATION_BYTES_PER_S


def resync_seconds(disk_gb: float, changed_bytes: float) -> float:
    return disk_gb * GB / RESYNC_COMPARE_BYTES_PER_S + changed_bytes / LINK_BYTES_PER_S


def unplanned_failover_seconds(hours_back: float) -> float:
    """TIM §7.1: 15 s to the latest point, plus 5 s per hour back (undo logs replayed per point)."""
    return SECONDS["unplanned_failover"] + SECONDS["unplanned_per_hour_back"] * max(0.0, hours_back)


class Durations:
    """How cmdlets wait: "sleep" (real time, scaled by the clock) or "advance" (tests: jump the clock)."""

    def __init__(self, clock, mode: str = "sleep") -> None:
        self.clock = clock
        self.mode = mode
        self.table = dict(SECONDS)
        self._event = threading.Event()  # never set: an interruptible sleep that pylint does not flag

    def of(self, operation: str) -> float:
        return float(self.table[operation])

    def wait(self, seconds: float) -> float:
        """Block the caller for the simulated duration; returns the real seconds waited (0 in advance mode)."""
        if seconds <= 0:
            return 0.0
        if self.mode == "advance":
            self.clock.advance(seconds)
            return 0.0
        real = seconds / self.clock.scale
        self._event.wait(real)
        return real
