# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import functools

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action import vm_failover as mod
from ansible_collections.site_recovery.hyperv.plugins.action.vm_failover import ActionModule, decide, resolve_point
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import PlanError
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls

VM_ID = "0c1f3b9e-0000-4000-8000-0000000000a1"
POINTS = [  # newest first, as recovery_points() sorts them
    {"name": "sql01 - Standard Replica - (11/25/2026 - 8:05:00 PM)", "id": "p4", "type": "Replica", "creation_time": "2026-11-25T20:05:00.000Z"},
    {"name": "sql01 - Standard Replica - (11/25/2026 - 8:00:00 PM)", "id": "p3", "type": "Replica", "creation_time": "2026-11-25T20:00:00.000Z"},
    {"name": "sql01 - Application-consistent Replica - (11/25/2026 - 4:00:00 PM)", "id": "p2", "type": "AppConsistentReplica",
     "creation_time": "2026-11-25T16:00:00.000Z"},
    {"name": "sql01 - Standard Replica - (11/25/2026 - 3:00:00 PM)", "id": "p1", "type": "Replica", "creation_time": "2026-11-25T15:00:00.000Z"},
]
UNREACHABLE = {"server": "hv-pri-02.lab.test", "answered": False, "vm": None, "error": None}


def view(mode="Replica", repl="Replicating", state="Off", test_vm=None):
    return {"name": "sql01", "id": VM_ID, "state": state, "replication_mode": mode, "replication_state": repl,
            "replication_health": "Normal", "primary_server": "hv-pri-02.lab.test", "replica_server": "hv-sec-02.lab.test",
            "test_vm": test_vm}


def primary(state="Running", repl="Replicating"):
    return {"server": "hv-pri-02.lab.test", "answered": True, "vm": {"Name": "sql01", "Id": VM_ID, "State": state, "ReplicationState": repl},
            "error": None}


def opts(**kw):
    base = {"recovery_point": None, "recovery_point_before": None, "force": False, "primary_state": None}
    base.update(kw)
    return base


def calls(plan):
    return [(c.cmdlet, c.params) for c in plan.calls]


FAILOVER_LATEST = [("Start-VMFailover", {"VMName": ["sql01"], "Confirm": False})]


def snapshot_failover(point_id, test=False):
    extra = {"AsTest": True} if test else {}
    return [("Get-VMSnapshot", {"Id": point_id}),
            ("Start-VMFailover", dict({"VMRecoverySnapshot": {"$plan_call": 0}}, **extra, Confirm=False))]


# ---- the decision table: current state x desired state -> exact calls ------------------------
@pytest.mark.parametrize("state, current, check, options, expected", [
    # prepared (primary host)
    ("prepared", view("Primary", "Replicating", "Off"), None, opts(), [("Start-VMFailover", {"VMName": ["sql01"], "Prepare": True, "Confirm": False})]),
    ("prepared", view("Primary", "PreparedForFailover", "Off"), None, opts(), []),
    # failed_over (Replica host)
    ("failed_over", view(), primary("Off", "PreparedForFailover"), opts(), FAILOVER_LATEST),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable"), FAILOVER_LATEST),
    ("failed_over", view(), dict(UNREACHABLE, error="LabNotModelled"), opts(primary_state="unreachable"), FAILOVER_LATEST),
    ("failed_over", view(), dict(UNREACHABLE, error="LabNotModelled"), opts(primary_state="off"), FAILOVER_LATEST),
    ("failed_over", view(), None, opts(force=True), FAILOVER_LATEST),
    ("failed_over", view(repl="Suspended"), UNREACHABLE, opts(primary_state="unreachable"), FAILOVER_LATEST),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable", recovery_point="latest_app_consistent"), snapshot_failover("p2")),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable", recovery_point="p3"), snapshot_failover("p3")),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable", recovery_point=POINTS[3]["name"].upper()), snapshot_failover("p1")),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable", recovery_point_before="2026-11-25T19:59:59Z"), snapshot_failover("p2")),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable", recovery_point_before="2026-11-25T20:00:00"), snapshot_failover("p3")),
    ("failed_over", view(repl="FailedOverWaitingCompletion"), None, opts(), []),
    ("failed_over", view(repl="FailedOver", state="Running"), None, opts(), []),
    ("failed_over", view("Primary", "Replicating", "Running"), None, opts(), []),
    # completed
    ("completed", view(repl="FailedOverWaitingCompletion", state="Running"), None, opts(), [("Complete-VMFailover", {"VMName": ["sql01"], "Confirm": False})]),
    ("completed", view(repl="FailedOver"), None, opts(), []),
    ("completed", view("Primary", "Replicating", "Running"), None, opts(), []),
    # cancelled: the three cases of HRS §3.4, and nothing to cancel
    ("cancelled", view("Primary", "PreparedForFailover"), None, opts(), [("Stop-VMFailover", {"VMName": ["sql01"], "Confirm": False})]),
    ("cancelled", view(repl="FailedOverWaitingCompletion"), None, opts(), [("Stop-VMFailover", {"VMName": ["sql01"], "Confirm": False})]),
    ("cancelled", view(repl="FailedOverWaitingCompletion", state="Running"), None, opts(force=True),
     [("Stop-VMFailover", {"VMName": ["sql01"], "Confirm": False})]),
    ("cancelled", view(test_vm="sql01 - Test"), None, opts(), [("Stop-VMFailover", {"VMName": ["sql01"], "Confirm": False})]),
    ("cancelled", view(), None, opts(), []),
    ("cancelled", view("Primary", "Replicating", "Running"), None, opts(), []),
    # test and test_cleanup
    ("test", view(), None, opts(), [("Start-VMFailover", {"VMName": ["sql01"], "AsTest": True, "Confirm": False})]),
    ("test", view(), None, opts(recovery_point="latest_app_consistent"), snapshot_failover("p2", test=True)),
    ("test", view(test_vm="sql01 - Test"), None, opts(), []),
    ("test_cleanup", view(test_vm="sql01 - Test"), None, opts(), [("Stop-VMFailover", {"VMName": ["sql01"], "Confirm": False})]),
    ("test_cleanup", view(), None, opts(), []),
])
def test_decision_table(state, current, check, options, expected):
    plan = decide(state, "sql01", current, POINTS, check, options)
    assert calls(plan) == expected
    assert plan.note


@pytest.mark.parametrize("state, current, check, options, words", [
    ("prepared", view("Primary", "Replicating", "Running"), None, opts(), ["Running", "vm_power state=stopped"]),
    ("prepared", view("Primary", "Suspended", "Off"), None, opts(), ["Suspended", "needs Replicating"]),
    ("prepared", view(), None, opts(), ["primary host hv-pri-02.lab.test"]),
    ("prepared", view("None", "Disabled"), None, opts(), ["not enabled"]),
    # split-brain guard
    ("failed_over", view(), primary("Running"), opts(), ["split brain", "Running", "force: true"]),
    ("failed_over", view(), primary("Running"), opts(primary_state="unreachable"), ["split brain"]),  # an answer beats the caller
    ("failed_over", view(), primary("Saved"), opts(), ["split brain", "Saved"]),
    ("failed_over", view(), primary("Off", "Replicating"), opts(), ["not prepared", "state=prepared"]),
    ("failed_over", view(), dict(primary(), vm=None), opts(), ["no VM with this Id"]),
    ("failed_over", view(), dict(UNREACHABLE, error="Get-VMHost: access denied"), opts(),
     ["access denied", "unknown", "primary_state: unreachable"]),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="running"), ["split brain"]),
    # Silence is never "lost": a denied second hop is silent too while the primary copy may run.
    ("failed_over", view(), UNREACHABLE, opts(), ["could not ask the primary server", "no answer", "primary_state: unreachable"]),
    ("failed_over", view(), None, opts(), ["names no primary server"]),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="running"), ["primary_state says"]),
    # other failed_over refusals
    ("failed_over", view(test_vm="sql01 - Test"), UNREACHABLE, opts(primary_state="unreachable"), ["test failover is running", "test_cleanup"]),
    ("failed_over", view(repl="Resynchronizing"), UNREACHABLE, opts(primary_state="unreachable"), ["Resynchronizing"]),
    ("failed_over", view("Primary", "PreparedForFailover"), None, opts(), ["Replica host hv-sec-02.lab.test"]),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable", recovery_point="nope"), ["no recovery point named", "p4", "AppConsistentReplica"]),
    ("failed_over", view(), UNREACHABLE, opts(primary_state="unreachable", recovery_point_before="2026-11-24T00:00:00Z"), ["at or before"]),
    ("failed_over", view("TestReplica", "Disabled"), None, opts(), ["test failover VM"]),
    # completed
    ("completed", view(), None, opts(), ["has not been failed over", "Replicating"]),
    ("completed", view("Primary", "PreparedForFailover"), None, opts(), ["Replica host hv-sec-02.lab.test"]),
    # cancelled
    ("cancelled", view(repl="FailedOver"), None, opts(), ["cannot be cancelled"]),
    ("cancelled", view(repl="FailedOverWaitingCompletion", state="Running"), None, opts(), ["Running", "discards the failover disk", "force: true"]),
    # test
    ("test", view(repl="FailedOverWaitingCompletion"), None, opts(), ["FailedOverWaitingCompletion"]),
    ("test", view("Primary", "Replicating", "Running"), None, opts(), ["Replica host"]),
])
def test_refusals_say_why(state, current, check, options, words):
    with pytest.raises(PlanError) as info:
        decide(state, "sql01", current, POINTS, check, options)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_no_points_refused():
    with pytest.raises(PlanError, match="no recovery point"):
        resolve_point([], None, None)
    with pytest.raises(PlanError, match="no application-consistent"):
        resolve_point(POINTS[:2], "latest_app_consistent", None)


def test_point_used_is_returned_on_the_plan():
    plan = decide("failed_over", "sql01", view(), POINTS, UNREACHABLE, opts(primary_state="unreachable", recovery_point="latest_app_consistent"))
    assert plan.recovery_point == POINTS[2]
    assert plan.expect == {"replication_state": "FailedOverWaitingCompletion"}
    assert plan.steps == ["Start-VMFailover -VMRecoverySnapshot '%s' (sql01)" % POINTS[2]["name"]]


def test_recovery_points_sorted_newest_first_and_filtered():
    snaps = [{"VMId": VM_ID, "Name": p["name"], "Id": p["id"], "SnapshotType": p["type"], "CreationTime": p["creation_time"]}
             for p in reversed(POINTS)]
    snaps.append({"VMId": VM_ID, "Name": "user checkpoint", "Id": "u", "SnapshotType": "Standard", "CreationTime": "2026-11-25T21:00:00.000Z"})
    snaps.append({"VMId": "other", "Name": "x", "Id": "x", "SnapshotType": "Replica", "CreationTime": "2026-11-25T21:00:00.000Z"})
    assert mod.recovery_points(snaps, VM_ID) == POINTS


@pytest.mark.parametrize("state, current, reached", [
    ("prepared", view("Primary", "PreparedForFailover"), True),
    ("prepared", view("Primary", "Replicating"), False),
    ("failed_over", view(repl="FailedOverWaitingCompletion"), True),
    ("failed_over", view(), False),
    ("completed", view(repl="FailedOver"), True),
    ("cancelled", view(), True),
    ("cancelled", view(test_vm="sql01 - Test"), False),
    ("test", view(test_vm="sql01 - Test"), True),
    ("test_cleanup", view(test_vm="sql01 - Test"), False),
])
def test_done(state, current, reached):
    assert mod.done(state, current) is reached


def test_observe_joins_and_finds_test_vm():
    vms = [{"Name": "sql01", "Id": VM_ID, "State": "Off", "ReplicationMode": "Replica", "ReplicationState": "Replicating"},
           {"Name": "sql01 - Test", "Id": "t", "State": "Off", "ReplicationMode": "TestReplica", "ReplicationState": "Disabled"}]
    rels = [{"VMName": "sql01", "VMId": VM_ID, "ReplicationMode": "Replica", "ReplicationState": "Replicating", "ReplicationHealth": "Normal",
             "ReplicationRelationshipType": "Simple", "PrimaryServerName": "hv-pri-02.lab.test", "ReplicaServerName": "hv-sec-02.lab.test",
             "TestVirtualMachine": None}]
    views = mod.observe_failover(["SQL01", "nope"], vms, rels)
    assert views["nope"] is None
    assert views["sql01"]["test_vm"] == "sql01 - Test"
    assert views["sql01"]["primary_server"] == "hv-pri-02.lab.test"


# ---- the whole task against a mocked connection --------------------------------------------------
_action = functools.partial(make_action, ActionModule, diff=True)


def rows(state="Off", mode="Replica", repl="Replicating"):
    vm = {"Name": "sql01", "Id": VM_ID, "State": state, "ReplicationMode": mode, "ReplicationState": repl}
    rel = {"VMName": "sql01", "VMId": VM_ID, "ReplicationMode": mode, "ReplicationState": repl, "ReplicationHealth": "Normal",
           "ReplicationRelationshipType": "Simple", "PrimaryServerName": "hv-pri-02.lab.test", "ReplicaServerName": "hv-sec-02.lab.test",
           "TestVirtualMachine": None}
    snaps = [{"VMName": "sql01", "VMId": VM_ID, "Name": p["name"], "Id": p["id"], "SnapshotType": p["type"], "CreationTime": p["creation_time"]}
             for p in POINTS]
    return [vm], [rel], snaps


def test_unplanned_failover_batches_read_guard_act_settle():
    action, connection = _action({"name": ["sql01"], "state": "failed_over", "recovery_point": "latest_app_consistent",
                                  "primary_state": "unreachable"}, [
        runner_reply(rows()),
        runner_reply([[], []]),  # the primary server does not answer; the caller observed it unreachable
        runner_reply([[], []]),
        runner_reply(rows(repl="FailedOverWaitingCompletion")),
    ])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert not result.get("failed"), result
    read, guard, act, dummy = sent_calls(connection)
    assert [c["cmdlet"] for c in read] == ["Get-VM", "Get-VMReplication", "Get-VMSnapshot"]
    assert read[0]["params"]["Name"] == ["sql01", "sql01 - Test"]
    assert guard == [
        {"cmdlet": "Get-VMHost", "params": {"ComputerName": ["hv-pri-02.lab.test"]}, "select": mod.HOST_SELECT},
        {"cmdlet": "Get-VM", "params": {"ComputerName": ["hv-pri-02.lab.test"], "Name": ["sql01"], "ErrorAction": "SilentlyContinue"},
         "select": mod.VM_SELECT},
    ]
    # The recovery point object travels from Get-VMSnapshot to Start-VMFailover inside the act batch.
    assert act == [{"cmdlet": "Get-VMSnapshot", "params": {"Id": "p2"}, "select": []},
                   {"cmdlet": "Start-VMFailover", "params": {"VMRecoverySnapshot": {"$call": 0}, "Confirm": False}, "select": []}]
    vm = result["vms"][0]
    assert vm["recovery_point"] == POINTS[2]
    assert vm["primary_check"] == {"server": "hv-pri-02.lab.test", "answered": False, "error": None, "vm_state": None, "replication_state": None}
    assert (vm["before"]["replication_state"], vm["after"]["replication_state"]) == ("Replicating", "FailedOverWaitingCompletion")
    assert result["diff"]["after"]["sql01"]["replication_state"] == "FailedOverWaitingCompletion"


def test_guard_refuses_running_primary_and_changes_nothing():
    action, connection = _action({"name": ["sql01"], "state": "failed_over", "primary_state": "unreachable"}, [
        runner_reply(rows()),
        runner_reply([[{"Name": "HV-PRI-02", "FullyQualifiedDomainName": "hv-pri-02.lab.test"}],
                      [{"Name": "sql01", "Id": VM_ID, "State": "Running", "ReplicationMode": "Primary", "ReplicationState": "Replicating"}]]),
    ])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["failed"] is True and result["changed"] is False
    assert "split brain" in result["msg"] and "Nothing was changed on hv-sec-02" in result["msg"]
    assert connection.exec_command.call_count == 2


def test_guard_error_falls_back_per_server_and_refuses_without_primary_state():
    # What a Replica host says when the second hop to the primary is denied (no delegable credentials).
    error = {"index": 0, "cmdlet": "Get-VMHost",
             "message": "Hyper-V encountered an error trying to access an object on computer 'hv-pri-02' because the object was not found.",
             "fqid": "ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVMHost", "category": "ObjectNotFound", "target": "hv-pri-02"}
    action, connection = _action({"name": ["sql01"], "state": "failed_over"}, [runner_reply(rows()), runner_reply([], error), runner_reply([], error)])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["failed"] is True
    assert "ObjectNotFound" in result["msg"] and "primary_state" in result["msg"]
    assert connection.exec_command.call_count == 3


def test_check_mode_resolves_point_and_changes_nothing():
    action, connection = _action({"name": ["sql01"], "state": "failed_over", "force": True}, [runner_reply(rows())], check_mode=True)
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["changed"] is True
    assert result["vms"][0]["actions"] == ["Start-VMFailover -VMName sql01 -Confirm False"]
    assert result["vms"][0]["recovery_point"] == POINTS[0]
    assert result["vms"][0]["after"]["replication_state"] == "FailedOverWaitingCompletion"
    assert connection.exec_command.call_count == 1  # force: no guard round trip


def test_completed_reports_deleted_points():
    vm, rel, snaps = rows(repl="FailedOverWaitingCompletion")
    after_vm, after_rel, dummy = rows(repl="FailedOver")
    action, dummy = _action({"name": ["sql01"], "state": "completed"},
                            [runner_reply([vm, rel, snaps]), runner_reply([]), runner_reply([after_vm, after_rel, snaps[2:3]])])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert not result.get("failed"), result
    assert [p["id"] for p in result["vms"][0]["recovery_points_deleted"]] == ["p4", "p3", "p1"]
    assert "deletes every other recovery point" in result["vms"][0]["note"]


def test_settle_timeout_fails_but_reports_changed(monkeypatch):
    clock = iter(range(0, 10000, 100))
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    monkeypatch.setattr("time.sleep", lambda s: None)
    outputs = [runner_reply(rows("Off", "Primary", "Replicating")), runner_reply([])] + [runner_reply(rows("Off", "Primary", "Replicating"))] * 10
    action, dummy = _action({"name": ["sql01"], "state": "prepared", "timeout": 150}, outputs)
    result = action.run(task_vars={"inventory_hostname": "hv-pri-02"})
    assert result["failed"] is True and result["changed"] is True
    assert "sql01 (replication state Replicating)" in result["msg"]


@pytest.mark.parametrize("args, words", [
    ({"name": ["sql01"], "state": "completed", "recovery_point": "latest"}, "apply only to state=failed_over or state=test"),
    ({"name": ["sql01"], "state": "failed_over", "recovery_point_before": "yesterday"}, "ISO-8601"),
    ({"name": ["sql01"], "state": "failed_over", "recovery_point": "latest", "recovery_point_before": "2026-11-25T00:00:00Z"},
     "mutually exclusive"),
    ({"name": ["sql01"], "state": "test", "primary_state": "off"}, "primary_state applies only"),
    ({"name": ["sql*"], "state": "test"}, "without wildcards"),
    ({"name": ["sql01"]}, "state"),
])
def test_bad_input_fails_before_contacting_the_host(args, words):
    action, connection = _action(args, [])
    try:
        result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    except Exception as e:  # AnsibleActionFail from run_module reaches Ansible as a failed task
        result = {"failed": True, "msg": str(e)}
    assert result["failed"] is True
    assert words in result["msg"]
    connection.exec_command.assert_not_called()


def test_guard_asks_each_primary_server_once_in_one_batch():
    ids = {"sql01": VM_ID, "web01": "id-web01", "app02": "id-app02"}
    primaries = {"sql01": "hv-pri-02.lab.test", "web01": "hv-pri-02.lab.test", "app02": "hv-pri-03.lab.test"}
    vms = [{"Name": n, "Id": i, "State": "Off", "ReplicationMode": "Replica", "ReplicationState": "Replicating"} for n, i in ids.items()]
    rels = [{"VMName": n, "VMId": i, "ReplicationMode": "Replica", "ReplicationState": "Replicating", "ReplicationHealth": "Normal",
             "ReplicationRelationshipType": "Simple", "PrimaryServerName": primaries[n], "ReplicaServerName": "hv-sec-02.lab.test",
             "TestVirtualMachine": None} for n, i in ids.items()]
    snaps = [{"VMName": n, "VMId": i, "Name": n + " point", "Id": "p-" + n, "SnapshotType": "Replica", "CreationTime": "2026-11-25T20:00:00.000Z"}
             for n, i in ids.items()]
    prepared = [{"Name": n, "Id": ids[n], "State": "Off", "ReplicationMode": "Primary", "ReplicationState": "PreparedForFailover"}
                for n in ("sql01", "web01")]
    # primary_state covers the silent server only: hv-pri-02's answer (prepared, off) decides for its VMs.
    action, connection = _action({"name": list(ids), "state": "failed_over", "primary_state": "unreachable"}, [
        runner_reply([vms, rels, snaps]),
        runner_reply([[{"Name": "HV-PRI-02"}], prepared, [], []]),  # hv-pri-02 answers (planned), hv-pri-03 is silent
        runner_reply([[]] * 3),
        runner_reply([[dict(v, ReplicationState="FailedOverWaitingCompletion") for v in vms],
                      [dict(r, ReplicationState="FailedOverWaitingCompletion") for r in rels], snaps]),
    ])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert not result.get("failed"), result
    guard = sent_calls(connection, 1)
    assert [(c["cmdlet"], c["params"]["ComputerName"], c["params"].get("Name")) for c in guard] == [
        ("Get-VMHost", ["hv-pri-02.lab.test"], None), ("Get-VM", ["hv-pri-02.lab.test"], ["sql01", "web01"]),
        ("Get-VMHost", ["hv-pri-03.lab.test"], None), ("Get-VM", ["hv-pri-03.lab.test"], ["app02"]),
    ]
    act = sent_calls(connection, 2)
    assert [(c["cmdlet"], c["params"]["VMName"]) for c in act] == [
        ("Start-VMFailover", ["sql01"]), ("Start-VMFailover", ["web01"]), ("Start-VMFailover", ["app02"])]
    notes = [v["note"] for v in result["vms"]]
    assert notes[0].startswith("Planned failover") and notes[1].startswith("Planned failover")
    assert notes[2].startswith("Unplanned failover: the primary server hv-pri-03.lab.test did not answer")
