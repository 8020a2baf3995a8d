"""A protected item as ASR reports it, derived from the live Hyper-V Replica relationship of its VM.

Mapping (asr-api.md §4, hyperv-replica-states.md HRS; INFERRED where the reference is silent), as
Hyper-V Replica state -> stage: protectionState (description) -> allowedOperations:

- both sides Replicating -> protected: Protected (Protected) -> PlannedFailover, UnplannedFailover,
  TestFailover, DisableProtection (the observed steady state);
- a test VM exists (HRS §3.3) -> protected, testFailoverState WaitingForCompletion -> TestFailoverCleanup (observed);
- resync required, Error or Suspended -> protected, replicationHealth Critical/Warning -> UnplannedFailover,
  TestFailover, RepairReplication, DisableProtection;
- primary PreparedForFailover (HRS §3.1 step 2) -> prepared: PlannedFailoverInitiated -> PlannedFailover,
  CancelFailover, DisableProtection;
- initial replication pending or running (HRS §3.0) -> initial: InitialReplicationInProgress ->
  DisableProtection (and RepairReplication while it has not started);
- replica FailedOverWaitingCompletion (HRS §3.1-§3.2) -> pending: PlannedFailoverCommitRequired (Planned
  failover finished) or UnplannedFailoverCommitPendingStatesBegin (Failover completed), both observed ->
  Commit, CancelFailover, ChangePit, DisableProtection;
- replica FailedOver (Complete-VMFailover, HRS §3.2 step 4) -> committed: FailoverCommitted or
  UnplannedFailoverCommitted (Failover committed, observed) -> ReverseReplicate, DisableProtection;
- no relationship -> unprotected: UnprotectedStatesBegin -> DisableProtection.

activeLocation is the side whose copy is the VM now: the failed-over replica's side, else the current
Hyper-V primary's side (Primary = the item's primary cloud). While a vault job acts on the item, or a
Hyper-V operation is in progress on it, allowedOperations is empty (INFERRED: one operation at a time).
"""

from __future__ import annotations

import dataclasses
import datetime

from lab.world.replication import FAILED_OVER

_BEFORE_INITIAL = ("ReadyForInitialReplication", "InitialReplicationInProgress", "WaitingForInitialReplication")
_CRITICAL = ("WaitingForStartResynchronize", "Error", "Suspended", "ResynchronizeSuspended")


@dataclasses.dataclass
class ItemView:
    item: object
    rel: object
    stage: str
    active: str
    planned: bool = False
    test_vm: str | None = None
    allowed: list = dataclasses.field(default_factory=list)
    protection_state: str = ""
    description: str = ""
    health: str = "None"
    job: object = None

    @property
    def other(self) -> str:
        return "Recovery" if self.active == "Primary" else "Primary"


def relationship(world, vm_name: str):
    """The VM's Hyper-V Replica relationship (both copies share it), or None."""
    low = vm_name.lower()
    for vm in world.vms.values():
        if vm.name.lower() == low and not vm.test_of and vm.replication is not None and not vm.replication.removed:
            return vm.replication
    return None


def vm_hosts(world, vm_name: str) -> list[str]:
    return [vm.host for vm in world.vms.values() if vm.name.lower() == vm_name.lower() and not vm.test_of]


def view(vault, item, now: datetime.datetime) -> ItemView:
    rel = relationship(vault.world, item.vm)
    job = vault.job_on_item(item)
    if rel is None:
        hosts = vm_hosts(vault.world, item.vm)
        active = vault.side_of(item, hosts[0]) if hosts else "Primary"
        if item.enabling:
            return ItemView(item, None, "enabling", active, protection_state="UnprotectedStatesBegin",
                            description="Enabling protection", health="None", job=job)
        return ItemView(item, None, "unprotected", active, allowed=["DisableProtection"] if job is None else [],
                        protection_state="UnprotectedStatesBegin", description="Replication is not enabled for the virtual machine",
                        health="Critical", job=job)
    out = _stage(vault, item, rel)
    out.job = job
    out.health = {"NotApplicable": "None"}.get(rel.health(now), rel.health(now))
    if item.enabling and out.stage == "initial":
        out.protection_state, out.description = "UnprotectedStatesBegin", "Enabling protection"
    if job is not None or rel.busy:
        out.allowed = []
    return out


def _stage(vault, item, rel) -> ItemView:
    replica_state = rel.state_on(rel.replica_host)
    if replica_state in FAILED_OVER and rel.mode_on(rel.replica_host) == "Replica":
        planned = bool((rel.failover or {}).get("planned"))
        active = vault.side_of(item, rel.replica_host)
        if replica_state == "FailedOverWaitingCompletion":
            state, text = ("PlannedFailoverCommitRequired", "Planned failover finished") if planned else \
                ("UnplannedFailoverCommitPendingStatesBegin", "Failover completed")
            return ItemView(item, rel, "pending", active, planned, rel.test_vm, ["Commit", "CancelFailover", "ChangePit", "DisableProtection"],
                            state, text)
        state = "FailoverCommitted" if planned else "UnplannedFailoverCommitted"
        return ItemView(item, rel, "committed", active, planned, rel.test_vm, ["ReverseReplicate", "DisableProtection"], state,
                        "Failover committed")
    active = vault.side_of(item, rel.primary_host)
    primary_state = rel.state_on(rel.primary_host)
    if primary_state == "PreparedForFailover":
        return ItemView(item, rel, "prepared", active, True, rel.test_vm, ["PlannedFailover", "CancelFailover", "DisableProtection"],
                        "PlannedFailoverInitiated", "Planned failover initiated")
    if primary_state in _BEFORE_INITIAL or replica_state in _BEFORE_INITIAL:
        allowed = ["DisableProtection"]
        if primary_state == "ReadyForInitialReplication" and rel.job is None:
            allowed.insert(0, "RepairReplication")
        return ItemView(item, rel, "initial", active, allowed=allowed, protection_state="InitialReplicationInProgress",
                        description="Initial replication in progress")
    if rel.test_vm:
        return ItemView(item, rel, "protected", active, test_vm=rel.test_vm, allowed=["TestFailoverCleanup"],
                        protection_state="Protected", description="Cleanup test failover pending")
    if primary_state in _CRITICAL or replica_state in _CRITICAL:
        allowed = ["UnplannedFailover", "TestFailover", "RepairReplication", "DisableProtection"]
    elif primary_state == "Resynchronizing":
        allowed = ["UnplannedFailover", "TestFailover", "DisableProtection"]
    else:
        allowed = ["PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection"]
    return ItemView(item, rel, "protected", active, allowed=allowed, protection_state="Protected", description="Protected")


def expected_direction(view_: ItemView) -> str:
    """The direction that leaves the active side (asr-api.md §2 failoverDirection): of a failover from the active side,
    and of the reprotect after a failover to it (asr-api.md §2 sample: reProtect RecoveryToPrimary after PrimaryToRecovery)."""
    return "PrimaryToRecovery" if view_.active == "Primary" else "RecoveryToPrimary"


def test_state(view_: ItemView) -> tuple[str, str]:
    """asr-api.md §4 testFailoverState: None, WaitingForCompletion ("Waiting for user input"), MarkedForDeletion."""
    if view_.job is not None and view_.job.scenario == "TestFailoverCleanup":
        return "MarkedForDeletion", "Cleaning up test environment"
    if view_.test_vm:
        return "WaitingForCompletion", "Waiting for user input"
    return "None", "None"


def recovery_points(vault, item, now: datetime.datetime) -> list:
    """[(name, RecoveryPoint)] on the replica side (HRS §4); names are the Hyper-V snapshot ids."""
    rel = relationship(vault.world, item.vm)
    if rel is None:
        return []
    return [(rel.snapshot_id(point), point) for point in rel.recovery_points(now)]
