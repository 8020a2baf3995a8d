# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared shape of the Hyper-V modules that change state: read, plan, act, read again.

PRIVATE to the collection: no compatibility promise.

A task names one or more VMs on its target host. The base reads every VM in one round trip,
asks the module for a plan per VM (pure logic: current state x desired state -> cmdlet calls),
refuses the whole task before any change when one VM cannot reach the desired state, runs every
VM's calls in one more round trip, and reads again to report what is now true.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail

from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._runner import RunnerCall, RunnerError
from ansible_collections.site_recovery.hyperv.plugins.plugin_utils._windows_action import WindowsActionBase

VM_PROPERTIES = ["Name", "Id", "State", "Status", "ComputerName", "Heartbeat", "Uptime"]
REPLICATION_PROPERTIES = [
    "VMName", "VMId", "ReplicationMode", "ReplicationState", "ReplicationHealth", "ReplicationRelationshipType",
    "PrimaryServerName", "ReplicaServerName", "ReplicaServerPort", "AuthenticationType", "ReplicationFrequencySec",
    "RecoveryHistory", "VSSSnapshotFrequencyHour", "LastReplicationTime", "TestVirtualMachine",
]


class PlanError(Exception):
    """The desired state cannot be reached from the VM's current state: say why and what to do."""


class Plan:
    """The calls that take one VM from its current state to the desired one.

    ``add`` returns the call's index inside this plan; pass ``ref(index)`` as a parameter value to
    hand that call's objects to a later call (the base rebases it inside the task's batch).
    """

    def __init__(self):
        self.calls = []
        self.steps = []
        self.expect = {}

    def add(self, cmdlet, params=None, select=None, step=None):
        self.calls.append(RunnerCall(cmdlet, params, select))
        if step is not False:
            self.steps.append(step or describe_call(cmdlet, params))
        return len(self.calls) - 1

    @staticmethod
    def ref(index):
        return {"$plan_call": index}

    def __bool__(self):
        return bool(self.calls)


def describe_call(cmdlet, params):
    """A readable one-line form of a call, for results and check-mode plans."""
    parts = [cmdlet]
    for key, value in (params or {}).items():
        if value is True:
            parts.append("-%s" % key)
        elif isinstance(value, dict) and ("$plan_call" in value or "$call" in value):
            parts.append("-%s <object>" % key)
        elif isinstance(value, list):
            parts.append("-%s %s" % (key, ",".join(str(v) for v in value)))
        else:
            parts.append("-%s %s" % (key, value))
    return " ".join(parts)


def _rebase(value, offset):
    if isinstance(value, dict) and "$plan_call" in value:
        return {"$call": value["$plan_call"] + offset}
    if isinstance(value, list):
        return [_rebase(v, offset) for v in value]
    return value


def index_by(objects, key="Name"):
    """Objects by a key, case-insensitively (Hyper-V names are case-insensitive)."""
    return {str(o[key]).lower(): o for o in objects if o.get(key) is not None}


class VMStateAction(WindowsActionBase):
    """Base for modules whose argument ``name`` lists VMs on the target host.

    Subclasses implement ``read_calls(names, args)``, ``observe(names, results, args)`` returning the
    module's view of each VM (a dict per lower-cased name, or None for a VM the host does not have),
    and ``plan(name, view, args)`` returning a Plan (empty when nothing needs doing) or raising
    PlanError. ``settle(names, args, views)`` may wait for an asynchronous outcome.
    """

    def read_calls(self, names, args):
        raise AnsibleActionFail("%s does not implement read_calls" % type(self).__name__)

    def observe(self, names, results, args):
        raise AnsibleActionFail("%s does not implement observe" % type(self).__name__)

    def plan(self, name, view, args):
        raise AnsibleActionFail("%s does not implement plan" % type(self).__name__)

    def settle(self, names, args, views):
        """Called after the changes; return fresh views. Default: read once more."""
        del views
        return self.read(names, args)

    def read(self, names, args):
        return self.observe(names, self.run_calls(self.read_calls(names, args)), args)

    def run_module(self, args):
        names = unique_names(args["name"])
        keys = [n.lower() for n in names]
        before = self.read(names, args)
        plans, refusals = {}, []
        for name, key in zip(names, keys):
            if before.get(key) is None:
                refusals.append("No virtual machine named '%s' on Hyper-V host %s." % (name, self.host_name))
                continue
            try:
                plans[key] = self.plan(name, before[key], args)
            except PlanError as e:
                refusals.append("%s: %s" % (name, e))
        if refusals:
            # Nothing has changed yet: refuse the whole task rather than leave the VMs half-done.
            return {
                "failed": True,
                "changed": False,
                "msg": "Nothing was changed on %s. %s" % (self.host_name, " ".join(refusals)),
                "vms": self.report(names, before, before, plans),
            }
        changed = any(plans.values())
        if not changed:
            after = before
        elif self._task.check_mode:
            after = {key: predict(before[key], plans[key]) for key in keys}
        else:
            self.apply(names, plans)
            after = self.settle(names, args, before)
        result = {"changed": changed, "vms": self.report(names, before, after, plans)}
        if self._task.diff and changed:
            result["diff"] = {
                "before": {n: before[k] for n, k in zip(names, keys)},
                "after": {n: after.get(k) for n, k in zip(names, keys)},
            }
        return result

    def apply(self, names, plans):
        """Every VM's calls in one batch; on a failure, say which VM failed and which were already done."""
        calls, owners = [], []
        for name in names:
            plan = plans[name.lower()]
            offset = len(calls)
            for call in plan.calls:
                calls.append(RunnerCall(call.cmdlet, {k: _rebase(v, offset) for k, v in call.params.items()}, call.select))
                owners.append(name)
        try:
            return self.run_calls(calls)
        except RunnerError as e:
            index = e.index if e.index is not None and e.index < len(owners) else None
            failed_vm = owners[index] if index is not None else "?"
            done = sorted({owners[i] for i in range(index or 0)} - {failed_vm})
            e.message = "%s (VM %s; %s)" % (
                e.message, failed_vm, "changes completed before it for: " + ", ".join(done) if done else "no other VM of this task was changed before it")
            raise

    def report(self, names, before, after, plans):
        out = []
        for name in names:
            plan = plans.get(name.lower())
            out.append({
                "name": name,
                "changed": bool(plan),
                "actions": list(plan.steps) if plan else [],
                "before": before.get(name.lower()),
                "after": after.get(name.lower()),
            })
        return out

    def poll(self, read, done, timeout, what):
        """Re-read with backoff (0.5 s doubling, capped at 10 s) until done(views) or timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.5
        while True:
            views = read()
            if done(views):
                return views
            if time.monotonic() + delay > deadline:
                raise AnsibleActionFail("Timed out after %d s on %s waiting for %s." % (timeout, self.host_name, what))
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def predict(view, plan):
    """The view check mode reports as 'after': the current view with what the plan expects to change."""
    if view is None or not plan:
        return view
    out = dict(view)
    out.update(plan.expect)
    return out


def unique_names(names):
    seen, out = set(), []
    for name in names:
        if name.lower() in seen:
            raise AnsibleActionFail("VM %s is named twice in 'name'." % name)
        seen.add(name.lower())
        out.append(name)
    return out
