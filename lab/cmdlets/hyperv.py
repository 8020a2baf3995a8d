"""Read cmdlets of the Hyper-V module, answered from the world.

Objects carry their .NET property names (hyperv-replica-states.md §2, HRS below); enums are name
strings, times aware datetimes, TimeSpans timedeltas, Guids strings. Signature of every handler:
(world, host_name, bound) -> list[dict]; PowerShell errors are raised as CmdletError.
"""

from __future__ import annotations

import datetime
import fnmatch

from lab.cmdlets.errors import CmdletError, not_modelled, record
from lab.cmdlets.objects import HYPERV, PSObject, hyperv

_NS = "Microsoft.HyperV.PowerShell.Commands."
# INFERRED: -ComputerName naming the host itself is the local host; remote hosts are not modelled.
_LOCAL_ALIASES = ("localhost", ".", "127.0.0.1")
# INFERRED churn model for Measure-VMReplication sizes: bytes of changed data per second of guest uptime.
_CHURN_BYTES_PER_S = 64 * 1024


def _is_wild(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _like(pattern: str, text: str) -> bool:
    """PowerShell WildcardPattern, case-insensitive."""
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


def _vm_not_found(cmdlet: str, name: str) -> CmdletError:
    # Real transcript (Get-VM, WS2012 R2..2022): InvalidArgument (name:String) VirtualizationException,
    # fqid InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM. Same text for other cmdlets is INFERRED.
    return CmdletError(record('Hyper-V was unable to find a virtual machine with name "{0}".'.format(name),
                              "InvalidParameter," + _NS + cmdlet.replace("-", ""), "InvalidArgument", "VirtualizationException",
                              target=name, command=cmdlet), terminating=False)


def _check_computer(world, host_name: str, bound, cmdlet: str) -> None:
    names = bound.params.get("ComputerName") or []
    host = world.host(host_name)
    for name in names:
        if name.lower() in (host.name.lower(), host.fqdn.lower()) + _LOCAL_ALIASES:
            continue
        try:
            other = world.host(name)
        except KeyError:
            raise not_modelled(cmdlet, _NS + cmdlet.replace("-", ""), "-ComputerName for a computer outside the lab") from None
        command_type = _NS + cmdlet.replace("-", "")
        if not world.host_reachable(other.name):
            # INFERRED wording: the Hyper-V module reaches other hosts over CIM/WinRM, whose connection error this is.
            raise CmdletError(record(
                "The operation on computer '{0}' failed: WinRM cannot complete the operation. Verify that the specified computer "
                "name is valid, that the computer is accessible over the network, and that a firewall exception for the WinRM "
                "service is enabled and allows access from this computer.".format(name),
                "HyperVCimConnectionFailure," + command_type, "ConnectionError", "CimException", target=name, command=cmdlet))
        # A session opened with NTLM or Basic (the lab's WinRM auth) carries no delegable credentials, so the second
        # hop to another Hyper-V host is denied (the classic double-hop failure; INFERRED wording, commonly reported).
        raise CmdletError(record(
            "Hyper-V encountered an error trying to access an object on computer '{0}' because the object was not found. "
            "The object might have been deleted, or you might not have permission to perform the task. Verify that the "
            "Virtual Machine Management service on the computer is running. If the service is running, try to perform "
            "the task again by using Run as Administrator.".format(name),
            "ObjectNotFound," + command_type, "ObjectNotFound", "VirtualizationException", target=name, command=cmdlet))
    if "CimSession" in bound.params or "Credential" in bound.params:
        raise not_modelled(cmdlet, _NS + cmdlet.replace("-", ""), "-CimSession/-Credential")


def _select_vms(world, host_name: str, names, cmdlet: str):
    """VMs on the host matching names (wildcards allowed); non-wildcard misses become non-terminating errors."""
    vms = sorted(world.vms_on(host_name), key=lambda v: v.name.lower())
    if not names:
        return vms, []
    chosen, errors = [], []
    for name in names:
        hits = [vm for vm in vms if _like(name, vm.name)]
        if not hits and not _is_wild(name):
            errors.append(_vm_not_found(cmdlet, name))
        chosen.extend(vm for vm in hits if vm not in chosen)
    return chosen, errors


def _finish(objects: list[dict], errors: list[CmdletError]) -> list[dict]:
    """Non-terminating errors: raise the first, carrying every object written (ErrorAction decides)."""
    if errors:
        errors[0].partial = objects
        errors[0].more = errors[1:]
        raise errors[0]
    return objects


# ---- objects -----------------------------------------------------------------------------------
def vm_object(world, vm, now: datetime.datetime) -> dict:
    """Microsoft.HyperV.PowerShell.VirtualMachine (HRS §2.3)."""
    rel = vm.replication
    running = vm.state == "Running"
    # TIM §7.1: the guest needs ~60 s after Running before its heartbeat is OK. Enum names INFERRED from the module stub.
    booted = running and vm.started_at is not None and (now - vm.started_at).total_seconds() >= world.durations.of("guest_boot")
    return hyperv("VirtualMachine", {
        "Name": vm.name, "Id": vm.id, "State": vm.state,
        "Status": "Operating normally",
        "ReplicationState": rel.state_on(vm.host) if rel else ("WaitingForInitialReplication" if vm.awaiting_primary is not None
                                                               else "Disabled"),
        "ReplicationHealth": rel.health(now, vm.host) if rel else "NotApplicable",
        # HRS §1.3: TestReplica is the mode of the test failover VM (INFERRED there).
        "ReplicationMode": rel.mode_on(vm.host) if rel else ("TestReplica" if vm.test_of else
                                                             "Replica" if vm.awaiting_primary is not None else "None"),
        "IsClustered": False, "ComputerName": vm.host,
        "Uptime": (now - vm.started_at) if running and vm.started_at else datetime.timedelta(0),
        "Heartbeat": ("OkApplicationsHealthy" if booted else "NoContact") if running else None,
        "PrimaryOperationalStatus": "Ok", "SecondaryOperationalStatus": None,
        "ParentSnapshotId": None, "ParentSnapshotName": None, "NetworkAdapters": [],
        "Generation": vm.generation, "Version": "9.0", "Path": "D:\\Hyper-V\\" + vm.name,
        "ProcessorCount": vm.cpus, "MemoryStartup": vm.memory_mb * 1024 * 1024,
        "MemoryAssigned": vm.memory_mb * 1024 * 1024 if running else 0, "CPUUsage": 3 if running else 0,
    })


def replication_object(world, vm, now: datetime.datetime) -> dict:
    """Microsoft.HyperV.PowerShell.VMReplication (HRS §2.1)."""
    rel = vm.replication
    last = rel.last_replication_time(now)
    job = rel.job or {}
    return hyperv("VMReplication", {
        "VMName": vm.name, "VMId": vm.id, "ComputerName": vm.host,
        "ReplicationState": rel.state_on(vm.host), "ReplicationHealth": rel.health(now, vm.host),
        "ReplicationMode": rel.mode_on(vm.host), "ReplicationRelationshipType": "Simple",
        # INFERRED: server names are the FQDNs Enable-VMReplication was given.
        "PrimaryServerName": rel.primary_fqdn, "ReplicaServerName": rel.replica_fqdn, "CurrentReplicaServerName": rel.replica_fqdn,
        "ReplicaServerPort": rel.port, "AuthenticationType": rel.auth, "CertificateThumbprint": None,
        "Name": vm.name, "Id": vm.id,
        "ReplicationFrequencySec": rel.frequency, "RecoveryHistory": rel.recovery_history,
        "VSSSnapshotFrequencyHour": rel.vss_hours, "VSSSnapshotReplicationEnabled": rel.vss_hours > 0,
        "CompressionEnabled": rel.compression, "BypassProxyServer": False, "ReplicateHostKvpItems": True,
        "EnableWriteOrderPreservationAcrossDisks": False,
        "ReplicatedDisks": ["Hard Drive on SCSI controller number 0 at location 0"], "ExcludedDisks": [],
        "AutoResynchronizeEnabled": rel.auto_resync,
        "AutoResynchronizeIntervalStart": datetime.timedelta(hours=18, minutes=30),
        "AutoResynchronizeIntervalEnd": datetime.timedelta(hours=6),
        "InitialReplicationStartTime": job.get("start") if job.get("kind") == "ir" else None,
        "ResynchronizeStartTime": job.get("start") if job.get("kind") == "resync" else None,
        "LastReplicationTime": last, "LastAppliedLogTime": last,  # INFERRED: logs apply at receipt
        "AllowedPrimaryServer": rel.allowed_primary, "TestVirtualMachine": rel.test_vm if vm.host == rel.replica_host else None,
        "VMSnapshotId": None, "VMSnapshotName": None,
        "IsDeleted": False,
    }, name_key="VMName", id_key="VMId")


def health_object(world, vm, now: datetime.datetime) -> dict:
    """Microsoft.HyperV.PowerShell.VMReplicationHealth (HRS §2.2); statistics INFERRED from the outage model."""
    rel = vm.replication
    last = rel.last_replication_time(now)
    points = rel.recovery_points(now)
    vss = [p.time for p in points if p.kind == "AppConsistentReplica"]
    window_start = rel.window_start(now)
    cycles = int((now - window_start).total_seconds() // rel.frequency)
    missed = int(round(cycles * rel.missed_fraction(now)))
    cycle_bytes = rel.frequency * _CHURN_BYTES_PER_S
    pending = int((now - last).total_seconds() * _CHURN_BYTES_PER_S) if last else 0
    return hyperv("VMReplicationHealth", {
        "VMName": vm.name, "VMId": vm.id, "ComputerName": vm.host,
        "ReplicationState": rel.state_on(vm.host), "ReplicationHealth": rel.health(now, vm.host),
        "ReplicationHealthDetails": rel.health_details(now, vm.host),
        "ReplicationMode": rel.mode_on(vm.host), "ReplicationRelationshipType": "Simple",
        "PrimaryServerName": rel.primary_fqdn, "ReplicaServerName": rel.replica_fqdn, "CurrentReplicaServerName": rel.replica_fqdn,
        "LastReplicationTime": last, "LastAppliedLogTime": last,
        # HRS §2.2: VMReplicationType None/Regular/ApplicationConsistent/Planned.
        "LastReplicationType": "None" if last is None else ("ApplicationConsistent" if vss and vss[-1] == last else "Regular"),
        "FailedOverReplicationType": _failed_over_type(rel), "LastTestFailoverInitiatedTime": None,
        "LastVSSSnapshotTime": vss[-1] if vss else None,
        "MonitoringStartTime": window_start, "MonitoringEndTime": now,
        "InitialReplicationSize": vm.memory_mb * 1024 * 1024 * 10, "PendingReplicationSize": pending,
        "AverageReplicationSize": cycle_bytes, "MaximumReplicationSize": cycle_bytes * 3,
        "AverageReplicationLatency": datetime.timedelta(seconds=2), "MaximumReplicationLatency": datetime.timedelta(seconds=9),
        "ReplicationErrors": 0, "SuccessfulReplicationCount": max(0, cycles - missed), "MissedReplicationCount": missed,
        "CurrentTask": None, "ReplicatedDisks": ["Hard Drive on SCSI controller number 0 at location 0"],
        "AllowedPrimaryServer": rel.allowed_primary, "TestVirtualMachine": rel.test_vm if vm.host == rel.replica_host else None,
    }, name_key="VMName", id_key="VMId")


def _failed_over_type(rel) -> str:
    """HRS §2.2 VMReplicationType of the failed-over point: Planned after -Prepare, else Regular/ApplicationConsistent."""
    if not rel.failover:
        return "None"
    if rel.failover["planned"]:
        return "Planned"
    return "ApplicationConsistent" if rel.failover["point"].kind == "AppConsistentReplica" else "Regular"


def _snapshot_name(vm_name: str, point) -> str:
    # INFERRED naming, shaped like Hyper-V Manager's "<VM> - Standard Replica - (<date> - <time>)" in en-US.
    label = "Application-consistent Replica" if point.kind == "AppConsistentReplica" else "Standard Replica"
    t = point.time
    stamp = "{0}/{1}/{2} - {3}:{4:%M:%S} {5}".format(t.month, t.day, t.year, t.hour % 12 or 12, t, "AM" if t.hour < 12 else "PM")
    return "{0} - {1} - ({2})".format(vm_name, label, stamp)


def snapshot_objects(world, vm, now: datetime.datetime) -> list[dict]:
    """Recovery points of a Replica VM as Microsoft.HyperV.PowerShell.VMSnapshot (HRS §2.4, §4)."""
    rel = vm.replication
    if rel is None or rel.mode_on(vm.host) != "Replica":
        return []  # INFERRED: the lab models no user checkpoints, and recovery points live on the Replica only (HRS §4)
    out, parent = [], None
    for point in rel.recovery_points(now):
        obj = hyperv("VMSnapshot", {
            "Name": _snapshot_name(vm.name, point), "Id": rel.snapshot_id(point), "VMName": vm.name, "VMId": vm.id,
            "SnapshotType": point.kind, "CreationTime": point.time,
            "ParentSnapshotId": parent["Id"] if parent else None, "ParentSnapshotName": parent["Name"] if parent else None,
            "State": "Off", "IsAutomaticCheckpoint": False, "ComputerName": vm.host})
        out.append(obj)
        parent = obj
    return out


# ---- handlers ----------------------------------------------------------------------------------
def get_vm(world, host_name: str, bound) -> list[dict]:
    _check_computer(world, host_name, bound, "Get-VM")
    now = world.clock.now()
    if bound.parameter_set == "Id":
        wanted = bound.params.get("Id")
        vms = [vm for vm in world.vms_on(host_name) if wanted is None or vm.id == wanted]
        if wanted is not None and not vms:
            # INFERRED: same wording pattern as the name case.
            raise CmdletError(record('Hyper-V was unable to find a virtual machine with ID "{0}".'.format(wanted),
                                     "InvalidParameter," + _NS + "GetVM", "InvalidArgument", "VirtualizationException",
                                     target=wanted, command="Get-VM"), terminating=False)
        return [vm_object(world, vm, now) for vm in vms]
    if bound.parameter_set != "Name":
        raise not_modelled("Get-VM", _NS + "GetVM", "-ClusterObject")
    vms, errors = _select_vms(world, host_name, bound.params.get("Name"), "Get-VM")
    return _finish([vm_object(world, vm, now) for vm in vms], errors)


def _replicated(world, host_name: str, bound, cmdlet: str):
    """VMs of this host with a replication relationship, filtered as Get-/Measure-VMReplication do."""
    _check_computer(world, host_name, bound, cmdlet)
    if bound.params.get("TrustGroup"):
        raise not_modelled(cmdlet, _NS + cmdlet.replace("-", ""), "-TrustGroup")
    now = world.clock.now()
    names = bound.params.get("VMName")
    vms, errors = _select_vms(world, host_name, names, cmdlet)
    chosen = []
    for vm in vms:
        if vm.replication is None:
            if names and any(not _is_wild(n) and n.lower() == vm.name.lower() for n in names):
                # INFERRED wording: no Microsoft transcript of this error was found.
                errors.append(CmdletError(record("Replication is not enabled for virtual machine '{0}'.".format(vm.name),
                                                 "InvalidOperation," + _NS + cmdlet.replace("-", ""), "InvalidOperation",
                                                 "VirtualizationException", target=vm.name, command=cmdlet), terminating=False))
            continue
        chosen.append(vm)
    p = bound.params
    filters = [
        ("ReplicationState", lambda vm: vm.replication.state_on(vm.host)),
        ("ReplicationHealth", lambda vm: vm.replication.health(now, vm.host)),
        ("ReplicationMode", lambda vm: vm.replication.mode_on(vm.host)),
        ("ReplicationRelationshipType", lambda vm: "Simple"),
    ]
    for pname, getter in filters:
        if p.get(pname) is not None:
            chosen = [vm for vm in chosen if getter(vm) == p[pname]]
    for pname, attr in (("ReplicaServerName", "replica_host"), ("PrimaryServerName", "primary_host")):
        if p.get(pname):
            # INFERRED: matches the short name or the FQDN, case-insensitively.
            wanted = p[pname].lower()
            chosen = [vm for vm in chosen
                      if wanted in (getattr(vm.replication, attr).lower(), world.host(getattr(vm.replication, attr)).fqdn.lower())]
    return chosen, errors, now


def get_vm_replication(world, host_name: str, bound) -> list[dict]:
    vms, errors, now = _replicated(world, host_name, bound, "Get-VMReplication")
    return _finish([replication_object(world, vm, now) for vm in vms], errors)


def measure_vm_replication(world, host_name: str, bound) -> list[dict]:
    vms, errors, now = _replicated(world, host_name, bound, "Measure-VMReplication")
    return _finish([health_object(world, vm, now) for vm in vms], errors)


def get_vm_snapshot(world, host_name: str, bound) -> list[dict]:
    _check_computer(world, host_name, bound, "Get-VMSnapshot")
    now = world.clock.now()
    if bound.parameter_set == "Id":
        snaps = [s for vm in world.vms_on(host_name) for s in snapshot_objects(world, vm, now) if s["Id"] == bound.params["Id"]]
        if not snaps:
            raise _no_snapshot()
        return snaps
    if bound.parameter_set != "VMName":
        raise not_modelled("Get-VMSnapshot", _NS + "GetVMSnapshot", "-{0} (object parameter set)".format(bound.parameter_set))
    vms, errors = _select_vms(world, host_name, bound.params["VMName"], "Get-VMSnapshot")
    snaps = [s for vm in vms for s in snapshot_objects(world, vm, now)]
    name = bound.params.get("Name")
    if name:
        snaps = [s for s in snaps if _like(name, s["Name"])]
    kind = bound.params.get("SnapshotType")
    if kind:
        snaps = [s for s in snaps if s["SnapshotType"] == kind]
    if name and not _is_wild(name) and not snaps and not errors:
        raise _no_snapshot()
    return _finish(snaps, errors)


def _no_snapshot() -> CmdletError:
    # Wording from Hyper-V transcripts of Get-VMSnapshot -Name <missing>; fqid/category INFERRED.
    return CmdletError(record("Unable to find a snapshot matching the given criteria.", "ObjectNotFound," + _NS + "GetVMSnapshot",
                              "ObjectNotFound", "VirtualizationException", command="Get-VMSnapshot"), terminating=False)


def get_vm_host(world, host_name: str, bound) -> list[dict]:
    _check_computer(world, host_name, bound, "Get-VMHost")
    host = world.host(host_name)
    props = {"Name": host.name, "ComputerName": host.name, "FullyQualifiedDomainName": host.fqdn,
             "LogicalProcessorCount": host.logical_processors, "MemoryCapacity": host.memory_gb * 1024 ** 3,
             "VirtualMachinePath": "D:\\Hyper-V", "VirtualHardDiskPath": "D:\\Hyper-V\\Virtual Hard Disks",
             "MacAddressMinimum": "00155D010000", "MacAddressMaximum": "00155D0100FF",
             "EnableEnhancedSessionMode": False, "NumaSpanningEnabled": True}
    return [PSObject(HYPERV + "VMHost", props, host.name)]


def get_vm_replication_server(world, host_name: str, bound) -> list[dict]:
    _check_computer(world, host_name, bound, "Get-VMReplicationServer")
    return [replication_server_object(world.host(host_name))]


def replication_server_object(host) -> PSObject:
    return PSObject(HYPERV + "VMReplicationServer", {
        "ComputerName": host.name, "ReplicationEnabled": host.replication_enabled,
        "AllowedAuthenticationType": host.auth_type, "ReplicationAllowedFromAnyServer": host.allow_any_server,
        "CertificateThumbprint": host.certificate_thumbprint, "KerberosAuthenticationPort": host.kerberos_port,
        "CertificateAuthenticationPort": host.certificate_port, "KerberosAuthenticationPortMapping": None,
        "CertificateAuthenticationPortMapping": None,
        "MonitoringInterval": datetime.timedelta(seconds=host.monitoring_interval_s),
        "MonitoringStartTime": datetime.timedelta(seconds=host.monitoring_start_s),
        "DefaultStorageLocation": host.storage_location}, host.name)


HANDLERS = {
    "Get-VM": get_vm,
    "Get-VMReplication": get_vm_replication,
    "Measure-VMReplication": measure_vm_replication,
    "Get-VMSnapshot": get_vm_snapshot,
    "Get-VMHost": get_vm_host,
    "Get-VMReplicationServer": get_vm_replication_server,
}
