"""What the ASR provider on VMM does to one virtual machine, as job steps over the world's Hyper-V Replica
state machine (lab/world/operations.py: the same transitions Start-VMFailover, Complete-VMFailover,
Stop-VMFailover, Set-VMReplication -Reverse/-AsReplica, Start-VMInitialReplication and Resume-VMReplication use).

ASR VMM-to-VMM runs on Hyper-V Replica (timings.md §2 [ASR-VMM-ARCH]), so each step plans the Hyper-V
operation (refused as Hyper-V refuses it), begins it, and finishes it after its simulated duration plus the
ASR overhead of timings.md §7.3. Every step first needs the provider (the VMM server) connected, and
re-derives from live state whether its work is still to do, so a restarted job continues where it stopped.
VMM's view of the hosts involved is refreshed after each change (the provider works through VMM).
A Hyper-V refusal is reported as the provider's error, in the shape of MicrosoftDocs/azure-docs issue #68695
(provider error 31389 wrapping the Hyper-V job error).
"""

from __future__ import annotations

import datetime
import uuid

from lab.vault.jobs import StepError, StepRun
from lab.world import operations as ops
from lab.world.durations import SECONDS as HV_SECONDS
from lab.world.replication import FAILED_OVER
from lab.world.vmm import START_JOB_S, VmmError

# timings.md §7.3 (defaults, seconds of simulated time).
PREREQUISITES_S = 30.0  # prerequisites check task
FAILOVER_OVERHEAD_S = 10.0  # per-VM failover task = Hyper-V failover + 10 ASR overhead
GROUP_OVERHEAD_S = 10.0  # group = max over its VMs + 10
COMMIT_S = 30.0  # commit, per item or plan
REVERSE_S = 60.0  # reverse replicate: 60 (+ delta / link rate: the world's initial replication)
CLEANUP_S = 30.0  # test failover cleanup 30 + 10 per VM
CLEANUP_PER_VM_S = 10.0
# INFERRED: setup jobs (pairing, network mapping, provider refresh) and repair take as long as a prerequisites check.
SETUP_S = 30.0
VAULT_ONLY_S = 5.0  # INFERRED: jobs that only change the vault's records (policy, plan)
_READY = ("ReadyForInitialReplication",)
_RESYNC_FROM = ("WaitingForStartResynchronize", "Error", "Suspended")


# ---- helpers ------------------------------------------------------------------------------------------
def need_provider(ctx) -> None:
    if not ctx.vault.provider_connected(ctx.now):
        raise ctx.vault.not_connected_error(ctx.now)


def refresh_vmm(world, hosts) -> None:
    """VMM's view follows what the provider did (VCS §A.2 Read-SCVMHost; INFERRED: the provider refreshes the hosts)."""
    vmm = world.vmm_server
    now = world.clock.now()
    if vmm is None or not vmm.service_answering(now):
        return
    for host in dict.fromkeys(hosts):
        try:
            vmm.refresh_host(host, now)
        except VmmError:
            pass  # a host that does not answer shows HostNotResponding


def relationship(ctx, item):
    from lab.vault.items import relationship as find  # pylint: disable=import-outside-toplevel

    rel = find(ctx.world, item.vm)
    if rel is None:
        raise StepError("ReplicationNotEnabled", "Replication is not enabled for virtual machine '{0}'.".format(item.vm),
                        "The Hyper-V Replica relationship of the virtual machine was removed outside Azure Site Recovery.",
                        "Disable protection of the item and enable it again.")
    return rel


def vm_on(ctx, host: str, name: str):
    vm = ctx.world.vm(host, name)
    if vm is None:
        raise StepError("VirtualMachineNotFound", "The virtual machine '{0}' was not found on host '{1}'.".format(
            name, ctx.world.host(host).fqdn), "The virtual machine was deleted or moved outside Azure Site Recovery.",
            "Refresh the VMM server and check the virtual machine.")
    return vm


def unreachable(ctx, host: str, vm_name: str) -> StepError:
    fqdn = ctx.world.host(host).fqdn
    return StepError("HostNotReachable", "The host '{0}' of virtual machine '{1}' is not reachable from the Virtual Machine Manager "
                     "server '{2}'.".format(fqdn, vm_name, ctx.vault.vmm.fqdn),
                     "The host or its site is down, or the network between the sites is broken.",
                     "Bring the host back, or use an unplanned failover without source site operations.")


def refused(ctx, exc: ops.Refused, what: str, vm_name: str, host: str) -> StepError:
    return StepError("ProviderOperationFailed", "The operation '{0}' failed for virtual machine '{1}' on host '{2}'.".format(
        what, vm_name, ctx.world.host(host).fqdn), "Check the Provider errors for more information.", "Resolve the issue and try again.",
        provider={"errorCode": 31389, "errorId": str(uuid.uuid4()), "possibleCauses": "Check the error details.",
                  "recommendedAction": "Resolve the issue and try again.",
                  "errorMessage": "Job '{0}' ({1}) failed. Job State Exception. Error Code: 32768. ErrorSummaryDescription: Hyper-V failed "
                                  "to complete the operation.. ErrorDescription: {2}".format(what, str(uuid.uuid4()).upper(), exc.message)})


def run(ctx, make, what: str, vm_name: str, host: str, seconds: float | None = None, extra: float = 0.0, hosts=()) -> StepRun:
    """Plan a Hyper-V operation (refusals become the provider's error), begin it now, finish it after its time."""
    try:
        plan = make()
    except ops.Refused as exc:
        raise refused(ctx, exc, what, vm_name, host) from None
    if callable(plan.begin):
        plan.begin()
    world = ctx.world

    def finish():
        if callable(plan.finish):
            plan.finish()
        refresh_vmm(world, list(hosts) or [host])
    return StepRun(plan.seconds + extra if seconds is None else seconds, finish)


def failed_over(rel) -> bool:
    return rel.state_on(rel.replica_host) in FAILED_OVER and rel.mode_on(rel.replica_host) == "Replica"


# ---- steps (each builder returns step(ctx) -> StepRun | None) ----------------------------------------------
def prerequisites(check=None, seconds: float = PREREQUISITES_S):
    """The prerequisites check task: the provider, then the operation's own checks (raise StepError)."""
    def step(ctx):
        need_provider(ctx)
        if check is not None:
            check(ctx)
        return StepRun(seconds)
    return step


def vault_only(seconds: float = VAULT_ONLY_S):
    def step(ctx):
        del ctx
        return StepRun(seconds)
    return step


def shutdown_source(item, best_effort: bool):
    """Shut the source VM down (planned failover; unplanned with sourceSiteOperations Required, best effort:
    timings.md §2 [ASR-VMM-FO] 'failover continues even if source shutdown fails')."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if failed_over(rel) or rel.state_on(rel.primary_host) == "PreparedForFailover":
            return None
        source = rel.primary_host
        if not ctx.world.host_reachable(source):
            if best_effort:
                return StepRun(0.0, info="Virtual machine '{0}' was not shut down: its host '{1}' at the source site is not reachable."
                               .format(item.vm, ctx.world.host(source).fqdn))
            raise unreachable(ctx, source, item.vm)
        vm = vm_on(ctx, source, item.vm)
        if vm.state == "Off":
            return None
        return run(ctx, lambda: ops.stop_vm(ctx.world, vm, "shutdown"), "Shut down the virtual machine", item.vm, source)
    return step


def prepare(item, best_effort: bool):
    """Start-VMFailover -Prepare on the source: the last changes are shipped (HRS §3.1 step 2)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        source = rel.primary_host
        if failed_over(rel) or rel.state_on(source) == "PreparedForFailover":
            return None
        if not ctx.world.host_reachable(source):
            if best_effort:
                return StepRun(0.0, info="The latest changes of '{0}' were not synchronized: its host '{1}' at the source site is not "
                                         "reachable.".format(item.vm, ctx.world.host(source).fqdn))
            raise unreachable(ctx, source, item.vm)
        vm = vm_on(ctx, source, item.vm)
        try:
            return run(ctx, lambda: ops.prepare_failover(ctx.world, vm), "Synchronize data", item.vm, source)
        except StepError:
            if best_effort:
                return StepRun(0.0, info="The latest changes of '{0}' were not synchronized before failover.".format(item.vm))
            raise
    return step


def failover(item, snapshot_id: str | None = None):
    """Start-VMFailover on the replica (HRS §3.1 step 3 after prepare, else §3.2 unplanned, to the latest point)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if failed_over(rel):
            return None
        target = rel.replica_host
        if not ctx.world.host_reachable(target):
            raise unreachable(ctx, target, item.vm)
        vm = vm_on(ctx, target, item.vm)
        return run(ctx, lambda: ops.failover(ctx.world, vm, snapshot_id), "Failover", item.vm, target, extra=FAILOVER_OVERHEAD_S,
                   hosts=[target, rel.primary_host])
    return step


def start_target(item):
    """Start the failed-over VM: a VMM start job of 30 s (timings.md §7.3 per-VM Start task)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if not failed_over(rel):
            raise StepError("NotFailedOver", "Virtual machine '{0}' has not failed over; it cannot be started at the recovery site."
                            .format(item.vm), "The failover task did not complete.", "Run the failover again.")
        vm = vm_on(ctx, rel.replica_host, item.vm)
        if vm.state == "Running":
            return None
        return run(ctx, lambda: ops.start_vm(ctx.world, vm), "Start the virtual machine", item.vm, rel.replica_host, seconds=START_JOB_S)
    return step


def test_failover(item):
    """Start-VMFailover -AsTest on the replica (HRS §3.3): the '<vm> - Test' VM from the latest point."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if rel.test_vm:
            return None
        vm = vm_on(ctx, rel.replica_host, item.vm)
        return run(ctx, lambda: ops.test_failover(ctx.world, vm), "Create the test virtual machine", item.vm, rel.replica_host,
                   extra=FAILOVER_OVERHEAD_S)
    return step


def start_test(item):
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if not rel.test_vm:
            raise StepError("TestVirtualMachineNotFound", "The test virtual machine of '{0}' does not exist.".format(item.vm),
                            "It was deleted outside Azure Site Recovery.", "Clean up the test failover and run it again.")
        vm = vm_on(ctx, rel.replica_host, rel.test_vm)
        if vm.state == "Running":
            return None
        return run(ctx, lambda: ops.start_vm(ctx.world, vm), "Start the test virtual machine", item.vm, rel.replica_host, seconds=START_JOB_S)
    return step


def cleanup_test(item, extra: float = CLEANUP_S):
    """Stop-VMFailover of the test failover: the test VM is deleted (HRS §3.3 step 3, §3.4)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if not rel.test_vm:
            return None
        vm = vm_on(ctx, rel.replica_host, item.vm)
        return run(ctx, lambda: ops.stop_failover(ctx.world, vm), "Clean up the test failover", item.vm, rel.replica_host, extra=extra)
    return step


def commit(item):
    """Complete-VMFailover: keep the failed-over point, delete the others (HRS §3.2 step 4; timings.md §2 commit)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if rel.state_on(rel.replica_host) != "FailedOverWaitingCompletion":
            return None
        vm = vm_on(ctx, rel.replica_host, item.vm)
        return run(ctx, lambda: ops.complete_failover(ctx.world, vm), "Commit the failover", item.vm, rel.replica_host,
                   extra=COMMIT_S - HV_SECONDS["complete_failover"])
    return step


def cancel_failover(item):
    """Stop-VMFailover on the replica: the VM is turned off and the failover discarded (HRS §3.4 case 1)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if rel.state_on(rel.replica_host) != "FailedOverWaitingCompletion":
            return None
        vm = vm_on(ctx, rel.replica_host, item.vm)
        return run(ctx, lambda: ops.stop_failover(ctx.world, vm), "Cancel the failover", item.vm, rel.replica_host)
    return step


def cancel_prepare(item):
    """Stop-VMFailover on a prepared primary: replication restarts (HRS §3.4 case 3)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        source = rel.primary_host
        if rel.state_on(source) != "PreparedForFailover" or failed_over(rel):
            return None
        if not ctx.world.host_reachable(source):
            raise unreachable(ctx, source, item.vm)
        vm = vm_on(ctx, source, item.vm)
        return run(ctx, lambda: ops.stop_failover(ctx.world, vm), "Cancel the planned failover", item.vm, source)
    return step


def make_old_primary_replica(item):
    """After an unplanned failover the old primary must become a replica first (timings.md §1.4 [HVR-FAILOVER])."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        old = rel.primary_host
        if not failed_over(rel) or rel.state_on(old) == "PreparedForFailover" or rel.mode_on(old) == "Replica":
            return None
        if not ctx.world.host_reachable(old):
            raise unreachable(ctx, old, item.vm)
        vm = vm_on(ctx, old, item.vm)
        return run(ctx, lambda: ops.as_replica(ctx.world, vm, None), "Prepare the virtual machine at the other site", item.vm, old)
    return step


def reverse(item):
    """Set-VMReplication -Reverse on the failed-over VM (HRS §3.1 step 4, §3.2 step 5; timings.md §7.3 reverse 60 s)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        if not failed_over(rel):
            return None
        host = rel.replica_host
        vm = vm_on(ctx, host, item.vm)
        return run(ctx, lambda: ops.reverse(ctx.world, vm), "Reverse replication", item.vm, host,
                   extra=REVERSE_S - HV_SECONDS["reverse"], hosts=[host, rel.primary_host])
    return step


def start_initial_replication(item, start_at=None):
    """Start-VMInitialReplication over the network (HRS §3.0 step 4): it then runs with the clock (World.settle)."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        primary = rel.primary_host
        if rel.state_on(primary) not in _READY or rel.job is not None:
            return None
        vm = vm_on(ctx, primary, item.vm)
        when = start_at(ctx.now) if callable(start_at) else None
        return run(ctx, lambda: ops.start_initial_replication(ctx.world, vm, when, False), "Start initial replication", item.vm, primary)
    return step


def resynchronize(item):
    """RepairReplication: resynchronize (HRS §3.5 Resume-VMReplication -Resynchronize / -Continue), or start a pending IR."""
    def step(ctx):
        need_provider(ctx)
        rel = relationship(ctx, item)
        primary = rel.primary_host
        state = rel.state_on(primary)
        vm = vm_on(ctx, primary, item.vm)
        if state in _RESYNC_FROM or state == "ResynchronizeSuspended":
            resync = state != "ResynchronizeSuspended"  # a suspended resync continues (-Continue) instead of starting over

            def make():
                return ops.resume(ctx.world, vm, resync, False, None)
        elif state in _READY and rel.job is None:
            def make():
                return ops.start_initial_replication(ctx.world, vm, None, False)
        else:
            return None
        return run(ctx, make, "Resynchronize", item.vm, primary, extra=SETUP_S)
    return step


def failover_to_point(item, snapshot_id: str):
    """ChangePit: cancel the failover, fail over again to the chosen recovery point (HRS §3.2 step 2, §3.4)."""
    return [cancel_failover(item), failover(item, snapshot_id), start_target(item)]


def enable_replication(item, policy, replica_host: str):
    """Enable-VMReplication to the recovery cloud host with the policy's settings (HRS §3.0 step 3)."""
    def step(ctx):
        need_provider(ctx)
        from lab.vault.items import relationship as find  # pylint: disable=import-outside-toplevel

        if find(ctx.world, item.vm) is not None:
            return None
        source = next((h for h in ctx.vault.cloud_hosts(item.cloud) if ctx.world.vm(h, item.vm) is not None), None)
        if source is None:
            raise StepError("VirtualMachineNotFound", "The virtual machine '{0}' was not found in cloud '{1}'.".format(item.vm, item.cloud),
                            "It was deleted or moved.", "Refresh the VMM server and check the virtual machine.")
        if not ctx.world.host_reachable(source):
            raise unreachable(ctx, source, item.vm)
        vm = ctx.world.vm(source, item.vm)
        settings = policy.settings
        auth = "Kerberos" if settings["allowedAuthenticationType"] == 1 else "Certificate"
        cadence = {"ReplicationFrequencySec": settings.get("replicationFrequencyInSeconds", 300),
                   "RecoveryHistory": settings["recoveryPoints"], "VSSSnapshotFrequencyHour": settings["applicationConsistentSnapshotFrequencyInHours"],
                   "CompressionEnabled": settings["compression"] == "Enable"}
        replica_fqdn = ctx.world.host(replica_host).fqdn
        return run(ctx, lambda: ops.enable(ctx.world, vm, replica_fqdn, settings["replicationPort"], auth, cadence),
                   "Enable replication", item.vm, source, extra=SETUP_S, hosts=[source, replica_host])
    return step


def online_start(policy):
    """onlineReplicationStartTime (a time of day) -> the next such time; None = now (asr-api.md §6)."""
    text = policy.settings.get("onlineReplicationStartTime")
    if not text:
        return None

    def at(now: datetime.datetime) -> datetime.datetime:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
        when = now.replace(hour=hours, minute=minutes, second=seconds, microsecond=0)
        return when if when > now else when + datetime.timedelta(days=1)
    return at


def offline_not_modelled(policy):
    def step(ctx):
        del ctx
        if policy.settings.get("initialReplicationMethod") == "Offline":
            raise StepError("LabNotModelled", "The lab does not model offline initial replication (policy '{0}': export to '{1}', import "
                            "from '{2}').".format(policy.name, policy.settings.get("offlineReplicationExportPath"),
                                                  policy.settings.get("offlineReplicationImportPath")),
                            "The DR lab has no external media.", "Use a policy with initialReplicationMethod OverNetwork.")
        return None
    return step


def disable_replication(item, delete_replica: bool):
    """Remove-VMReplication on both sides (HRS §3.5); the replica VM is deleted when the policy says so (asr-api.md §6)."""
    def step(ctx):
        need_provider(ctx)
        from lab.vault.items import relationship as find  # pylint: disable=import-outside-toplevel

        rel = find(ctx.world, item.vm)
        if rel is None:
            return None
        sides = [h for h in (rel.primary_host, rel.replica_host) if rel.mode_on(h) != "None"]
        for host in sides:
            if not ctx.world.host_reachable(host):
                raise unreachable(ctx, host, item.vm)
        plans = []
        for host in sides:
            vm = vm_on(ctx, host, item.vm)
            try:
                plans.append((host, vm, ops.remove(ctx.world, vm)))
            except ops.Refused as exc:
                raise refused(ctx, exc, "Disable replication", item.vm, host) from None
        replica = rel.replica_host if rel.mode_on(rel.replica_host) == "Replica" else None
        world = ctx.world

        def finish():
            for dummy, dummy_vm, plan in plans:
                plan.finish()
            gone = world.vm(replica, item.vm) if replica else None
            if delete_replica and gone is not None and gone.state == "Off":
                world.remove_vm(replica, item.vm)
            refresh_vmm(world, sides)
        return StepRun(SETUP_S, finish)
    return step


def refresh_provider(hosts):
    """RefreshProvider: VMM refreshes its hosts (VCS §A.2 Read-SCVMHost)."""
    def step(ctx):
        need_provider(ctx)
        world = ctx.world
        return StepRun(SETUP_S, lambda: refresh_vmm(world, hosts))
    return step


def script_action(action: dict):
    """A recovery plan script runs on the VMM server (timings.md §2 [ASR-RP-CREATE]); the lab has no script host."""
    def step(ctx):
        need_provider(ctx)
        details = action["customDetails"]
        raise StepError("LabNotModelled", "The lab does not run recovery plan scripts: action '{0}' ('{1}' on the {2} VMM server) cannot "
                        "run.".format(action["actionName"], details.get("path"), details.get("fabricLocation")),
                        "The DR lab has no VMM library share or script host.", "Remove the script action from the plan for lab runs.")
    return step
