# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.action import vmm_vm
from ansible_collections.site_recovery.hyperv.plugins.action.vmm_vm import ActionModule, PlanError, VMAction, plan_vm, resolve_targets
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils import _vmm
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.action_harness import make_action, payload_calls, runner_reply

WHERE = "VMM server vmm01"


def _view(status, host="hv-pri-02", name="web01", vm_id="v1", mode=None):
    return {"name": name, "id": vm_id, "status": status, "state": status, "host": host, "replication_mode": mode}


# ---- the decision table: VMM status x desired state -> the one call, nothing, or a refusal --------------------------
RUNNING = {"status": "Running", "state": "Running"}
OFF = {"status": "PowerOff", "state": "PowerOff"}
SAVED = {"status": "Saved", "state": "Saved"}
TABLE = [
    # state, status, stop_action, expected (VMAction, None for no change, or a refusal text)
    ("started", "Running", "shutdown", None),
    ("started", "PowerOff", "shutdown", VMAction("Start-SCVirtualMachine", expect=RUNNING)),
    ("started", "Saved", "shutdown", VMAction("Start-SCVirtualMachine", expect=RUNNING)),
    ("started", "Paused", "shutdown", "Start-SCVirtualMachine does not resume a paused VM"),
    ("started", "UpdateFailed", "shutdown", "VMM shows status 'UpdateFailed' for the VM on host hv-pri-02, and VMM does not start"),
    ("started", "UnderMigration", "shutdown", "Wait for the VM's current VMM job to finish"),
    ("stopped", "PowerOff", "shutdown", None),
    ("stopped", "PowerOff", "turn_off", None),
    ("stopped", "PowerOff", "save_state", None),
    ("stopped", "PowerOff", "discard_saved_state", None),
    ("stopped", "Running", "shutdown", VMAction("Stop-SCVirtualMachine", {"Shutdown": True}, OFF)),
    ("stopped", "Running", "turn_off", VMAction("Stop-SCVirtualMachine", {"Force": True}, OFF)),
    ("stopped", "Running", "save_state", VMAction("Stop-SCVirtualMachine", {"SaveState": True}, SAVED)),
    ("stopped", "Running", "discard_saved_state", "only applies to a saved VM"),
    ("stopped", "Paused", "shutdown", VMAction("Stop-SCVirtualMachine", {"Shutdown": True}, OFF)),
    ("stopped", "Paused", "save_state", VMAction("Stop-SCVirtualMachine", {"SaveState": True}, SAVED)),
    ("stopped", "Saved", "shutdown", "its guest cannot shut down"),
    ("stopped", "Saved", "save_state", None),
    ("stopped", "Saved", "turn_off", VMAction("Stop-SCVirtualMachine", {"Force": True}, OFF)),
    ("stopped", "Saved", "discard_saved_state", VMAction("Stop-SCVirtualMachine", {"DiscardSavedState": True}, OFF)),
    ("stopped", "Stopping", "turn_off", "VMM does not stop a VM in that state"),
    ("refreshed", "Running", "shutdown", VMAction("Read-SCVirtualMachine")),
    ("refreshed", "HostNotResponding", "shutdown", VMAction("Read-SCVirtualMachine")),
    ("started", "HostNotResponding", "shutdown", "VMM does not start a VM in that state"),
    ("refreshed", "UpdateFailed", "shutdown", VMAction("Read-SCVirtualMachine")),
]


@pytest.mark.parametrize("state, status, stop_action, expected", TABLE)
def test_plan_vm_decision_table(state, status, stop_action, expected):
    if isinstance(expected, str):
        with pytest.raises(PlanError) as info:
            plan_vm(state, _view(status), stop_action)
        assert expected in str(info.value)
    else:
        assert plan_vm(state, _view(status), stop_action) == expected


@pytest.mark.parametrize("mode, side, expected", [
    ("Replica", "Replicating", "Hyper-V Replica VM (replication state Replicating) that has not been failed over"),
    ("Replica", "FailedOverWaitingCompletion", VMAction("Start-SCVirtualMachine", expect=RUNNING)),
    ("Replica", "FailedOver", VMAction("Start-SCVirtualMachine", expect=RUNNING)),
    ("Primary", "PreparedForFailover", "prepared for a planned failover"),
    ("Primary", "Replicating", VMAction("Start-SCVirtualMachine", expect=RUNNING)),
    ("None", "Disabled", VMAction("Start-SCVirtualMachine", expect=RUNNING)),
])
def test_plan_start_respects_hyper_v_replica_locks(mode, side, expected):
    view = dict(_view("PowerOff", "hv-sec-02.lab.test", mode=mode), replication_state=side)
    if isinstance(expected, str):
        with pytest.raises(PlanError) as info:
            plan_vm("started", view)
        assert expected in str(info.value)
    else:
        assert plan_vm("started", view) == expected
    # Stopping is never locked by replication.
    assert plan_vm("stopped", dict(view, status="Running"), "turn_off").cmdlet == "Stop-SCVirtualMachine"


def test_stop_switches_are_the_documented_parameter_sets():
    assert vmm_vm.STOP_SWITCHES == {"shutdown": "Shutdown", "save_state": "SaveState", "turn_off": "Force",
                                    "discard_saved_state": "DiscardSavedState"}
    assert VMAction("Stop-SCVirtualMachine", {"Shutdown": True}).describe("web01") == "Stop-SCVirtualMachine -VM web01 -Shutdown"


# ---- which VMM VM a name stands for ---------------------------------------------------------------------------------
COPIES = [_view("Running", "hv-pri-02", vm_id="p", mode="Primary"), _view("PowerOff", "hv-sec-02.lab.test", vm_id="r", mode="Recovery"),
          _view("Running", "hv-pri-03", name="web02", vm_id="w2")]


def test_resolve_unknown_name_is_refused_naming_server_and_vm():
    targets, refusals = resolve_targets(["web01", "nope"], COPIES, None, "started", WHERE)
    assert refusals[-1] == "No virtual machine named 'nope' is known to VMM server vmm01."
    assert len(refusals) == 2  # web01 is ambiguous as well


def test_resolve_two_copies_need_vm_host_to_start_or_stop():
    targets, refusals = resolve_targets(["WEB01"], COPIES, None, "stopped", WHERE)
    assert targets == []
    assert "VMM knows 2 virtual machines named 'WEB01' (on hv-pri-02, replication mode Primary; on hv-sec-02.lab.test, " \
           "replication mode Recovery): set vm_host to the host whose copy to stop." == refusals[0]


def test_resolve_vm_host_by_short_name_or_fqdn():
    targets, refusals = resolve_targets(["web01", "web02"], COPIES, ["hv-sec-02", "hv-pri-03.lab.test"], "started", WHERE)
    assert not refusals
    assert [t["id"] for t in targets] == ["r", "w2"]
    dummy, refusals = resolve_targets(["web02"], COPIES, ["hv-sec-03"], "started", WHERE)
    assert refusals == ["VMM knows 'web02' only on host hv-pri-03, not on hv-sec-03."]


def test_resolve_refresh_takes_every_copy():
    targets, refusals = resolve_targets(["web01"], COPIES, None, "refreshed", WHERE)
    assert not refusals and [t["id"] for t in targets] == ["p", "r"]


# ---- the whole task against a fake VMM ------------------------------------------------------------------------------
class FakeVMM:
    """Answers the runner's payloads like a VMM server: a cached view that Read-SCVirtualMachine corrects, and
    asynchronous jobs that finish on the first Get-SCJob poll (or never, or fail)."""

    def __init__(self, truth, cached=None):
        self.truth = {v["ID"]: dict(v) for v in truth}
        self.cached = {v["ID"]: dict(v) for v in (cached or truth)}
        self.jobs = {}
        self.batches = []
        self.down = False
        self.fail_job = None
        self.never_finish = False
        self.refuse = None

    def __call__(self, cmd, in_data):
        del cmd
        calls = payload_calls(in_data)
        self.batches.append([(c["cmdlet"], c["params"]) for c in calls])
        results, raw = [], []
        for index, call in enumerate(calls):
            params = {k: (raw[v["$call"]] if isinstance(v, dict) and "$call" in v else v) for k, v in call["params"].items()}
            try:
                objects = self.handle(call["cmdlet"], params)
            except RuntimeError as e:
                error = {"index": index, "cmdlet": call["cmdlet"], "message": str(e), "fqid": "Fake,X", "category": "InvalidOperation",
                         "target": None}
                return runner_reply(results, error)
            raw.append(objects[0] if len(objects) == 1 else objects)
            results.append([{k: o.get(k) for k in call["select"]} for o in objects])
        return runner_reply(results)

    def _job(self, cmdlet, vm, effect):
        job_id = "job-%d" % (len(self.jobs) + 1)
        self.jobs[job_id] = {"ID": job_id, "Name": cmdlet, "Status": "Running", "CmdletName": cmdlet, "ResultName": vm["Name"],
                             "effect": effect, "vm": vm["ID"]}
        self.cached[vm["ID"]]["MostRecentTaskID"] = job_id
        return dict(self.cached[vm["ID"]])

    def handle(self, cmdlet, params):
        if cmdlet == "Get-SCVMMServer":
            if self.down:
                raise RuntimeError("You cannot contact the VMM management server.")
            return [{"Name": "vmm01"}]
        if cmdlet == "Get-SCVirtualMachine":
            if "ID" in params:
                return [dict(self.cached[params["ID"]])]
            return [dict(v) for v in self.cached.values()]
        if cmdlet == "Get-SCJob":
            job = self.jobs[params["ID"]]
            if job["Status"] == "Running" and not self.never_finish:
                if self.fail_job == job["CmdletName"]:
                    job.update(Status="Failed", ErrorInfo="The virtual machine cannot be started on a host that is not responding. (Error ID: 12711)")
                else:
                    job["effect"]()
                    job["Status"] = "Completed"
            return [job]
        vm = params["VM"]
        if self.refuse == cmdlet:
            raise RuntimeError("VM %s is busy." % vm["Name"])
        assert params["RunAsynchronously"] is True
        if cmdlet == "Read-SCVirtualMachine":
            return [self._job(cmdlet, vm, lambda: self.cached[vm["ID"]].update(
                {k: v for k, v in self.truth[vm["ID"]].items() if k != "MostRecentTaskID"}))]
        if cmdlet == "Start-SCVirtualMachine":
            return [self._job(cmdlet, vm, lambda: self._power(vm["ID"], "Running"))]
        if cmdlet == "Stop-SCVirtualMachine":
            after = "Saved" if params.get("SaveState") else "PowerOff"
            return [self._job(cmdlet, vm, lambda: self._power(vm["ID"], after))]
        raise AssertionError(cmdlet)

    def _power(self, vm_id, status):
        for view in (self.truth[vm_id], self.cached[vm_id]):
            view.update(Status=status, VirtualMachineState=status)


def _vm(name, vm_id, status, host="hv-pri-02"):
    return {"Name": name, "ID": vm_id, "VMId": "hv-" + vm_id, "Status": status, "VirtualMachineState": status, "VMHost": host,
            "Cloud": "Primary-Cloud", "ReplicationMode": "Primary", "MostRecentTaskID": None}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(_vmm.time, "sleep", lambda seconds: None)


def _run(fake, args, check_mode=False, diff=False):
    action, dummy = make_action(ActionModule, args, fake, check_mode=check_mode, diff=diff)
    return action.run(task_vars={"inventory_hostname": "vmm01"})


def _cmdlets(batch):
    return [c for c, dummy in batch]


def test_start_refreshes_submits_one_batch_and_waits_for_the_jobs():
    fake = FakeVMM([_vm("web01", "v1", "PowerOff"), _vm("web02", "v2", "PowerOff"), _vm("app01", "v3", "Running")])
    result = _run(fake, {"name": ["web01", "web02", "app01"], "state": "started"}, diff=True)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert [_cmdlets(b) for b in fake.batches] == [
        ["Get-SCVMMServer", "Get-SCVirtualMachine"],
        ["Get-SCVMMServer"] + ["Get-SCVirtualMachine", "Read-SCVirtualMachine"] * 3,
        ["Get-SCVMMServer"] + ["Get-SCJob"] * 3 + ["Get-SCVirtualMachine"] * 3,
        ["Get-SCVMMServer"] + ["Get-SCVirtualMachine", "Start-SCVirtualMachine"] * 2,
        ["Get-SCVMMServer"] + ["Get-SCJob"] * 2 + ["Get-SCVirtualMachine"] * 2,
    ]
    act = fake.batches[3]
    assert act[0] == ("Get-SCVMMServer", {"ComputerName": "localhost"})
    assert act[1] == ("Get-SCVirtualMachine", {"VMMServer": {"$call": 0}, "ID": "v1"})
    assert act[3] == ("Get-SCVirtualMachine", {"VMMServer": {"$call": 0}, "ID": "v2"})
    assert act[4] == ("Start-SCVirtualMachine", {"VM": {"$call": 3}, "RunAsynchronously": True})
    assert act[2] == ("Start-SCVirtualMachine", {"VM": {"$call": 1}, "RunAsynchronously": True})
    vms = {v["name"]: v for v in result["vms"]}
    assert vms["app01"]["changed"] is False and vms["app01"]["actions"] == []
    assert vms["web01"]["actions"] == ["Start-SCVirtualMachine -VM web01"]
    assert (vms["web01"]["before"]["status"], vms["web01"]["after"]["status"]) == ("PowerOff", "Running")
    jobs = [(j["cmdlet"], j["status"]) for j in vms["web01"]["jobs"]]
    assert jobs == [("Read-SCVirtualMachine", "Completed"), ("Start-SCVirtualMachine", "Completed")]
    assert result["diff"]["after"]["web02"]["status"] == "Running"
    # Idempotence: the second run refreshes, finds everything running and submits nothing.
    fake.batches.clear()
    again = _run(fake, {"name": ["web01", "web02", "app01"], "state": "started"})
    assert again["changed"] is False, again
    assert "Start-SCVirtualMachine" not in [c for b in fake.batches for c in _cmdlets(b)]


def test_stale_view_is_corrected_by_the_refresh_and_nothing_is_started():
    fake = FakeVMM([_vm("web01", "v1", "Running")], cached=[_vm("web01", "v1", "PowerOff")])
    result = _run(fake, {"name": ["web01"], "state": "started"})
    assert result["changed"] is True  # VMM's view changed
    entry = result["vms"][0]
    assert entry["actions"] == []
    assert (entry["before"]["status"], entry["after"]["status"]) == ("PowerOff", "Running")
    assert "Start-SCVirtualMachine" not in [c for b in fake.batches for c in _cmdlets(b)]


def test_without_refresh_the_cached_view_decides():
    fake = FakeVMM([_vm("web01", "v1", "Running")], cached=[_vm("web01", "v1", "Running")])
    result = _run(fake, {"name": ["web01"], "state": "stopped", "stop_action": "turn_off", "refresh": False})
    assert result["changed"] is True
    assert [_cmdlets(b) for b in fake.batches][1] == ["Get-SCVMMServer", "Get-SCVirtualMachine", "Stop-SCVirtualMachine"]
    assert fake.batches[1][2][1] == {"VM": {"$call": 1}, "RunAsynchronously": True, "Force": True}
    assert result["vms"][0]["after"]["status"] == "PowerOff"


def test_check_mode_reads_once_and_predicts():
    fake = FakeVMM([_vm("web01", "v1", "Running"), _vm("web02", "v2", "PowerOff")])
    result = _run(fake, {"name": ["web01", "web02"], "state": "stopped", "stop_action": "save_state"}, check_mode=True, diff=True)
    assert result["changed"] is True
    assert [_cmdlets(b) for b in fake.batches] == [["Get-SCVMMServer", "Get-SCVirtualMachine"]]
    vms = {v["name"]: v for v in result["vms"]}
    assert vms["web01"]["actions"] == ["Stop-SCVirtualMachine -VM web01 -SaveState"]
    assert vms["web01"]["after"]["status"] == "Saved" and vms["web01"]["jobs"] == []
    assert vms["web02"]["changed"] is False
    assert fake.truth["v1"]["Status"] == "Running"


def test_refreshed_reports_change_only_when_the_view_differs():
    fake = FakeVMM([_vm("web01", "v1", "Running", host="hv-sec-02")], cached=[_vm("web01", "v1", "PowerOff", host="hv-sec-02")])
    first = _run(fake, {"name": ["web01"], "state": "refreshed"})
    assert first["changed"] is True
    assert first["vms"][0]["actions"] == ["Read-SCVirtualMachine -VM web01"]
    assert first["vms"][0]["jobs"][0]["status"] == "Completed"
    second = _run(fake, {"name": ["web01"], "state": "refreshed"})
    assert second["changed"] is False
    assert second["vms"][0]["jobs"][0]["cmdlet"] == "Read-SCVirtualMachine"


def test_refreshed_in_check_mode_submits_nothing():
    fake = FakeVMM([_vm("web01", "v1", "Running")], cached=[_vm("web01", "v1", "PowerOff")])
    result = _run(fake, {"name": ["web01"], "state": "refreshed"}, check_mode=True)
    assert result["changed"] is False
    assert result["vms"][0]["actions"] == ["Read-SCVirtualMachine -VM web01"]
    assert len(fake.batches) == 1 and fake.cached["v1"]["Status"] == "PowerOff"


def test_unknown_vm_fails_before_any_change():
    fake = FakeVMM([_vm("web01", "v1", "PowerOff")])
    result = _run(fake, {"name": ["web01", "ghost"], "state": "started"})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "Nothing was changed on VMM server vmm01. No virtual machine named 'ghost' is known to VMM server vmm01."
    assert len(fake.batches) == 1


def test_refusal_after_refresh_changes_no_vm():
    fake = FakeVMM([_vm("web01", "v1", "PowerOff"), _vm("web02", "v2", "Saved")])
    result = _run(fake, {"name": ["web01", "web02"], "state": "stopped"})
    assert result["failed"] is True
    assert result["msg"].startswith("No VM was started or stopped on VMM server vmm01 (VMM's view was refreshed first). web02: the VM is Saved")
    assert "Stop-SCVirtualMachine" not in [c for b in fake.batches for c in _cmdlets(b)]


def test_vmm_not_answering_says_to_wait_with_vmm_info():
    fake = FakeVMM([_vm("web01", "v1", "PowerOff")])
    fake.down = True
    result = _run(fake, {"name": ["web01"], "state": "started"})
    assert result["failed"] is True
    assert result["msg"].startswith("VMM is not answering yet: Get-SCVMMServer -ComputerName localhost on vmm01 failed")
    assert "Nothing was changed." in result["msg"] and "site_recovery.hyperv.vmm_info" in result["msg"]
    assert "service.reachable" in result["msg"]


def test_failed_job_is_reported_with_the_vmm_error():
    fake = FakeVMM([_vm("web01", "v1", "PowerOff")])
    fake.fail_job = "Start-SCVirtualMachine"
    result = _run(fake, {"name": ["web01"], "state": "started"})
    assert result["failed"] is True and result["changed"] is True
    assert "The VMM started failed on VMM server vmm01: web01 on host hv-pri-02: VMM job 'Start-SCVirtualMachine' (job-2) " \
           "Failed: The virtual machine cannot be started on a host that is not responding. (Error ID: 12711)." == result["msg"]
    assert result["vms"][0]["jobs"][-1]["status"] == "Failed"


def test_job_still_running_at_timeout():
    fake = FakeVMM([_vm("web01", "v1", "Running")])
    fake.never_finish = True
    result = _run(fake, {"name": ["web01"], "state": "stopped", "refresh": False, "timeout": 1})
    assert result["failed"] is True
    assert result["msg"].startswith("Timed out after 1 s waiting for the VMM stopped jobs on VMM server vmm01: web01 on host hv-pri-02: "
                                    "VMM job job-1 still Running. The jobs keep running in VMM")


def test_timeout_zero_does_not_wait():
    fake = FakeVMM([_vm("web01", "v1", "Running")])
    fake.never_finish = True
    result = _run(fake, {"name": ["web01"], "state": "stopped", "refresh": False, "timeout": 0})
    assert not result.get("failed"), result
    assert result["vms"][0]["jobs"][0]["status"] == "Running"
    assert len(fake.batches) == 3


def test_cmdlet_refusal_names_the_vm_and_what_was_submitted_before():
    fake = FakeVMM([_vm("a1", "v1", "PowerOff"), _vm("b1", "v2", "PowerOff")])
    fake.refuse = "Start-SCVirtualMachine"
    result = _run(fake, {"name": ["a1", "b1"], "state": "started", "refresh": False})
    assert result["failed"] is True
    assert result["msg"] == ("Start-SCVirtualMachine refused a1 on host hv-pri-02 (VMM server vmm01): VM a1 is busy. [Fake,X]. "
                             "No other VM of this task was changed before it.")
    assert result["error"]["cmdlet"] == "Start-SCVirtualMachine"


@pytest.mark.parametrize("args, message", [
    ({"name": ["web01"], "state": "running"}, "value of state must be one of"),
    ({"name": ["web01", "WEB01"], "state": "started"}, "VM WEB01 is named twice"),
    ({"name": [], "state": "started"}, "name must list at least one"),
    ({"state": "started"}, "missing required arguments: name"),
    ({"name": ["web01"], "state": "started", "timeout": -5}, "timeout must be 0"),
    ({"name": ["web01"], "state": "stopped", "stop_action": "pull_plug"}, "value of stop_action must be one of"),
])
def test_bad_input_fails_before_contacting_vmm(args, message):
    fake = FakeVMM([_vm("web01", "v1", "PowerOff")])
    result = _run(fake, args)
    assert result["failed"] is True
    assert message in result["msg"]
    assert fake.batches == []
