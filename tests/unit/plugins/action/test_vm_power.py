# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import functools

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action import vm_power
from ansible_collections.site_recovery.hyperv.plugins.action.vm_power import ActionModule, plan_power
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import PlanError
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls


def view(state="Off", mode="None", repl="Disabled", heartbeat=None):
    return {"name": "web01", "id": "id-1", "state": state, "heartbeat": heartbeat, "replication_mode": mode, "replication_state": repl}


def calls(plan):
    return [(c.cmdlet, c.params) for c in plan.calls]


# current view x desired state -> exact cmdlet calls (empty: nothing to do)
@pytest.mark.parametrize("current, state, force, expected", [
    (view("Off"), "started", False, [("Start-VM", {"Name": ["web01"]})]),
    (view("Saved"), "started", False, [("Start-VM", {"Name": ["web01"]})]),
    (view("Paused"), "started", False, [("Start-VM", {"Name": ["web01"]})]),
    (view("Running"), "started", False, []),
    (view("Starting"), "started", False, []),
    (view("Off", "Replica", "FailedOverWaitingCompletion"), "started", False, [("Start-VM", {"Name": ["web01"]})]),
    (view("Off", "Replica", "FailedOver"), "started", False, [("Start-VM", {"Name": ["web01"]})]),
    (view("Off", "Primary", "Replicating"), "started", False, [("Start-VM", {"Name": ["web01"]})]),
    (view("Off", "TestReplica", "Disabled"), "started", False, [("Start-VM", {"Name": ["web01"]})]),
    (view("Running"), "stopped", False, [("Stop-VM", {"Name": ["web01"]})]),
    (view("Running"), "stopped", True, [("Stop-VM", {"Name": ["web01"], "Force": True})]),
    (view("Off"), "stopped", False, []),
    (view("Stopping"), "stopped", False, []),
    (view("Running"), "turned_off", False, [("Stop-VM", {"Name": ["web01"], "TurnOff": True})]),
    (view("Saved"), "turned_off", False, [("Stop-VM", {"Name": ["web01"], "TurnOff": True})]),
    (view("Off"), "turned_off", True, []),
    (view("Running"), "saved", False, [("Save-VM", {"Name": ["web01"]})]),
    (view("Paused"), "saved", False, [("Save-VM", {"Name": ["web01"]})]),
    (view("Saved"), "saved", False, []),
])
def test_decision_table(current, state, force, expected):
    plan = plan_power("web01", current, state, force)
    assert calls(plan) == expected
    if expected:
        assert plan.expect["state"] == vm_power.TARGET[state]


@pytest.mark.parametrize("current, state, words", [
    (view("Off", "Replica", "Replicating"), "started", ["split brain", "vm_failover state=failed_over"]),
    (view("Off", "Replica", "Suspended"), "started", ["split brain"]),
    (view("Off", "ExtendedReplica", "Replicating"), "started", ["split brain"]),
    (view("Off", "Primary", "PreparedForFailover"), "started", ["locked against starting", "state=cancelled"]),
    (view("Stopping"), "started", ["Stopping", "wait until it settles"]),
    (view("Saved"), "stopped", ["Saved", "state=turned_off", "discarding its saved state"]),
    (view("Paused"), "stopped", ["Paused", "graceful"]),
    (view("Off"), "saved", ["only a running or paused VM can be saved"]),
    (view("Saving"), "turned_off", ["Saving"]),
])
def test_refusals_say_why(current, state, words):
    with pytest.raises(PlanError) as info:
        plan_power("web01", current, state, False)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("value, ok", [
    ("OkApplicationsHealthy", True), ("OkApplicationsUnknown", True), ("OkApplicationsCritical", True),
    ("NoContact", False), ("LostCommunication", False), (None, False), ("Error", False),
])
def test_heartbeat_ok(value, ok):
    assert vm_power.heartbeat_ok(value) is ok


# ---- the whole task against a mocked connection --------------------------------------------------
def vm_row(name, state, mode="None", repl="Disabled", heartbeat=None, vm_id=None):
    return {"Name": name, "Id": vm_id or "id-" + name, "State": state, "Status": "Operating normally", "Heartbeat": heartbeat,
            "ReplicationMode": mode, "ReplicationState": repl}


_action = functools.partial(make_action, ActionModule)


def test_start_two_vms_one_read_one_act_then_settle():
    action, connection = _action({"name": ["web01", "web02"], "state": "started"}, [
        runner_reply([[vm_row("web01", "Off"), vm_row("web02", "Running", heartbeat="OkApplicationsHealthy")]]),
        runner_reply([[]]),
        runner_reply([[vm_row("web01", "Running", heartbeat="NoContact"), vm_row("web02", "Running", heartbeat="OkApplicationsHealthy")]]),
    ])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert not result.get("failed"), result
    assert result["changed"] is True
    read, act, settle = sent_calls(connection)
    assert read == [{"cmdlet": "Get-VM", "params": {"Name": ["web01", "web02"], "ErrorAction": "SilentlyContinue"},
                     "select": vm_power.VM_SELECT}]
    assert [(c["cmdlet"], c["params"]) for c in act] == [("Start-VM", {"Name": ["web01"]})]
    assert settle == read
    assert [(v["name"], v["changed"], v["after"]["state"]) for v in result["vms"]] == [("web01", True, "Running"), ("web02", False, "Running")]


def test_wait_for_heartbeat_polls_until_ok(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    action, connection = _action({"name": ["vmm01"], "state": "started", "wait_for_heartbeat": True}, [
        runner_reply([[vm_row("vmm01", "Off", "Replica", "FailedOverWaitingCompletion")]]),
        runner_reply([[]]),
        runner_reply([[vm_row("vmm01", "Running", "Replica", "FailedOverWaitingCompletion", heartbeat="NoContact")]]),
        runner_reply([[vm_row("vmm01", "Running", "Replica", "FailedOverWaitingCompletion", heartbeat="OkApplicationsHealthy")]]),
    ])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-01"})
    assert not result.get("failed"), result
    assert connection.exec_command.call_count == 4
    assert result["vms"][0]["after"]["heartbeat"] == "OkApplicationsHealthy"


def test_already_running_still_waits_for_heartbeat_without_change(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    action, connection = _action({"name": ["vmm01"], "state": "started", "wait_for_heartbeat": True}, [
        runner_reply([[vm_row("vmm01", "Running", heartbeat="NoContact")]]),
        runner_reply([[vm_row("vmm01", "Running", heartbeat="OkApplicationsHealthy")]]),
    ])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-01"})
    assert result["changed"] is False and not result.get("failed")
    assert result["vms"][0]["after"]["heartbeat"] == "OkApplicationsHealthy"
    assert [c[0]["cmdlet"] for c in sent_calls(connection)] == ["Get-VM", "Get-VM"]


def test_heartbeat_timeout_fails_naming_vm(monkeypatch):
    clock = iter(range(0, 10000, 100))
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    monkeypatch.setattr("time.sleep", lambda s: None)
    rows = [runner_reply([[vm_row("vmm01", "Running", heartbeat="NoContact")]]) for dummy in range(10)]
    action, dummy = _action({"name": ["vmm01"], "state": "started", "wait_for_heartbeat": True, "timeout": 150}, rows)
    result = action.run(task_vars={"inventory_hostname": "hv-sec-01"})
    assert result["failed"] is True
    assert "vmm01 (state Running, heartbeat NoContact)" in result["msg"]
    assert "integration service" in result["msg"]


def test_refusal_changes_nothing_for_any_vm():
    action, connection = _action({"name": ["web01", "vmm01"], "state": "started"}, [
        runner_reply([[vm_row("web01", "Off"), vm_row("vmm01", "Off", "Replica", "Replicating")]]),
    ])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-01"})
    assert result["failed"] is True and result["changed"] is False
    assert "Nothing was changed on hv-sec-01" in result["msg"]
    assert "vmm01: refusing to start it" in result["msg"]
    assert connection.exec_command.call_count == 1


def test_unknown_vm_is_refused_before_any_change():
    action, connection = _action({"name": ["nope"], "state": "stopped"}, [runner_reply([[]])])
    result = action.run(task_vars={"inventory_hostname": "hv-pri-01"})
    assert result["failed"] is True
    assert "No virtual machine named 'nope' on Hyper-V host hv-pri-01" in result["msg"]
    assert connection.exec_command.call_count == 1


def test_check_mode_predicts_and_sends_nothing_but_the_read():
    action, connection = _action({"name": ["web01"], "state": "stopped"}, [runner_reply([[vm_row("web01", "Running", heartbeat="OkApplicationsHealthy")]])],
                                 check_mode=True, diff=True)
    result = action.run(task_vars={"inventory_hostname": "hv-pri-02"})
    assert result["changed"] is True
    assert result["vms"][0]["actions"] == ["Stop-VM -Name web01"]
    assert result["vms"][0]["after"]["state"] == "Off"
    assert result["diff"]["before"]["web01"]["state"] == "Running"
    assert connection.exec_command.call_count == 1


@pytest.mark.parametrize("args, words", [
    ({"name": ["web*"], "state": "started"}, "without wildcards"),
    ({"name": ["web01"], "state": "running"}, "state"),
    ({"name": ["web01"], "state": "started", "timeout": 0}, "timeout"),
])
def test_bad_input_fails_before_contacting_the_host(args, words):
    action, connection = _action(args, [])
    try:
        result = action.run(task_vars={"inventory_hostname": "hv-pri-01"})
    except Exception as e:  # AnsibleActionFail from run_module reaches Ansible as a failed task
        result = {"failed": True, "msg": str(e)}
    assert result["failed"] is True
    assert words in result["msg"]
    connection.exec_command.assert_not_called()


def test_cmdlet_failure_names_vm_and_host():
    error = {"index": 0, "cmdlet": "Start-VM", "message": "'web01' failed to start.", "fqid": "InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM",
             "category": "InvalidOperation", "target": "web01"}
    action, dummy = _action({"name": ["web01"], "state": "started"}, [runner_reply([[vm_row("web01", "Off")]]), runner_reply([], error)])
    result = action.run(task_vars={"inventory_hostname": "hv-sec-02"})
    assert result["failed"] is True
    assert "Start-VM failed on Hyper-V host hv-sec-02" in result["msg"]
    assert "VM web01" in result["msg"]
