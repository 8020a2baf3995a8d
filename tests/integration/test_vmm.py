"""vmm_info and vmm_vm against the standalone lab's VMM server (vmm01), over real WinRM.

The lab's VMM keeps its own view of the VMs (lab/world/vmm.py): a light refresher corrects power states every
120 simulated seconds, replication properties only change on an explicit refresh. The tests that need a stale view
therefore change replication out of band. The test that takes vmm01's Hyper-V host down runs last: the VMM VM
comes back off.
"""

from __future__ import annotations

import json

VMM = "vmm01"

PLAY = """
- hosts: {hosts}
  gather_facts: false
  tasks:
    - name: task
      site_recovery.hyperv.{module}: {args}
"""


def run(lab, module, args, *extra, hosts=VMM, **kwargs):
    return lab.playbook(PLAY.format(hosts=hosts, module=module, args=json.dumps(args)), *extra, **kwargs)


def result_of(run_, host=VMM):
    return run_.results("task")[host]


def vmm_calls(lab, since):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet" and e["host"] == VMM]


def world_vm(lab, host, name):
    return lab.world.vm(host, name)


def test_vmm_info_reports_the_topology_as_the_lab_holds_it(lab):
    before = len(lab.audit())
    r = run(lab, "vmm_info", {"jobs": 5})
    assert r.rc == 0, r.stdout + r.stderr
    res = result_of(r)
    assert res["changed"] is False
    assert res["service"]["reachable"] is True
    vmm = lab.world.vmm_server
    assert res["server"]["fqdn"] == vmm.fqdn and res["server"]["port"] == 8100
    # Clouds with their host groups and hosts, as the topology defines them.
    assert {c["name"]: sorted(h.split(".")[0] for h in c["hosts"]) for c in res["clouds"]} == {
        name: sorted(spec["hosts"]) for name, spec in vmm.clouds.items()}
    assert {c["name"]: c["host_groups"] for c in res["clouds"]} == {
        name: ["All Hosts\\" + spec["host_group"]] for name, spec in vmm.clouds.items()}
    assert sorted(h["name"].split(".")[0] for h in res["hosts"]) == sorted(vmm.managed_hosts())
    assert all(h["communication_state"] == "Responding" for h in res["hosts"])
    # Every VM copy VMM knows, with the Hyper-V state of the copy on that host.
    reported = {(v["host"].split(".")[0], v["name"].lower()): v for v in res["vms"]}
    assert set(reported) == set(vmm.views)
    for (host, name), dummy in vmm.views.items():
        vm = world_vm(lab, host, name)
        view = reported[(host, name)]
        assert view["state"] == {"Off": "PowerOff"}.get(vm.state, vm.state)
        assert view["cloud"] == vmm.cloud_of(host)
        assert view["replication_mode"] == (vm.replication.mode_on(host) if vm.replication else "None")
    # One round trip: the documented cmdlets in one batch, the connection first.
    calls = vmm_calls(lab, before)
    assert [c["cmdlet"] for c in calls] == ["Get-SCVMMServer", "Get-SCCloud", "Get-SCVMHostGroup", "Get-SCVMHost",
                                            "Get-SCVirtualMachine", "Get-SCJob"]
    assert all(c["outcome"] == "ok" for c in calls)
    scripts = [e for e in lab.audit()[before:] if e["kind"] == "script" and e["host"] == VMM]
    assert not [s for s in scripts if not s.get("recognized", True)]


def test_vmm_info_filters_by_cloud_and_name(lab):
    r = run(lab, "vmm_info", {"cloud": ["Recovery-Cloud"], "name": ["web0*", "app01"], "jobs": 0})
    assert r.rc == 0, r.stdout
    res = result_of(r)
    assert [c["name"] for c in res["clouds"]] == ["Recovery-Cloud"]
    assert sorted(h["name"].split(".")[0] for h in res["hosts"]) == ["hv-sec-01", "hv-sec-02", "hv-sec-03"]
    assert sorted(v["name"] for v in res["vms"]) == ["app01", "web01", "web02", "web03"]
    assert {v["cloud"] for v in res["vms"]} == {"Recovery-Cloud"}
    assert res["jobs"] == []
    bad = run(lab, "vmm_info", {"cloud": ["Tertiary-Cloud"]})
    assert bad.rc == 2
    assert "No cloud named 'Tertiary-Cloud' on VMM server vmm01" in result_of(bad)["msg"]
    assert "Primary-Cloud, Recovery-Cloud" in result_of(bad)["msg"]


def test_start_and_stop_a_workload_vm_through_vmm(lab):
    host, name = "hv-pri-02", "web03"
    assert world_vm(lab, host, name).state == "Running"
    stop = {"name": [name], "vm_host": [host], "state": "stopped"}
    # Check mode: the plan, and no change in the Hyper-V world.
    before = len(lab.audit())
    r = run(lab, "vmm_vm", stop, check=True)
    assert r.rc == 0, r.stdout
    res = result_of(r)
    assert res["changed"] is True
    assert res["vms"][0]["actions"] == ["Stop-SCVirtualMachine -VM web03 -Shutdown"]
    assert res["vms"][0]["after"]["status"] == "PowerOff"
    assert world_vm(lab, host, name).state == "Running"
    assert [c["cmdlet"] for c in vmm_calls(lab, before)] == ["Get-SCVMMServer", "Get-SCVirtualMachine"]
    # The change: a graceful shutdown job, waited for.
    r = run(lab, "vmm_vm", stop, "--diff")
    assert r.rc == 0, r.stdout
    res = result_of(r)
    assert res["changed"] is True
    entry = res["vms"][0]
    assert entry["host"].split(".")[0] == host
    assert (entry["before"]["status"], entry["after"]["status"]) == ("Running", "PowerOff")
    assert [(j["cmdlet"], j["status"]) for j in entry["jobs"]] == [("Read-SCVirtualMachine", "Completed"),
                                                                   ("Stop-SCVirtualMachine", "Completed")]
    assert entry["jobs"][1]["name"] == "Shut down virtual machine" and entry["jobs"][1]["error"] is None
    assert world_vm(lab, host, name).state == "Off"
    # The Hyper-V host confirms it.
    info = run(lab, "vm_replication_info", {"name": [name]}, hosts=host)
    assert result_of(info, host)["vms"][0]["state"] == "Off"
    # Idempotent.
    again = result_of(run(lab, "vmm_vm", stop))
    assert again["changed"] is False and again["vms"][0]["actions"] == []
    # And back.
    start = {"name": [name], "vm_host": [host + ".lab.test"], "state": "started"}
    res = result_of(run(lab, "vmm_vm", start))
    assert res["changed"] is True, res
    assert res["vms"][0]["jobs"][-1]["cmdlet"] == "Start-SCVirtualMachine"
    assert world_vm(lab, host, name).state == "Running"
    assert result_of(run(lab, "vmm_vm", start))["changed"] is False


def test_stale_view_after_an_out_of_band_change_is_fixed_by_refreshed(lab):
    world = lab.world
    rel = next(r for r in world.replications() if r.vm_name == "file01")
    world.set_replication_state(rel, "Suspended")  # out of band: on the hosts, not through VMM
    try:
        def primary_copy():
            vms = result_of(run(lab, "vmm_info", {"name": ["file01"], "jobs": 0}))["vms"]
            return next(v for v in vms if v["host"].split(".")[0] == rel.primary_host)

        stale = primary_copy()
        assert stale["replication_state"] == "Replicating"
        refresh = {"name": ["file01"], "vm_host": [rel.primary_host], "state": "refreshed"}
        check = result_of(run(lab, "vmm_vm", refresh, check=True))
        assert check["changed"] is False and check["vms"][0]["actions"] == ["Read-SCVirtualMachine -VM file01"]
        assert primary_copy()["replication_state"] == "Replicating"
        res = result_of(run(lab, "vmm_vm", refresh))
        assert res["changed"] is True, res
        entry = res["vms"][0]
        assert (entry["before"]["replication_state"], entry["after"]["replication_state"]) == ("Replicating", "Suspended")
        assert entry["jobs"][0]["status"] == "Completed"
        assert primary_copy()["replication_state"] == "Suspended"
        assert result_of(run(lab, "vmm_vm", refresh))["changed"] is False
    finally:
        world.set_replication_state(rel, "Replicating")
    # Without vm_host a refresh takes both copies the name stands for.
    res = result_of(run(lab, "vmm_vm", {"name": ["file01"], "state": "refreshed"}))
    assert sorted(v["host"].split(".")[0] for v in res["vms"]) == sorted([rel.primary_host, rel.replica_host])


def test_bad_input_is_refused_before_any_change(lab):
    before = len(lab.audit())
    unknown = result_of(run(lab, "vmm_vm", {"name": ["web01", "no-such-vm"], "vm_host": ["hv-pri-02"], "state": "stopped"}))
    assert unknown["_status"] == "failed"
    assert unknown["msg"] == "Nothing was changed on VMM server vmm01. No virtual machine named 'no-such-vm' is known to VMM server vmm01."
    two = result_of(run(lab, "vmm_vm", {"name": ["web01"], "state": "started"}))
    assert "VMM knows 2 virtual machines named 'web01'" in two["msg"] and "set vm_host" in two["msg"]
    # Starting the Replica copy before a failover: VMM (Hyper-V) would refuse it.
    replica = result_of(run(lab, "vmm_vm", {"name": ["web01"], "vm_host": ["hv-sec-02"], "state": "started"}))
    assert replica["_status"] == "failed"
    assert "has not been failed over" in replica["msg"] and replica["msg"].startswith("No VM was started or stopped on VMM server vmm01")
    missing = result_of(run(lab, "vmm_vm", {"name": ["web01"]}))
    assert "missing required arguments: state" in missing["msg"]
    wrong = result_of(run(lab, "vmm_vm", {"name": ["web01"], "state": "stopped", "stop_action": "discard_saved_state",
                                          "vm_host": ["hv-pri-02"]}))
    assert "only applies to a saved VM" in wrong["msg"]
    changing = [c for c in vmm_calls(lab, before) if c["cmdlet"] in ("Start-SCVirtualMachine", "Stop-SCVirtualMachine")]
    assert changing == []
    assert world_vm(lab, "hv-pri-02", "web01").state == "Running" and world_vm(lab, "hv-sec-02", "web01").state == "Off"


def test_vmm_service_stopped_gives_the_clear_message_and_vmm_info_waits_for_it(lab):
    lab.service.apply_fault({"kind": "vmm-service", "host": VMM})
    try:
        info = result_of(run(lab, "vmm_info", {}))
        assert info["_status"] == "ok", info
        assert info["service"]["reachable"] is False
        assert "(Error ID: 1602)" in info["service"]["error"]["message"]
        res = result_of(run(lab, "vmm_vm", {"name": ["web02"], "vm_host": ["hv-pri-03"], "state": "stopped"}))
        assert res["_status"] == "failed"
        assert res["msg"].startswith("VMM is not answering yet: Get-SCVMMServer -ComputerName localhost on vmm01 failed")
        assert "Nothing was changed." in res["msg"] and "site_recovery.hyperv.vmm_info" in res["msg"]
        assert world_vm(lab, "hv-pri-03", "web02").state == "Running"
    finally:
        lab.service.apply_fault({"kind": "vmm-service", "host": VMM, "clear": True})
    # The service needs a while to start again: the runbook's wait.
    wait = lab.playbook("""
- hosts: vmm01
  gather_facts: false
  tasks:
    - name: task
      site_recovery.hyperv.vmm_info:
        jobs: 0
      register: vmm
      until: vmm.service.reachable
      retries: 30
      delay: 1
""")
    assert wait.rc == 0, wait.stdout
    assert result_of(wait)["service"]["reachable"] is True


def test_what_vmm_refuses_is_reported_with_the_job_error(lab):
    # A Hyper-V host that does not answer: VMM's refresh job fails, and the task says so without starting anything.
    host = "hv-sec-03"
    lab.service.apply_fault({"kind": "host-down", "host": host})
    try:
        res = result_of(run(lab, "vmm_vm", {"name": ["web02", "file01"], "vm_host": [host], "state": "stopped",
                                            "stop_action": "turn_off"}))
    finally:
        lab.service.apply_fault({"kind": "host-down", "host": host, "clear": True})
    assert res["_status"] == "failed"
    assert res["msg"].startswith("The VMM refresh failed on VMM server vmm01: ")
    assert "VMM job 'Refresh virtual machine'" in res["msg"] and "Failed: The host hv-sec-03.lab.test is not responding." in res["msg"]
    failed = {v["name"]: v["jobs"][0] for v in res["vms"]}
    assert set(failed) == {"web02", "file01"}
    assert all(j["status"] == "Failed" and j["cmdlet"] == "Read-SCVirtualMachine" and j["id"] for j in failed.values())


def test_vmm_server_unreachable_when_its_host_is_down(lab):
    # Last test of the module: the VMM VM's host crashes, so vmm01 stays off afterwards.
    vm_host = next(vm.host for vm in lab.world.vms.values() if vm.role == "vmm_server" and vm.state == "Running")
    lab.service.apply_fault({"kind": "host-down", "host": vm_host})
    try:
        r = run(lab, "vmm_info", {})
        assert r.rc == 4, r.stdout
        assert result_of(r)["_status"] == "unreachable"
    finally:
        lab.service.apply_fault({"kind": "host-down", "host": vm_host, "clear": True})
