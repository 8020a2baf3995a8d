"""vm_replication against the standalone lab over real WinRM: every state, check mode, idempotence, refusals.

The failovers that precede a reverse are set up with the lab's own operations (lab.world.operations),
the same transitions the lab runs for Start-VMFailover; vm_failover has its own tests.
"""

from __future__ import annotations

import json

from lab.world import operations

PLAY = """
- hosts: {host}
  gather_facts: false
  tasks:
    - name: task
      site_recovery.hyperv.{module}: {args}
"""
READS = {"Get-VM", "Get-VMReplication"}


def task(lab, host, args, check=False, diff=False, module="vm_replication"):
    extra = ["--diff"] if diff else []
    run = lab.playbook(PLAY.format(host=host, module=module, args=json.dumps(args)), *extra, check=check)
    return run.results("task")[host]


def side(lab, host, name):
    """(mode, state) of the VM's relationship on that host, as the lab holds it."""
    lab.world.settle()
    vm = lab.world.vm(host, name)
    rel = vm.replication
    if rel is None:
        return ("None", "Disabled")
    return (rel.mode_on(host), rel.state_on(host))


def new_cmdlets(lab, since):
    return [e for e in lab.audit()[since:] if e["kind"] == "cmdlet"]


def run_op(lab, make):
    """Run one lab operation (planned under the world lock, then waited for) as its cmdlet handler would."""
    return operations.run(lab.world, make)


def test_remove_in_check_mode_changes_nothing_then_removes_each_side(lab):
    assert side(lab, "hv-pri-02", "web03") == ("Primary", "Replicating")
    mark = len(lab.audit())
    result = task(lab, "hv-pri-02", {"name": "web03", "state": "absent"}, check=True)
    assert result["changed"] is True
    assert result["vms"][0]["actions"] == ["Remove-VMReplication -VMName web03"]
    assert result["vms"][0]["after"]["mode"] == "None"
    assert side(lab, "hv-pri-02", "web03") == ("Primary", "Replicating")
    assert {e["cmdlet"] for e in new_cmdlets(lab, mark)} <= READS

    result = task(lab, "hv-pri-02", {"name": "web03", "state": "absent"}, diff=True)
    assert result["changed"] is True and result["_status"] == "ok"
    assert result["diff"]["before"]["web03"]["mode"] == "Primary"
    assert result["vms"][0]["after"]["mode"] == "None"
    assert side(lab, "hv-pri-02", "web03") == ("None", "Disabled")
    # HRS §3.5: the Replica side keeps its relationship until removed there too.
    assert side(lab, "hv-sec-02", "web03")[0] == "Replica"

    assert task(lab, "hv-pri-02", {"name": "web03", "state": "absent"})["changed"] is False
    assert task(lab, "hv-sec-02", {"name": "web03", "state": "absent"})["changed"] is True
    assert side(lab, "hv-sec-02", "web03") == ("None", "Disabled")
    assert lab.world.vm("hv-sec-02", "web03") is not None  # the Replica VM is not deleted


def test_enable_needs_a_replica_server_and_changes_nothing_without_one(lab):
    mark = len(lab.audit())
    result = task(lab, "hv-pri-02", {"name": "web03"})
    assert result["_status"] == "failed"
    assert result["msg"] == ("Nothing was changed on hv-pri-02. web03: replication is not enabled on hv-pri-02 and replica_server "
                             "is required to enable it.")
    assert {e["cmdlet"] for e in new_cmdlets(lab, mark)} <= READS


def test_enable_with_initial_replication_and_wait(lab):
    args = {"name": ["web03"], "replica_server": "hv-sec-03", "frequency": 30, "recovery_history": 2, "compression": False}
    mark = len(lab.audit())
    result = task(lab, "hv-pri-02", args, check=True)
    assert result["changed"] is True
    assert result["vms"][0]["actions"] == [
        "Enable-VMReplication -VMName web03 -ReplicaServerName hv-sec-03 -ReplicaServerPort 80 -AuthenticationType Kerberos "
        "-ReplicationFrequencySec 30 -RecoveryHistory 2 -CompressionEnabled False",
        "Start-VMInitialReplication -VMName web03",
    ]
    assert result["vms"][0]["after"]["state"] == "InitialReplicationInProgress"
    assert side(lab, "hv-pri-02", "web03") == ("None", "Disabled")
    assert {e["cmdlet"] for e in new_cmdlets(lab, mark)} <= READS

    # A 6 GB disk keeps the real wait short: initial replication runs at 20 MB/s simulated, 60x faster than real time.
    lab.world.vm("hv-pri-02", "web03").disk_gb = 6
    result = task(lab, "hv-pri-02", dict(args, wait=True, wait_timeout=240))
    assert result["_status"] == "ok" and result["changed"] is True, result.get("msg")
    after = result["vms"][0]["after"]
    assert (after["mode"], after["state"], after["frequency_sec"], after["recovery_history"], after["compression"]) == (
        "Primary", "Replicating", 30, 2, False)
    assert after["replica_server"] == "hv-sec-03.lab.test"
    rel = lab.world.vm("hv-pri-02", "web03").replication
    assert (rel.replica_host, rel.frequency, rel.state) == ("hv-sec-03", 30, "Replicating")

    assert task(lab, "hv-pri-02", dict(args, wait=True))["changed"] is False
    info = task(lab, "hv-sec-03", {"name": ["web03"]}, module="vm_replication_info")
    assert info["vms"][0]["replication"]["mode"] == "Replica"
    assert info["vms"][0]["replication"]["state"] == "Replicating"


def test_settings_change_only_what_differs(lab):
    mark = len(lab.audit())
    result = task(lab, "hv-pri-02", {"name": "app03", "replica_server": "hv-sec-02", "frequency": 30, "recovery_history": 8,
                                     "auto_resynchronize": True}, diff=True)
    assert result["changed"] is True
    sets = [e for e in new_cmdlets(lab, mark) if e["cmdlet"] == "Set-VMReplication"]
    assert [e["params"] for e in sets] == [{"VMName": ["app03"], "ReplicationFrequencySec": 30, "AutoResynchronizeEnabled": True}]
    assert result["diff"]["before"]["app03"]["frequency_sec"] == 300
    assert result["diff"]["after"]["app03"]["frequency_sec"] == 30
    rel = lab.world.vm("hv-pri-02", "app03").replication
    assert (rel.frequency, rel.auto_resync) == (30, True)
    again = task(lab, "hv-pri-02", {"name": "app03", "replica_server": "hv-sec-02", "frequency": 30, "auto_resynchronize": True})
    assert again["changed"] is False


def test_vss_without_recovery_history_is_refused(lab):
    rel = lab.world.vm("hv-pri-02", "sql01").replication
    before = (rel.recovery_history, rel.vss_hours)
    result = task(lab, "hv-pri-02", {"name": "sql01", "recovery_history": 0})
    assert result["_status"] == "failed"
    assert "sql01: vss_snapshot_frequency_hours=4 needs recovery_history greater than 0" in result["msg"]
    assert (rel.recovery_history, rel.vss_hours) == before


def test_settings_are_refused_on_the_replica_side(lab):
    result = task(lab, "hv-sec-02", {"name": "app03", "frequency": 900})
    assert result["_status"] == "failed"
    assert "app03: replication is Replicating (Replica side) on hv-sec-02: the replication settings (frequency) are changed on " \
           "the primary server hv-pri-02.lab.test; run the task against it." in result["msg"]


def test_suspend_and_resume(lab):
    result = task(lab, "hv-pri-02", {"name": "app03", "state": "suspended"}, check=True)
    assert result["changed"] is True and result["vms"][0]["after"]["state"] == "Suspended"
    assert side(lab, "hv-pri-02", "app03") == ("Primary", "Replicating")

    result = task(lab, "hv-pri-02", {"name": "app03", "state": "suspended"})
    assert result["changed"] is True and result["vms"][0]["after"]["state"] == "Suspended"
    assert side(lab, "hv-pri-02", "app03") == ("Primary", "Suspended")
    assert task(lab, "hv-pri-02", {"name": "app03", "state": "suspended"})["changed"] is False

    result = task(lab, "hv-pri-02", {"name": "app03", "state": "resumed"})
    assert result["changed"] is True and result["vms"][0]["actions"] == ["Resume-VMReplication -VMName app03"]
    assert side(lab, "hv-pri-02", "app03") == ("Primary", "Replicating")
    assert task(lab, "hv-pri-02", {"name": "app03", "state": "resumed"})["changed"] is False


def test_replica_is_refused_while_the_vm_runs(lab):
    assert lab.world.vm("hv-pri-02", "app03").state == "Running"
    result = task(lab, "hv-pri-02", {"name": "app03", "state": "replica"})
    assert result["_status"] == "failed"
    assert "app03: the VM is Running on hv-pri-02; it can become a Replica only while Off." in result["msg"]
    assert side(lab, "hv-pri-02", "app03") == ("Primary", "Replicating")


def test_unknown_vm_fails_clearly_and_changes_nothing(lab):
    mark = len(lab.audit())
    result = task(lab, "hv-pri-02", {"name": ["app03", "ghost"], "state": "suspended"})
    assert result["_status"] == "failed"
    assert result["msg"] == "Nothing was changed on hv-pri-02. No virtual machine named 'ghost' on Hyper-V host hv-pri-02."
    assert side(lab, "hv-pri-02", "app03") == ("Primary", "Replicating")
    assert {e["cmdlet"] for e in new_cmdlets(lab, mark)} <= READS


def test_resynchronize_after_a_primary_host_crash(lab):
    host = "hv-pri-03"
    lab.service.apply_fault({"kind": "host-down", "host": host})
    lab.service.apply_fault({"kind": "host-down", "host": host, "clear": True})
    # The lab model (TIM §1.2): a crash with the VM running requires resynchronization.
    assert side(lab, host, "web02") == ("Primary", "WaitingForStartResynchronize")
    assert side(lab, host, "file01") == ("Primary", "WaitingForStartResynchronize")

    result = task(lab, host, {"name": ["web02", "file01"], "state": "resumed"})
    assert result["_status"] == "failed"
    assert ("web02: replication is WaitingForStartResynchronize (Primary side) on hv-pri-03: the relationship needs "
            "resynchronization before it can replicate again; use state=resynchronized.") in result["msg"]
    assert side(lab, host, "web02") == ("Primary", "WaitingForStartResynchronize")

    result = task(lab, host, {"name": ["web02", "file01"], "state": "resynchronized"}, check=True)
    assert result["changed"] is True
    assert [v["actions"] for v in result["vms"]] == [["Resume-VMReplication -VMName web02 -Resynchronize"],
                                                     ["Resume-VMReplication -VMName file01 -Resynchronize"]]
    assert side(lab, host, "web02") == ("Primary", "WaitingForStartResynchronize")

    result = task(lab, host, {"name": ["web02", "file01"], "state": "resynchronized"})
    assert result["changed"] is True
    assert [v["after"]["state"] for v in result["vms"]] == ["Resynchronizing", "Resynchronizing"]
    assert side(lab, host, "web02") == ("Primary", "Resynchronizing")
    # A re-run while it runs starts nothing again.
    assert task(lab, host, {"name": ["web02", "file01"], "state": "resynchronized"})["changed"] is False

    lab.world.clock.advance(2 * 3600)  # the resync of a 60 GB disk takes about 47 simulated minutes
    result = task(lab, host, {"name": ["web02", "file01"], "state": "resynchronized", "wait": True})
    assert result["changed"] is False and result["_status"] == "ok"
    assert [v["after"]["state"] for v in result["vms"]] == ["Replicating", "Replicating"]
    assert side(lab, host, "file01") == ("Primary", "Replicating")


def test_reverse_after_a_planned_failover(lab):
    world = lab.world
    result = task(lab, "hv-sec-02", {"name": "web01", "state": "reversed"})
    assert result["_status"] == "failed"
    assert "web01: replication is Replicating (Replica side) on hv-sec-02: only a Replica that has failed over can be reversed" \
        in result["msg"]

    primary, replica = world.vm("hv-pri-02", "web01"), world.vm("hv-sec-02", "web01")
    run_op(lab, lambda: operations.stop_vm(world, primary, "shutdown"))
    run_op(lab, lambda: operations.prepare_failover(world, primary))
    result = task(lab, "hv-pri-02", {"name": "web01", "state": "absent"})
    assert result["_status"] == "failed"
    assert ("web01: replication is PreparedForFailover (Primary side) on hv-pri-02: complete the planned failover on the Replica "
            "first (site_recovery.hyperv.vm_failover), or cancel it with site_recovery.hyperv.vm_failover state=cancelled on this "
            "host.") in result["msg"]
    run_op(lab, lambda: operations.failover(world, replica))
    assert side(lab, "hv-sec-02", "web01") == ("Replica", "FailedOverWaitingCompletion")

    result = task(lab, "hv-pri-02", {"name": "web01", "state": "reversed"})
    assert result["_status"] == "failed" and "this is the old primary of a planned failover" in result["msg"]

    result = task(lab, "hv-sec-02", {"name": "web01", "state": "reversed"}, check=True)
    assert result["changed"] is True and result["vms"][0]["actions"] == ["Set-VMReplication -VMName web01 -Reverse"]
    assert side(lab, "hv-sec-02", "web01") == ("Replica", "FailedOverWaitingCompletion")

    result = task(lab, "hv-sec-02", {"name": "web01", "state": "reversed"}, diff=True)
    assert result["changed"] is True, result.get("msg")
    after = result["vms"][0]["after"]
    assert (after["mode"], after["state"], after["replica_server"]) == ("Primary", "Replicating", "hv-pri-02.lab.test")
    assert side(lab, "hv-sec-02", "web01") == ("Primary", "Replicating")
    assert side(lab, "hv-pri-02", "web01") == ("Replica", "Replicating")
    assert task(lab, "hv-sec-02", {"name": "web01", "state": "reversed"})["changed"] is False
    info = task(lab, "hv-pri-02", {"name": ["web01"]}, module="vm_replication_info")
    assert info["vms"][0]["replication"]["mode"] == "Replica"


def test_reverse_after_an_unplanned_failover_needs_the_old_primary_as_replica(lab):
    world = lab.world
    lab.service.apply_fault({"kind": "host-down", "host": "hv-pri-01"})
    try:
        run_op(lab, lambda: operations.failover(world, world.vm("hv-sec-01", "vmm01")))
    finally:
        lab.service.apply_fault({"kind": "host-down", "host": "hv-pri-01", "clear": True})
    assert side(lab, "hv-sec-01", "vmm01") == ("Replica", "FailedOverWaitingCompletion")
    assert side(lab, "hv-pri-01", "vmm01")[0] == "Primary"

    # Hyper-V refuses to reverse while the old primary is still a primary; the task says where and why.
    result = task(lab, "hv-sec-01", {"name": "vmm01", "state": "reversed"})
    assert result["_status"] == "failed"
    assert result["msg"].startswith("Set-VMReplication failed on Hyper-V host hv-sec-01:")
    assert "AsReplica" in result["msg"]
    assert side(lab, "hv-sec-01", "vmm01") == ("Replica", "FailedOverWaitingCompletion")

    result = task(lab, "hv-pri-01", {"name": "vmm01", "state": "replica"}, check=True)
    assert result["changed"] is True and result["vms"][0]["actions"] == ["Set-VMReplication -VMName vmm01 -AsReplica"]
    assert side(lab, "hv-pri-01", "vmm01")[0] == "Primary"
    result = task(lab, "hv-pri-01", {"name": "vmm01", "state": "replica"})
    assert result["changed"] is True, result.get("msg")
    assert side(lab, "hv-pri-01", "vmm01") == ("Replica", "WaitingForInitialReplication")
    assert task(lab, "hv-pri-01", {"name": "vmm01", "state": "replica"})["changed"] is False

    result = task(lab, "hv-sec-01", {"name": "vmm01", "state": "reversed"})
    assert result["changed"] is True, result.get("msg")
    assert result["vms"][0]["actions"] == ["Set-VMReplication -VMName vmm01 -Reverse", "Start-VMInitialReplication -VMName vmm01"]
    assert side(lab, "hv-sec-01", "vmm01") == ("Primary", "InitialReplicationInProgress")
    assert task(lab, "hv-sec-01", {"name": "vmm01", "state": "reversed"})["changed"] is False

    lab.world.clock.advance(2 * 3600)  # initial replication of a 60 GB disk takes about 51 simulated minutes
    result = task(lab, "hv-sec-01", {"name": "vmm01", "state": "reversed", "wait": True})
    assert result["changed"] is False and result["vms"][0]["after"]["state"] == "Replicating"
    assert side(lab, "hv-pri-01", "vmm01") == ("Replica", "Replicating")


def test_no_split_brain_was_recorded(lab):
    assert not [e for e in lab.audit() if e["kind"] == "split-brain"]
