"""State-changing cmdlets of the Hyper-V module: power, replication, failover, Replica server.

Handlers take world.lock themselves (`locks_world`), because an operation that takes simulated time
waits without the lock (lab/world/durations.py). The transitions live in lab/world/operations.py;
here: target lookup (names, VM / VMReplication / VMSnapshot objects), -WhatIf, -Passthru, errors.
"""

from __future__ import annotations

import fnmatch

from lab.cmdlets import hyperv
from lab.cmdlets.errors import CmdletError, not_modelled, record
from lab.cmdlets.objects import HYPERV, PSObject
from lab.world import operations as ops

_NS = "Microsoft.HyperV.PowerShell.Commands."
# TIM §1.2: MonitoringInterval choices: 1, 2, 3, 4, 6, 8, 12, 24 h or 2-7 days.
_MONITORING_HOURS = (1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 96, 120, 144, 168)


def _locks_world(fn):
    fn.locks_world = True
    return fn


def _ctype(cmdlet: str) -> str:
    return _NS + cmdlet.replace("-", "")


def _refused(exc: ops.Refused, cmdlet: str) -> CmdletError:
    # Hyper-V writes a non-terminating VirtualizationException per VM; the runner's ErrorAction Stop makes it terminating.
    return CmdletError(record(exc.message, "{0},{1}".format(exc.error_id, _ctype(cmdlet)), exc.category, "VirtualizationException",
                              target=exc.target, command=cmdlet), terminating=False)


def _whatif(bound) -> bool:
    return bool(bound.params.get("WhatIf") or bound.common.get("WhatIf"))


def _object_vm(world, host_name: str, obj, cmdlet: str, name_key: str, id_key: str):
    """The world VM a VirtualMachine / VMReplication / VMSnapshot object stands for (by host and Id)."""
    if world.host(str(obj.get("ComputerName"))).name != world.host(host_name).name:
        raise not_modelled(cmdlet, _ctype(cmdlet), "with an object from another host")
    vm = world.vm(host_name, str(obj.get(name_key)))
    if vm is None or vm.id != obj.get(id_key):
        # INFERRED: the object is stale (the VM was deleted since it was read).
        raise ops.Refused("Hyper-V was unable to find a virtual machine with ID \"{0}\".".format(obj.get(id_key)), "ObjectNotFound",
                          "ObjectNotFound", str(obj.get(id_key)))
    return vm


def targets(world, host_name: str, bound, cmdlet: str) -> tuple[list, list]:
    """VMs a call names: -Name/-VMName (wildcards), -VM objects or -VMReplication objects; misses are non-terminating."""
    hyperv._check_computer(world, host_name, bound, cmdlet)  # pylint: disable=protected-access
    if bound.params.get("AsJob"):
        raise not_modelled(cmdlet, _ctype(cmdlet), "-AsJob")
    params = bound.params
    if "VM" in params or "VMReplication" in params:
        vms, errors = [], []
        key = ("Name", "Id") if "VM" in params else ("VMName", "VMId")
        for obj in params.get("VM") or params.get("VMReplication") or []:
            try:
                vms.append(_object_vm(world, host_name, obj, cmdlet, *key))
            except ops.Refused as exc:
                errors.append(_refused(exc, cmdlet))
        return vms, errors
    names = params.get("Name") if "Name" in params else params.get("VMName")
    return hyperv._select_vms(world, host_name, names, cmdlet)  # pylint: disable=protected-access


def each_vm(world, host_name: str, bound, cmdlet: str, make, passthru=None, vms=None) -> list[dict]:
    """Run `make(vm) -> Plan` for each target VM in turn; -WhatIf changes nothing (INFERRED: lookup errors still show)."""
    errors: list = []
    if vms is None:
        with world.lock:
            world.settle()
            vms, errors = targets(world, host_name, bound, cmdlet)
    out = []
    for vm in vms:
        if _whatif(bound):
            continue
        try:
            plan = ops.run(world, lambda v=vm: make(v))
        except ops.Refused as exc:
            errors.append(_refused(exc, cmdlet))
            continue
        except ops.NotModelled as exc:
            raise not_modelled(cmdlet, _ctype(cmdlet), str(exc)) from exc
        if bound.params.get("Passthru") and passthru is not None:
            with world.lock:
                obj = passthru(world, plan.result or vm, world.clock.now())
            if obj is not None:
                out.append(obj)
    return hyperv._finish(out, errors)  # pylint: disable=protected-access


def _replication_or_none(world, vm, now):
    return hyperv.replication_object(world, vm, now) if vm.replication is not None else None


# ---- power (HRS §3.1 steps 1 and 5) ---------------------------------------------------------------
@_locks_world
def start_vm(world, host_name: str, bound) -> list[dict]:
    return each_vm(world, host_name, bound, "Start-VM", lambda vm: ops.start_vm(world, vm), hyperv.vm_object)


@_locks_world
def stop_vm(world, host_name: str, bound) -> list[dict]:
    p = bound.params
    if p.get("TurnOff") and p.get("Save"):
        # INFERRED: the two are exclusive ways of stopping.
        raise CmdletError(record("The -TurnOff and -Save parameters cannot be used together.", "InvalidParameter," + _ctype("Stop-VM"),
                                 "InvalidArgument", "VirtualizationException", command="Stop-VM"))
    how = "turnoff" if p.get("TurnOff") else ("save" if p.get("Save") else "shutdown")
    # -Force only skips the confirmation prompt of a locked guest; the lab models no prompts (INFERRED).
    return each_vm(world, host_name, bound, "Stop-VM", lambda vm: ops.stop_vm(world, vm, how), hyperv.vm_object)


@_locks_world
def save_vm(world, host_name: str, bound) -> list[dict]:
    return each_vm(world, host_name, bound, "Save-VM", lambda vm: ops.stop_vm(world, vm, "save"), hyperv.vm_object)


# ---- failover (HRS §3.1-§3.4) ---------------------------------------------------------------------
@_locks_world
def start_vm_failover(world, host_name: str, bound) -> list[dict]:
    p = bound.params
    test = bool(p.get("AsTest"))
    vms = None
    snapshot_id = None
    if "VMRecoverySnapshot" in p:
        # HRS §3.2 step 2 / §4: a recovery point from Get-VMSnapshot ({"$call": N}).
        snap = p["VMRecoverySnapshot"]
        snapshot_id = snap.get("Id")
        hyperv._check_computer(world, host_name, bound, "Start-VMFailover")  # pylint: disable=protected-access
        errors: list = []
        with world.lock:
            world.settle()
            try:
                vms = [_object_vm(world, host_name, snap, "Start-VMFailover", "VMName", "VMId")]
            except ops.Refused as exc:
                errors.append(_refused(exc, "Start-VMFailover"))
        if errors:
            return hyperv._finish([], errors)  # pylint: disable=protected-access

    def make(vm):
        if p.get("Prepare"):
            return ops.prepare_failover(world, vm)
        if test:
            return ops.test_failover(world, vm, snapshot_id)
        return ops.failover(world, vm, snapshot_id)
    return each_vm(world, host_name, bound, "Start-VMFailover", make, hyperv.vm_object, vms=vms)


@_locks_world
def complete_vm_failover(world, host_name: str, bound) -> list[dict]:
    return each_vm(world, host_name, bound, "Complete-VMFailover", lambda vm: ops.complete_failover(world, vm), hyperv.vm_object)


@_locks_world
def stop_vm_failover(world, host_name: str, bound) -> list[dict]:
    return each_vm(world, host_name, bound, "Stop-VMFailover", lambda vm: ops.stop_failover(world, vm), hyperv.vm_object)


# ---- replication ----------------------------------------------------------------------------------
_SETTINGS = ("ReplicationFrequencySec", "RecoveryHistory", "VSSSnapshotFrequencyHour", "DisableVSSSnapshotReplication",
             "ReplicaServerPort", "AuthenticationType", "CertificateThumbprint", "CompressionEnabled", "AutoResynchronizeEnabled",
             "InitialReplicationStartTime", "AllowedPrimaryServer")
_UNMODELLED_SETTINGS = ("ReplicatedDisks", "ReplicatedDiskPaths", "ExcludedVhd", "ExcludedVhdPath", "BypassProxyServer",
                        "ReplicateHostKvpItems", "EnableWriteOrderPreservationAcrossDisks", "AutoResynchronizeIntervalStart",
                        "AutoResynchronizeIntervalEnd", "UseBackup")


def _settings(bound, cmdlet: str) -> dict:
    for name in _UNMODELLED_SETTINGS:
        if name in bound.params and not (cmdlet == "Start-VMInitialReplication" and name == "UseBackup"):
            raise not_modelled(cmdlet, _ctype(cmdlet), "-" + name)
    return {k: v for k, v in bound.params.items() if k in _SETTINGS}


@_locks_world
def enable_vm_replication(world, host_name: str, bound) -> list[dict]:
    p = bound.params
    if p.get("AsReplica"):
        return each_vm(world, host_name, bound, "Enable-VMReplication",
                       lambda vm: ops.enable_as_replica(world, vm, p.get("AllowedPrimaryServer")), hyperv.vm_object)
    settings = _settings(bound, "Enable-VMReplication")
    return each_vm(world, host_name, bound, "Enable-VMReplication",
                   lambda vm: ops.enable(world, vm, p["ReplicaServerName"], p["ReplicaServerPort"], p["AuthenticationType"], settings),
                   _replication_or_none)


@_locks_world
def set_vm_replication(world, host_name: str, bound) -> list[dict]:
    p = bound.params
    settings = _settings(bound, "Set-VMReplication")
    if p.get("Reverse") and p.get("AsReplica"):
        raise CmdletError(record("The -Reverse and -AsReplica parameters cannot be used together.",  # INFERRED
                                 "InvalidParameter," + _ctype("Set-VMReplication"), "InvalidArgument", "VirtualizationException",
                                 command="Set-VMReplication"))

    def make(vm):
        if p.get("ReplicaServerName") and vm.replication is not None:
            other = vm.replication.other_host(vm.host) if p.get("Reverse") else vm.replication.replica_host
            if world.host(other).name != _host_or_none(world, p["ReplicaServerName"]):
                raise ops.NotModelled("-ReplicaServerName (moving replication to another Replica server)")
        if p.get("Reverse"):
            plan = ops.reverse(world, vm)
            if settings:
                reversed_finish = plan.finish

                def finish():
                    reversed_finish()
                    ops.change_settings(world, vm, settings).finish()
                plan.finish = finish
            return plan
        if p.get("AsReplica"):
            return ops.as_replica(world, vm, p.get("AllowedPrimaryServer"))
        return ops.change_settings(world, vm, settings)
    return each_vm(world, host_name, bound, "Set-VMReplication", make, _replication_or_none)


def _host_or_none(world, name: str):
    try:
        return world.host(name).name
    except KeyError:
        return None


@_locks_world
def remove_vm_replication(world, host_name: str, bound) -> list[dict]:
    if bound.params.get("ReplicationRelationshipType") == "Extended":
        raise not_modelled("Remove-VMReplication", _ctype("Remove-VMReplication"), "extended replication")
    snapshot: dict = {}

    def make(vm):
        plan = ops.remove(world, vm)
        snapshot[vm.id] = hyperv.replication_object(world, vm, world.clock.now())
        return plan
    out = each_vm(world, host_name, bound, "Remove-VMReplication", make, lambda w, vm, now: snapshot.get(vm.id))
    return out


def _simple(cmdlet: str, make, passthru=_replication_or_none):
    @_locks_world
    def handler(world, host_name: str, bound) -> list[dict]:
        if bound.params.get("ReplicationRelationshipType") == "Extended":
            raise not_modelled(cmdlet, _ctype(cmdlet), "extended replication")
        return each_vm(world, host_name, bound, cmdlet, lambda vm: make(world, vm, bound.params), passthru)
    handler.__name__ = cmdlet.replace("-", "_").lower()
    return handler


def _start_ir(world, vm, p):
    if p.get("DestinationPath"):
        raise ops.NotModelled("-DestinationPath (initial replication on external media)")
    return ops.start_initial_replication(world, vm, p.get("InitialReplicationStartTime"), bool(p.get("UseBackup")))


start_vm_initial_replication = _simple("Start-VMInitialReplication", _start_ir)
stop_vm_initial_replication = _simple("Stop-VMInitialReplication", lambda w, vm, p: ops.stop_initial_replication(w, vm))
suspend_vm_replication = _simple("Suspend-VMReplication", lambda w, vm, p: ops.suspend(w, vm))
resume_vm_replication = _simple("Resume-VMReplication", lambda w, vm, p: ops.resume(
    w, vm, bool(p.get("Resynchronize")), bool(p.get("Continue")), p.get("ResynchronizeStartTime")))
stop_vm_replication = _simple("Stop-VMReplication", lambda w, vm, p: ops.stop_replication(w, vm))
reset_vm_replication_statistics = _simple("Reset-VMReplicationStatistics", lambda w, vm, p: ops.reset_statistics(w, vm))


# ---- Replica server (HRS §3.0 steps 1-2) ----------------------------------------------------------
def _server_error(message: str, cmdlet: str, error_id: str = "InvalidParameter", category: str = "InvalidArgument") -> CmdletError:
    return CmdletError(record(message, "{0},{1}".format(error_id, _ctype(cmdlet)), category, "VirtualizationException",
                              command=cmdlet))


@_locks_world
def set_vm_replication_server(world, host_name: str, bound) -> list[dict]:
    cmdlet = "Set-VMReplicationServer"
    hyperv._check_computer(world, host_name, bound, cmdlet)  # pylint: disable=protected-access
    if bound.parameter_set == "AuthenticationPortMapping":
        raise not_modelled(cmdlet, _ctype(cmdlet), "per-node port mappings (clustered Replica servers)")
    p = bound.params
    with world.lock:
        host = world.host(host_name)
        any_server = p.get("ReplicationAllowedFromAnyServer", host.allow_any_server)
        storage = p.get("DefaultStorageLocation", host.storage_location)
        if any_server and not storage:
            # HRS §3.0 step 1: allowing any server requires a default storage location. Wording INFERRED.
            raise _server_error("A default storage location is required to allow replication from any server.", cmdlet)
        auth = p.get("AllowedAuthenticationType", host.auth_type)
        thumbprint = p.get("CertificateThumbprint", host.certificate_thumbprint)
        if "Certificate" in auth and not thumbprint:
            # INFERRED: certificate authentication needs the server's certificate (HRS §5).
            raise _server_error("A certificate thumbprint is required for certificate-based authentication.", cmdlet)
        interval = p.get("MonitoringInterval")
        if interval is not None and interval.total_seconds() not in [h * 3600.0 for h in _MONITORING_HOURS]:
            # TIM §1.2 / HRS §1.2: a fixed list from 1 hour to 7 days. Wording INFERRED.
            raise _server_error("The monitoring interval must be one of 1, 2, 3, 4, 6, 8, 12 or 24 hours, or 2 to 7 days.", cmdlet)
        if _whatif(bound):
            return []
        host.replication_enabled = p.get("ReplicationEnabled", host.replication_enabled)
        host.allow_any_server, host.storage_location, host.auth_type, host.certificate_thumbprint = any_server, storage, auth, thumbprint
        host.kerberos_port = p.get("KerberosAuthenticationPort", host.kerberos_port)
        host.certificate_port = p.get("CertificateAuthenticationPort", host.certificate_port)
        if interval is not None:
            host.monitoring_interval_s = interval.total_seconds()
            for rel in world.replications():
                if rel.replica_host == host.name:
                    rel.monitoring_interval = host.monitoring_interval_s  # HRS §1.2: set on the Replica server
        if p.get("MonitoringStartTime") is not None:
            host.monitoring_start_s = p["MonitoringStartTime"].total_seconds()
        return [hyperv.replication_server_object(host)] if p.get("Passthru") else []


def _entry(host, entry: dict) -> PSObject:
    return PSObject(HYPERV + "VMReplicationAuthorizationEntry", dict(entry, ComputerName=host.name), entry["AllowedPrimaryServer"])


@_locks_world
def get_vm_replication_authorization_entry(world, host_name: str, bound) -> list[dict]:
    cmdlet = "Get-VMReplicationAuthorizationEntry"
    hyperv._check_computer(world, host_name, bound, cmdlet)  # pylint: disable=protected-access
    p = bound.params
    with world.lock:
        host = world.host(host_name)
        rows = list(host.auth_entries)
        for key in ("AllowedPrimaryServer", "ReplicaStorageLocation", "TrustGroup"):
            if p.get(key):
                rows = [e for e in rows if fnmatch.fnmatchcase(e[key].lower(), p[key].lower())]
        if p.get("AllowedPrimaryServer") and not rows and not hyperv._is_wild(p["AllowedPrimaryServer"]):  # pylint: disable=protected-access
            # INFERRED wording and id.
            raise CmdletError(record("No authorization entry was found for '{0}'.".format(p["AllowedPrimaryServer"]),
                                     "ObjectNotFound," + _ctype(cmdlet), "ObjectNotFound", "VirtualizationException",
                                     target=p["AllowedPrimaryServer"], command=cmdlet), terminating=False)
        return [_entry(host, e) for e in rows]


@_locks_world
def new_vm_replication_authorization_entry(world, host_name: str, bound) -> list[dict]:
    cmdlet = "New-VMReplicationAuthorizationEntry"
    hyperv._check_computer(world, host_name, bound, cmdlet)  # pylint: disable=protected-access
    p = bound.params
    with world.lock:
        host = world.host(host_name)
        if any(e["AllowedPrimaryServer"].lower() == p["AllowedPrimaryServer"].lower() for e in host.auth_entries):
            # INFERRED: one entry per primary server name.
            raise CmdletError(record("An authorization entry for '{0}' already exists.".format(p["AllowedPrimaryServer"]),
                                     "InvalidOperation," + _ctype(cmdlet), "ResourceExists", "VirtualizationException",
                                     target=p["AllowedPrimaryServer"], command=cmdlet))
        entry = {"AllowedPrimaryServer": p["AllowedPrimaryServer"], "ReplicaStorageLocation": p["ReplicaStorageLocation"],
                 "TrustGroup": p["TrustGroup"]}
        if _whatif(bound):
            return []
        host.auth_entries.append(entry)  # HRS §3.0 step 1: restricts which primaries are accepted
        return [_entry(host, entry)]


@_locks_world
def test_vm_replication_connection(world, host_name: str, bound) -> list[dict]:
    """HRS §3.0 step 2: could replication to that Replica server be enabled? INFERRED: no output on success."""
    cmdlet = "Test-VMReplicationConnection"
    hyperv._check_computer(world, host_name, bound, cmdlet)  # pylint: disable=protected-access
    p = bound.params
    with world.lock:
        try:
            target = world.host(p["ReplicaServerName"])
        except KeyError as exc:
            raise _server_error("Hyper-V could not resolve the Replica server name '{0}'.".format(p["ReplicaServerName"]), cmdlet,
                                "OperationFailed", "ObjectNotFound") from exc
        try:
            if not world.host_reachable(target.name):
                raise ops.Refused("Hyper-V failed to establish a connection with the Replica server '{0}'.".format(target.fqdn),
                                  "OperationFailed", "ConnectionError", target.fqdn)
            ops.check_server_accepts(world, target, world.host(host_name).fqdn, p["ReplicaServerPort"], p["AuthenticationType"],
                                     p.get("CertificateThumbprint"))
        except ops.Refused as exc:
            raise CmdletError(_refused(exc, cmdlet).record) from exc
        return []


HANDLERS = {
    "Start-VM": start_vm,
    "Stop-VM": stop_vm,
    "Save-VM": save_vm,
    "Start-VMFailover": start_vm_failover,
    "Complete-VMFailover": complete_vm_failover,
    "Stop-VMFailover": stop_vm_failover,
    "Enable-VMReplication": enable_vm_replication,
    "Set-VMReplication": set_vm_replication,
    "Remove-VMReplication": remove_vm_replication,
    "Start-VMInitialReplication": start_vm_initial_replication,
    "Stop-VMInitialReplication": stop_vm_initial_replication,
    "Suspend-VMReplication": suspend_vm_replication,
    "Resume-VMReplication": resume_vm_replication,
    "Stop-VMReplication": stop_vm_replication,
    "Reset-VMReplicationStatistics": reset_vm_replication_statistics,
    "Set-VMReplicationServer": set_vm_replication_server,
    "Get-VMReplicationAuthorizationEntry": get_vm_replication_authorization_entry,
    "New-VMReplicationAuthorizationEntry": new_vm_replication_authorization_entry,
    "Test-VMReplicationConnection": test_vm_replication_connection,
}
