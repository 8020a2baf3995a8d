"""vm_power against the standalone lab over real WinRM: check mode, change, idempotence, heartbeat, refusals."""

from __future__ import annotations

import json

PLAY = """
- hosts: {host}
  gather_facts: false
  tasks:
    - name: power
      site_recovery.hyperv.vm_power: {args}
"""

INFO = """
- hosts: {host}
  gather_facts: false
  tasks:
    - name: info
      site_recovery.hyperv.vm_replication_info: {{name: {names}}}
"""


def power(lab, host, args, **kwargs):
    run = lab.playbook(PLAY.format(host=host, args=json.dumps(args)), **kwargs)
    return run, run.results("power")[host]


def world_state(lab):
    """What a refusal must leave untouched: every VM's power state and every relationship's side states."""
    world = lab.world
    with world.lock:
        vms = sorted((host, vm.name, vm.state) for (host, dummy), vm in world.vms.items())
        rels = sorted((r.vm_name, r.state_on(r.primary_host), r.state_on(r.replica_host), str(r.test_vm)) for r in world.replications())
    return vms, rels


def state_changing_calls(lab, since):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet" and not e["cmdlet"].startswith(("Get-", "Measure-"))]


def test_stop_check_mode_then_change_then_idempotent(lab):
    world = lab.world
    assert world.vm("hv-pri-03", "web02").state == "Running"
    before = world_state(lab)
    run, result = power(lab, "hv-pri-03", {"name": ["web02", "file01"], "state": "stopped"}, check=True)
    assert run.rc == 0, run.stdout
    assert result["changed"] is True
    assert [v["actions"] for v in result["vms"]] == [["Stop-VM -Name web02"], ["Stop-VM -Name file01"]]
    assert [v["after"]["state"] for v in result["vms"]] == ["Off", "Off"]
    assert world_state(lab) == before  # check mode changed nothing

    since = len(lab.audit())
    run, result = power(lab, "hv-pri-03", {"name": ["web02", "file01"], "state": "stopped"})
    assert run.rc == 0, run.stdout
    assert result["changed"] is True
    assert world.vm("hv-pri-03", "web02").state == "Off" and world.vm("hv-pri-03", "file01").state == "Off"
    assert [v["after"]["state"] for v in result["vms"]] == ["Off", "Off"]
    # One batch for both VMs.
    changes = state_changing_calls(lab, since)
    assert [e["cmdlet"] for e in changes] == ["Stop-VM", "Stop-VM"] and all(e["outcome"] == "ok" for e in changes)

    run, result = power(lab, "hv-pri-03", {"name": ["web02", "file01"], "state": "stopped"})
    assert run.rc == 0 and result["changed"] is False

    # vm_replication_info sees the same.
    info = lab.playbook(INFO.format(host="hv-pri-03", names=json.dumps(["web02", "file01"])))
    assert {v["name"]: v["state"] for v in info.results("info")["hv-pri-03"]["vms"]} == {"web02": "Off", "file01": "Off"}


def test_start_waits_for_heartbeat(lab):
    world = lab.world
    run, result = power(lab, "hv-pri-03", {"name": ["web02"], "state": "started", "wait_for_heartbeat": True, "timeout": 120})
    assert run.rc == 0, run.stdout
    assert result["changed"] is True
    vm = result["vms"][0]
    assert vm["after"]["state"] == "Running"
    assert vm["after"]["heartbeat"].startswith("Ok")
    assert world.vm("hv-pri-03", "web02").state == "Running"
    run, result = power(lab, "hv-pri-03", {"name": ["web02"], "state": "started", "wait_for_heartbeat": True})
    assert result["changed"] is False


def test_turned_off_and_saved(lab):
    world = lab.world
    run, result = power(lab, "hv-pri-03", {"name": ["dc-branch"], "state": "saved"})
    assert run.rc == 0, run.stdout
    assert world.vm("hv-pri-03", "dc-branch").state == "Saved"
    run, result = power(lab, "hv-pri-03", {"name": ["dc-branch"], "state": "saved"})
    assert result["changed"] is False
    # A saved VM cannot shut down gracefully: refused with what to do, nothing changed.
    run, result = power(lab, "hv-pri-03", {"name": ["dc-branch"], "state": "stopped"})
    assert run.rc == 2 and "state=turned_off" in result["msg"]
    assert world.vm("hv-pri-03", "dc-branch").state == "Saved"
    run, result = power(lab, "hv-pri-03", {"name": ["dc-branch"], "state": "turned_off"})
    assert run.rc == 0, run.stdout
    assert world.vm("hv-pri-03", "dc-branch").state == "Off"
    run, result = power(lab, "hv-pri-03", {"name": ["dc-branch"], "state": "started"})
    assert run.rc == 0 and world.vm("hv-pri-03", "dc-branch").state == "Running"


def test_starting_a_replica_is_refused_and_changes_nothing(lab):
    before = world_state(lab)
    since = len(lab.audit())
    run, result = power(lab, "hv-sec-03", {"name": ["web02", "app02"], "state": "started"})
    assert run.rc == 2
    assert result["changed"] is False
    assert "Nothing was changed on hv-sec-03" in result["msg"]
    assert "split brain" in result["msg"] and "vm_failover state=failed_over" in result["msg"]
    assert world_state(lab) == before
    assert state_changing_calls(lab, since) == []
    assert lab.world.split_brain() == []


def test_unknown_vm_and_bad_input_change_nothing(lab):
    before = world_state(lab)
    run, result = power(lab, "hv-pri-02", {"name": ["web01", "no-such-vm"], "state": "stopped"})
    assert run.rc == 2
    assert "No virtual machine named 'no-such-vm' on Hyper-V host hv-pri-02" in result["msg"]
    run, result = power(lab, "hv-pri-02", {"name": ["web01"], "state": "rebooted"})
    assert run.rc == 2 and "state" in result["msg"]
    run, result = power(lab, "hv-pri-02", {"name": ["web01"]})
    assert run.rc == 2 and "state" in result["msg"]
    assert world_state(lab) == before
