"""The Hyper-V Replica state machine of the lab, driven with the collection's real runner strings.

Each step checks power state, mode and replication state on both hosts (hyperv-replica-states.md §3).
Durations run in "advance" mode: the clock jumps by each operation's simulated duration.
"""

import datetime
import json
import threading
import time

import pytest
import yaml

from lab.audit import AuditLog
from lab.clock import Clock
from lab.runner_host import LabExecutor
from lab.service import LabService
from lab.world import World
from lab.world import durations
from tests.lab.runner_harness import RUNNER, START, run

PRI, SEC = "hv-pri-01", "hv-sec-01"
VM_SELECT = ["Name", "Id", "State", "ReplicationState", "ReplicationMode"]
REP_SELECT = ["VMName", "ReplicationState", "ReplicationHealth", "ReplicationMode", "PrimaryServerName", "ReplicaServerName",
              "LastReplicationTime", "TestVirtualMachine"]
ref = RUNNER.call_ref


def call(cmdlet, params=None, select=None):
    return RUNNER.RunnerCall(cmdlet, params, select)


@pytest.fixture(name="lab")
def lab_fixture(tmp_path):
    clock = Clock(scale=1e-6, start=START)
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    world = World.load("standalone", clock, audit)
    world.durations.mode = "advance"
    return LabExecutor(world, audit), world, audit


def ok(executor, host, calls):
    result = run(executor, host, calls)
    doc = json.loads(result.stdout)
    assert result.rc == 0 and doc["error"] is None, doc["error"]
    return doc["results"]


def fails(executor, host, calls):
    result = run(executor, host, calls)
    doc = json.loads(result.stdout)
    assert result.rc == 1 and doc["error"] is not None, doc
    return doc["error"]


def side(world, host, name="vmm01"):
    """(power state, mode, replication state) of the VM on that host."""
    world.settle()
    vm = world.vm(host, name)
    rel = vm.replication
    return vm.state, rel.mode_on(vm.host) if rel else "None", rel.state_on(vm.host) if rel else "Disabled"


def snapshot(world):
    """Everything a refused call must leave alone."""
    with world.lock:
        vms = sorted((k, vm.state, vm.awaiting_primary) for k, vm in world.vms.items())
        rels = sorted((r.vm_name, r.primary_host, r.replica_host, r.state, tuple(sorted(r.side_states.items())),
                       tuple(sorted(r.side_modes.items())), r.test_vm, repr(r.failover), repr(r.job), r.frequency)
                      for r in world.replications())
        return vms, rels


# ---- the full DR cycle ---------------------------------------------------------------------------
def test_unplanned_failover_commit_reverse_planned_failback(lab):
    executor, world, audit = lab
    clock = world.clock
    assert side(world, PRI) == ("Running", "Primary", "Replicating") and side(world, SEC) == ("Off", "Replica", "Replicating")

    # HRS §3.2: the primary site is lost.
    world.set_site_down("primary", True)
    clock.advance(600)
    points = ok(executor, SEC, [call("Get-VMSnapshot", {"VMName": "vmm01"}, ["Name", "Id", "CreationTime", "SnapshotType"])])[0]
    assert len(points) in (8, 9)  # RecoveryHistory 8 hourly points + the latest point unless it is one (HRS §4)
    chosen = points[-3]
    before = clock.now()
    res = ok(executor, SEC, [call("Get-VMSnapshot", {"VMName": "vmm01", "Name": chosen["Name"]}, []),
                             call("Start-VMFailover", {"VMRecoverySnapshot": ref(0), "Passthru": True}, VM_SELECT)])
    assert res[0] == [{}] and res[1][0]["ReplicationState"] == "FailedOverWaitingCompletion"
    assert side(world, SEC) == ("Off", "Replica", "FailedOverWaitingCompletion")
    # TIM §7.1: 15 s + 5 s per hour back from the latest point.
    hours_back = (datetime.datetime.fromisoformat(points[-1]["CreationTime"].replace("Z", "+00:00"))
                  - datetime.datetime.fromisoformat(chosen["CreationTime"].replace("Z", "+00:00"))).total_seconds() / 3600
    assert (clock.now() - before).total_seconds() == pytest.approx(durations.unplanned_failover_seconds(hours_back), abs=0.01)

    ok(executor, SEC, [call("Start-VM", {"Name": "vmm01"}, [])])
    assert side(world, SEC) == ("Running", "Replica", "FailedOverWaitingCompletion")
    assert world.split_brain() == []  # the primary host is down: it runs nothing
    res = ok(executor, SEC, [call("Complete-VMFailover", {"VMName": "vmm01", "Passthru": True}, VM_SELECT),
                             call("Get-VMSnapshot", {"VMName": "vmm01"}, ["Id"])])
    assert res[0][0]["ReplicationState"] == "FailedOver"
    assert res[1] == [{"Id": chosen["Id"]}]  # HRS §4: only the point failed over to is kept

    # The old site returns: the primary host crashed with vmm01 running (TIM §1.2) and comes back Off.
    world.set_site_down("primary", False)
    assert side(world, PRI) == ("Off", "Primary", "WaitingForStartResynchronize")
    assert world.split_brain() == []
    err = fails(executor, SEC, [call("Set-VMReplication", {"VMName": "vmm01", "Reverse": True}, [])])
    assert err["fqid"] == "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVMReplication" and "-AsReplica" in err["message"]

    # TIM §1.4: the old primary is made a replica first, then the new primary reverses; initial replication follows.
    ok(executor, PRI, [call("Set-VMReplication", {"VMName": "vmm01", "AsReplica": True}, [])])
    assert side(world, PRI) == ("Off", "Replica", "WaitingForInitialReplication")
    err = fails(executor, PRI, [call("Start-VM", {"Name": "vmm01"}, [])])
    assert "cannot be started until it has been failed over" in err["message"]
    rep = ok(executor, SEC, [call("Set-VMReplication", {"VMName": "vmm01", "Reverse": True, "Passthru": True}, REP_SELECT)])[0][0]
    assert rep["ReplicationMode"] == "Primary" and rep["ReplicationState"] == "ReadyForInitialReplication"
    assert rep["PrimaryServerName"] == "hv-sec-01.lab.test" and rep["ReplicaServerName"] == "hv-pri-01.lab.test"
    assert side(world, PRI) == ("Off", "Replica", "WaitingForInitialReplication")
    ok(executor, SEC, [call("Start-VMInitialReplication", {"VMName": "vmm01"}, [])])
    assert side(world, SEC) == ("Running", "Primary", "InitialReplicationInProgress")
    ir_seconds = durations.initial_replication_seconds(world.vm(SEC, "vmm01").disk_gb)
    clock.advance(ir_seconds - 5)
    assert ok(executor, SEC, [call("Get-VMReplication", {}, ["ReplicationState"])])[0] == [{"ReplicationState": "InitialReplicationInProgress"}]
    clock.advance(10)
    rep = ok(executor, SEC, [call("Get-VMReplication", {}, REP_SELECT)])[0][0]
    assert rep["ReplicationState"] == "Replicating" and rep["ReplicationHealth"] == "Normal" and rep["LastReplicationTime"]
    assert side(world, PRI) == ("Off", "Replica", "Replicating")
    clock.advance(3 * 3600)
    assert len(ok(executor, PRI, [call("Get-VMSnapshot", {"VMName": "vmm01"}, ["Id"])])[0]) == 3  # one per hour since IR, latest included
    assert ok(executor, SEC, [call("Get-VMSnapshot", {"VMName": "vmm01"}, ["Id"])])[0] == []  # points live on the replica

    # HRS §3.1: planned failback to the primary site, then replication reversed again.
    ok(executor, SEC, [call("Stop-VM", {"Name": "vmm01"}, []), call("Start-VMFailover", {"VMName": "vmm01", "Prepare": True}, [])])
    assert side(world, SEC) == ("Off", "Primary", "PreparedForFailover")
    prepared_at = world.vm(SEC, "vmm01").replication.synced_at
    fails(executor, SEC, [call("Start-VM", {"Name": "vmm01"}, [])])  # locked (HRS §3.1)
    res = ok(executor, PRI, [call("Get-VMSnapshot", {"VMName": "vmm01"}, ["SnapshotType", "CreationTime"]),
                             call("Start-VMFailover", {"VMName": "vmm01"}, [])])
    assert res[0][-1]["SnapshotType"] == "SyncedReplica"  # the final planned point: no data loss
    assert world.vm(PRI, "vmm01").replication.failover["point"].time == prepared_at
    assert side(world, PRI) == ("Off", "Replica", "FailedOverWaitingCompletion")
    ok(executor, PRI, [call("Set-VMReplication", {"VMName": "vmm01", "Reverse": True}, []), call("Start-VM", {"Name": "vmm01"}, [])])
    assert side(world, PRI) == ("Running", "Primary", "Replicating")
    assert side(world, SEC) == ("Off", "Replica", "Replicating")
    rel = world.vm(PRI, "vmm01").replication
    assert (rel.primary_host, rel.replica_host) == (PRI, SEC)
    clock.advance(120)
    rep = ok(executor, PRI, [call("Get-VMReplication", {}, REP_SELECT)])[0][0]
    assert rep["ReplicationHealth"] == "Normal" and rep["ReplicaServerName"] == "hv-sec-01.lab.test"
    assert world.split_brain() == [] and world.status()["split_brain"] == []
    sets = [(e["cmdlet"], e["parameter_set"]) for e in audit.entries() if e["kind"] == "cmdlet" and e["cmdlet"] == "Start-VMFailover"]
    assert sets == [("Start-VMFailover", "VMSnapshot"), ("Start-VMFailover", "VMName"), ("Start-VMFailover", "VMName")]


def test_a_forced_start_of_the_old_primary_is_split_brain(lab):
    executor, world, audit = lab
    world.set_host_down(PRI, True)
    ok(executor, SEC, [call("Start-VMFailover", {"VMName": "vmm01"}, []), call("Start-VM", {"Name": "vmm01"}, [])])
    world.set_host_down(PRI, False)
    # Real Hyper-V does not stop this (the old primary cannot know); the world shows it.
    ok(executor, PRI, [call("Start-VM", {"Name": "vmm01"}, [])])
    assert world.split_brain() == ["vmm01"]
    assert any(e["kind"] == "split-brain" for e in audit.entries())


# ---- test failover and cancel -----------------------------------------------------------------------
def test_test_failover_creates_and_stop_deletes_the_test_vm(lab):
    executor, world, audit = lab
    res = ok(executor, "hv-sec-02", [call("Start-VMFailover", {"VMName": "web01", "AsTest": True, "Passthru": True}, VM_SELECT),
                                     call("Get-VMReplication", {"VMName": "web01"}, REP_SELECT)])
    assert res[0][0]["Name"] == "web01 - Test" and res[0][0]["ReplicationMode"] == "TestReplica" and res[0][0]["State"] == "Off"
    assert res[0][0]["Id"] != world.vm("hv-sec-02", "web01").id
    assert res[1][0]["TestVirtualMachine"] == "web01 - Test" and res[1][0]["ReplicationState"] == "Replicating"
    ok(executor, "hv-sec-02", [call("Start-VM", {"Name": "web01 - Test"}, [])])
    assert world.vm("hv-sec-02", "web01 - Test").state == "Running" and world.split_brain() == []
    assert side(world, "hv-sec-02", "web01") == ("Off", "Replica", "Replicating")
    err = fails(executor, "hv-sec-02", [call("Start-VMFailover", {"VMName": "web01", "AsTest": True}, [])])
    assert "already in progress" in err["message"]
    ok(executor, "hv-sec-02", [call("Stop-VMFailover", {"VMName": "web01"}, [])])
    assert world.vm("hv-sec-02", "web01 - Test") is None and world.vm("hv-sec-02", "web01").replication.test_vm is None


def test_cancel_an_unplanned_failover_on_the_replica(lab):
    executor, world, audit = lab
    world.set_host_down("hv-pri-02", True)
    ok(executor, "hv-sec-02", [call("Start-VMFailover", {"VMName": "web01"}, []), call("Start-VM", {"Name": "web01"}, [])])
    res = ok(executor, "hv-sec-02", [call("Stop-VMFailover", {"VMName": "web01", "Passthru": True}, VM_SELECT)])
    assert res[0][0]["State"] == "Off" and res[0][0]["ReplicationState"] == "Replicating"  # HRS §3.4: VM turned off, failover cancelled
    assert world.vm("hv-sec-02", "web01").replication.failover is None
    # After Complete-VMFailover it can no longer be cancelled.
    ok(executor, "hv-sec-02", [call("Start-VMFailover", {"VMName": "web01"}, []), call("Complete-VMFailover", {"VMName": "web01"}, [])])
    before = snapshot(world)
    err = fails(executor, "hv-sec-02", [call("Stop-VMFailover", {"VMName": "web01"}, [])])
    assert "can no longer be cancelled" in err["message"] and snapshot(world) == before


def test_cancel_a_prepared_planned_failover_on_the_primary(lab):
    executor, world, audit = lab
    ok(executor, "hv-pri-02", [call("Stop-VM", {"Name": "web01"}, []), call("Start-VMFailover", {"VMName": "web01", "Prepare": True}, [])])
    assert side(world, "hv-pri-02", "web01") == ("Off", "Primary", "PreparedForFailover")
    ok(executor, "hv-pri-02", [call("Stop-VMFailover", {"VMName": "web01"}, []), call("Start-VM", {"Name": "web01"}, [])])
    assert side(world, "hv-pri-02", "web01") == ("Running", "Primary", "Replicating")
    world.clock.advance(600)
    assert world.vm("hv-pri-02", "web01").replication.health(world.clock.now()) == "Normal"


# ---- refusals change nothing -------------------------------------------------------------------------
def _prepare_web01(executor):
    ok(executor, "hv-pri-02", [call("Stop-VM", {"Name": "web01"}, []), call("Start-VMFailover", {"VMName": "web01", "Prepare": True}, [])])


@pytest.mark.parametrize("setup, host, cmdlet, params, fqid, text", [
    (None, "hv-sec-02", "Start-VM", {"Name": "web01"}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM", "has been failed over"),
    (_prepare_web01, "hv-pri-02", "Start-VM", {"Name": "web01"}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM",
     "prepared for planned failover"),
    (None, "hv-pri-02", "Start-VMFailover", {"VMName": "web01", "Prepare": True}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVMFailover",
     "must be turned off"),
    (None, "hv-pri-02", "Start-VMFailover", {"VMName": "web01"}, "InvalidOperation,Microsoft.HyperV.PowerShell.Commands.StartVMFailover",
     "runs on the Replica"),
    (None, "hv-sec-02", "Start-VMFailover", {"VMName": "web01"}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVMFailover",
     "primary virtual machine on 'hv-pri-02.lab.test' is running"),
    (None, "hv-sec-02", "Complete-VMFailover", {"VMName": "web01"}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.CompleteVMFailover",
     "not waiting for failover completion"),
    (None, "hv-sec-02", "Stop-VMFailover", {"VMName": "web01"}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.StopVMFailover",
     "no failover to cancel"),
    (None, "hv-sec-02", "Set-VMReplication", {"VMName": "web01", "Reverse": True}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVMReplication",
     "has failed over"),
    (None, "hv-pri-02", "Resume-VMReplication", {"VMName": "web01"}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.ResumeVMReplication",
     "Cannot resume"),
    (None, "hv-pri-02", "Stop-VMReplication", {"VMName": "web01"}, "InvalidState,Microsoft.HyperV.PowerShell.Commands.StopVMReplication",
     "no resynchronization"),
    (None, "hv-pri-02", "Start-VMInitialReplication", {"VMName": "web01"},
     "InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVMInitialReplication", "Cannot start initial replication"),
    (None, "hv-pri-02", "Enable-VMReplication", {"VMName": "web01", "ReplicaServerName": "hv-sec-02", "ReplicaServerPort": 80,
                                                 "AuthenticationType": "Kerberos"},
     "InvalidOperation,Microsoft.HyperV.PowerShell.Commands.EnableVMReplication", "already enabled"),
    (None, "hv-pri-02", "Set-VMReplication", {"VMName": "web01", "ReplicationFrequencySec": 60},
     "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.SetVMReplication", "30, 300 or 900"),
    (None, "hv-pri-02", "Set-VMReplication", {"VMName": "web01", "AsReplica": True},
     "InvalidState,Microsoft.HyperV.PowerShell.Commands.SetVMReplication", "must be turned off"),
    (None, "hv-pri-02", "Start-VM", {"Name": "nope"}, "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.StartVM", "unable to find"),
])
def test_refusals_give_the_hyperv_error_and_change_nothing(lab, setup, host, cmdlet, params, fqid, text):
    executor, world, audit = lab
    if setup:
        setup(executor)
    before, now = snapshot(world), world.clock.now()
    err = fails(executor, host, [call(cmdlet, params, [])])
    assert err["fqid"] == fqid and text in err["message"] and err["cmdlet"] == cmdlet
    assert snapshot(world) == before and world.clock.now() - now < datetime.timedelta(seconds=1)


def test_whatif_changes_nothing(lab):
    executor, world, audit = lab
    before, now = snapshot(world), world.clock.now()
    res = ok(executor, "hv-pri-02", [
        call("Stop-VM", {"Name": "web01", "WhatIf": True, "Passthru": True}, VM_SELECT),
        call("Suspend-VMReplication", {"VMName": "web01", "WhatIf": True}, []),
        call("Set-VMReplicationServer", {"ReplicationEnabled": False, "WhatIf": True}, []),
        call("Remove-VMReplication", {"VMName": "web03", "WhatIf": True}, []),
    ])
    assert res == [[], [], [], []]
    assert ok(executor, "hv-sec-02", [call("Start-VMFailover", {"VMName": "web01", "AsTest": True, "WhatIf": True}, [])]) == [[]]
    assert snapshot(world) == before and world.clock.now() - now < datetime.timedelta(seconds=1)
    assert world.host("hv-pri-02").replication_enabled is True


# ---- initial replication, pause/resume/resync, remove ----------------------------------------------
def _two_host_world(tmp_path, clock):
    topo = {"name": "two", "domain": "lab.test", "credentials": {"username": "LAB\\x"},
            "sites": {"a": {"hosts": ["h1"]}, "b": {"hosts": ["h2"]}},
            "vms": [{"name": "solo", "host": "h1", "disk_gb": 40}]}
    path = tmp_path / "two.yml"
    path.write_text(yaml.safe_dump(topo))
    world = World.load(str(path), clock, AuditLog(None))
    world.durations.mode = "advance"
    return world


def test_enable_and_initial_replication_complete_with_the_clock(tmp_path):
    clock = Clock(scale=1e-6, start=START)
    world = _two_host_world(tmp_path, clock)
    executor = LabExecutor(world, AuditLog(None))
    rep = ok(executor, "h1", [call("Enable-VMReplication", {"VMName": "solo", "ReplicaServerName": "h2.lab.test", "ReplicaServerPort": 80,
                                                            "AuthenticationType": "Kerberos", "RecoveryHistory": 2, "Passthru": True},
                                   REP_SELECT)])[0][0]
    assert rep["ReplicationState"] == "ReadyForInitialReplication" and rep["LastReplicationTime"] is None
    assert side(world, "h2", "solo") == ("Off", "Replica", "WaitingForInitialReplication")
    too_late = (clock.now() + datetime.timedelta(days=8)).isoformat()
    err = fails(executor, "h1", [call("Start-VMInitialReplication", {"VMName": "solo", "InitialReplicationStartTime": too_late}, [])])
    assert "7 days" in err["message"]
    ok(executor, "h1", [call("Start-VMInitialReplication", {"VMName": "solo"}, [])])
    assert side(world, "h1", "solo") == ("Running", "Primary", "InitialReplicationInProgress")
    assert side(world, "h2", "solo")[2] == "WaitingForInitialReplication"
    assert world.vm("h1", "solo").replication.health(clock.now()) == "Warning"  # TIM §1.2: IR not finished
    clock.advance(40 * 1024 / 20 - 1)  # TIM §7.1: 40 GB at 20 MB/s = 2048 s
    assert side(world, "h1", "solo")[2] == "InitialReplicationInProgress"
    clock.advance(2)
    assert ok(executor, "h2", [call("Get-VMReplication", {}, ["ReplicationState", "ReplicationMode"])])[0] == \
        [{"ReplicationState": "Replicating", "ReplicationMode": "Replica"}]
    clock.advance(3 * 3600)
    assert len(ok(executor, "h2", [call("Get-VMSnapshot", {"VMName": "solo"}, ["Id"])])[0]) == 2  # RecoveryHistory 2 (latest is one)
    # Stop/restart initial replication on another relationship is covered by the state checks; now remove per side (HRS §3.5).
    ok(executor, "h1", [call("Remove-VMReplication", {"VMName": "solo"}, [])])
    assert world.vm("h1", "solo").replication is None and world.vm("h2", "solo").replication is not None
    ok(executor, "h2", [call("Remove-VMReplication", {"VMName": "solo"}, [])])
    assert world.vm("h2", "solo") is not None and world.vm("h2", "solo").replication is None  # the Replica VM stays


def test_suspend_resume_resync_and_statistics(lab):
    executor, world, audit = lab
    clock = world.clock
    ok(executor, "hv-pri-02", [call("Suspend-VMReplication", {"VMName": "app01"}, [])])
    assert side(world, "hv-sec-02", "app01")[2] == "Suspended"
    ok(executor, "hv-sec-02", [call("Resume-VMReplication", {"VMName": "app01"}, [])])
    assert side(world, "hv-pri-02", "app01")[2] == "Replicating"
    # A host crash with the VM running needs resync (TIM §1.2).
    world.set_host_down("hv-pri-02", True)
    clock.advance(4 * 3600)
    world.set_host_down("hv-pri-02", False)
    assert side(world, "hv-pri-02", "web01") == ("Off", "Primary", "WaitingForStartResynchronize")
    err = fails(executor, "hv-pri-02", [call("Resume-VMReplication", {"VMName": "web01"}, [])])
    assert "-Resynchronize" in err["message"]
    ok(executor, "hv-pri-02", [call("Resume-VMReplication", {"VMName": "web01", "Resynchronize": True}, [])])
    assert side(world, "hv-pri-02", "web01")[2] == "Resynchronizing"
    ok(executor, "hv-pri-02", [call("Stop-VMReplication", {"VMName": "web01"}, [])])  # HRS §3.5: cancels the resync
    assert side(world, "hv-pri-02", "web01")[2] == "WaitingForStartResynchronize"
    ok(executor, "hv-pri-02", [call("Resume-VMReplication", {"VMName": "web01", "Resynchronize": True}, []),
                               call("Suspend-VMReplication", {"VMName": "web01"}, [])])
    assert side(world, "hv-pri-02", "web01")[2] == "ResynchronizeSuspended"
    ok(executor, "hv-pri-02", [call("Resume-VMReplication", {"VMName": "web01", "Continue": True}, [])])
    clock.advance(durations.resync_seconds(60, 4 * 3600 * 64 * 1024) + 60)
    rep = ok(executor, "hv-sec-02", [call("Get-VMReplication", {"VMName": "web01"}, REP_SELECT)])[0][0]
    assert rep["ReplicationState"] == "Replicating" and rep["ReplicationHealth"] == "Normal"
    assert len(ok(executor, "hv-sec-02", [call("Get-VMSnapshot", {"VMName": "web01"}, ["Id"])])[0]) == 1  # resync deleted old points
    # app01 missed four hours of cycles: Warning until Reset-VMReplicationStatistics (HRS §1.2).
    ok(executor, "hv-pri-02", [call("Resume-VMReplication", {"VMName": "app01", "Resynchronize": True}, [])])
    clock.advance(durations.resync_seconds(60, 4 * 3600 * 64 * 1024) + 60)
    ok(executor, "hv-pri-02", [call("Set-VMReplication", {"VMName": "app03", "ReplicationFrequencySec": 30}, [])])
    world.set_replication_state(world.vm("hv-pri-02", "app03").replication, "Suspended")
    clock.advance(2 * 3600)
    world.set_replication_state(world.vm("hv-pri-02", "app03").replication, "Replicating")
    clock.advance(60)
    assert world.vm("hv-pri-02", "app03").replication.health(clock.now()) == "Warning"
    ok(executor, "hv-pri-02", [call("Reset-VMReplicationStatistics", {"VMName": "app03"}, [])])
    assert ok(executor, "hv-pri-02", [call("Get-VMReplication", {"VMName": "app03"}, ["ReplicationHealth", "ReplicationFrequencySec"])])[0] == \
        [{"ReplicationHealth": "Normal", "ReplicationFrequencySec": 30}]


def test_frequency_change_keeps_replication_time_monotonic(lab):
    executor, world, audit = lab
    rel = world.vm("hv-pri-02", "web01").replication
    before = rel.last_replication_time(world.clock.now())
    ok(executor, "hv-pri-02", [call("Set-VMReplication", {"VMName": "web01", "ReplicationFrequencySec": 900, "RecoveryHistory": 2}, [])])
    assert rel.last_replication_time(world.clock.now()) == before
    world.clock.advance(901)
    after = rel.last_replication_time(world.clock.now())
    assert after == before + datetime.timedelta(seconds=900)
    assert len(rel.recovery_points(world.clock.now())) <= 3


# ---- object references -------------------------------------------------------------------------------
def test_object_references_bind_by_type(lab):
    executor, world, audit = lab
    # VirtualMachine objects to -VM, VMReplication objects to -VMReplication.
    res = ok(executor, "hv-pri-02", [call("Get-VM", {"Name": "web0*"}, []),
                                     call("Stop-VM", {"VM": ref(0), "TurnOff": True, "Passthru": True}, ["Name", "State"]),
                                     call("Get-VMReplication", {"VMName": "web01"}, []),
                                     call("Suspend-VMReplication", {"VMReplication": ref(-1), "Passthru": True}, ["VMName", "ReplicationState"])])
    assert res[1] == [{"Name": "web01", "State": "Off"}, {"Name": "web03", "State": "Off"}]
    assert res[3] == [{"VMName": "web01", "ReplicationState": "Suspended"}]
    entry = [e for e in audit.entries() if e["kind"] == "cmdlet"][-1]
    assert entry["parameter_set"] == "VMReplication" and entry["params"] == {"VMReplication": {"$call": -1}, "Passthru": True}
    # A VirtualMachine is not a VMSnapshot: PowerShell's binder error, nothing changes.
    before = snapshot(world)
    err = fails(executor, "hv-sec-02", [call("Get-VM", {"Name": "web01"}, []), call("Start-VMFailover", {"VMRecoverySnapshot": ref(0)}, [])])
    vm_id = world.vm("hv-sec-02", "web01").id
    assert err["fqid"] == "CannotConvertArgumentNoMessage,Microsoft.HyperV.PowerShell.Commands.StartVMFailover"
    assert err["message"] == ("Cannot bind parameter 'VMRecoverySnapshot'. Cannot convert the \"VirtualMachine (Name = 'web01') [Id = '{0}']\" "
                              "value of type \"Microsoft.HyperV.PowerShell.VirtualMachine\" to type "
                              "\"Microsoft.HyperV.PowerShell.VMSnapshot\".".format(vm_id))
    # Several recovery points to the single -VMRecoverySnapshot.
    err = fails(executor, "hv-sec-02", [call("Get-VMSnapshot", {"VMName": "web01"}, []), call("Start-VMFailover", {"VMRecoverySnapshot": ref(0)}, [])])
    assert err["fqid"].startswith("CannotConvertArgument,")
    assert snapshot(world) == before
    # A reference to a call that does not exist stops the script itself: no JSON, PowerShell's error.
    result = run(executor, "hv-sec-02", [call("Start-VMFailover", {"VMRecoverySnapshot": ref(3)}, [])])
    assert result.rc == 1 and result.stdout == "" and result.errors[0].fqid == "InvokeMethodOnNull"


# ---- faults, durations, server -----------------------------------------------------------------------
def test_cmdlet_fault_injection(lab):
    executor, world, audit = lab
    world.inject_cmdlet_fault("hv-pri-02", "stop-vm", "The operation failed because the file was not found.", count=1)
    err = fails(executor, "hv-pri-02", [call("Stop-VM", {"Name": "web01"}, [])])
    assert err == {"index": 0, "cmdlet": "Stop-VM", "message": "The operation failed because the file was not found.",
                   "fqid": "OperationFailed,Microsoft.HyperV.PowerShell.Commands.StopVM", "category": "NotSpecified", "target": None}
    assert world.vm("hv-pri-02", "web01").state == "Running"
    ok(executor, "hv-pri-02", [call("Stop-VM", {"Name": "web01"}, [])])  # count exhausted
    assert world.vm("hv-pri-02", "web01").state == "Off"
    world.inject_cmdlet_fault("hv-sec-02", "Get-VM", "RPC server unavailable", fqid="Unspecified", category="ResourceUnavailable")
    for dummy in range(2):
        err = fails(executor, "hv-sec-02", [call("Get-VM", {}, [])])
        assert err["fqid"] == "Unspecified,Microsoft.HyperV.PowerShell.Commands.GetVM" and err["category"] == "ResourceUnavailable"
    world.clear_cmdlet_fault("hv-sec-02", "Get-VM")
    ok(executor, "hv-sec-02", [call("Get-VM", {}, [])])


class _ServiceParts:
    """What LabService.apply_fault uses, without endpoints (a real LabService registers NTLM users process-wide)."""

    apply_fault = LabService.apply_fault

    def __init__(self, world):
        self.world = world
        self.audit = world.audit

    def _sync_reachability(self):
        return None

    def status(self):
        return self.world.status()


def test_cmdlet_fault_through_the_service(lab):
    executor, world, audit = lab
    service = _ServiceParts(world)
    service.apply_fault({"kind": "cmdlet", "host": "hv-sec-01", "cmdlet": "Start-VMFailover", "message": "nope", "count": 1})
    err = fails(executor, SEC, [call("Start-VMFailover", {"VMName": "vmm01", "AsTest": True}, [])])
    assert err["message"] == "nope" and world.vm(SEC, "vmm01").replication.test_vm is None
    service.apply_fault({"kind": "cmdlet", "host": "hv-sec-01", "cmdlet": "Start-VMFailover", "message": "again"})
    service.apply_fault({"kind": "cmdlet", "host": "hv-sec-01", "cmdlet": "Start-VMFailover", "clear": True})
    assert world.take_cmdlet_fault("hv-sec-01", "Start-VMFailover") is None
    assert [e["change"] for e in audit.entries() if e["kind"] == "fault"] == ["cmdlet", "cmdlet", "cmdlet-cleared"]


def test_durations_table_and_advance_mode(lab):
    executor, world, audit = lab
    assert durations.SECONDS["start_vm"] == 5 and durations.SECONDS["stop_vm"] == 30  # TIM §7.1 defaults
    t0 = world.clock.now()
    ok(executor, "hv-pri-02", [call("Stop-VM", {"Name": "web01"}, [])])
    t1 = world.clock.now()
    ok(executor, "hv-pri-02", [call("Start-VM", {"Name": "web01"}, [])])
    t2 = world.clock.now()
    assert (t1 - t0).total_seconds() == pytest.approx(30, abs=0.01)
    assert (t2 - t1).total_seconds() == pytest.approx(5, abs=0.01)
    assert ok(executor, "hv-pri-02", [call("Get-VM", {"Name": "web01"}, ["Heartbeat"])])[0] == [{"Heartbeat": "NoContact"}]
    world.clock.advance(60)  # TIM §7.1: guest boot to heartbeat OK
    assert ok(executor, "hv-pri-02", [call("Get-VM", {"Name": "web01"}, ["Heartbeat"])])[0] == [{"Heartbeat": "OkApplicationsHealthy"}]


def _watch(world, host, name, seen, stop):
    """Record the power states another thread sees; each look takes world.lock only briefly."""
    while not stop.is_set():
        if world.lock.acquire(timeout=1):
            seen.add(world.vm(host, name).state)
            world.lock.release()
        time.sleep(0.005)


def test_start_vm_waits_duration_over_scale_without_holding_the_lock():
    clock = Clock(scale=60.0, start=START)  # TIM §7.1 Start-VM: 5 s / 60 = 0.083 s real
    world = World.load("standalone", clock, AuditLog(None))
    executor = LabExecutor(world, AuditLog(None))
    ok(executor, "hv-pri-02", [call("Stop-VM", {"Name": "web01", "TurnOff": True}, [])])  # 1 s / 60
    seen, stop = set(), threading.Event()
    watcher = threading.Thread(target=_watch, args=(world, "hv-pri-02", "web01", seen, stop))
    watcher.start()
    started = time.monotonic()
    ok(executor, "hv-pri-02", [call("Start-VM", {"Name": "web01"}, [])])
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join()
    assert 5 / 60 <= elapsed < 3.0
    assert "Starting" in seen and world.vm("hv-pri-02", "web01").state == "Running"


def test_one_failover_operation_at_a_time():
    clock = Clock(scale=60.0, start=START)  # -Prepare: 15 s / 60 = 0.25 s real
    world = World.load("standalone", clock, AuditLog(None))
    executor = LabExecutor(world, AuditLog(None))
    world.durations.table["stop_vm"] = 0  # only the prepare takes time here
    ok(executor, "hv-pri-02", [call("Stop-VM", {"Name": "web01"}, [])])
    done = {}
    worker = threading.Thread(target=lambda: done.update(r=ok(executor, "hv-pri-02", [
        call("Start-VMFailover", {"VMName": "web01", "Prepare": True}, [])])))
    worker.start()
    deadline = time.monotonic() + 3
    while world.vm("hv-pri-02", "web01").replication.busy is None and time.monotonic() < deadline:
        time.sleep(0.005)
    err = fails(executor, "hv-pri-02", [call("Start-VM", {"Name": "web01"}, [])])
    worker.join()
    assert err["category"] == "ResourceBusy" and "in progress" in err["message"]
    assert done["r"] == [[]] and side(world, "hv-pri-02", "web01") == ("Off", "Primary", "PreparedForFailover")


def test_replica_server_settings_and_authorization(lab):
    executor, world, audit = lab
    err = fails(executor, "hv-sec-03", [call("Set-VMReplicationServer", {"ReplicationAllowedFromAnyServer": True, "DefaultStorageLocation": ""}, [])])
    assert "default storage location" in err["message"] and err["fqid"].endswith("SetVMReplicationServer")
    res = ok(executor, "hv-sec-03", [
        call("Set-VMReplicationServer", {"ReplicationAllowedFromAnyServer": False, "MonitoringInterval": "06:00:00", "Passthru": True},
             ["ReplicationAllowedFromAnyServer", "MonitoringInterval"]),
        call("New-VMReplicationAuthorizationEntry", {"AllowedPrimaryServer": "*.other.test", "ReplicaStorageLocation": "D:\\R",
                                                     "TrustGroup": "DR"}, ["AllowedPrimaryServer", "TrustGroup"]),
        call("Get-VMReplicationAuthorizationEntry", {}, ["AllowedPrimaryServer"]),
    ])
    assert res[0] == [{"ReplicationAllowedFromAnyServer": False, "MonitoringInterval": 21600}]
    assert res[2] == [{"AllowedPrimaryServer": "*.other.test"}]
    assert world.vm("hv-sec-03", "web02").replication.monitoring_interval == 21600
    err = fails(executor, "hv-pri-03", [call("Test-VMReplicationConnection", {"ReplicaServerName": "hv-sec-03.lab.test", "ReplicaServerPort": 80,
                                                                              "AuthenticationType": "Kerberos"}, [])])
    assert err["category"] == "PermissionDenied"
    ok(executor, "hv-sec-03", [call("New-VMReplicationAuthorizationEntry", {"AllowedPrimaryServer": "*.lab.test", "ReplicaStorageLocation": "D:\\R",
                                                                            "TrustGroup": "DR"}, [])])
    ok(executor, "hv-pri-03", [call("Test-VMReplicationConnection", {"ReplicaServerName": "hv-sec-03", "ReplicaServerPort": 80,
                                                                     "AuthenticationType": "Kerberos"}, [])])
    err = fails(executor, "hv-pri-03", [call("Test-VMReplicationConnection", {"ReplicaServerName": "hv-sec-03", "ReplicaServerPort": 443,
                                                                              "AuthenticationType": "Kerberos"}, [])])
    assert err["category"] == "ConnectionError"
    world.set_site_down("secondary", True)
    err = fails(executor, "hv-pri-03", [call("Test-VMReplicationConnection", {"ReplicaServerName": "hv-sec-03", "ReplicaServerPort": 80,
                                                                              "AuthenticationType": "Kerberos"}, [])])
    assert "failed to establish a connection" in err["message"]


def test_initial_replication_from_a_backup_copy_and_stop(tmp_path):
    clock = Clock(scale=1e-6, start=START)
    world = _two_host_world(tmp_path, clock)
    executor = LabExecutor(world, AuditLog(None))
    solo = world.vm("h1", "solo")
    world.add_vm("solo", solo.id, "h2", like=solo)  # restored from backup on the Replica server (HRS §3.0 step 4)
    res = ok(executor, "h2", [call("Enable-VMReplication", {"VMName": "solo", "AsReplica": True, "Passthru": True}, VM_SELECT)])
    assert res[0][0]["ReplicationMode"] == "Replica" and res[0][0]["ReplicationState"] == "WaitingForInitialReplication"
    ok(executor, "h1", [call("Enable-VMReplication", {"VMName": "solo", "ReplicaServerName": "h2", "ReplicaServerPort": 80,
                                                      "AuthenticationType": "Kerberos"}, []),
                        call("Start-VMInitialReplication", {"VMName": "solo", "UseBackup": True}, [])])
    assert world.vm("h2", "solo").replication is world.vm("h1", "solo").replication
    ok(executor, "h1", [call("Stop-VMInitialReplication", {"VMName": "solo"}, [])])
    assert side(world, "h1", "solo")[2] == "ReadyForInitialReplication"
    err = fails(executor, "h1", [call("Stop-VMInitialReplication", {"VMName": "solo"}, [])])
    assert "not in progress" in err["message"]
    ok(executor, "h1", [call("Start-VMInitialReplication", {"VMName": "solo", "UseBackup": True}, [])])
    clock.advance(durations.resync_seconds(40, 0) + 1)  # INFERRED: a backup seed only compares blocks
    assert side(world, "h2", "solo") == ("Off", "Replica", "Replicating")
    err = fails(executor, "h1", [call("Start-VMInitialReplication", {"VMName": "solo", "DestinationPath": "E:\\ir"}, [])])
    assert err["fqid"].startswith("LabNotModelled")
