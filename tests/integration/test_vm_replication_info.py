"""vm_replication_info and the status playbook against the standalone lab, over real WinRM."""

from __future__ import annotations

import json


def hyperv_hosts(world):
    return [h for h in world.windows_hosts() if getattr(h, "role", "hyperv") == "hyperv"]


INFO_PLAY = """
- hosts: {hosts}
  gather_facts: false
  tasks:
    - name: info
      site_recovery.hyperv.vm_replication_info: {args}
"""


def info(lab, hosts="hyperv_hosts", args=None, **kwargs):
    return lab.playbook(INFO_PLAY.format(hosts=hosts, args=json.dumps(args or {})), **kwargs)


def test_reports_every_vm_as_the_lab_holds_it(lab):
    run = info(lab)
    assert run.rc == 0, run.stdout + run.stderr
    results = run.results("info")
    world = lab.world
    assert sorted(results) == sorted(h.name for h in hyperv_hosts(world))
    now = world.clock.now()
    for host, result in results.items():
        expected = {vm.name: vm for vm in world.vms_on(host)}
        # Sorted by name, case-insensitively, as the module documents.
        assert [v["name"] for v in result["vms"]] == sorted(expected, key=str.lower)
        for reported in result["vms"]:
            vm = expected[reported["name"]]
            assert reported["state"] == vm.state
            assert reported["id"] == vm.id
            if vm.replication is None:
                assert reported["replication"] is None
                continue
            rel = vm.replication
            assert reported["replication"]["mode"] == rel.mode_on(host)
            assert reported["replication"]["state"] == rel.state
            assert reported["replication"]["frequency_sec"] == rel.frequency
            last = rel.last_replication_time(now)
            assert (reported["replication"]["last_replication_time"] is None) == (last is None)
    # The VMM server VM runs at the primary site and replicates to the secondary site.
    vmm = world.vmm["server_vm"]
    primary = [r for h, r in results.items() for v in r["vms"] if v["name"] == vmm and v["replication"]["mode"] == "Primary"]
    replica = [r for h, r in results.items() for v in r["vms"] if v["name"] == vmm and v["replication"]["mode"] == "Replica"]
    assert len(primary) == 1 and len(replica) == 1


def test_one_round_trip_per_host_and_only_documented_cmdlets(lab):
    before = len(lab.audit())
    run = info(lab)
    assert run.rc == 0, run.stdout
    new = lab.audit()[before:]
    cmdlets = [e for e in new if e["kind"] == "cmdlet"]
    hosts = {h.name for h in hyperv_hosts(lab.world)}
    for host in hosts:
        calls = [e["cmdlet"] for e in cmdlets if e["host"] == host]
        assert calls == ["Get-VM", "Get-VMReplication", "Measure-VMReplication"], (host, calls)
    assert all(e["outcome"] == "ok" for e in cmdlets)
    assert not [e for e in new if e["kind"] == "script" and not e.get("recognized", True)]


def test_recovery_points_on_the_replica_side(lab):
    world = lab.world
    rel = next(r for r in world.replications() if r.vm_name == world.vmm["server_vm"])
    run = info(lab, hosts=rel.replica_host, args={"name": [rel.vm_name], "recovery_points": True})
    assert run.rc == 0, run.stdout
    vm = run.results("info")[rel.replica_host]["vms"][0]
    points = vm["recovery_points"]
    assert len(points) == len(rel.recovery_points(world.clock.now())) > 0
    assert [p["creation_time"] for p in points] == sorted((p["creation_time"] for p in points), reverse=True)
    assert {p["type"] for p in points} <= {"Replica", "AppConsistentReplica", "SyncedReplica"}


def test_unknown_vm_fails_naming_vm_and_host(lab):
    host = hyperv_hosts(lab.world)[0].name
    run = info(lab, hosts=host, args={"name": ["no-such-vm"]})
    assert run.rc == 2
    result = run.results("info")[host]
    assert result["_status"] == "failed"
    assert "No virtual machine named 'no-such-vm' on Hyper-V host %s" % host in result["msg"]
    assert result["error"]["cmdlet"] == "Get-VM"


def test_check_mode_reads_the_same(lab):
    host = hyperv_hosts(lab.world)[0].name
    run = info(lab, hosts=host, check=True)
    assert run.rc == 0, run.stdout
    result = run.results("info")[host]
    assert result["changed"] is False
    assert {v["name"] for v in result["vms"]} == {vm.name for vm in lab.world.vms_on(host)}


def test_wrong_password_is_unreachable_with_a_hint(lab):
    inventory = lab.write_inventory("wrong-password.yml", ansible_password="not-the-password")
    host = hyperv_hosts(lab.world)[0].name
    run = info(lab, hosts=host, inventory=inventory)
    assert run.rc == 4  # unreachable
    result = run.results("info")[host]
    assert result["_status"] == "unreachable"
    assert "credentials were rejected" in result["msg"]
    assert "check ansible_user and ansible_password" in result["msg"]


def test_basic_over_http_is_refused_like_a_default_windows_host(lab):
    inventory = lab.write_inventory("basic-http.yml", ansible_winrm_transport="basic")
    host = hyperv_hosts(lab.world)[0].name
    run = info(lab, hosts=host, inventory=inventory)
    assert run.rc == 4
    result = run.results("info")[host]
    assert "Basic authentication over plain HTTP is refused" in result["msg"]


def test_basic_over_https_with_the_lab_ca_works(lab):
    host = hyperv_hosts(lab.world)[0]
    inventory = lab.write_inventory("basic-https.yml", ansible_winrm_transport="basic", ansible_winrm_scheme="https")
    # The HTTPS port differs per host: point this host at its HTTPS listener.
    endpoint = lab.service.endpoints[host.name]
    run = lab.playbook(INFO_PLAY.format(hosts=host.name, args="{}"), "-e", "ansible_port=%d" % endpoint.https_port, inventory=inventory)
    assert run.rc == 0, run.stdout
    assert {v["name"] for v in run.results("info")[host.name]["vms"]} == {vm.name for vm in lab.world.vms_on(host.name)}


def test_status_playbook_table_and_unreachable_host(lab):
    world = lab.world
    # A primary-site host that holds workload VMs only: losing it leaves the VMM server up.
    down = next(h for h in hyperv_hosts(world) if h.site == "primary" and not any(vm.name == world.vmm["server_vm"] for vm in world.vms_on(h.name))).name
    lab.service.apply_fault({"kind": "host-down", "host": down})
    try:
        run = lab.playbook("site_recovery.hyperv.status")
    finally:
        lab.service.apply_fault({"kind": "host-down", "host": down, "clear": True})
    # The run reports the lost host and still shows every other host.
    assert run.results("Read the replication state of every VM on the host")[down]["_status"] == "unreachable"
    table = next(iter(run.results("Show the replication overview").values()))["msg"]
    assert table[0].split()[:3] == ["HOST", "VM", "POWER"]
    down_rows = [line for line in table if line.startswith(down)]
    assert len(down_rows) == 1 and "UNREACHABLE" in down_rows[0]
    for host in hyperv_hosts(world):
        if host.name == down:
            continue
        for vm in world.vms_on(host.name):
            assert any(line.split()[:3] == [host.name, vm.name, vm.state] for line in table), (host.name, vm.name)


def test_no_password_in_output_or_audit_log(lab):
    run = info(lab)
    password = lab.service.password
    assert password not in run.stdout and password not in run.stderr
    assert password not in json.dumps(run.records)
    with open(lab.service.audit.path, encoding="utf-8") as f:
        assert password not in f.read()
