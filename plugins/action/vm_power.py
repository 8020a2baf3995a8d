# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._hyperv import Plan, PlanError, VMStateAction
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall

VM_SELECT = ["Name", "Id", "State", "Status", "Heartbeat", "ReplicationMode", "ReplicationState"]
# The power state each desired state ends in (VMState names, HRS §1.4).
TARGET = {"started": "Running", "stopped": "Off", "turned_off": "Off", "saved": "Saved"}
# A Replica copy may run only once it has been failed over (HRS §3.1-§3.2).
FAILED_OVER = ("FailedOverWaitingCompletion", "FailedOver")
REPLICA_MODES = ("Replica", "ExtendedReplica")
WILDCARDS = "*?["


def heartbeat_ok(value):
    """VMHeartbeatStatus OkApplicationsHealthy/OkApplicationsUnknown/OkApplicationsCritical: the guest answers."""
    return bool(value) and str(value).startswith("Ok")


def shape(vm):
    return {
        "name": vm["Name"],
        "id": vm["Id"],
        "state": vm["State"],
        "heartbeat": vm.get("Heartbeat"),
        "replication_mode": vm.get("ReplicationMode") or "None",
        "replication_state": vm.get("ReplicationState") or "Disabled",
    }


def check_names(names):
    bad = [n for n in names if any(c in n for c in WILDCARDS)]
    if bad:
        raise AnsibleActionFail("VM names must be exact, without wildcards (%s): %s." % (WILDCARDS, ", ".join(bad)))


def observe_vms(names, vms):
    """One view per requested name (None when the host has no such VM); refuse duplicate names on one host."""
    found = {}
    for vm in vms:
        found.setdefault(vm["Name"].lower(), []).append(vm)
    views = {}
    for name in names:
        matches = found.get(name.lower()) or []
        if len(matches) > 1:
            raise AnsibleActionFail("The host has %d virtual machines named '%s' (Ids %s): name them apart before using this module."
                                    % (len(matches), name, ", ".join(m["Id"] for m in matches)))
        views[name.lower()] = shape(matches[0]) if matches else None
    return views


def start_refusal(view):
    """Why this VM must not be started here, or None (HRS §3.1: prepared primary locked; replica before failover)."""
    mode, repl = view["replication_mode"], view["replication_state"]
    if mode in REPLICA_MODES and repl not in FAILED_OVER:
        return ("it is the %s copy (replication state %s) and has not been failed over: starting it beside the primary copy "
                "would give two running copies of the VM (split brain). Fail it over first with "
                "site_recovery.hyperv.vm_failover state=failed_over on this host." % (mode, repl))
    if mode == "Primary" and repl == "PreparedForFailover":
        return ("it is the primary copy prepared for a planned failover (Start-VMFailover -Prepare): Hyper-V keeps it locked "
                "against starting so that only the Replica copy takes over. Finish the failover on the Replica host, or cancel "
                "it with site_recovery.hyperv.vm_failover state=cancelled on this host before starting it here.")
    return None


def plan_power(name, view, state, force):
    """Pure decision: current view x desired state -> calls, or PlanError saying why not."""
    plan = Plan()
    current = view["state"]
    target = TARGET[state]
    plan.expect = {"state": target}
    if current == target:
        return Plan()
    if state == "started":
        if current == "Starting":
            return Plan()  # already on its way; settle waits for Running
        if current not in ("Off", "Saved", "Paused"):
            raise PlanError("it is %s: wait until it settles, then run the task again." % current)
        why = start_refusal(view)
        if why:
            raise PlanError("refusing to start it: " + why)
        # Start-VM on a Paused VM resumes it (INFERRED: Start-VM requests the Enabled state; Resume-VM is not in the contract).
        plan.add("Start-VM", {"Name": [name]})
        plan.expect["heartbeat"] = None
        return plan
    if state == "stopped":
        if current == "Stopping":
            return Plan()
        if current != "Running":
            raise PlanError("it is %s: a graceful shut down needs a running guest. Use state=turned_off to turn it off%s, or "
                            "start it first." % (current, " (discarding its saved state)" if current == "Saved" else ""))
        params = {"Name": [name]}
        if force:
            params["Force"] = True
        plan.add("Stop-VM", params)
    elif state == "turned_off":
        if current not in ("Running", "Paused", "Saved", "Stopping"):
            raise PlanError("it is %s: wait until it settles, then run the task again." % current)
        plan.add("Stop-VM", {"Name": [name], "TurnOff": True})
    else:
        if current not in ("Running", "Paused"):
            raise PlanError("it is %s: only a running or paused VM can be saved." % current)
        plan.add("Save-VM", {"Name": [name]})
    plan.expect["heartbeat"] = None
    return plan


class ActionModule(VMStateAction):

    argument_spec = {
        "name": {"type": "list", "elements": "str", "required": True, "aliases": ["vm_name"]},
        "state": {"type": "str", "required": True, "choices": ["started", "stopped", "turned_off", "saved"]},
        "force": {"type": "bool", "default": False},
        "wait_for_heartbeat": {"type": "bool", "default": False},
        "timeout": {"type": "int", "default": 300},
    }
    _settle_failure = None  # set by settle when the wait times out

    def read_calls(self, names, args):
        # SilentlyContinue: a missing VM comes back as no object, which the base turns into a clear refusal.
        return [RunnerCall("Get-VM", {"Name": list(names), "ErrorAction": "SilentlyContinue"}, VM_SELECT)]

    def observe(self, names, results, args):
        return observe_vms(names, results[0])

    def plan(self, name, view, args):
        return plan_power(name, view, args["state"], args["force"])

    def run_module(self, args):
        check_names(args["name"])
        if args["timeout"] <= 0:
            raise AnsibleActionFail("timeout must be a positive number of seconds (got %d)." % args["timeout"])
        self._settle_failure = None
        start = time.monotonic()
        result = super().run_module(args)
        if result.get("failed") or self._task.check_mode:
            return result
        waiting = self.heartbeat_wanted(args)
        if waiting and not result["changed"] and not self.reached(result["vms"], args, key="before"):
            # Nothing to start, but a VM still booting: wait for its heartbeat all the same (a re-run converges).
            names = [v["name"] for v in result["vms"]]
            after = self.settle(names, args, None)
            for entry in result["vms"]:
                entry["after"] = after.get(entry["name"].lower())
        if self._settle_failure:
            result.update(failed=True, msg=self._settle_failure)
        result["elapsed_seconds"] = round(time.monotonic() - start, 1)
        return result

    def heartbeat_wanted(self, args):
        return args["state"] == "started" and args["wait_for_heartbeat"]

    def done(self, view, args):
        if view is None or view["state"] != TARGET[args["state"]]:
            return False
        return not self.heartbeat_wanted(args) or heartbeat_ok(view["heartbeat"])

    def reached(self, entries, args, key):
        return all(self.done(e[key], args) for e in entries)

    def settle(self, names, args, views):
        """Poll until every VM is in the desired power state (and answers heartbeats when asked), or the timeout."""
        del views
        last = {}

        def read():
            last.update(self.read(names, args))
            return last

        what = "%s to reach %s%s" % (", ".join(names), TARGET[args["state"]], " with an OK heartbeat" if self.heartbeat_wanted(args) else "")
        try:
            return self.poll(read, lambda v: all(self.done(v.get(n.lower()), args) for n in names), args["timeout"], what)
        except AnsibleActionFail:
            late = ["%s (state %s, heartbeat %s)" % (n, (last.get(n.lower()) or {}).get("state"), (last.get(n.lower()) or {}).get("heartbeat"))
                    for n in names if not self.done(last.get(n.lower()), args)]
            hint = (" A heartbeat that stays empty or NoContact means the guest has not booted or its Hyper-V heartbeat "
                    "integration service is off." if self.heartbeat_wanted(args) else "")
            self._settle_failure = ("Timed out after %d s on %s waiting for %s. Not there yet: %s.%s" % (
                args["timeout"], self.host_name, what, "; ".join(late), hint))
            return last

    def explain_error(self, error):
        return ("%s failed on Hyper-V host %s: %s [%s]. The power state of the VMs is as the next run of this task will "
                "read it; fix the cause and run it again." % (error.cmdlet, self.host_name, error.message, error.fqid))
