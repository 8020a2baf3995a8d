"""State transitions of Hyper-V VMs and Replica relationships (hyperv-replica-states.md, HRS; timings.md, TIM).

Every operation is planned under world.lock (checks, then `begin` marks it running), the caller
waits `seconds` of simulated time without the lock, then `finish` applies the change under the lock.
A refused operation raises Refused before anything changed. Messages marked INFERRED are
Hyper-V style wording; no Microsoft transcript of them was found.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import uuid

from lab.world import durations as dur
from lab.world.replication import FAILED_OVER, RecoveryPoint, Replication

# TIM §1.1 / HRS §4: the documented cadences and limits.
FREQUENCIES = (30, 300, 900)
MAX_RECOVERY_HISTORY = 24
MAX_VSS_HOURS = 12  # INFERRED (as in topology.py)
# HRS §3.0 / §3.5: initial replication and resync can be scheduled up to 7 days ahead.
MAX_SCHEDULE = datetime.timedelta(days=7)
# INFERRED churn: bytes changed per second of outage, as in Measure-VMReplication's pending size.
CHURN_BYTES_PER_S = 64 * 1024
_TRANSITIONAL = ("Starting", "Stopping", "Saving")


class Refused(Exception):
    """Hyper-V refuses the operation; error_id/category become the ErrorRecord's (fqid <error_id>,<command type>)."""

    def __init__(self, message: str, error_id: str = "InvalidState", category: str = "InvalidOperation", target: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.category = category
        self.target = target


class NotModelled(Exception):
    """A documented way of calling the cmdlet that the lab has no model for."""


@dataclasses.dataclass
class Plan:
    seconds: float = 0.0
    begin: object = None  # callable(), under the lock
    finish: object = None  # callable(), under the lock
    result: object = None  # what -Passthru shows (a VM), set by finish when it creates one


def _noop() -> None:
    return None


def run(world, make) -> Plan:
    """Plan and begin under the lock, wait without it (TIM §7.1 durations), finish under the lock."""
    with world.lock:
        plan = make()
        (plan.begin or _noop)()
    world.durations.wait(plan.seconds)
    with world.lock:
        (plan.finish or _noop)()
    return plan


def _vm_id_text(vm) -> str:
    return "(Virtual machine ID {0})".format(vm.id.upper())


def _rel(vm, cmd: str) -> Replication:
    if vm.replication is None:
        # INFERRED wording, as Get-VMReplication's in lab/cmdlets/hyperv.py.
        raise Refused("Replication is not enabled for virtual machine '{0}'.".format(vm.name), "InvalidOperation",
                      "InvalidOperation", vm.name)
    if vm.replication.busy:
        # TIM §1.2: one failover operation at a time per VM. INFERRED wording.
        raise Refused("{0} cannot run for '{1}': the operation '{2}' is in progress.".format(cmd, vm.name, vm.replication.busy),
                      "InvalidState", "ResourceBusy", vm.name)
    return vm.replication


def _busy(rel: Replication, what: str):
    def begin():
        rel.busy = what
    return begin


# ---- power ----------------------------------------------------------------------------------
def start_vm(world, vm) -> Plan:
    if vm.state == "Running":
        return Plan()  # INFERRED: Hyper-V only warns that the VM is already in the specified state
    if vm.state in _TRANSITIONAL:
        raise Refused("'{0}' failed to change state. The operation cannot be performed while the object is in its current state."
                      .format(vm.name), target=vm.name)
    rel = vm.replication
    if rel is not None and rel.busy:
        # INFERRED: the VM is locked while a failover operation on it runs (TIM §1.2: one at a time).
        raise Refused("'{0}' failed to start. The operation '{1}' is in progress. {2}".format(vm.name, rel.busy, _vm_id_text(vm)),
                      "InvalidState", "ResourceBusy", vm.name)
    if rel is not None:
        mode, state = rel.mode_on(vm.host), rel.state_on(vm.host)
        if mode == "Replica" and state not in FAILED_OVER:
            # HRS §3.1 step 5 / §3.2 step 3: a Replica VM starts only once failed over. Wording INFERRED.
            raise Refused("'{0}' failed to start. A Replica virtual machine cannot be started until it has been failed over. {1}"
                          .format(vm.name, _vm_id_text(vm)), target=vm.name)
        if mode == "Primary" and state == "PreparedForFailover":
            # HRS §1.1 / §3.1: prepared for planned failover, the VM is locked against power-on [BLOG]. Wording INFERRED.
            raise Refused("'{0}' failed to start. The virtual machine is prepared for planned failover; cancel it with "
                          "Stop-VMFailover before starting the virtual machine. {1}".format(vm.name, _vm_id_text(vm)), target=vm.name)

    def begin():
        vm.state = "Starting"

    def finish():
        vm.state = "Running"
        vm.started_at = world.clock.now()
        if vm.name in world.split_brain():
            world.audit_event("split-brain", vm.host, vm=vm.name)
    return Plan(world.durations.of("start_vm"), begin, finish)


def stop_vm(world, vm, how: str) -> Plan:
    """how: shutdown (graceful), turnoff, save (HRS §3.1 step 1; TIM §7.1 durations)."""
    if vm.state in _TRANSITIONAL:
        raise Refused("'{0}' failed to change state. The operation cannot be performed while the object is in its current state."
                      .format(vm.name), target=vm.name)
    if vm.state == "Off" or (vm.state == "Saved" and how == "save"):
        if how == "save" and vm.state == "Off":
            # INFERRED: an Off VM has no memory to save.
            raise Refused("'{0}' failed to save. The operation cannot be performed while the object is in its current state."
                          .format(vm.name), target=vm.name)
        return Plan()  # INFERRED: already in the requested state (Hyper-V warns only)
    if vm.state == "Saved" and how == "shutdown":
        # INFERRED: a saved guest cannot shut down; -TurnOff discards the saved state.
        raise Refused("'{0}' failed to shut down. The virtual machine is saved; use Stop-VM -TurnOff to discard the saved state."
                      .format(vm.name), target=vm.name)
    interim, final, seconds = {"shutdown": ("Stopping", "Off", world.durations.of("stop_vm")),
                               "turnoff": ("Stopping", "Off", world.durations.of("turn_off")),
                               "save": ("Saving", "Saved", world.durations.of("save_vm"))}[how]
    if vm.state == "Saved":
        interim = "Saved"

    def begin():
        vm.state = interim

    def finish():
        vm.state = final
        vm.started_at = None
    return Plan(seconds, begin, finish)


# ---- failover -------------------------------------------------------------------------------
def prepare_failover(world, vm) -> Plan:
    """Start-VMFailover -Prepare on the primary (HRS §3.1 step 2)."""
    rel = _rel(vm, "Start-VMFailover")
    if rel.mode_on(vm.host) != "Primary":
        # HRS §3.1: -Prepare runs on the primary. Wording INFERRED.
        raise Refused("Start-VMFailover -Prepare can be run only on the primary virtual machine; '{0}' on '{1}' is a {2} virtual "
                      "machine.".format(vm.name, vm.host, rel.mode_on(vm.host)), "InvalidOperation", target=vm.name)
    if vm.state != "Off":
        # HRS §3.1: -Prepare requires the primary to be off [WPD:Start-VMFailover]. Wording INFERRED.
        raise Refused("Cannot prepare '{0}' for planned failover: the virtual machine must be turned off. {1}"
                      .format(vm.name, _vm_id_text(vm)), target=vm.name)
    if rel.state_on(vm.host) != "Replicating":
        raise Refused("Cannot prepare '{0}' for planned failover while its replication state is {1}."
                      .format(vm.name, rel.state_on(vm.host)), target=vm.name)
    _require_reachable(world, rel.other_host(vm.host))

    def finish():
        rel.busy = None
        # HRS §3.1 step 2 / TIM §1.1: the last changes are shipped, no data loss.
        rel.synced_at = world.clock.now()
        world.set_replication_state(rel, "PreparedForFailover", host=vm.host)
    return Plan(world.durations.of("prepare_failover"), _busy(rel, "Start-VMFailover -Prepare"), finish)


def _require_reachable(world, host: str) -> None:
    if not world.host_reachable(host):
        # INFERRED wording: the Replica service cannot reach the other server.
        raise Refused("Hyper-V failed to establish a connection with the server '{0}'.".format(world.host(host).fqdn),
                      "OperationFailed", "ConnectionError", world.host(host).fqdn)


def _choose_point(world, vm, rel: Replication, snapshot_id: str | None) -> tuple[RecoveryPoint, list]:
    points = rel.recovery_points(world.clock.now())
    if not points:
        # HRS §3.0: nothing to fail over to before initial replication completes. Wording INFERRED.
        raise Refused("Cannot fail over '{0}': no recovery point is available on '{1}'.".format(vm.name, vm.host), target=vm.name)
    if snapshot_id is None:
        return points[-1], points  # HRS §3.2 step 2: latest point [WIN32:initiatefailover]
    for point in points:
        if rel.snapshot_id(point) == snapshot_id:
            return point, points
    # The object was listed earlier but the point has since been pruned or merged. Wording INFERRED.
    raise Refused("The recovery point '{0}' of virtual machine '{1}' no longer exists.".format(snapshot_id, vm.name),
                  "ObjectNotFound", "ObjectNotFound", snapshot_id)


def failover(world, vm, snapshot_id: str | None = None) -> Plan:
    """Start-VMFailover on the replica: planned after -Prepare, else unplanned (HRS §3.1 step 3, §3.2 step 2)."""
    rel = _rel(vm, "Start-VMFailover")
    _require_replica(vm, rel)
    state = rel.state_on(vm.host)
    if state in FAILED_OVER:
        raise Refused("'{0}' has already been failed over (replication state {1}).".format(vm.name, state), target=vm.name)
    if rel.test_vm:
        # INFERRED: cancel the test failover (Stop-VMFailover) before a real failover.
        raise Refused("Cannot fail over '{0}' while the test failover virtual machine '{1}' exists.".format(vm.name, rel.test_vm),
                      target=vm.name)
    if vm.state != "Off":
        raise Refused("Cannot fail over '{0}': the Replica virtual machine must be turned off.".format(vm.name), target=vm.name)
    point, points = _choose_point(world, vm, rel, snapshot_id)
    other = rel.other_host(vm.host)
    planned = False
    if world.host_reachable(other):
        twin = world.vm(other, vm.name)
        if twin is not None and twin.replication is rel and twin.state != "Off":
            # TIM §1.4 [HVR-UFO]: failover checks whether the primary VM is still running (split-brain guard). Wording INFERRED.
            raise Refused("Cannot fail over '{0}': the primary virtual machine on '{1}' is running. Shut it down and prepare a "
                          "planned failover (Start-VMFailover -Prepare) instead.".format(vm.name, world.host(other).fqdn),
                          target=vm.name)
        planned = rel.state_on(other) == "PreparedForFailover"
    if planned:
        seconds = world.durations.of("planned_failover")
    else:
        seconds = dur.unplanned_failover_seconds((points[-1].time - point.time).total_seconds() / 3600.0)

    def finish():
        rel.busy = None
        rel.failover = {"host": vm.host, "point": point, "planned": planned, "previous": state}
        world.set_replication_state(rel, "FailedOverWaitingCompletion", host=vm.host)
    return Plan(seconds, _busy(rel, "Start-VMFailover"), finish)


def _require_replica(vm, rel: Replication) -> None:
    if rel.mode_on(vm.host) != "Replica":
        # HRS §3.1/§3.2: failover runs on the Replica; the primary only prepares. Wording INFERRED.
        raise Refused("'{0}' on '{1}' is a {2} virtual machine. Start-VMFailover without -Prepare runs on the Replica virtual "
                      "machine.".format(vm.name, vm.host, rel.mode_on(vm.host)), "InvalidOperation", target=vm.name)


def test_failover(world, vm, snapshot_id: str | None = None) -> Plan:
    """Start-VMFailover -AsTest: a TestReplica VM from the chosen point (HRS §3.3)."""
    rel = _rel(vm, "Start-VMFailover")
    _require_replica(vm, rel)
    if rel.test_vm:
        # TIM §1.2: one test failover at a time. Wording INFERRED.
        raise Refused("A test failover is already in progress for '{0}' (test virtual machine '{1}').".format(vm.name, rel.test_vm),
                      target=vm.name)
    if rel.state_on(vm.host) in FAILED_OVER:
        raise Refused("Cannot start a test failover of '{0}' after it has failed over.".format(vm.name), target=vm.name)
    point, dummy = _choose_point(world, vm, rel, snapshot_id)
    # INFERRED: Hyper-V names the test VM "<vm> - Test" (HRS §3.3, TIM §7.1 "creates / deletes the '- Test' VM").
    name = "{0} - Test".format(vm.name)
    if world.vm(vm.host, name) is not None:
        raise Refused("A virtual machine named '{0}' already exists.".format(name), "InvalidOperation", "ResourceExists", name)
    plan = Plan(world.durations.of("test_failover_create"), _busy(rel, "Start-VMFailover -AsTest"))

    def finish():
        rel.busy = None
        test = world.add_vm(name, str(uuid.uuid5(uuid.UUID(vm.id), "test@" + point.time.isoformat())), vm.host, like=vm)
        test.test_of = vm.name
        test.role = ""  # a test copy of the VMM VM is not the VMM server
        rel.test_vm = name
        plan.result = test
    plan.finish = finish
    return plan


def complete_failover(world, vm) -> Plan:
    """Complete-VMFailover: keep the chosen point, delete the others (HRS §3.2 step 4, §4)."""
    rel = _rel(vm, "Complete-VMFailover")
    state = rel.state_on(vm.host)
    if state != "FailedOverWaitingCompletion" or rel.mode_on(vm.host) != "Replica":
        # Wording INFERRED.
        raise Refused("Cannot complete the failover of '{0}': the virtual machine is not waiting for failover completion "
                      "(replication state {1}).".format(vm.name, state), target=vm.name)

    def finish():
        rel.busy = None
        rel.failover["completed"] = True
        world.set_replication_state(rel, "FailedOver", host=vm.host)
    return Plan(world.durations.of("complete_failover"), _busy(rel, "Complete-VMFailover"), finish)


def stop_failover(world, vm) -> Plan:
    """Stop-VMFailover: the three cases of HRS §3.4."""
    rel = _rel(vm, "Stop-VMFailover")
    mode, state = rel.mode_on(vm.host), rel.state_on(vm.host)
    if mode == "Replica" and rel.test_vm:
        return _stop_test(world, vm, rel)
    if mode == "Replica" and state == "FailedOver":
        # HRS §3.4 / [WPD:Complete-VMFailover]: no cancel after Complete-VMFailover. Wording INFERRED.
        raise Refused("The failover of '{0}' has been completed and can no longer be cancelled.".format(vm.name), target=vm.name)
    if mode == "Replica" and state == "FailedOverWaitingCompletion":
        def finish():
            rel.busy = None
            # HRS §3.4 case 1: turn the VM off, discard the failover (WMI RevertFailover, mapping INFERRED there).
            vm.state, vm.started_at = "Off", None
            previous = rel.failover["previous"]
            rel.failover = None
            world.set_replication_state(rel, previous, host=vm.host)
            if previous == rel.state:
                rel.side_states.pop(vm.host, None)
        return Plan(world.durations.of("cancel_failover"), _busy(rel, "Stop-VMFailover"), finish)
    if mode == "Primary" and state == "PreparedForFailover":
        if rel.state_on(rel.other_host(vm.host)) in FAILED_OVER:
            # INFERRED: the Replica already took over; cancel there first (HRS §3.1 note: cancel before the Replica takes over).
            raise Refused("Cannot cancel the planned failover of '{0}': the Replica virtual machine has already failed over. Run "
                          "Stop-VMFailover on the Replica server first.".format(vm.name), target=vm.name)

        def finish():
            rel.busy = None
            # HRS §3.4 case 3: cancels the prepare and restarts replication.
            world.set_replication_state(rel, "Replicating", host=vm.host)
            rel.side_states.pop(vm.host, None)
        return Plan(world.durations.of("cancel_failover"), _busy(rel, "Stop-VMFailover"), finish)
    raise Refused("There is no failover to cancel for '{0}' (replication state {1}).".format(vm.name, state), target=vm.name)


def _stop_test(world, vm, rel: Replication) -> Plan:
    def finish():
        rel.busy = None
        # HRS §3.3 step 3 / §3.4 case 2: stop the test and delete the test VM.
        world.remove_vm(vm.host, rel.test_vm)
        rel.test_vm = None
    return Plan(world.durations.of("test_failover_stop"), _busy(rel, "Stop-VMFailover"), finish)


# ---- reverse and roles ----------------------------------------------------------------------
def reverse(world, vm) -> Plan:
    """Set-VMReplication -Reverse on the failed-over Replica (HRS §3.1 step 4, §3.2 step 5)."""
    rel = _rel(vm, "Set-VMReplication")
    if rel.mode_on(vm.host) != "Replica" or rel.state_on(vm.host) not in FAILED_OVER:
        # Wording INFERRED.
        raise Refused("Cannot reverse replication of '{0}': reverse replication can be set only on a Replica virtual machine that "
                      "has failed over (replication state {1}).".format(vm.name, rel.state_on(vm.host)), target=vm.name)
    other = rel.other_host(vm.host)
    _require_reachable(world, other)
    twin = world.vm(other, vm.name)
    if twin is None or twin.replication is not rel:
        raise Refused("Cannot reverse replication of '{0}': the virtual machine no longer exists on '{1}'."
                      .format(vm.name, world.host(other).fqdn), "ObjectNotFound", "ObjectNotFound", vm.name)
    if twin.state != "Off":
        # INFERRED: the future Replica VM must be off (else both sites would run the VM).
        raise Refused("Cannot reverse replication of '{0}': the virtual machine on '{1}' is {2}; it must be turned off."
                      .format(vm.name, world.host(other).fqdn, twin.state), target=vm.name)
    planned = rel.mode_on(other) == "Primary" and rel.state_on(other) == "PreparedForFailover"
    if not planned and rel.mode_on(other) != "Replica":
        # TIM §1.4 [HVR-FAILOVER]: after an unplanned failover the old primary must first be made a replica.
        raise Refused("Cannot reverse replication of '{0}': the virtual machine on '{1}' is still a primary virtual machine. Run "
                      "Set-VMReplication -AsReplica on '{1}' first.".format(vm.name, world.host(other).fqdn), target=vm.name)

    def finish():
        rel.busy = None
        now = world.clock.now()
        new_replica = world.host(other)
        rel.primary_host, rel.replica_host = vm.host, other
        rel.primary_fqdn, rel.replica_fqdn = world.host(vm.host).fqdn, new_replica.fqdn
        rel.port = new_replica.kerberos_port if rel.auth == "Kerberos" else new_replica.certificate_port
        rel.side_modes.clear()
        rel.side_states.clear()
        rel.failover = None
        rel.synced_at = None
        rel.frequency_changes = []
        rel.outages = []
        rel.stopped_at = None
        rel.job = None
        rel.stats_reset_at = None
        rel.monitoring_interval = new_replica.monitoring_interval_s
        # Points live on the new Replica and start now; the old ones belonged to the other direction (HRS §4).
        rel.established = now
        if planned:
            rel.state = "Replicating"  # HRS §3.1 step 4: planned failover shipped everything, replication continues
        else:
            # INFERRED per HRS §3.2 step 5 and TIM §1.4 [HVR-FAILOVER]: the old primary waits for (re)initial replication.
            rel.state = "ReadyForInitialReplication"
            rel.side_states[other] = "WaitingForInitialReplication"
    return Plan(world.durations.of("reverse"), _busy(rel, "Set-VMReplication -Reverse"), finish)


def as_replica(world, vm, allowed_primary: str | None) -> Plan:
    """Set-VMReplication -AsReplica on the returning old primary (TIM §1.4 [HVR-FAILOVER])."""
    rel = _rel(vm, "Set-VMReplication")
    if rel.mode_on(vm.host) != "Primary":
        raise Refused("'{0}' on '{1}' is already a {2} virtual machine.".format(vm.name, vm.host, rel.mode_on(vm.host)), target=vm.name)
    if vm.state != "Off":
        # INFERRED: a running VM cannot become a replica.
        raise Refused("Cannot convert '{0}' to a Replica virtual machine: it must be turned off. {1}".format(vm.name, _vm_id_text(vm)),
                      target=vm.name)
    if rel.state_on(rel.other_host(vm.host)) not in FAILED_OVER:
        # INFERRED: only a primary whose Replica has failed over can become its replica.
        raise Refused("Cannot convert '{0}' to a Replica virtual machine: its Replica on '{1}' has not failed over."
                      .format(vm.name, rel.other_host(vm.host)), target=vm.name)

    def finish():
        rel.busy = None
        rel.side_modes[vm.host] = "Replica"
        rel.allowed_primary = allowed_primary
        world.set_replication_state(rel, "WaitingForInitialReplication", host=vm.host)
    return Plan(world.durations.of("as_replica"), _busy(rel, "Set-VMReplication -AsReplica"), finish)


# ---- relationship lifecycle -----------------------------------------------------------------
def enable(world, vm, replica_name: str, port: int, auth: str, settings: dict) -> Plan:
    """Enable-VMReplication on the primary (HRS §3.0 step 3): ReadyForInitialReplication."""
    if vm.replication is not None:
        raise Refused("Replication is already enabled for virtual machine '{0}'.".format(vm.name), "InvalidOperation",
                      "ResourceExists", vm.name)
    try:
        target = world.host(replica_name)
    except KeyError as exc:
        raise Refused("Hyper-V could not resolve the Replica server name '{0}'.".format(replica_name), "OperationFailed",
                      "ObjectNotFound", replica_name) from exc
    if target.name == vm.host:
        raise Refused("The Replica server cannot be the primary server itself.", "InvalidParameter", "InvalidArgument", replica_name)
    _require_reachable(world, target.name)
    check_server_accepts(world, target, world.host(vm.host).fqdn, port, auth, settings.get("CertificateThumbprint"))
    frequency, history, vss = validate_cadence(settings.get("ReplicationFrequencySec", 300), settings.get("RecoveryHistory", 0),
                                               settings.get("VSSSnapshotFrequencyHour", 0))
    seeded = world.vm(target.name, vm.name)
    if seeded is not None and not (seeded.awaiting_primary is not None and seeded.id == vm.id and seeded.replication is None):
        # INFERRED: the Replica server already holds a VM of that name (not one prepared with -AsReplica).
        raise Refused("The Replica server '{0}' already has a virtual machine named '{1}'.".format(target.fqdn, vm.name),
                      "InvalidOperation", "ResourceExists", vm.name)

    def finish():
        now = world.clock.now()
        rel = Replication(vm_name=vm.name, vm_id=vm.id, primary_host=vm.host, replica_host=target.name,
                          primary_fqdn=world.host(vm.host).fqdn, replica_fqdn=target.fqdn, frequency=frequency,
                          recovery_history=history, vss_hours=vss, port=port, auth=auth, established=now,
                          state="ReadyForInitialReplication", monitoring_interval=target.monitoring_interval_s)
        rel.side_states[target.name] = "WaitingForInitialReplication"  # HRS §1.1: replica side
        rel.compression = settings.get("CompressionEnabled", True)
        rel.auto_resync = settings.get("AutoResynchronizeEnabled", False)
        replica = seeded or world.add_vm(vm.name, vm.id, target.name, like=vm)
        rel.seeded = seeded is not None
        replica.awaiting_primary = None
        vm.replication = replica.replication = rel
    return Plan(0.0, None, finish)


def check_server_accepts(world, target, primary_fqdn: str, port: int, auth: str, thumbprint: str | None) -> None:
    """What the Replica server checks (HRS §3.0 step 1-2, §1.4; Set-/Test-VMReplication*). Wording INFERRED."""
    fqdn = target.fqdn
    if not target.replication_enabled or getattr(target, "role", "hyperv") != "hyperv":
        raise Refused("The server '{0}' is not configured as a Replica server.".format(fqdn), "OperationFailed", "InvalidOperation", fqdn)
    if auth not in target.auth_type.replace("And", " ").split():
        raise Refused("The Replica server '{0}' does not accept {1} authentication (it allows {2}).".format(fqdn, auth, target.auth_type),
                      "OperationFailed", "AuthenticationError", fqdn)
    if auth == "Certificate" and not thumbprint:
        raise Refused("A certificate thumbprint is required for certificate-based authentication.", "InvalidParameter",
                      "InvalidArgument", fqdn)
    expected = target.kerberos_port if auth == "Kerberos" else target.certificate_port
    if port != expected:
        raise Refused("Hyper-V failed to establish a connection with the Replica server '{0}' on port {1}.".format(fqdn, port),
                      "OperationFailed", "ConnectionError", fqdn)
    if not target.allow_any_server and not authorized(target, primary_fqdn):
        # HRS §3.0 step 1: authorization entries restrict which primaries are accepted.
        raise Refused("The Replica server '{0}' is not authorized to receive replication from '{1}'.".format(fqdn, primary_fqdn),
                      "OperationFailed", "PermissionDenied", fqdn)


def authorized(target, primary_fqdn: str) -> bool:
    return any(fnmatch.fnmatchcase(primary_fqdn.lower(), e["AllowedPrimaryServer"].lower()) for e in target.auth_entries)


def validate_cadence(frequency: int, history: int, vss: int) -> tuple[int, int, int]:
    if frequency not in FREQUENCIES:
        # TIM §1.1: 30 s, 5 min or 15 min. Wording INFERRED.
        raise Refused("The replication frequency {0} is not valid. Specify 30, 300 or 900 seconds.".format(frequency),
                      "InvalidParameter", "InvalidArgument", str(frequency))
    if not 0 <= history <= MAX_RECOVERY_HISTORY:
        raise Refused("The recovery history {0} is not valid. Specify a value from 0 to 24.".format(history),
                      "InvalidParameter", "InvalidArgument", str(history))
    if vss and (not 1 <= vss <= MAX_VSS_HOURS or history == 0):
        # HRS §4: VSS points only apply when RecoveryHistory is nonzero.
        raise Refused("The VSS snapshot frequency {0} is not valid; it requires additional recovery points and a value from 1 to 12."
                      .format(vss), "InvalidParameter", "InvalidArgument", str(vss))
    return frequency, history, vss


def remove(world, vm) -> Plan:
    """Remove-VMReplication on one side; the other side keeps its relationship, no VM is deleted (HRS §3.5)."""
    rel = _rel(vm, "Remove-VMReplication")

    def finish():
        was = rel.shipping()
        rel.removed.add(vm.host)
        if was:
            rel.stopped_at = world.clock.now()
        vm.replication = None
    return Plan(0.0, None, finish)


def start_initial_replication(world, vm, start: datetime.datetime | None, use_backup: bool) -> Plan:
    """Start-VMInitialReplication over the network (HRS §3.0 step 4); progress is derived from the clock (World.settle)."""
    rel = _rel(vm, "Start-VMInitialReplication")
    if rel.mode_on(vm.host) != "Primary":
        raise Refused("Initial replication can be started only on the primary virtual machine.", "InvalidOperation", target=vm.name)
    if rel.state_on(vm.host) != "ReadyForInitialReplication" or rel.job is not None:
        raise Refused("Cannot start initial replication of '{0}' while its replication state is {1}."
                      .format(vm.name, rel.state_on(vm.host)), target=vm.name)
    now = world.clock.now()
    begin_at = _schedule(now, start, vm.name)
    _require_reachable(world, rel.replica_host)
    if use_backup and not rel.seeded:
        # HRS §3.0 step 4: -UseBackup needs a copy on the Replica made a replica with Enable-VMReplication -AsReplica.
        raise Refused("Cannot use a backup copy for '{0}': the Replica virtual machine was not prepared with Enable-VMReplication "
                      "-AsReplica.".format(vm.name), target=vm.name)
    # TIM §7.1: size / 20 MB/s; INFERRED: seeding from a backup only compares blocks (resync rate).
    seconds = dur.resync_seconds(vm.disk_gb, 0) if use_backup else dur.initial_replication_seconds(vm.disk_gb)

    def finish():
        rel.job = {"kind": "ir", "start": begin_at, "end": begin_at + datetime.timedelta(seconds=seconds)}
        world.settle()
    return Plan(0.0, None, finish)


def _schedule(now: datetime.datetime, start: datetime.datetime | None, name: str) -> datetime.datetime:
    if start is None or start <= now:
        return now
    if start - now > MAX_SCHEDULE:
        # HRS §3.0 / §3.5: at most 7 days ahead. Wording INFERRED.
        raise Refused("The start time must be within 7 days from now.", "InvalidParameter", "InvalidArgument", name)
    return start


def stop_initial_replication(world, vm) -> Plan:
    rel = _rel(vm, "Stop-VMInitialReplication")
    if rel.job is None or rel.job["kind"] != "ir":
        raise Refused("Initial replication is not in progress for '{0}'.".format(vm.name), target=vm.name)

    def finish():
        # HRS §3.0: stopping puts the VM back into the pending state.
        rel.job = None
        world.set_replication_state(rel, "ReadyForInitialReplication")
        rel.side_states[rel.replica_host] = "WaitingForInitialReplication"  # HRS §1.1: replica side
    return Plan(0.0, None, finish)


def suspend(world, vm) -> Plan:
    rel = _rel(vm, "Suspend-VMReplication")
    state = rel.state_on(vm.host)
    if state == "Resynchronizing":
        def pause():
            rel.job["remaining"] = (rel.job["end"] - world.clock.now()).total_seconds()
            world.set_replication_state(rel, "ResynchronizeSuspended")  # HRS §1.1 state 12
        return Plan(0.0, None, pause)
    if state != "Replicating" or not rel.shipping():
        raise Refused("Cannot suspend replication of '{0}' while its replication state is {1}.".format(vm.name, state), target=vm.name)
    # HRS §3.5: pauses replication (-> Suspended, INFERRED on both sides).
    return Plan(0.0, None, lambda: world.set_replication_state(rel, "Suspended"))


def resume(world, vm, resync: bool, cont: bool, start: datetime.datetime | None) -> Plan:
    """Resume-VMReplication: from Suspended, Error, resync required or resync suspended (HRS §3.5)."""
    rel = _rel(vm, "Resume-VMReplication")
    state = rel.state_on(vm.host)
    now = world.clock.now()
    if state == "ResynchronizeSuspended" and not resync:
        def cont_resync():
            # HRS §3.5 -Continue: resync carries on where it stopped.
            rel.job["end"] = world.clock.now() + datetime.timedelta(seconds=rel.job.pop("remaining", 0))
            world.set_replication_state(rel, "Resynchronizing")
        return Plan(0.0, None, cont_resync)
    if cont:
        raise Refused("There is no suspended resynchronization of '{0}' to continue.".format(vm.name), target=vm.name)
    if resync:
        if state not in ("WaitingForStartResynchronize", "Error", "Suspended") or rel.job is not None:
            raise Refused("Cannot resynchronize '{0}' while its replication state is {1}.".format(vm.name, state), target=vm.name)
        begin_at = _schedule(now, start, vm.name)
        _require_reachable(world, rel.other_host(vm.host))
        last = rel.last_replication_time(now)
        changed = (now - last).total_seconds() * CHURN_BYTES_PER_S if last else 0
        seconds = dur.resync_seconds(vm.disk_gb, changed)  # TIM §7.1

        def finish():
            world.set_replication_state(rel, "WaitingForStartResynchronize")
            rel.job = {"kind": "resync", "start": begin_at, "end": begin_at + datetime.timedelta(seconds=seconds)}
            world.settle()
        return Plan(0.0, None, finish)
    if state == "WaitingForStartResynchronize":
        # INFERRED: resync required needs -Resynchronize (HRS §3.5).
        raise Refused("Replication of '{0}' requires resynchronization. Use Resume-VMReplication -Resynchronize.".format(vm.name),
                      target=vm.name)
    if state not in ("Suspended", "Error"):
        raise Refused("Cannot resume replication of '{0}' while its replication state is {1}.".format(vm.name, state), target=vm.name)
    return Plan(0.0, None, lambda: world.set_replication_state(rel, "Replicating"))


def stop_replication(world, vm) -> Plan:
    """Stop-VMReplication cancels an ongoing resynchronization (HRS §3.5); it does not remove replication."""
    rel = _rel(vm, "Stop-VMReplication")
    if rel.job is None or rel.job["kind"] != "resync":
        raise Refused("There is no resynchronization of '{0}' to stop (replication state {1}).".format(vm.name, rel.state_on(vm.host)),
                      target=vm.name)

    def finish():
        rel.job = None
        world.set_replication_state(rel, "WaitingForStartResynchronize")  # INFERRED: resync is still required
    return Plan(0.0, None, finish)


def reset_statistics(world, vm) -> Plan:
    rel = _rel(vm, "Reset-VMReplicationStatistics")

    def finish():
        rel.stats_reset_at = world.clock.now()  # HRS §1.2: new window; Warning health returns to Normal
    return Plan(0.0, None, finish)


def change_settings(world, vm, settings: dict) -> Plan:
    """Set-VMReplication tunables (HRS §3.0 tunables, §4)."""
    rel = _rel(vm, "Set-VMReplication")
    cadence = {"ReplicationFrequencySec", "RecoveryHistory", "VSSSnapshotFrequencyHour", "DisableVSSSnapshotReplication",
               "ReplicaServerPort", "AuthenticationType", "InitialReplicationStartTime"}
    if cadence & set(settings) and rel.mode_on(vm.host) != "Primary":
        # INFERRED: cadence and target are settings of the primary side.
        raise Refused("These replication settings can be changed only on the primary virtual machine.", "InvalidOperation",
                      target=vm.name)
    vss = 0 if settings.get("DisableVSSSnapshotReplication") else settings.get("VSSSnapshotFrequencyHour", rel.vss_hours)
    frequency, history, vss = validate_cadence(settings.get("ReplicationFrequencySec", rel.frequency),
                                               settings.get("RecoveryHistory", rel.recovery_history), vss)
    port, auth = settings.get("ReplicaServerPort", rel.port), settings.get("AuthenticationType", rel.auth)
    if (port, auth) != (rel.port, rel.auth):
        check_server_accepts(world, world.host(rel.replica_host), rel.primary_fqdn, port, auth, settings.get("CertificateThumbprint"))
    now = world.clock.now()
    start = settings.get("InitialReplicationStartTime")
    if start is not None:
        if rel.state_on(vm.host) != "ReadyForInitialReplication":
            raise Refused("The initial replication start time can be set only before initial replication starts.", target=vm.name)
        start = _schedule(now, start, vm.name)

    def finish():
        if frequency != rel.frequency:
            seg = rel._grid_floor(world.clock.now())  # pylint: disable=protected-access
            if seg is not None:
                rel.frequency_changes.append((seg, frequency, rel.frequency))
            rel.frequency = frequency
        rel.recovery_history, rel.vss_hours, rel.port, rel.auth = history, vss, port, auth
        for key, attr in (("CompressionEnabled", "compression"), ("AutoResynchronizeEnabled", "auto_resync"),
                          ("AllowedPrimaryServer", "allowed_primary")):
            if key in settings:
                setattr(rel, attr, settings[key])
        if start is not None and rel.job is not None:
            rel.job["end"] = start + (rel.job["end"] - rel.job["start"])
            rel.job["start"] = start
    return Plan(0.0, None, finish)


def enable_as_replica(world, vm, allowed_primary: str | None) -> Plan:
    """Enable-VMReplication -AsReplica: the VM (restored from backup) waits for its primary (HRS §3.0 step 4)."""
    if vm.replication is not None:
        raise Refused("Replication is already enabled for virtual machine '{0}'.".format(vm.name), "InvalidOperation",
                      "ResourceExists", vm.name)
    if vm.state != "Off":
        raise Refused("Cannot make '{0}' a Replica virtual machine: it must be turned off.".format(vm.name), target=vm.name)

    def finish():
        vm.awaiting_primary = allowed_primary or ""
    return Plan(world.durations.of("as_replica"), None, finish)
