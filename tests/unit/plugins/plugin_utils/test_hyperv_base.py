# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read -> plan -> act -> read cycle shared by the state-changing Hyper-V modules."""

from __future__ import annotations

import functools

import pytest

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import Plan, PlanError, VMStateAction, describe_call
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, runner_reply, sent_calls


class PowerLike(VMStateAction):
    """A minimal module: wants every named VM Running; refuses VMs named 'locked*'."""

    argument_spec = {"name": {"type": "list", "elements": "str", "required": True}}

    def read_calls(self, names, args):
        return [RunnerCall("Get-VM", {"Name": names}, ["Name", "State"])]

    def observe(self, names, results, args):
        return {vm["Name"].lower(): {"state": vm["State"]} for vm in results[0]}

    def plan(self, name, view, args):
        plan = Plan()
        if name.startswith("locked"):
            raise PlanError("it is locked")
        if view["state"] != "Running":
            snap = plan.add("Get-VMSnapshot", {"VMName": name}, [], step=False)
            plan.add("Start-VM", {"Name": name, "Snapshot": Plan.ref(snap)})
            plan.expect["state"] = "Running"
        return plan


_action = functools.partial(make_action, PowerLike, task_action="test.power_like")


def test_acts_in_one_batch_with_rebased_object_references():
    read = runner_reply([[{"Name": "a", "State": "Off"}, {"Name": "b", "State": "Off"}]])
    act = runner_reply([[], [], [], []])
    reread = runner_reply([[{"Name": "a", "State": "Running"}, {"Name": "b", "State": "Running"}]])
    action, connection = _action({"name": ["a", "b"]}, [read, act, reread], diff=True)
    result = action.run(task_vars={"inventory_hostname": "hv1"})
    assert result["changed"] is True, result
    calls = sent_calls(connection, 1)
    assert [c["cmdlet"] for c in calls] == ["Get-VMSnapshot", "Start-VM", "Get-VMSnapshot", "Start-VM"]
    # Each VM's reference points at its own Get-VMSnapshot inside the task's batch.
    assert calls[1]["params"]["Snapshot"] == {"$call": 0}
    assert calls[3]["params"]["Snapshot"] == {"$call": 2}
    assert result["vms"][0]["actions"] == ["Start-VM -Name a -Snapshot <object>"]
    assert result["diff"] == {"before": {"a": {"state": "Off"}, "b": {"state": "Off"}},
                              "after": {"a": {"state": "Running"}, "b": {"state": "Running"}}}


def test_idempotent_run_makes_one_round_trip():
    action, connection = _action({"name": ["a"]}, [runner_reply([[{"Name": "a", "State": "Running"}]])])
    result = action.run(task_vars={"inventory_hostname": "hv1"})
    assert result["changed"] is False
    assert result["vms"][0]["actions"] == []
    assert connection.exec_command.call_count == 1


def test_check_mode_predicts_and_changes_nothing():
    action, connection = _action({"name": ["a"]}, [runner_reply([[{"Name": "a", "State": "Off"}]])], check_mode=True, diff=True)
    result = action.run(task_vars={"inventory_hostname": "hv1"})
    assert result["changed"] is True
    assert result["vms"][0]["after"] == {"state": "Running"}
    assert result["diff"]["after"] == {"a": {"state": "Running"}}
    assert connection.exec_command.call_count == 1


def test_one_refusal_refuses_the_whole_task_before_any_change():
    read = runner_reply([[{"Name": "a", "State": "Off"}, {"Name": "locked1", "State": "Off"}]])
    action, connection = _action({"name": ["a", "locked1", "ghost"]}, [read])
    result = action.run(task_vars={"inventory_hostname": "hv1"})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("Nothing was changed on hv1.")
    assert "locked1: it is locked" in result["msg"]
    assert "No virtual machine named 'ghost' on Hyper-V host hv1." in result["msg"]
    assert connection.exec_command.call_count == 1


def test_failure_in_the_batch_names_the_vm_and_what_was_done():
    read = runner_reply([[{"Name": "a", "State": "Off"}, {"Name": "b", "State": "Off"}]])
    error = {"index": 3, "cmdlet": "Start-VM", "message": "The operation failed.", "fqid": "OperationFailed,X",
             "category": "NotSpecified", "target": "b"}
    action, dummy = _action({"name": ["a", "b"]}, [read, runner_reply([[], [], []], error)])
    result = action.run(task_vars={"inventory_hostname": "hv1"})
    assert result["failed"] is True
    assert "VM b" in result["msg"] and "changes completed before it for: a" in result["msg"]
    assert result["error"]["cmdlet"] == "Start-VM"


def test_duplicate_names_are_rejected():
    action, connection = _action({"name": ["a", "A"]}, [])
    with pytest.raises(Exception) as info:
        action.run(task_vars={"inventory_hostname": "hv1"})
    assert "named twice" in str(info.value)
    connection.exec_command.assert_not_called()


def test_describe_call():
    assert describe_call("Stop-VM", {"Name": "a", "TurnOff": True}) == "Stop-VM -Name a -TurnOff"
    assert describe_call("Get-VM", {"Name": ["a", "b"]}) == "Get-VM -Name a,b"
