# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import PlanError, unique_names
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError, call_ref
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._vmm import (
    CONNECTION_SPEC,
    VM_PROPERTIES,
    VMMActionMixin,
    connect_call,
    job_succeeded,
    server_ref,
    shape_vm,
    view_differs,
)
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

# Stop-SCVirtualMachine: one documented parameter set per way of stopping.
STOP_SWITCHES = {
    "shutdown": "Shutdown",                        # SingleVM: graceful shutdown of the guest OS
    "save_state": "SaveState",                     # CorrespondsToVMM2008SaveStateVM
    "turn_off": "Force",                           # CorrespondsToVMM2008StopVM: hard power-off
    "discard_saved_state": "DiscardSavedState",    # CorrespondsToVMM2008DiscardSavedStateVM
}
# Hyper-V Replica states in which a Replica VM may run (hyperv-replica-states.md: after Start-VMFailover).
FAILED_OVER = ("FailedOverWaitingCompletion", "FailedOver")


class VMAction:
    """One VMM cmdlet call for one VM (the VM object is passed as -VM) and what VMM should show afterwards."""

    __slots__ = ("cmdlet", "switches", "expect")

    def __init__(self, cmdlet, switches=None, expect=None):
        self.cmdlet = cmdlet
        self.switches = dict(switches or {})
        self.expect = dict(expect or {})

    def describe(self, vm_name):
        return " ".join(["%s -VM %s" % (self.cmdlet, vm_name)] + ["-%s" % s for s in self.switches])

    def __eq__(self, other):
        return isinstance(other, VMAction) and (self.cmdlet, self.switches, self.expect) == (other.cmdlet, other.switches, other.expect)

    def __repr__(self):
        return "VMAction(%r, %r, %r)" % (self.cmdlet, self.switches, self.expect)


def _not_stable(view, what):
    return PlanError(
        "VMM shows status '%s' for the VM on host %s, and VMM does not %s a VM in that state. Wait for the VM's current "
        "VMM job to finish (site_recovery.hyperv.vmm_info lists the jobs), or clear a failed state in VMM "
        "(Repair-SCVirtualMachine), then run the task again." % (view["status"], view["host"], what)
    )


def _check_startable(view):
    """Hyper-V Replica locks: VMM would fail the start job, so refuse before anything changes."""
    mode, side = view.get("replication_mode"), view.get("replication_state")
    if mode == "Replica" and side not in FAILED_OVER:
        raise PlanError(
            "VMM shows the VM on host %s as a Hyper-V Replica VM (replication state %s) that has not been failed over; "
            "Hyper-V refuses to start it. Fail it over first (Start-VMFailover on %s), or start the primary copy "
            "(vm_host names the host)." % (view["host"], side, view["host"]))
    if mode == "Primary" and side == "PreparedForFailover":
        raise PlanError(
            "the VM on host %s is prepared for a planned failover (replication state PreparedForFailover), which locks it "
            "against starting. Complete the failover on the Replica side, or cancel it (Stop-VMFailover), first." % view["host"])


def plan_vm(state, view, stop_action="shutdown"):
    """The one VMM call that takes the VM to ``state``, or None when it is there already; PlanError when VMM would refuse.

    Pure decision logic on VMM's view (``status`` is VMM's Status: Running, PowerOff, Saved, Paused, or a transient
    or failed status).
    """
    status = view["status"]
    if state == "refreshed":
        return VMAction("Read-SCVirtualMachine")
    if state == "started":
        if status == "Running":
            return None
        if status in ("PowerOff", "Saved"):
            _check_startable(view)
            return VMAction("Start-SCVirtualMachine", expect={"status": "Running", "state": "Running"})
        if status == "Paused":
            raise PlanError("the VM is Paused on host %s: Start-SCVirtualMachine does not resume a paused VM. Resume it "
                            "(Resume-SCVirtualMachine) or stop it, then run the task again." % view["host"])
        raise _not_stable(view, "start")
    if state != "stopped":
        raise PlanError("unknown state %s" % state)
    switch = STOP_SWITCHES[stop_action]
    if status == "PowerOff":
        return None
    if status == "Saved":
        if stop_action == "save_state":
            return None
        if stop_action == "shutdown":
            raise PlanError("the VM is Saved on host %s: its guest cannot shut down. Keep it saved (stop_action=save_state), "
                            "drop the saved memory state (stop_action=discard_saved_state), or start it first." % view["host"])
        return VMAction("Stop-SCVirtualMachine", {switch: True}, {"status": "PowerOff", "state": "PowerOff"})
    if status in ("Running", "Paused"):
        if stop_action == "discard_saved_state":
            raise PlanError("the VM is %s on host %s, not Saved: stop_action=discard_saved_state only applies to a saved VM. "
                            "Use shutdown, save_state or turn_off." % (status, view["host"]))
        after = "Saved" if stop_action == "save_state" else "PowerOff"
        return VMAction("Stop-SCVirtualMachine", {switch: True}, {"status": after, "state": after})
    raise _not_stable(view, "stop")


def _on_hosts(view, hosts):
    host = str(view.get("host") or "").lower()
    return any(host == h.lower() or host.split(".", 1)[0] == h.lower().split(".", 1)[0] for h in hosts)


def resolve_targets(names, views, vm_hosts, state, where):
    """The VMM VMs each name stands for: (targets in order, refusals).

    A name VMM does not know is refused. When VMM knows several VMs of that name (Hyper-V Replica: the primary
    and the Replica copy), ``refreshed`` takes them all, while ``started``/``stopped`` need ``vm_host`` to choose:
    guessing the copy could start a Replica while its primary runs.
    """
    targets, refusals = [], []
    for name in names:
        found = [v for v in views if str(v["name"]).lower() == name.lower()]
        if vm_hosts:
            chosen = [v for v in found if _on_hosts(v, vm_hosts)]
        else:
            chosen = found
        if not found:
            refusals.append("No virtual machine named '%s' is known to %s." % (name, where))
        elif not chosen:
            refusals.append("VMM knows '%s' only on host %s, not on %s." % (
                name, ", ".join(sorted(str(v["host"]) for v in found)), ", ".join(vm_hosts)))
        elif len(chosen) > 1 and state != "refreshed":
            refusals.append("VMM knows %d virtual machines named '%s' (%s): set vm_host to the host whose copy to %s." % (
                len(chosen), name, "; ".join("on %s, replication mode %s" % (v["host"], v["replication_mode"] or "none")
                                             for v in sorted(chosen, key=lambda v: str(v["host"]))),
                "start" if state == "started" else "stop"))
        else:
            targets.extend(sorted(chosen, key=lambda v: str(v["host"])))
    return targets, refusals


class ActionModule(VMMActionMixin, WindowsActionBase):

    argument_spec = dict(CONNECTION_SPEC, **{
        "name": {"type": "list", "elements": "str", "required": True, "aliases": ["vm_name"]},
        "state": {"type": "str", "required": True, "choices": ["refreshed", "started", "stopped"]},
        "stop_action": {"type": "str", "default": "shutdown", "choices": list(STOP_SWITCHES)},
        "vm_host": {"type": "list", "elements": "str"},
        "refresh": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 600},
    })

    def run_module(self, args):
        self.vmm_args = args
        if args["timeout"] < 0:
            return {"failed": True, "msg": "timeout must be 0 (do not wait for the VMM jobs) or a number of seconds."}
        if not args["name"]:
            return {"failed": True, "msg": "name must list at least one virtual machine."}
        try:
            names = unique_names(args["name"])
        except AnsibleActionFail as e:
            return {"failed": True, "msg": str(e)}
        where = self.vmm_label(args)
        state = args["state"]
        results = self.run_calls([connect_call(args, select=[]), RunnerCall("Get-SCVirtualMachine", {"VMMServer": server_ref()}, VM_PROPERTIES)])
        targets, refusals = resolve_targets(names, [shape_vm(r) for r in results[1]], args["vm_host"], state, where)
        if refusals:
            return {"failed": True, "changed": False, "msg": "Nothing was changed on %s. %s" % (where, " ".join(refusals)), "vms": []}
        entries = {t["id"]: {"name": t["name"], "host": t["host"], "id": t["id"], "changed": False, "actions": [], "before": t,
                             "after": t, "jobs": []} for t in targets}
        check = self._task.check_mode
        current = {t["id"]: t for t in targets}
        refresh_changed = set()

        if state == "refreshed" or (args["refresh"] and not check):
            if check:
                for entry in entries.values():
                    entry["actions"].append(VMAction("Read-SCVirtualMachine").describe(entry["name"]))
                return self.finish(entries, changed=False)
            refresh = {t["id"]: VMAction("Read-SCVirtualMachine") for t in targets}
            if state == "refreshed":
                for entry in entries.values():
                    entry["actions"].append(refresh[entry["id"]].describe(entry["name"]))
            failure = self.run_actions(args, targets, refresh, entries, what="refresh")
            for vm_id, entry in entries.items():
                current[vm_id] = entry["after"]
                if view_differs(entry["before"], entry["after"]):
                    refresh_changed.add(vm_id)
                    entry["changed"] = True
            if state == "refreshed" or failure:
                return self.finish(entries, changed=bool(refresh_changed), failure=failure)

        plans, refusals = {}, []
        for target in targets:
            try:
                plans[target["id"]] = plan_vm(state, current[target["id"]], args["stop_action"])
            except PlanError as e:
                refusals.append("%s: %s" % (target["name"], e))
        if refusals:
            refreshed = " (VMM's view was refreshed first)" if args["refresh"] and not check else ""
            return self.finish(entries, changed=bool(refresh_changed), failure="No VM was started or stopped on %s%s. %s" % (
                where, refreshed, " ".join(refusals)))
        todo = {vm_id: plan for vm_id, plan in plans.items() if plan}
        for vm_id, plan in todo.items():
            entries[vm_id]["actions"].append(plan.describe(entries[vm_id]["name"]))
            entries[vm_id]["changed"] = True
        if not todo:
            return self.finish(entries, changed=bool(refresh_changed))
        if check:
            for vm_id, plan in todo.items():
                predicted = dict(current[vm_id])
                predicted.update(plan.expect)
                entries[vm_id]["after"] = predicted
            return self.finish(entries, changed=True)
        failure = self.run_actions(args, [t for t in targets if t["id"] in todo], todo, entries, what=state)
        return self.finish(entries, changed=True, failure=failure)

    def run_actions(self, args, targets, actions, entries, what):
        """Submit every VM's call in one batch (-RunAsynchronously), then wait for the VMM jobs. Returns a failure text or None."""
        calls, owners = [connect_call(args, select=[])], [None]
        for target in targets:
            action = actions[target["id"]]
            calls.append(RunnerCall("Get-SCVirtualMachine", {"VMMServer": server_ref(), "ID": target["id"]}, []))
            params = {"VM": call_ref(len(calls) - 1), "RunAsynchronously": True}
            params.update(action.switches)
            calls.append(RunnerCall(action.cmdlet, params, VM_PROPERTIES))
            owners += [target, target]
        try:
            results = self.run_calls(calls)
        except RunnerError as e:
            if e.index is None or e.index == 0 or e.index >= len(owners):
                raise
            failed = owners[e.index]
            done = [owners[i]["name"] for i in range(2, e.index, 2)]
            e.message = "%s refused %s on host %s (%s): %s [%s]. %s" % (
                calls[e.index].cmdlet, failed["name"], failed["host"], self.vmm_label(args), e.message, e.fqid or e.category,
                "Already submitted before it: %s." % ", ".join(done) if done else "No other VM of this task was changed before it.")
            e.explained = True
            raise
        job_ids = {}
        for index in range(2, len(calls), 2):
            target = owners[index]
            row = results[index][0] if results[index] else {}
            job_id = shape_vm(row).get("most_recent_job_id")
            # The VM's most recent job unchanged: VMM created no job (it found nothing to do).
            if job_id and job_id != entries[target["id"]]["after"].get("most_recent_job_id"):
                job_ids[target["id"]] = job_id
        jobs, views, timed_out = self.wait_for_jobs(args, list(job_ids.values()), [t["id"] for t in targets], args["timeout"])
        problems = []
        for target in targets:
            entry = entries[target["id"]]
            entry["after"] = views.get(target["id"], entry["after"])
            job_id = job_ids.get(target["id"])
            job = jobs.get(job_id) if job_id else None
            if job_id:
                entry["jobs"].append(job or {"id": job_id, "name": None, "status": None, "progress": None,
                                             "cmdlet": actions[target["id"]].cmdlet, "result_name": target["name"],
                                             "result_object_id": target["id"], "start_time": None, "end_time": None, "error": None})
            if job is not None and job["status"] in ("Failed", "Canceled"):
                problems.append("%s on host %s: VMM job '%s' (%s) %s: %s" % (
                    target["name"], target["host"], job["name"], job["id"], job["status"], job["error"] or "no error text"))
            elif job_id and timed_out and not job_succeeded(job):
                problems.append("%s on host %s: VMM job %s still %s" % (
                    target["name"], target["host"], job_id, (job or {}).get("status") or "unknown"))
        if not problems:
            return None
        if timed_out:
            return ("Timed out after %d s waiting for the VMM %s jobs on %s: %s. The jobs keep running in VMM: run the task "
                    "again (it only does what is still needed) or follow them with site_recovery.hyperv.vmm_info."
                    % (args["timeout"], what, self.vmm_label(args), "; ".join(problems)))
        return "The VMM %s failed on %s: %s." % (what, self.vmm_label(args), "; ".join(problems))

    def finish(self, entries, changed, failure=None):
        vms = sorted(entries.values(), key=lambda e: (str(e["name"]).lower(), str(e["host"]).lower()))
        result = {"changed": changed, "vms": vms}
        if failure:
            result.update(failed=True, msg=failure)
        if self._task.diff and changed:
            counts = {}
            for entry in vms:
                counts[entry["name"].lower()] = counts.get(entry["name"].lower(), 0) + 1

            def label(entry):
                return entry["name"] if counts[entry["name"].lower()] == 1 else "%s (%s)" % (entry["name"], entry["host"])

            result["diff"] = {"before": {label(e): e["before"] for e in vms}, "after": {label(e): e["after"] for e in vms}}
        return result
