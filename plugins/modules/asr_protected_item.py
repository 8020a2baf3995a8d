#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_protected_item
short_description: Fail over, commit, reprotect, test or cancel protected VMs of a Recovery Services vault (VMM cloud to VMM cloud)
version_added: 0.1.0
description:
  - Takes replication protected items (VMs protected by Azure Site Recovery between two VMM clouds) through the failover
    lifecycle - planned or unplanned failover, commit, reverse replication (reprotect), test failover and its cleanup, cancel.
  - Each item is read first. The decision is made from the item's C(allowedOperations) and C(activeLocation) (and the job of its
    C(currentScenario)), never blindly. An item already in the wanted state is left alone (C(changed=false), the RV(items[].msg)
    says why). When one item cannot take the step, the task fails before anything is changed for any item, naming the operations
    ASR allows and the item's state.
  - A job of the same kind already running for an item (an earlier run that was interrupted) is followed, not started again.
  - Every action is one REST call (C(POST .../replicationProtectedItems/<item>/<action>)); the ASR job is taken from the 202
    C(Location) header and polled (C(GET .../replicationJobs/<job>)) until it ends, see O(wait).
  - "Lifecycle of an item (C(lifecycle) in RV(items[].after)): V(protected) (replicating from its active site) - O(state=failed_over)
    - V(failed_over) (awaits commit) - O(state=committed) - V(committed) - O(state=reprotected) - V(protected) again, now
    replicating the other way. Failing back is the same with O(direction=recovery_to_primary). O(state=test_failed_over) and
    O(state=test_cleaned_up) go from V(protected) to V(test_failed_over) and back; O(state=cancelled) undoes a failover that awaits
    commit."
options:
  name:
    description:
      - Protected items, by VM name (the item's C(friendlyName)) or ARM name. Exact names; a VM name matches case-insensitively
        when there is no exact match. A name that matches no item, or several, fails the task before any change.
    type: list
    elements: str
    required: true
  cloud:
    description:
      - Only consider items whose primary or recovery cloud (protection container, friendly or ARM name) is this one, to tell
        apart VMs with the same name.
    type: str
  state:
    description:
      - V(failed_over) - the VM runs at the target site of O(direction). Planned or unplanned, see O(failover_type). Done when the
        item's C(activeLocation) already is that site.
      - V(committed) - the failover is committed (C(failoverCommit)). Done when no failover awaits commit and the item has failed over
        before. Refused when the item never failed over.
      - V(reprotected) - replication is reversed to run from the site the VM is active on (C(reProtect), direction derived from
        C(activeLocation)). Done when the item replicates already (a failover is allowed).
      - V(test_failed_over) - a test failover runs (C(testFailover)), attached to O(test_network) or to no network. Done when a test
        failover awaits cleanup.
      - V(test_cleaned_up) - no test failover is left (C(testFailoverCleanup) with O(comments)). Done when there is none.
      - V(cancelled) - a failover that awaits commit is cancelled (C(failoverCancel)). Done when no failover awaits commit; refused
        when ASR does not allow the cancel.
    type: str
    required: true
    choices: [failed_over, committed, reprotected, test_failed_over, test_cleaned_up, cancelled]
  failover_type:
    description:
      - With O(state=failed_over), V(planned) (C(plannedFailover); both sites up, no data loss; the source VM is shut down first) or
        V(unplanned) (C(unplannedFailover); the source site is lost or will be ignored).
    type: str
    choices: [planned, unplanned]
    default: planned
  direction:
    description:
      - Failover direction. With O(state=failed_over) the default is V(primary_to_recovery); use V(recovery_to_primary) to fail back.
      - With O(state=test_failed_over) the default is the direction the item replicates in (from its active site).
      - Other states derive the direction from the item.
    type: str
    choices: [primary_to_recovery, recovery_to_primary]
  source_site_operations:
    description:
      - With O(failover_type=unplanned), V(true) asks ASR to shut down the source VMs and synchronise the latest changes first
        (C(sourceSiteOperations=Required)); V(false) fails over from what the target site has (C(NotRequired)).
    type: bool
    default: false
  recovery_point:
    description:
      - With O(state=failed_over), the recovery point the failed-over VM uses.
      - V(latest) (default) keeps what the failover takes, the latest point the recovery site has. For VMM to VMM the failover
        request has no recovery point field (asr-api.md, no C(HyperVReplica2012R2) provider input).
      - V(latest_app_consistent), or the name or ARM id of a recovery point (as M(site_recovery.hyperv.asr_info) lists them with
        O(site_recovery.hyperv.asr_info#module:recovery_points=true)), is applied after the failover with C(applyRecoveryPoint)
        (allowed operation C(ChangePit)), before the commit. On an item that already failed over and awaits commit, only the point
        is changed when it differs. After the commit the point can no longer change and the option is ignored.
      - Needs O(wait=true) when a failover is to be started.
    type: str
    default: latest
  test_network:
    description:
      - With O(state=test_failed_over), the VM network (friendly name, ARM name or ARM id of a C(replicationNetworks) resource of the
        fabric the test VMs are created on) to attach the test VMs to (C(networkType=VmNetworkAsInput)).
      - Not set - the test VMs get no network (C(NoNetworkAttachAsInput)).
    type: str
  comments:
    description: With O(state=test_cleaned_up), notes recorded with the cleanup (for example the drill's outcome).
    type: str
extends_documentation_fragment:
  - site_recovery.hyperv.asr
  - site_recovery.hyperv.asr.wait
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.state_changing
  - site_recovery.hyperv.asr.actiongroup_asr
attributes:
  check_mode:
    support: full
    details:
      - Reads the items (and recovery points, networks), applies the same decisions and refusals, and returns the operations and
        request bodies it would send and the predicted state, without sending any.
  diff_mode:
    support: full
    details:
      - The diff has, per VM, C(lifecycle), C(active_location), C(replication_direction) and C(failover_recovery_point_id).
notes:
  - "Runbook, primary site lost: O(state=failed_over) O(failover_type=unplanned) (optionally O(recovery_point)), check the workloads,
    O(state=committed), and once the primary site is back O(state=reprotected). Return: O(state=failed_over)
    O(direction=recovery_to_primary) (planned), O(state=committed), O(state=reprotected)."
  - ASR operations need the ASR Provider on the VMM server to be connected; M(site_recovery.hyperv.asr_info) shows it.
  - O(recovery_point) uses C(applyRecoveryPoint) with C(providerSpecificDetails) set to an object without provider fields, the
    base class that Az PowerShell sends for Hyper-V Replica; this was not checked against a live vault.
seealso:
  - module: site_recovery.hyperv.asr_info
  - module: site_recovery.hyperv.asr_recovery_plan
  - module: site_recovery.hyperv.asr_job
  - name: Fail over and fail back Hyper-V VMs replicated to a secondary site
    description: Microsoft's description of the VMM to VMM failover, commit and reverse replication steps.
    link: https://learn.microsoft.com/azure/site-recovery/hyper-v-vmm-failover-failback
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Primary site lost - fail the VMs over to the recovery cloud
  site_recovery.hyperv.asr_protected_item:
    name: [app01, app02]
    state: failed_over
    failover_type: unplanned
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"

- name: Use the newest application-consistent point for the database VM, then commit
  site_recovery.hyperv.asr_protected_item:
    name: sql01
    state: failed_over
    failover_type: unplanned
    recovery_point: latest_app_consistent
    subscription_id: "{{ vault.subscription_id }}"
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost

- name: Commit
  site_recovery.hyperv.asr_protected_item:
    name: [app01, app02, sql01]
    state: committed
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost

- name: Reverse replication once the primary site is back
  site_recovery.hyperv.asr_protected_item:
    name: [app01, app02, sql01]
    state: reprotected
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost

- name: Drill - test failover into the isolated test network, then clean up
  site_recovery.hyperv.asr_protected_item:
    name: app01
    state: test_failed_over
    test_network: vmnet-test
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost

- name: Clean up the drill
  site_recovery.hyperv.asr_protected_item:
    name: app01
    state: test_cleaned_up
    comments: drill 2026-11 passed
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost

- name: Start a planned failback without waiting for the job
  site_recovery.hyperv.asr_protected_item:
    name: app01
    state: failed_over
    direction: recovery_to_primary
    wait: false
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost
  register: failback
"""

RETURN = r"""
msg:
  description: What the task did or found, one sentence per item.
  returned: always
  type: str
  sample: "app01: Unplanned failover to the Recovery site. app02: Already active at the Recovery site; no failover needed."
items:
  description: One entry per item of O(name), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: VM name (friendly name) of the item.
      type: str
      sample: app01
    id:
      description: ARM id of the replication protected item.
      type: str
    changed:
      description: Whether an operation was started (or, in check mode, would be) for the item.
      type: bool
    msg:
      description: What was done or found for the item.
      type: str
    operation:
      description:
        - The ASR operation started (an C(allowedOperations) value such as C(UnplannedFailover), C(Commit), C(ReverseReplicate),
          C(ChangePit)); V(null) when nothing was needed. A running job that was followed is reported in RV(items[].job).
      type: str
    request:
      description: The request body sent (or, in check mode, that would be sent); V(null) for actions without a body.
      type: dict
      sample: {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired"}}
    job:
      description:
        - The ASR job of the operation, as last read; V(null) when nothing was started or followed.
        - With O(wait=true) it has ended (C(Succeeded), C(Failed), C(Cancelled), or C(Suspended) waiting for a resume).
      type: dict
      contains:
        name:
          description: Job name (use it with M(site_recovery.hyperv.asr_job_info) and M(site_recovery.hyperv.asr_job)).
          type: str
        id:
          description: ARM id of the job.
          type: str
        scenario:
          description: C(scenarioName) of the job.
          type: str
        state:
          description: C(NotStarted), C(InProgress), C(Succeeded), C(Failed), C(Cancelled), C(Suspended) or C(Other).
          type: str
        state_description:
          description: For example C(Completed), C(PartiallySucceeded).
          type: str
        start_time:
          description: ISO-8601 time.
          type: str
        end_time:
          description: ISO-8601 time.
          type: str
        allowed_actions:
          description: Job actions allowed now (C(Cancel), C(Resume), C(Restart)).
          type: list
          elements: str
        tasks:
          description: The job's tasks with C(name), C(friendly_name), C(state), C(state_description), C(start_time), C(end_time), C(errors).
          type: list
          elements: dict
        errors:
          description: Job errors with C(code), C(message), C(possible_causes), C(recommended_action).
          type: list
          elements: dict
    recovery_point:
      description: The recovery point chosen with O(recovery_point) (C(name), C(id), C(time), C(type)); V(null) for V(latest).
      type: dict
    before:
      description: The item's state before the task (C(lifecycle), C(active_location), C(replication_direction), C(failover_recovery_point_id)).
      type: dict
    after:
      description: The same keys after the task, read back; in check mode, the prediction.
      type: dict
    item:
      description:
        - The item as read after the task (before it in check mode), with the keys M(site_recovery.hyperv.asr_info) returns in
          RV(site_recovery.hyperv.asr_info#module:protected_items), such as C(protection_state), C(allowed_operations), C(active_location),
          C(replication_health), C(current_scenario).
      type: dict
"""

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import (
    Action, follow_jobs, job_problem, job_summary, run_actions, running_job, suspended_note, timeout_message)
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_lifecycle import (
    STATES, Decision, NotAllowed, Wanted, apply_recovery_point_body, busy, choose_recovery_point, decide, diff_view, running_matches,
    target_side)
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    find_named, get_item, id_segment, item_location, item_view, list_networks, recovery_point_view, resolve_items)

DIFF_KEYS = ["lifecycle", "active_location", "replication_direction", "failover_recovery_point_id"]
GROUP = "replication_protected_items"


class Entry:
    """One item of the task: what was read, decided, started and read back."""

    def __init__(self, item):
        self.item = item
        self.view = item_view(item)
        self.decision = Decision()
        self.follow = None
        self.point = None
        self.pit_after_failover = False
        self.actions = []
        self.after_item = None

    @property
    def label(self):
        return self.view["friendly_name"] or self.view["name"]

    def location(self):
        return item_location(self.item["id"])


def main():
    asr = AsrModule(
        dict(
            name=dict(type="list", elements="str", required=True),
            cloud=dict(type="str"),
            state=dict(type="str", required=True, choices=STATES),
            failover_type=dict(type="str", default="planned", choices=["planned", "unplanned"]),
            direction=dict(type="str", choices=["primary_to_recovery", "recovery_to_primary"]),
            source_site_operations=dict(type="bool", default=False),
            recovery_point=dict(type="str", default="latest"),
            test_network=dict(type="str"),
            comments=dict(type="str"),
        ),
        wait_options=True,
    )
    asr.run(run)


def validate(params):
    if params["recovery_point"] != "latest" and params["state"] != "failed_over":
        raise AsrError("recovery_point applies to state=failed_over only.")
    if params["test_network"] and params["state"] != "test_failed_over":
        raise AsrError("test_network applies to state=test_failed_over only.")
    if params["wait_timeout"] < 1 or params["poll_interval"] < 1:
        raise AsrError("wait_timeout and poll_interval must be at least 1 second.")


def run(asr):
    params = asr.params
    validate(params)
    vault = asr.vault
    names = list(dict.fromkeys(params["name"]))
    entries = [Entry(item) for item in resolve_items(vault, names, params["cloud"])]
    wanted = Wanted(params["state"], params["failover_type"], params["direction"], params["source_site_operations"], comments=params["comments"])
    refusals = []
    for entry in entries:
        try:
            plan_entry(vault, entry, wanted, params)
        except NotAllowed as exc:
            refusals.append("%s: %s" % (entry.label, exc.msg))
    if refusals:
        raise AsrError(" ".join(refusals), items=[result_of(entry) for entry in entries])
    if not asr.check_mode:
        execute(vault, entries, params)
    return finish(asr, entries)


def plan_entry(vault, entry, wanted, params):
    """Decide for one item: follow a running job, start an operation, or nothing (raises NotAllowed)."""
    job = running_job(vault, entry.view["current_scenario"])
    if job is not None:
        scenario = (job.get("properties") or {}).get("scenarioName") or entry.view["current_scenario"]["name"]
        if not running_matches(wanted, scenario):
            raise busy("item", entry.view, job)
        entry.follow = job
        entry.decision = Decision(msg="ASR job %s (%s) is already running for this item; followed it instead of starting another." % (
            job.get("name"), scenario))
        return
    if wanted.state == "test_failed_over" and params["test_network"]:
        wanted.network_id, wanted.network_label = resolve_test_network(vault, entry, wanted, params["test_network"])
    entry.decision = decide("item", entry.view, wanted)
    if wanted.state == "failed_over" and params["recovery_point"] != "latest":
        plan_recovery_point(vault, entry, params)


def resolve_test_network(vault, entry, wanted, network):
    """(ARM id, name) of the VM network the test VMs attach to, on the fabric they are created on (the failover target's)."""
    if network.lower().startswith("/subscriptions/"):
        return network, network.rsplit("/", 1)[-1]
    direction = wanted.direction or ("PrimaryToRecovery" if entry.view["active_location"] != "Recovery" else "RecoveryToPrimary")
    fabric = entry.location()[0]
    if target_side(direction) == "Recovery":
        fabric = id_segment(entry.view["recovery_fabric_id"], "replicationFabrics") or fabric
    found = find_named(list_networks(vault, fabric), network, "VM network", "fabric %s" % fabric)
    return found["id"], (found.get("properties") or {}).get("friendlyName") or found["name"]


def plan_recovery_point(vault, entry, params):
    """Resolve O(recovery_point) now (before any change) and decide whether C(applyRecoveryPoint) is needed."""
    view = entry.view
    if entry.decision.needed:
        if not params["wait"]:
            raise AsrError("recovery_point %r is applied after the failover job ends: it needs wait=true." % params["recovery_point"])
        entry.point = pick_point(vault, entry, params["recovery_point"])
        entry.pit_after_failover = True
        entry.decision.predicted["failover_recovery_point_id"] = entry.point["id"]
        entry.decision.msg += " Then apply recovery point %s." % describe_point(entry.point)
        return
    if view["lifecycle"] != "failed_over":
        entry.decision.msg += " The failover is committed; its recovery point can no longer change."
        return
    entry.point = pick_point(vault, entry, params["recovery_point"])
    if (view["failover_recovery_point_id"] or "").lower() == entry.point["id"].lower():
        entry.decision.msg += " It uses recovery point %s already." % entry.point["name"]
        return
    if "ChangePit" not in view["allowed_operations"]:
        raise NotAllowed("Cannot change the recovery point of %s to %s: ASR allows %s now." % (
            entry.label, entry.point["name"], ", ".join(view["allowed_operations"]) or "no operation"))
    entry.decision = Decision("ChangePit", apply_recovery_point_body(entry.point["id"]),
                              "Failed over, awaiting commit; apply recovery point %s." % describe_point(entry.point),
                              {"failover_recovery_point_id": entry.point["id"]})


def describe_point(point):
    p = point.get("properties") or {}
    return "%s (%s, %s)" % (point["name"], p.get("recoveryPointType"), p.get("recoveryPointTime"))


def pick_point(vault, entry, wanted_point):
    fabric, container, name = entry.location()
    points = vault.list("listing the recovery points of %s" % entry.label, "recovery_points", "list_by_replication_protected_items",
                        fabric, container, name)
    return choose_recovery_point(points, wanted_point)


def action_for(entry, operation, body):
    fabric, container, name = entry.location()
    args = [fabric, container, name] + ([body] if body is not None else [])
    doing = "starting the %s of %s" % (operation, entry.label)
    return Action(entry.label, doing, GROUP, Decision(operation).method, args, operation)


def execute(vault, entries, params):
    wait, timeout, interval = params["wait"], params["wait_timeout"], params["poll_interval"]
    started = [entry for entry in entries if entry.decision.needed]
    for entry in started:
        entry.actions.append(action_for(entry, entry.decision.operation, entry.decision.body))
    pending = run_actions(vault, [entry.actions[0] for entry in started], wait, timeout, interval)
    followed, pending_followed = follow_jobs(vault, [entry.follow["name"] for entry in entries if entry.follow], wait, timeout, interval)
    for entry in entries:
        if entry.follow:
            entry.follow = followed.get(entry.follow["name"]) or entry.follow
    check_jobs(vault, entries, pending + pending_followed, timeout)
    apply_points(vault, [entry for entry in started if entry.pit_after_failover], params)
    for entry in entries:
        entry.after_item = get_item(vault, entry.item["id"])


def apply_points(vault, entries, params):
    """Second step of O(recovery_point): applyRecoveryPoint on the items that just failed over."""
    todo = []
    for entry in entries:
        view = item_view(get_item(vault, entry.item["id"]))
        if (view["failover_recovery_point_id"] or "").lower() == entry.point["id"].lower():
            continue
        if "ChangePit" not in view["allowed_operations"]:
            raise AsrError("%s failed over, but ASR does not allow changing its recovery point now (allowed: %s); it uses %s." % (
                entry.label, ", ".join(view["allowed_operations"]) or "nothing", view["failover_recovery_point_id"]), changed=True)
        entry.actions.append(action_for(entry, "ChangePit", apply_recovery_point_body(entry.point["id"])))
        todo.append(entry)
    pending = run_actions(vault, [entry.actions[-1] for entry in todo], True, params["wait_timeout"], params["poll_interval"])
    check_jobs(vault, todo, pending, params["wait_timeout"])


def check_jobs(vault, entries, pending, timeout):
    """Fail (changed=true) on a job still running at the timeout or one that failed, reporting the items as read now."""
    problems = [job_problem(job) for entry in entries for job in entry_jobs(entry) if job_problem(job)]
    if not pending and not problems:
        return
    for entry in entries:
        try:
            entry.after_item = get_item(vault, entry.item["id"])
        except AsrError:
            entry.after_item = None
    msg = timeout_message(pending, timeout) if pending else " ".join(problems)
    raise AsrError(msg, changed=True, items=[result_of(entry) for entry in entries])


def entry_jobs(entry):
    jobs = [action.job for action in entry.actions if action.job]
    if entry.follow:
        jobs.append(entry.follow)
    return jobs


def result_of(entry, predicted=False):
    """The item's result; `after` is read back, or (check mode) the prediction, or the state before when nothing was read."""
    last = entry.actions[-1] if entry.actions else None
    job = last.job if last else entry.follow
    after_view = diff_view(entry.view, DIFF_KEYS)
    if entry.after_item is not None:
        after_view = diff_view(item_view(entry.after_item), DIFF_KEYS)
    elif predicted:
        after_view.update((k, v) for k, v in entry.decision.predicted.items() if k in DIFF_KEYS)
    return {
        "name": entry.label,
        "id": entry.item["id"],
        "changed": entry.decision.needed,
        "msg": entry.decision.msg,
        "operation": entry.decision.operation,
        "request": entry.decision.body,
        "job": job_summary(job) if job else (
            {"name": last.started.job_name} if last and last.started and last.started.job_name else None),
        "recovery_point": recovery_point_view(entry.point) if entry.point else None,
        "before": diff_view(entry.view, DIFF_KEYS),
        "after": after_view,
        "item": item_view(entry.after_item) if entry.after_item is not None else entry.view,
    }


def finish(asr, entries):
    results = [result_of(entry, predicted=asr.check_mode) for entry in entries]
    if asr.check_mode:
        for r in results:
            if r["changed"]:
                r["msg"] = "Check mode, nothing sent: " + r["msg"]
    for entry in entries:
        for job in entry_jobs(entry):
            note = suspended_note(job)
            if note:
                asr.module.warn("%s: %s" % (entry.label, note))
    result = {
        "changed": any(r["changed"] for r in results),
        "msg": " ".join("%s: %s" % (r["name"], r["msg"]) for r in results),
        "items": results,
    }
    if asr.module._diff:
        result["diff"] = {"before": {r["name"]: r["before"] for r in results}, "after": {r["name"]: r["after"] for r in results}}
    return result


if __name__ == "__main__":
    main()
