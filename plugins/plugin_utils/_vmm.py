# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the VMM modules share: the connection call, the property lists, the shapes of VMM objects,
and the wait for VMM jobs.

PRIVATE to the collection: no compatibility promise.

Every batch starts with ``Get-SCVMMServer -ComputerName <vmm_server>`` (call 0); the later calls
that have a ``-VMMServer`` parameter get that connection object through ``{"$call": 0}``.
"""

from __future__ import annotations

import fnmatch
import time

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError, call_ref

SERVER_PROPERTIES = [
    "Name", "FullyQualifiedDomainName", "ProductVersion", "ServerInterfaceVersion", "Port", "IsConnected",
    "ActiveVMMNode", "IsHighlyAvailable", "UserRole",
]
CLOUD_PROPERTIES = ["Name", "ID", "Description", "HostGroup", "DisasterRecoverySupported"]
HOST_GROUP_PROPERTIES = ["Name", "ID", "Path", "ParentHostGroup"]
HOST_PROPERTIES = [
    "Name", "ComputerName", "FullyQualifiedDomainName", "ID", "VMHostGroup", "HostCluster", "OverallState",
    "CommunicationState", "VirtualServerState",
]
VM_PROPERTIES = [
    "Name", "ID", "VMId", "Status", "StatusString", "VirtualMachineState", "VMHost", "HostName", "Cloud",
    "IsPrimaryVM", "ReplicationMode", "ReplicationState", "ReplicationHealth", "LastReplicationTime",
    "MostRecentTaskID",
]
JOB_PROPERTIES = [
    "ID", "Name", "Status", "Progress", "CmdletName", "ResultName", "ResultObjectID", "StartTime", "EndTime",
    "ErrorInfo", "IsCompleted",
]

# VMM job states that will not change any more; the first two are success (SucceedWithInfo: done with a warning).
JOB_SUCCEEDED = ("Completed", "SucceedWithInfo")
JOB_FINISHED = JOB_SUCCEEDED + ("Failed", "Canceled")

# The VM view keys that a refresh can correct. Times and the most recent job change on every refresh by
# themselves, so they do not count as "VMM's view changed".
VIEW_KEYS = ("status", "state", "host", "cloud", "is_primary", "replication_mode", "replication_state", "replication_health")

# The connection options every VMM module takes (documented in each module).
CONNECTION_SPEC = {
    "vmm_server": {"type": "str", "default": "localhost"},
    "vmm_port": {"type": "int"},
}

WAIT_FIRST_DELAY = 0.5
WAIT_MAX_DELAY = 10.0


def connect_call(args, select=None):
    """Call 0 of every VMM batch: the connection to the VMM management server."""
    params = {"ComputerName": args["vmm_server"]}
    if args.get("vmm_port"):
        params["TCPPort"] = args["vmm_port"]
    return RunnerCall("Get-SCVMMServer", params, SERVER_PROPERTIES if select is None else select)


def server_ref():
    """The -VMMServer value of later calls: the connection object call 0 returned."""
    return call_ref(0)


def vm_by_id_call(vm_id, select=None):
    """Exactly one VM object (VMM's own ID), to hand to Read-/Start-/Stop-SCVirtualMachine -VM."""
    return RunnerCall("Get-SCVirtualMachine", {"VMMServer": server_ref(), "ID": vm_id}, select or [])


def _text(value):
    """A VMM object reference as the runner renders it (its string form), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    return str(value)


def shape_server(obj, requested):
    return {
        "name": obj.get("Name"),
        "fqdn": obj.get("FullyQualifiedDomainName"),
        "requested_name": requested,
        "product_version": _text(obj.get("ProductVersion")),
        "server_interface_version": _text(obj.get("ServerInterfaceVersion")),
        "port": obj.get("Port"),
        "is_connected": obj.get("IsConnected"),
        "active_node": _text(obj.get("ActiveVMMNode")),
        "highly_available": obj.get("IsHighlyAvailable"),
        "user_role": _text(obj.get("UserRole")),
    }


def shape_vm(obj):
    """The module's view of one VMM virtual machine (Get-SCVirtualMachine and friends)."""
    return {
        "name": obj.get("Name"),
        "id": obj.get("ID"),
        "vm_id": obj.get("VMId"),
        "status": _text(obj.get("Status")),
        "status_string": obj.get("StatusString"),
        "state": _text(obj.get("VirtualMachineState")),
        "host": _text(obj.get("VMHost")) or obj.get("HostName"),
        "cloud": _text(obj.get("Cloud")),
        "is_primary": obj.get("IsPrimaryVM"),
        "replication_mode": _text(obj.get("ReplicationMode")),
        "replication_state": _text(obj.get("ReplicationState")),
        "replication_health": _text(obj.get("ReplicationHealth")),
        "last_replication_time": obj.get("LastReplicationTime"),
        "most_recent_job_id": obj.get("MostRecentTaskID"),
    }


def shape_job(obj):
    status = _text(obj.get("Status"))
    error = _text(obj.get("ErrorInfo"))
    if status == "Completed" or (error or "").startswith("Success"):
        # VMM's ErrorInfo of a job that went well is "Success (0)": not an error.
        error = None
    return {
        "id": obj.get("ID"),
        "name": obj.get("Name"),
        "status": status,
        "progress": _text(obj.get("Progress")),
        "cmdlet": obj.get("CmdletName"),
        "result_name": obj.get("ResultName"),
        "result_object_id": obj.get("ResultObjectID"),
        "start_time": obj.get("StartTime"),
        "end_time": obj.get("EndTime"),
        "error": error,
    }


def job_finished(job):
    return job is not None and job.get("status") in JOB_FINISHED


def job_succeeded(job):
    return job is not None and job.get("status") in JOB_SUCCEEDED


def view_differs(before, after):
    """Whether VMM's view of a VM changed in a way a refresh can correct (see VIEW_KEYS)."""
    if before is None or after is None:
        return before is not after
    return any(before.get(k) != after.get(k) for k in VIEW_KEYS)


def matches(pattern, text):
    """VMM names compare case-insensitively; '*' and '?' are wildcards as in PowerShell's -like."""
    return fnmatch.fnmatchcase(str(text).lower(), str(pattern).lower())


def is_wildcard(text):
    return any(ch in text for ch in "*?[")


class VMMActionMixin:
    """Error wording and job waiting shared by the VMM action plugins (mixed into WindowsActionBase)."""

    host_name = None
    vmm_args = None

    def vmm_label(self, args):
        """How messages name the VMM server: the one asked for, and the host the task ran on."""
        if str(args["vmm_server"]).lower() in ("localhost", ".", "127.0.0.1"):
            return "VMM server %s" % self.host_name
        return "VMM server %s (reached from %s)" % (args["vmm_server"], self.host_name)

    def not_answering_msg(self, args, error, nothing_changed=True):
        if (error.fqid or "").startswith("CommandNotFoundException"):
            return (
                "The VMM PowerShell module (VirtualMachineManager) is not available on %s: %s. Run the task against the "
                "VMM management server (inventory group vmm_servers) or a host with the VMM console installed."
                % (self.host_name, error.message)
            )
        return (
            "VMM is not answering yet: Get-SCVMMServer -ComputerName %s on %s failed: %s [%s].%s "
            "After a failover of the VMM server its service needs a few minutes to start: wait for it with "
            "site_recovery.hyperv.vmm_info (until: result.service.reachable, with retries and delay), then run this task again."
            % (args["vmm_server"], self.host_name, error.message, error.fqid or error.category,
               " Nothing was changed." if nothing_changed else "")
        )

    def explain_error(self, error):
        """The task's msg for a failed cmdlet: which cmdlet, on which VMM server, what PowerShell said."""
        if getattr(error, "explained", False):
            return error.message
        args = getattr(self, "vmm_args", None) or {"vmm_server": "localhost"}
        if error.index == 0 and error.cmdlet == "Get-SCVMMServer":
            return self.not_answering_msg(args, error)
        return "%s failed on %s: %s [%s]" % (error.cmdlet, self.vmm_label(args), error.message, error.fqid or error.category)

    def wait_for_jobs(self, args, job_ids, vm_ids, timeout):
        """Poll Get-SCJob (and re-read the VMs) with backoff until every job finished or timeout seconds passed.

        Returns (jobs by id, VM views by VMM ID, timed_out). timeout 0 reads once and does not wait.
        """
        deadline = time.monotonic() + timeout
        delay = WAIT_FIRST_DELAY
        while True:
            jobs, views = self.read_jobs_and_vms(args, job_ids, vm_ids)
            if all(job_finished(jobs.get(j)) for j in job_ids):
                return jobs, views, False
            if timeout <= 0 or time.monotonic() + delay > deadline:
                return jobs, views, timeout > 0
            time.sleep(delay)
            delay = min(delay * 2, WAIT_MAX_DELAY)

    def read_jobs_and_vms(self, args, job_ids, vm_ids):
        calls = [connect_call(args, select=[])]
        calls += [RunnerCall("Get-SCJob", {"VMMServer": server_ref(), "ID": j}, JOB_PROPERTIES) for j in job_ids]
        calls += [vm_by_id_call(v, VM_PROPERTIES) for v in vm_ids]
        try:
            results = self.run_calls(calls)
        except RunnerError as e:
            if e.index == 0:
                e.message = self.not_answering_msg(args, e, nothing_changed=False)
                e.explained = True
            raise
        jobs = {}
        for rows in results[1:1 + len(job_ids)]:
            for row in rows:
                jobs[row.get("ID")] = shape_job(row)
        views = {}
        for rows in results[1 + len(job_ids):]:
            for row in rows:
                views[row.get("ID")] = shape_vm(row)
        return jobs, views
