#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_recovery_plan
short_description: Fail over, commit, reprotect, test or cancel a recovery plan of a Recovery Services vault (VMM cloud to VMM cloud)
version_added: 0.1.0
description:
  - Runs a recovery plan (ordered groups of protected VMs, with scripts and manual actions) through the failover lifecycle - planned
    or unplanned failover, commit, reverse replication (reprotect), test failover and its cleanup, cancel. ASR runs the groups in
    order in one job.
  - The plan and its VMs are read first. The decision is made from the plan's C(allowedOperations) and the C(activeLocation) of its
    VMs, never blindly. A plan already in the wanted state is left alone (C(changed=false), RV(msg) says why); an operation ASR does
    not allow now fails the task, naming the allowed operations and the plan's state. A job of the same kind already running for
    the plan is followed, not started again.
  - One REST call (C(POST .../replicationRecoveryPlans/<plan>/<action>)); the ASR job is taken from the 202 C(Location) header and
    polled until it ends, see O(wait). A manual action in the plan suspends the job; the task then returns with a warning and the
    job in C(Suspended), to be resumed with M(site_recovery.hyperv.asr_job).
  - "Lifecycle of a plan (C(lifecycle) in RV(after)): V(protected) - O(state=failed_over) - V(failed_over) (awaits commit) -
    O(state=committed) - V(committed) - O(state=reprotected) - V(protected), replicating the other way; fail back with
    O(direction=recovery_to_primary). O(state=test_failed_over) and O(state=test_cleaned_up) go from V(protected) to
    V(test_failed_over) and back; O(state=cancelled) undoes a failover that awaits commit."
  - To create or change a plan use M(site_recovery.hyperv.asr_recovery_plan_config).
options:
  name:
    description: The recovery plan, by name or friendly name.
    type: str
    required: true
  state:
    description:
      - V(failed_over) - the plan's VMs run at the target site of O(direction). Done when every VM of the plan is active there.
      - V(committed) - the failover is committed. Done when no failover awaits commit and the plan failed over before.
      - V(reprotected) - replication of the plan's VMs is reversed (the plan C(reProtect) has no body; ASR reverses from where the VMs
        are active). Done when the plan replicates already.
      - V(test_failed_over) - a test failover of the plan runs, attached to O(test_network) or to no network. Done when a test
        failover awaits cleanup.
      - V(test_cleaned_up) - no test failover is left (O(comments) recorded). Done when there is none.
      - V(cancelled) - a failover that awaits commit is cancelled. Done when no failover awaits commit.
    type: str
    required: true
    choices: [failed_over, committed, reprotected, test_failed_over, test_cleaned_up, cancelled]
  failover_type:
    description: With O(state=failed_over), V(planned) or V(unplanned).
    type: str
    choices: [planned, unplanned]
    default: planned
  direction:
    description:
      - Failover direction. With O(state=failed_over) the default is V(primary_to_recovery); V(recovery_to_primary) fails back.
      - With O(state=test_failed_over) the default is the direction the plan's VMs replicate in.
    type: str
    choices: [primary_to_recovery, recovery_to_primary]
  source_site_operations:
    description:
      - With O(failover_type=unplanned), V(true) shuts down the source VMs and synchronises first (C(sourceSiteOperations=Required)),
        V(false) does not (C(NotRequired)).
    type: bool
    default: false
  test_network:
    description:
      - With O(state=test_failed_over), the VM network (friendly name, ARM name or ARM id) on the fabric the test VMs are created on;
        not set - no network (C(NoNetworkAttachAsInput)).
    type: str
  comments:
    description: With O(state=test_cleaned_up), notes recorded with the cleanup.
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
      - Reads the plan and its VMs, applies the same decisions and refusals, and returns the operation and request body it would send
        and the predicted state, without sending anything.
  diff_mode:
    support: full
    details:
      - The diff has the plan's C(lifecycle) and C(active_location) (of its VMs; C(Mixed) when they differ).
notes:
  - For VMM to VMM the plan failover inputs carry no recovery point (the C(recoveryPointType) fields belong to the Azure-target
    providers); the VMs fail over to the latest point. To use another point, change it per VM with
    M(site_recovery.hyperv.asr_protected_item) O(site_recovery.hyperv.asr_protected_item#module:recovery_point) before the commit.
  - The request bodies send an empty C(providerSpecificDetails) list, as Az PowerShell does for C(HyperVReplica2012R2) plans.
seealso:
  - module: site_recovery.hyperv.asr_recovery_plan_config
  - module: site_recovery.hyperv.asr_protected_item
  - module: site_recovery.hyperv.asr_job
  - name: About recovery plans
    description: Groups, order, scripts and manual actions of recovery plans.
    link: https://learn.microsoft.com/azure/site-recovery/recovery-plan-overview
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Disaster - unplanned failover of the plan, then commit
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
  tasks:
    - name: Fail over
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: failed_over
        failover_type: unplanned

    - name: Commit
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: committed

- name: Return to the primary site
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
  tasks:
    - name: Reverse replication (recovery to primary)
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: reprotected

    - name: Planned failback
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: failed_over
        direction: recovery_to_primary

    - name: Commit the failback
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: committed

    - name: Replicate to the recovery site again
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: reprotected

- name: Drill
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
  tasks:
    - name: Test failover into the test network
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: test_failed_over
        test_network: VMNet-Test

    - name: Clean up
      site_recovery.hyperv.asr_recovery_plan:
        name: rp-erp
        state: test_cleaned_up
        comments: quarterly drill passed
"""

RETURN = r"""
msg:
  description: What the task did or found.
  returned: always
  type: str
  sample: "Unplanned failover to the Recovery site."
operation:
  description: The ASR operation started (an C(allowedOperations) value); V(null) when nothing was needed or a running job was followed.
  returned: always
  type: str
  sample: UnplannedFailover
request:
  description: The request body sent (or that would be sent in check mode); V(null) for actions without a body.
  returned: always
  type: dict
  sample: {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired", "providerSpecificDetails": []}}
job:
  description:
    - The ASR job started or followed, as last read, with C(name), C(id), C(scenario), C(state), C(state_description), C(start_time),
      C(end_time), C(allowed_actions), C(tasks) (one per group and step, with C(child_tasks)) and C(errors); V(null) when nothing ran.
    - See M(site_recovery.hyperv.asr_job_info) for the keys.
  returned: always
  type: dict
before:
  description: The plan's C(lifecycle) and C(active_location) before the task.
  returned: always
  type: dict
  sample: {"lifecycle": "protected", "active_location": "Primary"}
after:
  description: The same keys after the task, read back; in check mode, the prediction.
  returned: always
  type: dict
  sample: {"lifecycle": "failed_over", "active_location": "Recovery"}
plan:
  description:
    - The plan as read after the task (before it in check mode), with the keys of
      RV(site_recovery.hyperv.asr_info#module:recovery_plans) - C(name), C(friendly_name), C(allowed_operations), C(lifecycle),
      C(active_location), C(current_scenario), C(groups) (with the VM names), C(items).
  returned: always
  type: dict
"""

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import (
    Action, follow_jobs, job_problem, job_summary, run_actions, running_job, suspended_note, timeout_message)
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_lifecycle import (
    STATES, Decision, Wanted, busy, decide, diff_view, direction_from, running_matches, target_side)
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    find_named, id_segment, list_items, list_networks, plan_view, resolve_plan)

DIFF_KEYS = ["lifecycle", "active_location"]


def main():
    asr = AsrModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", required=True, choices=STATES),
            failover_type=dict(type="str", default="planned", choices=["planned", "unplanned"]),
            direction=dict(type="str", choices=["primary_to_recovery", "recovery_to_primary"]),
            source_site_operations=dict(type="bool", default=False),
            test_network=dict(type="str"),
            comments=dict(type="str"),
        ),
        wait_options=True,
    )
    asr.run(run)


def read(vault, name):
    plan = resolve_plan(vault, name)
    items_by_id = {item["id"].lower(): item for item in list_items(vault)}
    return plan, plan_view(plan, items_by_id)


def run(asr):
    params = asr.params
    if params["test_network"] and params["state"] != "test_failed_over":
        raise AsrError("test_network applies to state=test_failed_over only.")
    vault = asr.vault
    plan, view = read(vault, params["name"])
    wanted = Wanted(params["state"], params["failover_type"], params["direction"], params["source_site_operations"], comments=params["comments"])
    followed = running_job(vault, view["current_scenario"])
    if followed is not None:
        scenario = (followed.get("properties") or {}).get("scenarioName") or view["current_scenario"]["name"]
        if not running_matches(wanted, scenario):
            raise busy("plan", view, followed)
        decision = Decision(msg="ASR job %s (%s) is already running for this plan; followed it instead of starting another." % (
            followed.get("name"), scenario))
    else:
        if wanted.state == "test_failed_over" and params["test_network"]:
            wanted.network_id, wanted.network_label = resolve_test_network(vault, plan, view, wanted, params["test_network"])
        decision = decide("plan", view, wanted)
    result = {"changed": decision.needed, "msg": decision.msg, "operation": decision.operation, "request": decision.body, "job": None,
              "before": diff_view(view, DIFF_KEYS), "plan": view}
    if asr.check_mode or (not decision.needed and followed is None):
        result["after"] = dict(result["before"], **{k: v for k, v in decision.predicted.items() if k in DIFF_KEYS})
        if asr.check_mode and decision.needed:
            result["msg"] = "Check mode, nothing sent: " + result["msg"]
        return with_diff(asr, result)
    job = execute(vault, plan, decision, followed, params)
    result["job"] = job_summary(job) if isinstance(job, dict) and job.get("properties") else job
    note = suspended_note(job) if isinstance(job, dict) else None
    if note:
        asr.module.warn(note)
        result["msg"] += " " + note
    plan, result["plan"] = read(vault, plan["name"])
    result["after"] = diff_view(result["plan"], DIFF_KEYS)
    return with_diff(asr, result)


def resolve_test_network(vault, plan, view, wanted, network):
    if network.lower().startswith("/subscriptions/"):
        return network, network.rsplit("/", 1)[-1]
    direction = wanted.direction or direction_from(view["active_location"]) or "PrimaryToRecovery"
    fabric_id = view["recovery_fabric_id"] if target_side(direction) == "Recovery" else view["primary_fabric_id"]
    fabric = id_segment(fabric_id, "replicationFabrics")
    if not fabric:
        raise AsrError("Recovery plan %s names no fabric for the test VMs (%s); give test_network as an ARM id." % (plan["name"], fabric_id))
    found = find_named(list_networks(vault, fabric), network, "VM network", "fabric %s" % fabric)
    return found["id"], (found.get("properties") or {}).get("friendlyName") or found["name"]


def execute(vault, plan, decision, followed, params):
    """Start the plan's operation (or follow the running job) and wait; returns the job (or {'name': ...} when not readable yet)."""
    wait, timeout, interval = params["wait"], params["wait_timeout"], params["poll_interval"]
    if followed is not None:
        jobs, pending = follow_jobs(vault, [followed["name"]], wait, timeout, interval)
        job = jobs.get(followed["name"]) or followed
    else:
        args = [plan["name"]] + ([decision.body] if decision.body is not None else [])
        action = Action(plan["name"], "starting the %s of recovery plan %s" % (decision.operation, plan["name"]),
                        "replication_recovery_plans", decision.method, args, decision.operation)
        pending = run_actions(vault, [action], wait, timeout, interval)
        job = action.job or ({"name": action.started.job_name} if action.started.job_name else None)
    if pending:
        raise AsrError(timeout_message(pending, timeout), changed=True, job=job_summary(job) if job and job.get("properties") else job)
    problem = job_problem(job) if job and job.get("properties") else None
    if problem:
        raise AsrError(problem, changed=True, job=job_summary(job))
    return job


def with_diff(asr, result):
    if asr.module._diff:
        result["diff"] = {"before": result["before"], "after": result["after"]}
    return result


if __name__ == "__main__":
    main()
