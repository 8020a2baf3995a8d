"""SC* cmdlets of the VirtualMachineManager module, answered from the lab's VMM server (lab/world/vmm.py).

Sources: vmm-cluster-sql-notes.md §A (VCS), timings.md (TIM). Handler signature as in hyperv.py:
(world, host_name, bound) -> list[dict]. Objects are `VmmObject`s (dicts that know their VMM type) so
that a later call of the batch can pass them back to -VMMServer/-VM/-VMHost/-Job.

Connection (VCS §A.1): Get-SCVMMServer opens the connection and later VMM cmdlets of the same
PowerShell session reuse it; `-VMMServer` names it explicitly. A session is one powershell.exe run
(one runner batch): LabExecutor wraps each run in `powershell_session()`. VM, host and job objects
carry their server connection, so cmdlets that take them need no session connection.

Job names ("Start virtual machine", "Refresh virtual machine", ...) are INFERRED from the wording of VMM's
job list; Microsoft's cmdlet docs do not print them.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading

from lab._powershell import not_recognized
from lab.cmdlets.errors import BindingError, CmdletError, not_modelled, record
from lab.cmdlets.objects import PSObject
from lab.world.vmm import (FAST_STOP_JOB_S, HOST_REFRESH_S, REPAIR_JOB_S, SHUTDOWN_JOB_S, START_JOB_S, STATUS_OF_STATE, VM_REFRESH_S,
                           VmmError, host_error, power)

_NS = "Microsoft.SystemCenter.VirtualMachineManager."
_LOCAL_NAMES = ("localhost", ".", "127.0.0.1")
_ROOT_GROUP = "All Hosts"  # VMM's root host group
# INFERRED: the VMM build the lab claims to be (VMM 2022).
_PRODUCT_VERSION = "10.22.1287.0"
_SESSION: contextvars.ContextVar = contextvars.ContextVar("lab_powershell_session", default=None)


class VmmObject(PSObject):
    """A VMM object as a cmdlet wrote it; `vmm_type` is the type name the contract uses (e.g. VM, Host, Task).

    INFERRED string form: the object's Name (the runner prints nested objects by their string form).
    """

    def __init__(self, vmm_type: str, props: dict) -> None:
        super().__init__(_NS + vmm_type, props, str(props.get("Name") or ""))
        self.vmm_type = vmm_type


@contextlib.contextmanager
def powershell_session():
    """One PowerShell session: the default VMM connection lives as long as it (VCS §A.1)."""
    token = _SESSION.set({})
    try:
        yield
    finally:
        _SESSION.reset(token)


# ---- errors ----------------------------------------------------------------------------------
def _error(bound, message: str, code, category: str = "ReadError", target: str = "") -> CmdletError:
    """VMM errors carry their ID in the message and the FullyQualifiedErrorId (transcript of error 640:
    "... (Error ID: 640, Detailed Error: )", "ReadError: ... CarmineException", "640,<cmdlet class>")."""
    fqid = "{0},{1}".format(code, bound.command_type)
    return CmdletError(record(message, fqid, category, "CarmineException", target=target, command=bound.cmdlet))


def _not_connected(bound, server: str) -> CmdletError:
    # Error 1602 text from Microsoft's KB 3020448 and an Azure Arc VMM troubleshooting transcript
    # ("Get-SCVMMServer: Unable to connect to the VMM management server localhost. ... (Error ID: 1602)").
    # Category ConnectionError is INFERRED (the one VMM transcript seen, error 640, shows ReadError).
    return _error(bound, "Unable to connect to the VMM management server {0}. The Virtual Machine Manager service on that server "
                         "did not respond. (Error ID: 1602)\n\nVerify that Virtual Machine Manager has been installed on the server "
                         "and that the Virtual Machine Manager service is running. Then try to connect again. If the problem "
                         "persists, restart the Virtual Machine Manager service.".format(server), 1602, "ConnectionError", server)


def _from_vmm(bound, exc: VmmError, target: str = "") -> CmdletError:
    # INFERRED: lab-made VMM errors without a documented ID use a symbolic id instead of a number.
    return _error(bound, exc.message, exc.code if exc.code is not None else "LabVmm" + exc.kind, exc.kind, target)


def _wrong_type(bound, pname: str, value, wanted: str) -> BindingError:
    """PowerShell's conversion error for an object of another type (e.g. a Hyper-V VM given to -VM)."""
    given = _type_of(value) if isinstance(value, dict) else None
    given = _NS + given if given else "System.Management.Automation.PSCustomObject"
    return BindingError(record("Cannot bind parameter '{0}'. Cannot convert the \"{1}\" value of type \"{1}\" to type \"{2}\"."
                               .format(pname, given, _NS + wanted), "CannotConvertArgumentNoMessage," + bound.command_type,
                               "InvalidArgument", "ParameterBindingException", command=bound.cmdlet))


def _param_object(bound, pname: str, wanted: str):
    """The object bound to pname (an object a VMM cmdlet wrote earlier in the batch), or None."""
    value = bound.params.get(pname)
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict) or _type_of(value) != wanted:
        raise _wrong_type(bound, pname, value, wanted)
    return value


# A property only objects of that type carry: recognises an object even if the batch copied it into a plain dict.
_SIGNATURES = (("ServerInterfaceVersion", "ServerConnection"), ("CmdletName", "Task"), ("DisasterRecoverySupported", "Cloud"),
               ("Path", "HostGroup"), ("CommunicationState", "Host"), ("VirtualMachineState", "VM"))


def _type_of(value: dict) -> str | None:
    kind = getattr(value, "vmm_type", None)
    if kind:
        return kind
    return next((kind for key, kind in _SIGNATURES if key in value), None)


def _unsupported(bound, *pnames: str) -> None:
    for pname in pnames:
        if bound.params.get(pname) not in (None, False):
            raise not_modelled(bound.cmdlet, bound.command_type, "-" + pname)


# ---- connection and service -------------------------------------------------------------------
def _server(world, host_name: str, bound):
    """The VMM server behind this call; the VMM module is only installed on the VMM server (VCS §A.1 INFERRED note)."""
    vmm = world.vmm_server
    if vmm is None or world.host(host_name).role != "vmm":
        raise CmdletError(not_recognized(bound.cmdlet))
    return vmm


def _require_running(world, vmm, bound, server_name: str) -> None:
    if vmm.sync(world.clock.now()) != "Running":
        raise _not_connected(bound, server_name)


def _connect(world, host_name: str, bound):
    """Every cmdlet but Get-SCVMMServer: -VMMServer, an object's own connection, or the session's (VCS §A.1)."""
    vmm = _server(world, host_name, bound)
    conn = _param_object(bound, "VMMServer", "ServerConnection") if "VMMServer" in bound.params else None
    if conn is None:
        session = _SESSION.get()
        conn = (session or {}).get("vmm")
    if conn is None:
        # INFERRED wording: the docs only say a connection must be established with Get-SCVMMServer first.
        raise _error(bound, "No connection to a VMM management server exists in this session. Connect with Get-SCVMMServer "
                            "-ComputerName <server> first.", "NoVMMServerConnection", "ConnectionError")
    _require_running(world, vmm, bound, conn["Name"])
    return vmm


def _connect_by_object(world, host_name: str, bound, obj: dict):
    vmm = _server(world, host_name, bound)
    _require_running(world, vmm, bound, obj.get("ServerConnection") or vmm.fqdn)
    return vmm


# ---- objects ----------------------------------------------------------------------------------
def server_object(world, vmm) -> VmmObject:
    # VCS §A.1: type ServerConnection, port 8100. Other properties INFERRED.
    return VmmObject("ServerConnection", {
        "Name": vmm.fqdn, "FullyQualifiedDomainName": vmm.fqdn, "ProductVersion": _PRODUCT_VERSION,
        "ServerInterfaceVersion": _PRODUCT_VERSION, "Port": vmm.port, "IsConnected": True, "ActiveVMMNode": vmm.active_node(),
        "IsHighlyAvailable": vmm.highly_available, "UserRole": "Administrator", "UserName": world.credentials["username"],
    })


def _group_path(group: str | None) -> str | None:
    return None if group is None else _ROOT_GROUP + "\\" + group


def vm_object(world, vmm, view) -> VmmObject:
    """VMM's VirtualMachine as VMM last saw it (VCS §A.2, §A.3); property set beyond Status INFERRED."""
    vm = world.vm(view.host, view.name)
    host = world.hosts[view.host]
    power = STATUS_OF_STATE.get(view.vm_state, view.vm_state)
    last_job = next((j for j in reversed(vmm.jobs) if j.target == (view.host, view.name.lower())), None)
    return VmmObject("VM", {
        "Name": view.name, "ID": view.id, "VMId": vm.id if vm is not None else None, "ObjectType": "VM",
        "Status": view.status, "StatusString": _status_string(view.status), "VirtualMachineState": power,
        "VMHost": host.fqdn, "HostName": host.fqdn, "Cloud": vmm.cloud_of(view.host),
        "IsPrimaryVM": view.replication_mode == "Primary",
        "ReplicationStatus": view.replication_state, "ReplicationState": view.replication_state,
        "ReplicationMode": view.replication_mode, "ReplicationHealth": view.replication_health,
        "LastReplicationTime": _last_replication(world, vm),
        "CPUCount": vm.cpus if vm is not None else None, "Memory": vm.memory_mb if vm is not None else None,
        "Generation": vm.generation if vm is not None else None,
        "MostRecentTaskID": last_job.id if last_job else None, "ServerConnection": vmm.fqdn,
    })


def _status_string(status: str) -> str:
    # INFERRED: the display text splits the enum name into words ("PowerOff" -> "Stopped" in the console).
    return {"PowerOff": "Stopped", "HostNotResponding": "Host Not Responding", "UpdateFailed": "Update Failed"}.get(status, status)


def _last_replication(world, vm):
    if vm is None or vm.replication is None:
        return None
    return vm.replication.last_replication_time(world.clock.now())


def host_object(world, vmm, name: str) -> VmmObject:
    host = world.hosts[name]
    responding = vmm.host_responding(name)
    # INFERRED values of OverallState / CommunicationState / VirtualServerState.
    return VmmObject("Host", {
        "Name": host.fqdn, "ComputerName": host.name, "FullyQualifiedDomainName": host.fqdn,
        "ID": vmm.object_id("host", name), "ObjectType": "VMHost", "VMHostGroup": vmm.host_group_of(name), "HostCluster": None,
        "OverallState": "OK" if responding else "NotResponding",
        "CommunicationState": "Responding" if responding else "NotResponding",
        "VirtualServerState": "Running" if responding else "Unknown",
        "LogicalCPUCount": host.logical_processors, "TotalMemory": host.memory_gb * 1024 ** 3, "ServerConnection": vmm.fqdn,
    })


def group_objects(vmm) -> list[VmmObject]:
    groups = [VmmObject("HostGroup", {"Name": _ROOT_GROUP, "ID": vmm.object_id("hostgroup", _ROOT_GROUP), "Path": _ROOT_GROUP,
                                      "ParentHostGroup": None, "ServerConnection": vmm.fqdn})]
    for name in sorted({c["host_group"] for c in vmm.clouds.values()}, key=str.lower):
        groups.append(VmmObject("HostGroup", {"Name": name, "ID": vmm.object_id("hostgroup", name), "Path": _group_path(name),
                                              "ParentHostGroup": _ROOT_GROUP, "ServerConnection": vmm.fqdn}))
    return groups


def cloud_object(vmm, name: str) -> VmmObject:
    # INFERRED: DisasterRecoverySupported stays False (VCS §A.5: it turns on the Azure service, not modelled).
    return VmmObject("Cloud", {"Name": name, "ID": vmm.object_id("cloud", name), "Description": None,
                               "HostGroup": [vmm.clouds[name]["host_group"]], "DisasterRecoverySupported": False,
                               "ServerConnection": vmm.fqdn})


def job_object(vmm, job, now) -> VmmObject:
    # Properties used by Microsoft's examples (VCS §A.4: Status) and the microsoft.scvmm collection; the rest INFERRED.
    return VmmObject("Task", {
        "ID": job.id, "Name": job.name, "Status": job.status, "Progress": "{0} %".format(job.progress(now)),
        "ProgressValue": job.progress(now), "CmdletName": job.cmdlet, "ResultName": job.result_name,
        "ResultObjectType": job.result_type, "ResultObjectID": _result_id(vmm, job), "StartTime": job.start, "EndTime": job.end,
        "ErrorInfo": job.error if job.error else "Success (0)", "IsCompleted": job.status in ("Completed", "Failed", "Canceled"),
        "IsRestartable": job.status in ("Failed", "Canceled"), "Owner": job.owner, "ServerConnection": vmm.fqdn,
    })


def _result_id(vmm, job):
    if job.target and job.target in vmm.views:
        return vmm.views[job.target].id
    return vmm.object_id("host", job.result_name) if job.result_type == "VMHost" else None


def _view_of(world, vmm, bound, obj):
    for view in vmm.views.values():
        if view.id == obj.get("ID"):
            return view
    # INFERRED: VMM's answer for an object that no longer exists in its database.
    raise _error(bound, "Unable to find the specified virtual machine {0}. (Error ID: 801)".format(obj.get("Name")), 801,
                 "ObjectNotFound", obj.get("Name", ""))


def _job_of(vmm, bound, obj):
    for job in vmm.jobs:
        if job.id == obj.get("ID"):
            return job
    raise _error(bound, "The job {0} was not found.".format(obj.get("ID")), "JobNotFound", "ObjectNotFound", obj.get("ID", ""))


def _wait(world, job) -> None:
    """A synchronous VMM cmdlet waits for its job (VCS §A.4), without holding world.lock meanwhile."""
    vmm = world.vmm_server
    advance = getattr(getattr(world, "durations", None), "mode", "sleep") == "advance"
    cond = threading.Condition(world.lock)
    with cond:  # re-enter world.lock so wait() can release it whoever holds it
        while True:
            now = world.clock.now()
            vmm.sync(now)
            if job.status != "Running":
                return
            left = max(0.0, (job.due - now).total_seconds())
            if advance:
                world.clock.advance(left)  # tests: jump the clock instead of sleeping
                continue
            cond.wait(min(max(left / world.clock.scale, 0.001), 0.05))


def _run_job(world, bound, job) -> None:
    if bound.params.get("RunAsynchronously"):
        return
    _wait(world, job)
    if job.status == "Failed":
        raise _from_vmm(bound, VmmError(job.error or "The job failed.", kind="OperationStopped"), job.result_name)


# ---- read handlers ------------------------------------------------------------------------------
def get_scvmmserver(world, host_name: str, bound) -> list[dict]:
    vmm = _server(world, host_name, bound)
    _unsupported(bound, "Credential", "ConnectAs", "UserRoleName", "ForOnBehalfOf")
    name = bound.params["ComputerName"]
    if name.lower() not in (vmm.name.lower(), vmm.fqdn.lower()) + _LOCAL_NAMES:
        raise not_modelled(bound.cmdlet, bound.command_type, "-ComputerName for a server other than {0}".format(vmm.name))
    port = bound.params.get("TCPPort", vmm.port)
    if port != vmm.port or vmm.sync(world.clock.now()) != "Running":
        raise _not_connected(bound, name)
    conn = server_object(world, vmm)
    session = _SESSION.get()
    if session is not None:
        session["vmm"] = conn  # VCS §A.1: later cmdlets of the session reuse it
    return [conn]


def get_sccloud(world, host_name: str, bound) -> list[dict]:
    vmm = _connect(world, host_name, bound)
    _unsupported(bound, "OnBehalfOfUser", "OnBehalfOfUserRole")
    clouds = [cloud_object(vmm, name) for name in sorted(vmm.clouds, key=str.lower)]
    return _filter(clouds, bound)


def _filter(objects: list, bound) -> list:
    """-Name (exact, case-insensitive; INFERRED no wildcards) and -ID; no match is no output, not an error (INFERRED)."""
    name, wanted = bound.params.get("Name"), bound.params.get("ID")
    return [o for o in objects if (name is None or o["Name"].lower() == name.lower()) and (wanted is None or o["ID"] == wanted)]


def get_scvmhostgroup(world, host_name: str, bound) -> list[dict]:
    parent = _param_object(bound, "ParentHostGroup", "HostGroup")
    vmm = _connect_by_object(world, host_name, bound, parent) if parent else _connect(world, host_name, bound)
    groups = group_objects(vmm)
    if parent is not None:
        groups = [g for g in groups if g["ParentHostGroup"] == parent["Name"]]
    return _filter(groups, bound)


def get_scvmhost(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "VMHostCluster")
    group = _param_object(bound, "VMHostGroup", "HostGroup")
    vmm = _connect_by_object(world, host_name, bound, group) if group else _connect(world, host_name, bound)
    hosts = vmm.managed_hosts()
    if group is not None and group["Name"] != "All Hosts":
        hosts = [h for h in hosts if vmm.host_group_of(h) == group["Name"]]
    name = bound.params.get("ComputerName")
    if name:
        hosts = [h for h in hosts if name.lower() in (h.lower(), world.hosts[h].fqdn.lower())]
    objects = [host_object(world, vmm, h) for h in sorted(hosts)]
    wanted = bound.params.get("ID")
    return [o for o in objects if wanted is None or o["ID"] == wanted]


def get_scvirtualmachine(world, host_name: str, bound) -> list[dict]:
    if bound.parameter_set not in ("All", "VMHostGroup", "Cloud", "ID"):
        raise not_modelled(bound.cmdlet, bound.command_type, "-" + bound.parameter_set)
    _unsupported(bound, "OnBehalfOfUser", "OnBehalfOfUserRole")
    on_host = _param_object(bound, "VMHost", "Host")
    cloud = _param_object(bound, "Cloud", "Cloud")
    scope = on_host or cloud
    vmm = _connect_by_object(world, host_name, bound, scope) if scope else _connect(world, host_name, bound)
    views = vmm.all_views()
    if on_host is not None:
        views = [v for v in views if v.host == on_host["ComputerName"]]
    if cloud is not None:
        views = [v for v in views if vmm.cloud_of(v.host) == cloud["Name"]]
    return _filter([vm_object(world, vmm, v) for v in views], bound)


def get_scjob(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "Full", "OnBehalfOfUser", "OnBehalfOfUserRole")
    given = _param_object(bound, "Job", "Task")
    vmm = _connect_by_object(world, host_name, bound, given) if given else _connect(world, host_name, bound)
    now = world.clock.now()
    jobs = list(vmm.jobs)
    if bound.parameter_set == "RunningJobs":
        jobs = [j for j in jobs if j.status == "Running"]
    elif bound.parameter_set == "NewestJobs" and bound.params.get("Newest") is not None:
        hours = bound.params["Newest"]
        jobs = [j for j in jobs if (now - j.start).total_seconds() <= hours * 3600]
    if given is not None:
        jobs = [j for j in jobs if j.id == given["ID"]]
    objects = [job_object(vmm, j, now) for j in sorted(jobs, key=lambda j: j.start, reverse=True)]
    return _filter(objects, bound)


# ---- jobs ---------------------------------------------------------------------------------------
def restart_scjob(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "Credential", "SkipLastFailedStep", "OnBehalfOfUser", "OnBehalfOfUserRole")
    obj = _param_object(bound, "Job", "Task")
    vmm = _connect_by_object(world, host_name, bound, obj)
    job = _job_of(vmm, bound, obj)
    if job.status == "Running":
        # VCS §A.4: a running job must be cancelled first (wording INFERRED).
        raise _error(bound, "The job {0} is running. Cancel it with Stop-SCJob before restarting it.".format(job.id),
                     "JobNotRestartable", "InvalidOperation", job.id)
    if job.status not in ("Failed", "Canceled"):
        # VCS §A.4: only failed or user-cancelled jobs restart (wording INFERRED).
        raise _error(bound, "The job {0} cannot be restarted because it {1}.".format(job.id, job.status.lower()),
                     "JobNotRestartable", "InvalidOperation", job.id)
    vmm.restart_job(job, world.clock.now())
    _audit_job(world, vmm, job, "restarted")
    _wait(world, job)  # INFERRED: Restart-SCJob has no -RunAsynchronously, so it returns when the job ends
    return [job_object(vmm, job, world.clock.now())]


def stop_scjob(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "OnBehalfOfUser", "OnBehalfOfUserRole")
    obj = _param_object(bound, "Job", "Task")
    vmm = _connect_by_object(world, host_name, bound, obj)
    job = _job_of(vmm, bound, obj)
    vmm.stop_job(job, world.clock.now())  # VCS §A.4: no effect unless running
    _audit_job(world, vmm, job, "stopped")
    return [job_object(vmm, job, world.clock.now())]  # INFERRED: it writes the job


def _audit_job(world, vmm, job, event: str) -> None:
    world.audit_event("vmm-job", vmm.name, job=job.id, name=job.name, cmdlet=job.cmdlet, target=job.result_name, event=event,
                      status=job.status)


# ---- refresh ------------------------------------------------------------------------------------
def read_scvirtualmachine(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "PROTipID", "OnBehalfOfUser", "OnBehalfOfUserRole")
    if bound.parameter_set == "LightRefreshVmsOnHost":
        obj = _param_object(bound, "VMHost", "Host")
        vmm = _connect_by_object(world, host_name, bound, obj)
        name = obj["ComputerName"]
        job = vmm.new_job("Refresh virtual machines on host", bound.cmdlet, name, HOST_REFRESH_S,
                          lambda at: _light_host(vmm, name, at))
        _run_job(world, bound, job)
        return [vm_object(world, vmm, v) for v in vmm.views_on(name)]
    obj = _param_object(bound, "VM", "VM")
    vmm = _connect_by_object(world, host_name, bound, obj)
    view = _view_of(world, vmm, bound, obj)
    # TIM §7.2: on-demand heavy refresh, 10 s; VCS §A.2: refreshes Name, Status, Host, ...
    job = vmm.new_job("Refresh virtual machine", bound.cmdlet, view, VM_REFRESH_S, lambda at: vmm.refresh_vm(view, at))
    _run_job(world, bound, job)
    return [vm_object(world, vmm, view)]


def _light_host(vmm, name: str, at) -> None:
    """VCS §A.2 LightRefreshVmsOnHost: what the light refresher reads (TIM §3.3), for one host, now."""
    for view in vmm.views_on(name):
        vmm.light_refresh(view, at)
    if vmm.world.host_is_down(name):
        raise host_error(vmm.world, name, "The host is not responding.")


def read_scvmhost(world, host_name: str, bound) -> list[dict]:
    _unsupported(bound, "PROTipID")
    obj = _param_object(bound, "VMHost", "Host")
    vmm = _connect_by_object(world, host_name, bound, obj)
    name = obj["ComputerName"]
    job = vmm.new_job("Refresh host", bound.cmdlet, name, HOST_REFRESH_S, lambda at: vmm.refresh_host(name, at))
    _run_job(world, bound, job)
    return [host_object(world, vmm, name)]


# ---- power --------------------------------------------------------------------------------------
# Stop-SCVirtualMachine parameter set -> (power action, job name, simulated seconds). Job names INFERRED.
_STOP_SETS = {
    "SingleVM": ("force", "Stop virtual machine", FAST_STOP_JOB_S),
    "CorrespondsToVMM2008StopVM": ("force", "Stop virtual machine", FAST_STOP_JOB_S),
    "CorrespondsToVMM2008SaveStateVM": ("save", "Save state virtual machine", FAST_STOP_JOB_S),
    "CorrespondsToVMM2008DiscardSavedStateVM": ("discard", "Discard saved state", FAST_STOP_JOB_S),
}


def _power_job(world, host_name: str, bound, action: str, name: str, seconds: float) -> list[dict]:
    _unsupported(bound, "PROTipID", "OnBehalfOfUser", "OnBehalfOfUserRole")
    obj = _param_object(bound, "VM", "VM")
    vmm = _connect_by_object(world, host_name, bound, obj)
    view = _view_of(world, vmm, bound, obj)
    if view.failed:
        # VCS §A.3: failed states are cleared with Repair-SCVirtualMachine (wording INFERRED).
        raise _error(bound, "The virtual machine {0} is in a failed state ({1}). Run Repair-SCVirtualMachine first."
                     .format(view.name, view.status), "VMInFailedState", "InvalidOperation", view.name)
    vm = world.vm(view.host, view.name)
    if vm is None:
        raise _error(bound, "Unable to find the specified virtual machine {0} on host {1}.".format(view.name, view.host),
                     "LabVmmObjectNotFound", "ObjectNotFound", view.name)
    try:
        changed = power(world, vm, action)
    except VmmError as exc:
        job = vmm.new_job(name, bound.cmdlet, view, 0.0)
        vmm.fail_job(job, exc.message)
        _audit_job(world, vmm, job, "failed")
        raise _from_vmm(bound, exc, view.name) from None
    if not changed:
        return [vm_object(world, vmm, view)]
    world.audit_event("vmm-power", vmm.name, vm=view.name, vm_host=view.host, action=action, state=vm.state)
    job = vmm.new_job(name, bound.cmdlet, view, seconds, lambda at: _power_done(vmm, view, at))
    _run_job(world, bound, job)
    return [vm_object(world, vmm, view)]


def _power_done(vmm, view, at) -> None:
    view.failed = None
    vmm.light_refresh(view, at)


def start_scvirtualmachine(world, host_name: str, bound) -> list[dict]:
    # TIM §7.3: the VMM start job is 30 s; the guest keeps booting after it.
    return _power_job(world, host_name, bound, "start", "Start virtual machine", START_JOB_S)


def stop_scvirtualmachine(world, host_name: str, bound) -> list[dict]:
    if bound.parameter_set == "SingleVM" and bound.params.get("Shutdown"):
        # VCS §A.3: -Shutdown is a graceful guest shutdown (TIM §7.1: 30 s).
        return _power_job(world, host_name, bound, "shutdown", "Shut down virtual machine", SHUTDOWN_JOB_S)
    action, name, seconds = _STOP_SETS[bound.parameter_set]
    return _power_job(world, host_name, bound, action, name, seconds)


def repair_scvirtualmachine(world, host_name: str, bound) -> list[dict]:
    if bound.parameter_set not in ("Dismiss", "Retry"):
        raise not_modelled(bound.cmdlet, bound.command_type, "-" + bound.parameter_set)
    _unsupported(bound, "PROTipID", "OnBehalfOfUser", "OnBehalfOfUserRole")
    obj = _param_object(bound, "VM", "VM")
    vmm = _connect_by_object(world, host_name, bound, obj)
    view = _view_of(world, vmm, bound, obj)
    if view.failed is None:
        # VCS §A.3: Repair handles failed states only (wording INFERRED).
        raise _error(bound, "The virtual machine {0} is not in a failed state.".format(view.name), "VMNotInFailedState",
                     "InvalidOperation", view.name)
    if bound.parameter_set == "Retry":
        key = (view.host, view.name.lower())
        last = next((j for j in reversed(vmm.jobs) if j.target == key and j.status in ("Failed", "Canceled")), None)
        if last is None:
            raise _error(bound, "There is no failed job to retry for virtual machine {0}.".format(view.name), "NoJobToRetry",
                         "InvalidOperation", view.name)
        vmm.restart_job(last, world.clock.now())
        _audit_job(world, vmm, last, "restarted")
        _run_job(world, bound, last)
        return [vm_object(world, vmm, view)]
    job = vmm.new_job("Repair virtual machine", bound.cmdlet, view, REPAIR_JOB_S, lambda at: _power_done(vmm, view, at))
    _run_job(world, bound, job)
    return [vm_object(world, vmm, view)]


HANDLERS = {
    "Get-SCVMMServer": get_scvmmserver,
    "Get-SCCloud": get_sccloud,
    "Get-SCVMHostGroup": get_scvmhostgroup,
    "Get-SCVMHost": get_scvmhost,
    "Get-SCVirtualMachine": get_scvirtualmachine,
    "Get-SCJob": get_scjob,
    "Restart-SCJob": restart_scjob,
    "Stop-SCJob": stop_scjob,
    "Read-SCVirtualMachine": read_scvirtualmachine,
    "Read-SCVMHost": read_scvmhost,
    "Start-SCVirtualMachine": start_scvirtualmachine,
    "Stop-SCVirtualMachine": stop_scvirtualmachine,
    "Repair-SCVirtualMachine": repair_scvirtualmachine,
}
