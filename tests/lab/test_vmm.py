"""The lab's VMM server (lab/world/vmm.py, lab/cmdlets/vmm.py) driven with the collection's real runner strings."""

import base64
import datetime
import json
import os
import threading
import time

import pytest
import requests
import winrm
import yaml

from lab.audit import AuditLog
from lab.clock import Clock
from lab.runner_host import LabExecutor
from lab import service as lab_service
from lab.service import LabService
from lab.winrm import ntlm
from lab.world import TopologyError, World, topology
from tests.lab.runner_harness import RUNNER, START, call, make_lab
from tests.lab.runner_harness import run as run_batch

VM_SELECT = ["Name", "ID", "Status", "VirtualMachineState", "VMHost", "Cloud", "ReplicationState", "ReplicationMode", "MostRecentTaskID"]
JOB_SELECT = ["ID", "Name", "Status", "Progress", "CmdletName", "ResultName", "StartTime", "EndTime", "ErrorInfo", "IsCompleted"]
CONFTEST_PASSWORD = "Secr3t!pw"
NOT_CONNECTED = ("Unable to connect to the VMM management server localhost. The Virtual Machine Manager service on that server did not "
                 "respond. (Error ID: 1602)")


@pytest.fixture(name="lab")
def lab_fixture(tmp_path):
    return make_lab(tmp_path, advance=True)  # synchronous VMM cmdlets jump the clock by their job's duration


def run(executor, calls, host="vmm01"):
    return json.loads(run_batch(executor, host, calls).stdout)


RunnerCall = RUNNER.RunnerCall
ref = RUNNER.call_ref
CONNECT = RunnerCall("Get-SCVMMServer", {"ComputerName": "localhost"}, [])


def vm_id(executor, name, host):
    doc = run(executor, [CONNECT, call("Get-SCVirtualMachine", {"VMMServer": ref(0), "Name": name}, ["ID", "VMHost"])])
    return next(v["ID"] for v in doc["results"][1] if v["VMHost"].startswith(host + "."))


def view(executor, vid):
    doc = run(executor, [CONNECT, call("Get-SCVirtualMachine", {"VMMServer": ref(0), "ID": vid}, VM_SELECT)])
    assert doc["error"] is None, doc
    return doc["results"][1][0]


def on_vm(executor, vid, cmdlet, params=None, select=None):
    """Get the VM object by ID, then pass it to cmdlet -VM, as plugins/action/vmm_vm.py does."""
    return run(executor, [CONNECT, call("Get-SCVirtualMachine", {"VMMServer": ref(0), "ID": vid}, []),
                          call(cmdlet, dict({"VM": ref(1)}, **(params or {})), select or VM_SELECT)])


def fail_over_vmm_vm(world):
    """What the Hyper-V side of the runbook does: lose hv-pri-01, fail vmm01 over to hv-sec-01 and start it there."""
    world.set_host_down("hv-pri-01", True)
    with world.lock:
        replica = world.vm("hv-sec-01", "vmm01")
        world.set_replication_state(replica.replication, "FailedOverWaitingCompletion", host="hv-sec-01")
        replica.state, replica.started_at = "Running", world.clock.now()


# ---- service -------------------------------------------------------------------------------------
def test_service_is_ready_180s_after_the_guest_boots(lab):
    executor, world, audit = lab
    assert world.host_reachable("vmm01") and world.host("vmm01").site == "primary"
    fail_over_vmm_vm(world)
    assert not world.host_reachable("vmm01")  # guest still booting (timings §7.1: 60 s)
    world.clock.advance(59)
    assert not world.host_reachable("vmm01")
    world.clock.advance(1)
    assert world.host_reachable("vmm01")
    assert [h.site for h in world.windows_hosts() if h.name == "vmm01"] == ["secondary"]
    assert world.vmm_server.service(world.clock.now())[0] == "Starting"
    doc = run(executor, [call("Get-SCVMMServer", {"ComputerName": "localhost"}, ["Name"])])
    assert doc["error"]["message"].startswith(NOT_CONNECTED)
    assert doc["error"]["fqid"] == "1602,Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.GetSCVMMServerCmdlet"
    world.clock.advance(179)
    assert run(executor, [call("Get-SCVMMServer", {"ComputerName": "localhost"}, ["Name"])])["error"]["fqid"].startswith("1602,")
    world.clock.advance(1)
    doc = run(executor, [call("Get-SCVMMServer", {"ComputerName": "vmm01.lab.test"}, ["Name", "Port", "IsConnected"])])
    # The runner reports the host's clock, which in the lab is the world's clock.
    assert doc.pop("now") == world.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    assert doc == {"v": 1, "results": [[{"Name": "vmm01.lab.test", "Port": 8100, "IsConnected": True}]], "error": None}


def test_every_sc_cmdlet_fails_while_the_service_is_stopped(lab):
    executor, world, audit = lab
    world.vmm_server.set_service_stopped(True)
    for cmdlet, params in (("Get-SCVMMServer", {"ComputerName": "localhost"}), ("Get-SCVMMServer", {"ComputerName": "vmm01"})):
        err = run(executor, [call(cmdlet, params, ["Name"])])["error"]
        assert err["fqid"].startswith("1602,") and err["category"] == "ConnectionError"
    world.vmm_server.set_service_stopped(False)
    world.clock.advance(179)
    assert run(executor, [CONNECT])["error"]["fqid"].startswith("1602,")  # Starting (INFERRED: 180 s after a restart too)
    world.clock.advance(1)
    assert run(executor, [CONNECT])["error"] is None
    faults = [e for e in audit.entries() if e["kind"] == "fault" and e.get("change") == "vmm-service"]
    assert [f["stopped"] for f in faults] == [True, False]


def test_no_vmm_module_on_a_hyperv_host_and_other_servers_not_modelled(lab):
    executor, world, audit = lab
    err = run(executor, [CONNECT], host="hv-pri-01")["error"]
    assert err["fqid"] == "CommandNotFoundException" and err["target"] == "Get-SCVMMServer"
    err = run(executor, [call("Get-SCVMMServer", {"ComputerName": "vmm02"}, [])])["error"]
    assert err["fqid"].startswith("LabNotModelled")
    err = run(executor, [call("Get-SCVMMServer", {"ComputerName": "localhost", "TCPPort": 8101}, [])])["error"]
    assert err["fqid"].startswith("1602,")


# ---- connection ---------------------------------------------------------------------------------
def test_connection_semantics(lab):
    executor, world, audit = lab
    # No Get-SCVMMServer in this session: nothing to talk to.
    err = run(executor, [call("Get-SCVirtualMachine", {}, ["Name"])])["error"]
    assert err["fqid"] == "NoVMMServerConnection,Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.GetSCVirtualMachineCmdlet"
    # The session reuses the connection of an earlier Get-SCVMMServer (VCS §A.1) ...
    doc = run(executor, [CONNECT, call("Get-SCCloud", {}, ["Name", "HostGroup"])])
    assert doc["results"][1] == [{"Name": "Primary-Cloud", "HostGroup": ["Primary"]}, {"Name": "Recovery-Cloud", "HostGroup": ["Secondary"]}]
    # ... but a new batch is a new powershell.exe: no connection any more.
    assert run(executor, [call("Get-SCCloud", {}, ["Name"])])["error"]["fqid"].startswith("NoVMMServerConnection,")
    # -VMMServer takes the connection object; anything else is refused by the binder.
    doc = run(executor, [CONNECT, call("Get-SCVMHost", {"VMMServer": ref(0), "ComputerName": "hv-sec-02"}, ["Name", "VMHostGroup"])])
    assert doc["results"][1] == [{"Name": "hv-sec-02.lab.test", "VMHostGroup": "Secondary"}]
    doc = run(executor, [CONNECT, call("Get-SCCloud", {"VMMServer": ref(0), "Name": "Primary-Cloud"}, []),
                         call("Get-SCVMHost", {"VMMServer": ref(1)}, [])])
    assert doc["error"]["fqid"].startswith("CannotConvertArgumentNoMessage,") and doc["error"]["index"] == 2
    assert "Microsoft.SystemCenter.VirtualMachineManager.Cloud" in doc["error"]["message"]


def test_objects_of_another_type_are_refused_by_the_binder(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "web01", "hv-sec-02")
    doc = run(executor, [CONNECT, call("Get-SCVMHost", {"VMMServer": ref(0), "ComputerName": "hv-sec-02"}, []),
                         call("Start-SCVirtualMachine", {"VM": ref(1)}, [])])
    assert doc["error"]["fqid"] == "CannotConvertArgumentNoMessage,Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.StartSCVirtualMachineCmdlet"
    assert world.vm("hv-sec-02", "web01").state == "Off" and view(executor, vid)["Status"] == "PowerOff"


def test_inventory_of_clouds_groups_hosts(lab):
    executor, world, audit = lab
    doc = run(executor, [CONNECT, call("Get-SCVMHostGroup", {"VMMServer": ref(0)}, ["Name", "Path", "ParentHostGroup"]),
                         call("Get-SCVMHost", {"VMMServer": ref(0)}, ["ComputerName", "OverallState", "CommunicationState"]),
                         call("Get-SCVirtualMachine", {"VMMServer": ref(0)}, ["Name", "VMHost", "Status", "Cloud", "IsPrimaryVM"])])
    assert doc["error"] is None
    assert [g["Path"] for g in doc["results"][1]] == ["All Hosts", "All Hosts\\Primary", "All Hosts\\Secondary"]
    assert len(doc["results"][2]) == 6 and {h["OverallState"] for h in doc["results"][2]} == {"OK"}
    vms = doc["results"][3]
    assert len(vms) == 22  # 11 VMs, each on its primary and its replica host
    web01 = [v for v in vms if v["Name"] == "web01"]
    assert web01 == [{"Name": "web01", "VMHost": "hv-pri-02.lab.test", "Status": "Running", "Cloud": "Primary-Cloud", "IsPrimaryVM": True},
                     {"Name": "web01", "VMHost": "hv-sec-02.lab.test", "Status": "PowerOff", "Cloud": "Recovery-Cloud", "IsPrimaryVM": False}]


# ---- VMM's view ---------------------------------------------------------------------------------
def test_view_is_stale_until_read_scvirtualmachine(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "web01", "hv-sec-02")
    with world.lock:  # an out-of-band failover done with the Hyper-V cmdlets on the host
        replica = world.vm("hv-sec-02", "web01")
        world.set_replication_state(replica.replication, "FailedOverWaitingCompletion", host="hv-sec-02")
        replica.state, replica.started_at = "Running", world.clock.now()
    before = view(executor, vid)
    assert (before["Status"], before["ReplicationState"]) == ("PowerOff", "Replicating")
    doc = on_vm(executor, vid, "Read-SCVirtualMachine")
    assert doc["error"] is None
    after = doc["results"][2][0]
    assert (after["Status"], after["VirtualMachineState"], after["ReplicationState"]) == ("Running", "Running", "FailedOverWaitingCompletion")
    job = run(executor, [CONNECT, call("Get-SCJob", {"VMMServer": ref(0), "ID": after["MostRecentTaskID"]}, JOB_SELECT)])["results"][1][0]
    expected = ("Refresh virtual machine", "Completed", "Read-SCVirtualMachine", "web01")
    assert (job["Name"], job["Status"], job["CmdletName"], job["ResultName"]) == expected
    # timings §7.2: the refresh took 10 s of simulated time.
    start = datetime.datetime.fromisoformat(job["StartTime"].replace("Z", "+00:00"))
    assert (datetime.datetime.fromisoformat(job["EndTime"].replace("Z", "+00:00")) - start).total_seconds() == pytest.approx(10, abs=0.01)


def test_light_refresher_catches_power_state_but_not_replication(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "app01", "hv-pri-02")
    with world.lock:
        vm = world.vm("hv-pri-02", "app01")
        vm.state, vm.started_at = "Off", None
        world.set_replication_state(vm.replication, "Suspended")
    assert view(executor, vid)["Status"] == "Running"
    world.clock.advance(120)  # timings §3.3: legacy light refresher, 2 min
    seen = view(executor, vid)
    assert (seen["Status"], seen["ReplicationState"]) == ("PowerOff", "Replicating")


def test_nothing_refreshes_while_vmm_is_down(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "web02", "hv-pri-03")
    world.vmm_server.set_service_stopped(True)
    with world.lock:
        vm = world.vm("hv-pri-03", "web02")
        vm.state, vm.started_at = "Off", None
    world.clock.advance(3600)
    world.vmm_server.set_service_stopped(False)
    world.clock.advance(180)  # Running again, but no refresher tick yet
    assert view(executor, vid)["Status"] == "Running"
    world.clock.advance(120)
    assert view(executor, vid)["Status"] == "PowerOff"


def test_vms_of_an_unreachable_host_show_host_not_responding(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "web02", "hv-pri-03")
    world.set_host_down("hv-pri-03", True)
    assert view(executor, vid)["Status"] == "Running"  # not noticed before the next refresher tick
    world.clock.advance(120)
    assert view(executor, vid)["Status"] == "HostNotResponding"
    doc = run(executor, [CONNECT, call("Get-SCVMHost", {"VMMServer": ref(0), "ComputerName": "hv-pri-03"}, ["OverallState"])])
    assert doc["results"][1] == [{"OverallState": "NotResponding"}]
    doc = on_vm(executor, vid, "Read-SCVirtualMachine")
    assert doc["error"]["index"] == 2 and "hv-pri-03.lab.test" in doc["error"]["message"]


# ---- jobs and power -----------------------------------------------------------------------------
def test_start_scvirtualmachine_async_job_lifecycle_and_hyperv_start(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "sql01", "hv-pri-02")
    with world.lock:
        vm = world.vm("hv-pri-02", "sql01")
        vm.state, vm.started_at = "Off", None
    world.clock.advance(120)
    doc = on_vm(executor, vid, "Start-SCVirtualMachine", {"RunAsynchronously": True})
    assert doc["error"] is None
    returned = doc["results"][2][0]
    assert returned["Status"] == "PowerOff"  # returned at once, before the job refreshed VMM's view
    job_id = returned["MostRecentTaskID"]
    # The same VM object the Hyper-V handlers answer from is running now.
    hv = run(executor, [call("Get-VM", {"Name": "sql01"}, ["State"])], host="hv-pri-02")
    assert hv["results"] == [[{"State": "Running"}]]
    world.clock.advance(15)
    job = run(executor, [CONNECT, call("Get-SCJob", {"VMMServer": ref(0), "Running": True}, JOB_SELECT)])["results"][1]
    assert [(j["ID"], j["Status"], j["Progress"], j["EndTime"], j["IsCompleted"]) for j in job] == [(job_id, "Running", "50 %", None, False)]
    world.clock.advance(15)  # timings §7.3: the start job takes 30 s
    job = run(executor, [CONNECT, call("Get-SCJob", {"VMMServer": ref(0), "ID": job_id}, JOB_SELECT)])["results"][1][0]
    assert (job["Name"], job["Status"], job["Progress"], job["ErrorInfo"], job["IsCompleted"]) == (
        "Start virtual machine", "Completed", "100 %", "Success (0)", True)
    assert view(executor, vid)["Status"] == "Running"
    # VCS §A.3: starting a running VM changes nothing (and makes no job).
    doc = on_vm(executor, vid, "Start-SCVirtualMachine")
    assert doc["error"] is None and doc["results"][2][0]["MostRecentTaskID"] == job_id


def test_start_refuses_a_replica_that_has_not_failed_over(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "web03", "hv-sec-02")
    doc = on_vm(executor, vid, "Start-SCVirtualMachine")
    assert doc["error"]["index"] == 2 and "Replica virtual machine" in doc["error"]["message"]
    assert world.vm("hv-sec-02", "web03").state == "Off" and world.split_brain() == []
    failed = run(executor, [CONNECT, call("Get-SCJob", {"VMMServer": ref(0), "All": True}, JOB_SELECT)])["results"][1][0]
    assert (failed["Name"], failed["Status"]) == ("Start virtual machine", "Failed") and "Replica" in failed["ErrorInfo"]
    with world.lock:
        replica = world.vm("hv-sec-02", "web03")
        world.set_replication_state(replica.replication, "FailedOverWaitingCompletion", host="hv-sec-02")
    before = world.clock.now()
    doc = on_vm(executor, vid, "Start-SCVirtualMachine")  # synchronous: returns when the job is done
    assert doc["error"] is None and doc["results"][2][0]["Status"] == "Running"
    assert (world.clock.now() - before).total_seconds() >= 30
    assert world.vm("hv-sec-02", "web03").state == "Running"


def test_stop_variants(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "app02", "hv-pri-03")
    doc = on_vm(executor, vid, "Stop-SCVirtualMachine", {"SaveState": True})
    assert doc["results"][2][0]["Status"] == "Saved" and world.vm("hv-pri-03", "app02").state == "Saved"
    doc = on_vm(executor, vid, "Stop-SCVirtualMachine", {"Shutdown": True})
    assert doc["error"]["index"] == 2  # a saved VM cannot shut down its guest
    doc = on_vm(executor, vid, "Stop-SCVirtualMachine", {"DiscardSavedState": True})
    assert doc["results"][2][0]["Status"] == "PowerOff" and world.vm("hv-pri-03", "app02").state == "Off"
    # The binder, not the handler, refuses two set-selecting switches together.
    doc = on_vm(executor, vid, "Stop-SCVirtualMachine", {"Force": True, "SaveState": True})
    assert doc["error"]["fqid"].startswith("AmbiguousParameterSet,")


def test_stop_and_restart_scjob(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "file01", "hv-pri-03")
    doc = on_vm(executor, vid, "Read-SCVirtualMachine", {"RunAsynchronously": True})
    job_id = doc["results"][2][0]["MostRecentTaskID"]
    get_job = call("Get-SCJob", {"VMMServer": ref(0), "ID": job_id}, [])
    doc = run(executor, [CONNECT, get_job, call("Restart-SCJob", {"Job": ref(1)}, ["Status"])])
    assert doc["error"]["index"] == 2 and "Stop-SCJob" in doc["error"]["message"]  # VCS §A.4: cancel first
    world.clock.advance(4)
    doc = run(executor, [CONNECT, get_job, call("Stop-SCJob", {"Job": ref(1)}, ["Status", "Progress", "IsCompleted"])])
    assert doc["results"][2] == [{"Status": "Canceled", "Progress": "40 %", "IsCompleted": True}]
    doc = run(executor, [CONNECT, get_job, call("Stop-SCJob", {"Job": ref(1)}, ["Status"])])
    assert doc["results"][2] == [{"Status": "Canceled"}]  # no effect on a job that does not run
    before = world.clock.now()
    doc = run(executor, [CONNECT, get_job, call("Restart-SCJob", {"Job": ref(1)}, ["ID", "Status", "ErrorInfo"])])
    assert doc["results"][2] == [{"ID": job_id, "Status": "Completed", "ErrorInfo": "Success (0)"}]
    # Resumed from its checkpoint: 6 of the 10 s were left.
    assert (world.clock.now() - before).total_seconds() == pytest.approx(6, abs=0.01)


def test_service_stop_fails_running_jobs_and_repair_dismisses(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "app03", "hv-pri-02")
    doc = on_vm(executor, vid, "Stop-SCVirtualMachine", {"Shutdown": True, "RunAsynchronously": True})
    job_id = doc["results"][2][0]["MostRecentTaskID"]
    world.clock.advance(10)
    world.vmm_server.set_service_stopped(True)
    world.vmm_server.set_service_stopped(False)
    world.clock.advance(180)
    job = run(executor, [CONNECT, call("Get-SCJob", {"VMMServer": ref(0), "ID": job_id}, JOB_SELECT)])["results"][1][0]
    assert job["Status"] == "Failed" and "service stopped" in job["ErrorInfo"]
    assert view(executor, vid)["Status"] == "UpdateFailed"
    doc = on_vm(executor, vid, "Start-SCVirtualMachine")
    assert doc["error"]["fqid"].startswith("VMInFailedState,")
    doc = on_vm(executor, vid, "Repair-SCVirtualMachine", {"Dismiss": True})
    assert doc["error"] is None and doc["results"][2][0]["Status"] == "PowerOff"
    doc = on_vm(executor, vid, "Repair-SCVirtualMachine", {"Dismiss": True})
    assert doc["error"]["fqid"].startswith("VMNotInFailedState,")
    doc = on_vm(executor, vid, "Repair-SCVirtualMachine", {"Undo": True})
    assert doc["error"]["fqid"].startswith("LabNotModelled")


def test_audit_records_vmm_calls_and_jobs(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "dc-branch", "hv-pri-03")
    on_vm(executor, vid, "Read-SCVirtualMachine", {"RunAsynchronously": True})
    calls = [e for e in audit.entries() if e["kind"] == "cmdlet" and e["host"] == "vmm01"]
    expected = [("Get-SCVMMServer", "ok"), ("Get-SCVirtualMachine", "ok"), ("Read-SCVirtualMachine", "ok")]
    assert [(c["cmdlet"], c["outcome"]) for c in calls[-3:]] == expected
    assert calls[-1]["parameter_set"] == "FullRefreshSingleVm" and calls[-1]["params"]["VM"] == {"$call": 1}
    jobs = [e for e in audit.entries() if e["kind"] == "vmm-job"]
    assert jobs[-1]["name"] == "Refresh virtual machine" and jobs[-1]["target"] == "dc-branch" and jobs[-1]["event"] == "created"


# ---- through the real WinRM endpoint --------------------------------------------------------------
def _runner_over_winrm(service, host, calls):
    endpoint = service.endpoints[host]
    proto = winrm.Protocol("http://127.0.0.1:%d/wsman" % endpoint.http_port, transport="ntlm", username=service.username,
                           password=service.password, message_encryption="auto")
    shell = proto.open_shell(codepage=65001)
    try:
        encoded = base64.b64encode(RUNNER.BOOTSTRAP.encode("utf-16-le")).decode()
        cmd = proto.run_command(shell, "PowerShell", ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Unrestricted",
                                                      "-EncodedCommand", encoded], console_mode_stdin=False)
        proto.send_command_input(shell, cmd, RUNNER.build_stdin(calls), end=True)
        out, dummy, rc = proto.get_command_output(shell, cmd)
        proto.cleanup_command(shell, cmd)
    finally:
        proto.close_shell(shell)
    return rc, json.loads(out)


def test_vmm01_endpoint_answers_when_booted_and_follows_a_failover(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # One NTLM user file per process (lab/winrm/ntlm.py): reuse the password already registered for LAB\drbot, else
    # the one conftest.py's endpoints register, so that this lab and theirs can share the process.
    registered = ntlm.UserStore._entries.get(("LAB", "DRBOT"), CONFTEST_PASSWORD)  # pylint: disable=protected-access
    monkeypatch.setattr(lab_service.secrets, "token_urlsafe", lambda nbytes: registered)
    service = LabService("standalone", str(tmp_path / "lab"), time_scale=1e-6)
    service.start()
    try:
        inventory = yaml.safe_load(open(os.path.join(service.state_dir, "inventory.yml"), encoding="utf-8"))
        assert list(inventory["all"]["children"]["vmm_servers"]["hosts"]) == ["vmm01"]
        assert "vmm01" not in inventory["all"]["children"]["hyperv_hosts"]["hosts"]
        rc, doc = _runner_over_winrm(service, "vmm01", [call("Get-SCVMMServer", {"ComputerName": "localhost"}, ["Name"])])
        assert rc == 0 and doc["results"] == [[{"Name": "vmm01.lab.test"}]]

        service.apply_fault({"kind": "vmm-service"})
        rc, doc = _runner_over_winrm(service, "vmm01", [call("Get-SCVMMServer", {"ComputerName": "localhost"}, ["Name"])])
        assert rc == 1 and doc["error"]["fqid"].startswith("1602,")
        service.apply_fault({"kind": "vmm-service", "clear": True})

        fail_over_vmm_vm(service.world)
        # The service also re-syncs every 0.2 s; calling it makes the test independent of that timer.
        service._sync_reachability()  # pylint: disable=protected-access
        with pytest.raises(requests.exceptions.ConnectionError):
            _runner_over_winrm(service, "vmm01", [CONNECT])  # its guest is still booting: connection refused
        service.clock.advance(60)
        service._sync_reachability()  # pylint: disable=protected-access
        rc, doc = _runner_over_winrm(service, "vmm01", [call("Get-SCVMMServer", {"ComputerName": "localhost"}, ["Name"])])
        assert rc == 1 and doc["error"]["fqid"].startswith("1602,")  # the same endpoint answers; VMM is still starting
        service.clock.advance(180)
        calls = [CONNECT, call("Get-SCVirtualMachine", {"VMMServer": ref(0), "Name": "vmm01"}, ["VMHost", "Status"])]
        rc, doc = _runner_over_winrm(service, "vmm01", calls)
        assert rc == 0
        # VMM's own database came back as it was: it still believes it runs on hv-pri-01 until a refresh.
        assert {(v["VMHost"], v["Status"]) for v in doc["results"][1]} == {("hv-pri-01.lab.test", "Running"),
                                                                           ("hv-sec-01.lab.test", "PowerOff")}
        assert service.status()["vmm"]["host"] == "hv-sec-01"
        assert [h["site"] for h in service.status()["hosts"] if h["name"] == "vmm01"] == ["secondary"]
    finally:
        service.stop()


def test_synchronous_call_blocks_in_real_time_without_holding_the_world_lock(tmp_path):
    clock = Clock(scale=50.0, start=START)  # Read-SCVirtualMachine's 10 s job lasts 0.2 s of real time
    audit = AuditLog(None)
    world = World.load("standalone", clock, audit)
    executor = LabExecutor(world, audit)
    vid = vm_id(executor, "web01", "hv-pri-02")
    done = []
    worker = threading.Thread(target=lambda: done.append(on_vm(executor, vid, "Read-SCVirtualMachine")))
    began = time.monotonic()
    worker.start()
    time.sleep(0.05)
    assert worker.is_alive()
    with world.lock:  # the waiting call does not hold the lock
        assert worker.is_alive() and world.vmm_server.jobs[-1].status == "Running"
    worker.join(10)
    assert done and done[0]["error"] is None and done[0]["results"][2][0]["Status"] == "Running"
    assert 0.15 < time.monotonic() - began < 5
    assert world.vmm_server.jobs[-1].status == "Completed"


def test_a_vm_gone_from_its_host_shows_missing(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "web03", "hv-sec-02")
    with world.lock:
        del world.vms[("hv-sec-02", "web03")]
    assert view(executor, vid)["Status"] == "PowerOff"
    world.clock.advance(120)
    assert view(executor, vid)["Status"] == "Missing"


@pytest.mark.parametrize("vmm, message", [
    ({"server_vm": "nope"}, "vmm.server_vm 'nope' is not a VM of the topology"),
    ({"server_vm": "solo", "extra": 1}, "vmm: unknown keys ['extra']"),
    ({"server_vm": "solo", "clouds": {"C": {"hosts": ["h1"]}}}, "vmm cloud 'C': host_group (a name) is required"),
    ({"server_vm": "solo", "clouds": {"C": {"host_group": "G", "hosts": ["h9"]}}}, "vmm cloud 'C': unknown host 'h9'"),
    ({"server_vm": "solo", "clouds": {"C": {"host_group": "G", "hosts": ["h1"]}, "D": {"host_group": "H", "hosts": ["h1"]}}},
     "vmm cloud 'D': host 'h1' is already in host group 'G'"),
])
def test_topology_vmm_section_is_validated(vmm, message):
    data = {"domain": "lab.test", "credentials": {"username": "LAB\\x"}, "sites": {"a": {"hosts": ["h1"]}, "b": {"hosts": ["h2"]}},
            "vms": [{"name": "solo", "host": "h1"}], "vmm": vmm}
    with pytest.raises(TopologyError) as caught:
        topology.validate(data, "t")
    assert str(caught.value) == message


def test_light_refresh_of_a_host_updates_power_state_only(lab):
    executor, world, audit = lab
    vid = vm_id(executor, "web02", "hv-pri-03")
    with world.lock:
        vm = world.vm("hv-pri-03", "web02")
        vm.state, vm.started_at = "Off", None
        world.set_replication_state(vm.replication, "Suspended")
    doc = run(executor, [CONNECT, call("Get-SCVMHost", {"VMMServer": ref(0), "ComputerName": "hv-pri-03"}, []),
                         call("Read-SCVirtualMachine", {"VMHost": ref(1)}, ["Name", "Status", "ReplicationState"])])
    assert doc["error"] is None
    assert {"Name": "web02", "Status": "PowerOff", "ReplicationState": "Replicating"} in doc["results"][2]
    doc = run(executor, [CONNECT, call("Get-SCVMHost", {"VMMServer": ref(0), "ComputerName": "hv-pri-03"}, []),
                         call("Read-SCVMHost", {"VMHost": ref(1)}, ["Name", "OverallState"])])
    assert doc["results"][2] == [{"Name": "hv-pri-03.lab.test", "OverallState": "OK"}]
    assert view(executor, vid)["ReplicationState"] == "Suspended"  # Read-SCVMHost refreshed its VMs fully
