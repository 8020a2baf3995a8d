# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import functools

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action.vm_replication import ActionModule, DISABLED_VIEW, plan_vm, same_server
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import PlanError
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls

HOST = "hv-pri-02"
VM_ID = "6b3c0a55-0000-4000-8000-000000000001"
DEFAULTS = {"state": "present", "initial_replication": "network", "wait": False, "wait_timeout": 3600}


def view(mode="Primary", state="Replicating", power="Running", **settings):
    out = {"power_state": power}
    if mode == "None":
        out.update(DISABLED_VIEW)
        return out
    out.update({
        "mode": mode, "state": state, "health": "Normal", "primary_server": "hv-pri-02.lab.test",
        "replica_server": "hv-sec-02.lab.test", "replica_port": 80, "authentication_type": "Kerberos",
        "certificate_thumbprint": None, "frequency_sec": 300, "recovery_history": 4, "vss_snapshot_frequency_hours": 0,
        "compression": True, "auto_resynchronize": False,
    })
    out.update(settings)
    return out


def calls(state_view, **args):
    plan = plan_vm("web01", state_view, dict(DEFAULTS, **args), HOST)
    return [(c.cmdlet, c.params) for c in plan.calls]


def refusal(state_view, **args):
    with pytest.raises(PlanError) as info:
        plan_vm("web01", state_view, dict(DEFAULTS, **args), HOST)
    return str(info.value)


V = {"VMName": ["web01"]}

# current (mode, state, power) x desired state (+ args) -> exact calls
DECISIONS = [
    # present
    (("None", None, "Running"), {"replica_server": "hv-sec-02"},
     [("Enable-VMReplication", dict(V, ReplicaServerName="hv-sec-02", ReplicaServerPort=80, AuthenticationType="Kerberos")),
      ("Start-VMInitialReplication", V)]),
    (("None", None, "Running"), {"replica_server": "hv-sec-02", "initial_replication": "none", "frequency": 30, "recovery_history": 2,
                                 "vss_snapshot_frequency_hours": 1, "compression": False, "replica_port": 8080},
     [("Enable-VMReplication", dict(V, ReplicaServerName="hv-sec-02", ReplicaServerPort=8080, AuthenticationType="Kerberos",
                                    ReplicationFrequencySec=30, RecoveryHistory=2, VSSSnapshotFrequencyHour=1, CompressionEnabled=False))]),
    (("Primary", "Replicating", "Running"), {"replica_server": "HV-SEC-02", "frequency": 300}, []),
    (("Primary", "Replicating", "Running"), {"frequency": 30, "recovery_history": 4}, [("Set-VMReplication", dict(V, ReplicationFrequencySec=30))]),
    (("Primary", "Suspended", "Running"), {"auto_resynchronize": True}, [("Set-VMReplication", dict(V, AutoResynchronizeEnabled=True))]),
    (("Primary", "ReadyForInitialReplication", "Running"), {}, [("Start-VMInitialReplication", V)]),
    (("Primary", "ReadyForInitialReplication", "Running"), {"initial_replication": "none"}, []),
    (("Primary", "InitialReplicationInProgress", "Running"), {}, []),
    (("Replica", "Replicating", "Off"), {"frequency": 300}, []),
    (("Primary", "PreparedForFailover", "Off"), {}, []),
    # absent
    (("None", None, "Off"), {"state": "absent"}, []),
    (("Primary", "Replicating", "Running"), {"state": "absent"}, [("Remove-VMReplication", V)]),
    (("Replica", "FailedOver", "Running"), {"state": "absent"}, [("Remove-VMReplication", V)]),
    # suspended
    (("Primary", "Replicating", "Running"), {"state": "suspended"}, [("Suspend-VMReplication", V)]),
    (("Replica", "Resynchronizing", "Off"), {"state": "suspended"}, [("Suspend-VMReplication", V)]),
    (("Primary", "Suspended", "Running"), {"state": "suspended"}, []),
    (("Primary", "ResynchronizeSuspended", "Running"), {"state": "suspended"}, []),
    # resumed
    (("Primary", "Suspended", "Running"), {"state": "resumed"}, [("Resume-VMReplication", V)]),
    (("Primary", "Error", "Running"), {"state": "resumed"}, [("Resume-VMReplication", V)]),
    (("Primary", "ResynchronizeSuspended", "Running"), {"state": "resumed"}, [("Resume-VMReplication", V)]),
    (("Primary", "Replicating", "Running"), {"state": "resumed"}, []),
    (("Primary", "Resynchronizing", "Running"), {"state": "resumed"}, []),
    # resynchronized
    (("Primary", "WaitingForStartResynchronize", "Off"), {"state": "resynchronized"}, [("Resume-VMReplication", dict(V, Resynchronize=True))]),
    (("Primary", "WaitingForStartResynchronize", "Off"), {"state": "resynchronized", "resynchronize_start_time": "2026-11-26T22:00:00"},
     [("Resume-VMReplication", dict(V, Resynchronize=True, ResynchronizeStartTime="2026-11-26T22:00:00"))]),
    (("Primary", "Error", "Running"), {"state": "resynchronized"}, [("Resume-VMReplication", dict(V, Resynchronize=True))]),
    (("Primary", "Suspended", "Running"), {"state": "resynchronized"}, [("Resume-VMReplication", V)]),
    (("Primary", "Replicating", "Running"), {"state": "resynchronized"}, []),
    (("Primary", "Resynchronizing", "Running"), {"state": "resynchronized"}, []),
    (("Primary", "ResynchronizeSuspended", "Running"), {"state": "resynchronized"}, [("Resume-VMReplication", V)]),
    # reversed
    (("Replica", "FailedOverWaitingCompletion", "Running"), {"state": "reversed"}, [("Set-VMReplication", dict(V, Reverse=True))]),
    (("Replica", "FailedOver", "Off"), {"state": "reversed", "replica_server": "hv-pri-03", "replica_port": 443,
                                        "authentication_type": "Certificate", "certificate_thumbprint": "AB12"},
     [("Set-VMReplication", dict(V, Reverse=True, ReplicaServerName="hv-pri-03", ReplicaServerPort=443, AuthenticationType="Certificate",
                                 CertificateThumbprint="AB12"))]),
    (("Primary", "Replicating", "Running"), {"state": "reversed"}, []),
    (("Primary", "Replicating", "Running"), {"state": "reversed", "replica_server": "hv-sec-02.lab.test"}, []),
    (("Primary", "ReadyForInitialReplication", "Running"), {"state": "reversed"}, [("Start-VMInitialReplication", V)]),
    (("Primary", "Replicating", "Running"), {"state": "reversed", "vss_snapshot_frequency_hours": 0, "recovery_history": 4}, []),
    # replica
    (("Primary", "Replicating", "Off"), {"state": "replica"}, [("Set-VMReplication", dict(V, AsReplica=True))]),
    (("Primary", "WaitingForStartResynchronize", "Off"), {"state": "replica", "allowed_primary_server": "hv-sec-02.lab.test"},
     [("Set-VMReplication", dict(V, AsReplica=True, AllowedPrimaryServer="hv-sec-02.lab.test"))]),
    (("None", None, "Off"), {"state": "replica"}, [("Enable-VMReplication", dict(V, AsReplica=True))]),
    (("Replica", "WaitingForInitialReplication", "Off"), {"state": "replica"}, []),
]


@pytest.mark.parametrize("current, args, expected", DECISIONS)
def test_decision_table(current, args, expected):
    mode, state, power = current
    assert calls(view(mode, state, power), **args) == expected


# current x desired -> refusal naming the state found and the step that must come first
REFUSALS = [
    (view("None"), {}, "replica_server is required to enable it"),
    (view("Primary", "PreparedForFailover", "Off"), {"frequency": 30},
     "replication is PreparedForFailover (Primary side) on hv-pri-02: complete the planned failover on the Replica first"),
    (view("Primary", "PreparedForFailover", "Off"), {"state": "absent"}, "or cancel it with site_recovery.hyperv.vm_failover state=cancelled"),
    (view("Replica", "FailedOverWaitingCompletion", "Running"), {"state": "absent"}, "FailedOverWaitingCompletion (Replica side)"),
    (view("Replica", "Replicating", "Off"), {"frequency": 30}, "run the task against it"),
    (view("None"), {"state": "suspended"}, "replication is not enabled for this VM on hv-pri-02"),
    (view("Primary", "ReadyForInitialReplication"), {"state": "suspended"}, "only Replicating or Resynchronizing"),
    (view("Primary", "WaitingForStartResynchronize"), {"state": "resumed"},
     "replication is WaitingForStartResynchronize (Primary side) on hv-pri-02: the relationship needs resynchronization before it can "
     "replicate again; use state=resynchronized."),
    (view("Primary", "ReadyForInitialReplication"), {"state": "resumed"}, "start it with state=present"),
    (view("Replica", "FailedOver", "Running"), {"state": "resumed"}, "FailedOver"),
    (view("Primary", "PreparedForFailover", "Off"), {"state": "resynchronized"}, "complete the planned failover"),
    (view("Replica", "Replicating", "Off"), {"state": "reversed"}, "fail it over first with site_recovery.hyperv.vm_failover"),
    (view("Primary", "PreparedForFailover", "Off"), {"state": "reversed"}, "this is the old primary of a planned failover"),
    (view("None"), {"state": "reversed"}, "cannot be reversed"),
    (view("Primary", "Replicating", "Running"), {"state": "replica"}, "the VM is Running on hv-pri-02; it can become a Replica only while Off"),
    (view("Primary", "PreparedForFailover", "Off"), {"state": "replica"}, "a planned failover is under way"),
    (view("Primary", "Replicating", recovery_history=0), {"vss_snapshot_frequency_hours": 2}, "needs recovery_history greater than 0"),
    (view("Primary", "Replicating", vss_snapshot_frequency_hours=4), {"recovery_history": 0}, "vss_snapshot_frequency_hours=4 needs"),
    (view("ExtendedReplica", "Replicating"), {"frequency": 30}, "Simple Primary/Replica relationships only"),
]


@pytest.mark.parametrize("current, args, message", REFUSALS)
def test_refusals(current, args, message):
    assert message in refusal(current, **args)


def test_scheduled_resynchronization_is_not_started_twice():
    assert calls(view("Primary", "WaitingForStartResynchronize", resynchronize_start_time="2026-11-26T22:00:00.000Z"),
                 state="resynchronized") == []


def test_vss_off_is_the_documented_switch():
    assert calls(view(vss_snapshot_frequency_hours=4), vss_snapshot_frequency_hours=0) == [
        ("Set-VMReplication", dict(V, DisableVSSSnapshotReplication=True))]


def test_predictions_for_check_mode():
    plan = plan_vm("web01", view("None"), dict(DEFAULTS, replica_server="hv-sec-02"), HOST)
    assert plan.expect["mode"] == "Primary" and plan.expect["state"] == "InitialReplicationInProgress"
    assert plan.expect["replica_server"] == "hv-sec-02" and plan.expect["replica_port"] == 80
    plan = plan_vm("web01", view("Replica", "FailedOver"), dict(DEFAULTS, state="reversed"), HOST)
    assert (plan.expect["mode"], plan.expect["replica_server"]) == ("Primary", "hv-pri-02.lab.test")
    assert plan.expect["state"] is None  # Hyper-V decides: Replicating (planned) or initial replication (unplanned)
    plan = plan_vm("web01", view(), dict(DEFAULTS, state="absent"), HOST)
    assert plan.expect["mode"] == "None" and plan.expect["state"] == "Disabled"


@pytest.mark.parametrize("wanted, live, same", [
    ("hv-sec-02", "hv-sec-02.lab.test", True), ("HV-SEC-02.LAB.TEST", "hv-sec-02.lab.test", True),
    ("hv-sec-03", "hv-sec-02.lab.test", False), ("hv-sec-02.other.test", "hv-sec-02.lab.test", False),
])
def test_same_server(wanted, live, same):
    assert same_server(wanted, live) is same


# ---- the action plugin with a mocked connection ---------------------------------------------------
def _vm(name, vm_id, state="Running"):
    return {"Name": name, "Id": vm_id, "State": state}


def _rel(name, vm_id, mode="Primary", state="Replicating", **extra):
    out = {"VMName": name, "VMId": vm_id, "ReplicationMode": mode, "ReplicationState": state, "ReplicationHealth": "Normal",
           "ReplicationRelationshipType": "Simple", "PrimaryServerName": "hv-pri-02.lab.test", "ReplicaServerName": "hv-sec-02.lab.test",
           "ReplicaServerPort": 80, "AuthenticationType": "Kerberos", "CertificateThumbprint": None, "ReplicationFrequencySec": 300,
           "RecoveryHistory": 4, "VSSSnapshotFrequencyHour": 0, "CompressionEnabled": True, "AutoResynchronizeEnabled": False,
           "ResynchronizeStartTime": None}
    out.update(extra)
    return out


_action = functools.partial(make_action, ActionModule)


def test_two_vms_read_once_acted_once_read_again():
    before = [[_vm("web01", "1"), _vm("web03", "3")], [_rel("web01", "1"), _rel("web03", "3", state="Suspended")]]
    after = [[_vm("web01", "1"), _vm("web03", "3")], [_rel("web01", "1", state="Suspended"), _rel("web03", "3", state="Suspended")]]
    action, connection = _action({"name": ["web01", "web03"], "state": "suspended"}, [runner_reply(before), runner_reply([[]]), runner_reply(after)], diff=True)
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert not result.get("failed"), result
    assert result["changed"] is True
    read, act, reread = sent_calls(connection)
    assert [c["cmdlet"] for c in read] == ["Get-VM", "Get-VMReplication"]
    assert read[0]["params"] == {"Name": ["web01", "web03"], "ErrorAction": "SilentlyContinue"}
    assert act == [{"cmdlet": "Suspend-VMReplication", "params": {"VMName": ["web01"]}, "select": []}]
    assert reread == read
    assert [v["changed"] for v in result["vms"]] == [True, False]
    assert result["vms"][0]["actions"] == ["Suspend-VMReplication -VMName web01"]
    assert result["diff"]["after"]["web01"]["state"] == "Suspended"


def test_check_mode_predicts_and_sends_nothing_but_the_read():
    before = [[_vm("web01", "1")], [_rel("web01", "1")]]
    action, connection = _action({"name": ["web01"], "frequency": 30}, [runner_reply(before)], check_mode=True)
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["changed"] is True
    assert connection.exec_command.call_count == 1
    assert result["vms"][0]["after"]["frequency_sec"] == 30
    assert result["vms"][0]["before"]["frequency_sec"] == 300
    assert result["vms"][0]["actions"] == ["Set-VMReplication -VMName web01 -ReplicationFrequencySec 30"]


def test_second_run_is_a_no_op():
    before = [[_vm("web01", "1")], [_rel("web01", "1", ReplicationFrequencySec=30)]]
    action, connection = _action({"name": ["web01"], "frequency": 30}, [runner_reply(before)])
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["changed"] is False and not result.get("failed")
    assert connection.exec_command.call_count == 1


def test_unknown_vm_and_wrong_state_refuse_the_whole_task():
    before = [[_vm("web01", "1")], [_rel("web01", "1", state="WaitingForStartResynchronize")]]
    action, connection = _action({"name": ["web01", "ghost"], "state": "resumed"}, [runner_reply(before)])
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("Nothing was changed on hv-pri-02.")
    assert "use state=resynchronized" in result["msg"]
    assert "No virtual machine named 'ghost' on Hyper-V host hv-pri-02." in result["msg"]
    assert connection.exec_command.call_count == 1


def test_vm_made_replica_without_relationship_object_is_recognised():
    vm = dict(_vm("web01", "1", state="Off"), ReplicationMode="Replica", ReplicationState="WaitingForInitialReplication",
              ReplicationHealth="Warning")
    action, connection = _action({"name": ["web01"], "state": "replica"}, [runner_reply([[vm], []])])
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["changed"] is False and not result.get("failed"), result
    assert result["vms"][0]["before"]["mode"] == "Replica"
    assert connection.exec_command.call_count == 1


def test_extended_relationship_is_ignored():
    before = [[_vm("web01", "1")], [_rel("web01", "1", mode="ExtendedReplica", ReplicationRelationshipType="Extended")]]
    action, dummy = _action({"name": ["web01"], "state": "absent"}, [runner_reply(before)])
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["changed"] is False
    assert result["vms"][0]["before"]["mode"] == "None"


@pytest.mark.parametrize("args, message", [
    ({"name": ["web*"]}, "wildcards"),
    ({"name": ["web01"], "state": "suspended", "frequency": 30}, "frequency apply only with state=present or state=reversed"),
    ({"name": ["web01"], "recovery_history": 25}, "between 0 and 24"),
    ({"name": ["web01"], "recovery_history": 0, "vss_snapshot_frequency_hours": 4}, "needs recovery_history greater than 0"),
    ({"name": ["web01"], "state": "present", "allowed_primary_server": "x"}, "only with state=replica"),
    ({"name": ["web01"], "authentication_type": "Certificate"}, "certificate_thumbprint"),
    ({"name": ["web01"], "frequency": 60}, "frequency"),
])
def test_bad_input_fails_before_contacting_the_host(args, message):
    action, connection = _action(args, [])
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["failed"] is True
    assert message in result["msg"]
    connection.exec_command.assert_not_called()


def test_failed_cmdlet_names_vm_host_and_cmdlet():
    before = [[_vm("web01", "1"), _vm("web03", "3")], [_rel("web01", "1"), _rel("web03", "3")]]
    error = {"index": 1, "cmdlet": "Suspend-VMReplication", "message": "The operation failed.", "fqid": "OperationFailed,X",
             "category": "InvalidOperation", "target": "web03"}
    action, dummy = _action({"name": ["web01", "web03"], "state": "suspended"}, [runner_reply(before), runner_reply([[]], error)])
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["failed"] is True
    assert "Suspend-VMReplication failed on Hyper-V host hv-pri-02" in result["msg"]
    assert "(VM web03; changes completed before it for: web01)" in result["msg"]


def test_wait_polls_until_replicating():
    before = [[_vm("web01", "1")], [_rel("web01", "1", state="WaitingForStartResynchronize")]]
    progress = [[_vm("web01", "1")], [_rel("web01", "1", state="Resynchronizing")]]
    done = [[_vm("web01", "1")], [_rel("web01", "1", state="Replicating")]]
    action, connection = _action({"name": ["web01"], "state": "resynchronized", "wait": True},
                                 [runner_reply(before), runner_reply([[]]), runner_reply(progress), runner_reply(done)])
    action.poll = lambda read, finished, timeout, what: _poll_now(read, finished)
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert not result.get("failed"), result
    assert result["vms"][0]["after"]["state"] == "Replicating"
    assert connection.exec_command.call_count == 4


def test_wait_lets_a_just_started_resync_show_its_previous_state():
    waiting = [[_vm("web01", "1")], [_rel("web01", "1", state="WaitingForStartResynchronize")]]
    running = [[_vm("web01", "1")], [_rel("web01", "1", state="Resynchronizing")]]
    done = [[_vm("web01", "1")], [_rel("web01", "1", state="Replicating")]]
    action, connection = _action({"name": ["web01"], "state": "resynchronized", "wait": True},
                                 [runner_reply(waiting), runner_reply([[]]), runner_reply(waiting), runner_reply(running), runner_reply(done)])
    action.poll = lambda read, finished, timeout, what: _poll_now(read, finished)
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert not result.get("failed"), result
    assert result["vms"][0]["after"]["state"] == "Replicating"
    assert connection.exec_command.call_count == 5


def test_wait_fails_when_the_relationship_ends_in_error():
    before = [[_vm("web01", "1")], [_rel("web01", "1", state="ReadyForInitialReplication")]]
    progress = [[_vm("web01", "1")], [_rel("web01", "1", state="InitialReplicationInProgress")]]
    error = [[_vm("web01", "1")], [_rel("web01", "1", state="Error")]]
    action, dummy = _action({"name": ["web01"], "wait": True}, [runner_reply(before), runner_reply([[]]), runner_reply(progress), runner_reply(error)])
    action.poll = lambda read, finished, timeout, what: _poll_now(read, finished)
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["failed"] is True
    assert "web01 is Error" in result["msg"]


def test_reverse_after_unplanned_failover_starts_initial_replication():
    before = [[_vm("web01", "1")], [_rel("web01", "1", mode="Replica", state="FailedOver")]]
    reversed_ = [[_vm("web01", "1")], [_rel("web01", "1", state="ReadyForInitialReplication")]]
    started = [[_vm("web01", "1")], [_rel("web01", "1", state="InitialReplicationInProgress")]]
    action, connection = _action({"name": ["web01"], "state": "reversed"},
                                 [runner_reply(before), runner_reply([[]]), runner_reply(reversed_), runner_reply([[]]), runner_reply(started)])
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert not result.get("failed"), result
    payloads = sent_calls(connection)
    assert payloads[1] == [{"cmdlet": "Set-VMReplication", "params": {"VMName": ["web01"], "Reverse": True}, "select": []}]
    assert payloads[3] == [{"cmdlet": "Start-VMInitialReplication", "params": {"VMName": ["web01"]}, "select": []}]
    assert result["vms"][0]["actions"] == ["Set-VMReplication -VMName web01 -Reverse", "Start-VMInitialReplication -VMName web01"]
    assert result["vms"][0]["after"]["state"] == "InitialReplicationInProgress"


def test_wait_timeout_reports_the_last_state_and_keeps_the_result():
    ready = [[_vm("web01", "1")], [_rel("web01", "1", state="ReadyForInitialReplication")]]
    progress = [[_vm("web01", "1")], [_rel("web01", "1", state="InitialReplicationInProgress")]]
    action, dummy = _action({"name": ["web01"], "wait": True, "wait_timeout": 1}, [runner_reply(ready), runner_reply([[]])] + [runner_reply(progress)] * 5)
    result = action.run(task_vars={"inventory_hostname": HOST})
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"].startswith("Timed out after 1 s on hv-pri-02 waiting for replication of web01.")
    assert "Last states: web01 InitialReplicationInProgress." in result["msg"]
    assert result["vms"][0]["actions"] == ["Start-VMInitialReplication -VMName web01"]


def _poll_now(read, finished):
    while True:
        views = read()
        if finished(views):
            return views
