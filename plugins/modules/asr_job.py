#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_job
short_description: Resume, restart or cancel an Azure Site Recovery job
version_added: 0.1.0
description:
  - Acts on one job of the vault. The job is read first and the action is taken only when the job's C(allowedActions) allow it;
    a job already past the point (running, ended) is left alone with C(changed=false) and a RV(msg) that says so.
  - V(resumed) continues a job suspended at a manual action of a recovery plan (C(POST .../replicationJobs/<job>/resume) with
    O(comments)). Test failover jobs are not resumed, as in Az PowerShell; end a test failover with
    M(site_recovery.hyperv.asr_recovery_plan) or M(site_recovery.hyperv.asr_protected_item) C(state=test_cleaned_up).
  - V(restarted) runs a failed job again (C(restart)). V(cancelled) cancels a running job (C(cancel)).
  - To read jobs use M(site_recovery.hyperv.asr_job_info).
options:
  name:
    description: Job name (C(job.name) as the asr_* modules return it) or ARM id.
    type: str
    required: true
  state:
    description:
      - V(resumed) - the job is no longer suspended. Done when it runs or ended; refused when it failed or was cancelled.
      - V(restarted) - a failed job runs again. Done when the job runs or succeeded; refused when ASR does not allow the restart.
      - V(cancelled) - the job no longer runs. Done when it ended (whatever the outcome); refused when ASR does not allow the cancel.
    type: str
    required: true
    choices: [resumed, restarted, cancelled]
  comments:
    description: With O(state=resumed), the comments recorded with the resume (for example who did the manual step).
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
      - Reads the job and reports whether the action would be sent.
  diff_mode:
    support: full
    details:
      - The diff has the job's C(state) before and after.
seealso:
  - module: site_recovery.hyperv.asr_job_info
  - module: site_recovery.hyperv.asr_recovery_plan
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Fail the plan over; it stops at the manual action "Check the load balancer"
  site_recovery.hyperv.asr_recovery_plan:
    name: rp-erp
    state: failed_over
    failover_type: unplanned
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
  register: failover

- name: Resume once the operator confirmed the manual step
  site_recovery.hyperv.asr_job:
    name: "{{ failover.job.name }}"
    state: resumed
    comments: load balancer switched by J. Doe
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
  when: failover.job.state == 'Suspended'
"""

RETURN = r"""
msg:
  description: What the task did or found.
  returned: always
  type: str
  sample: "Resumed the job; it succeeded."
job:
  description: The job as last read; see RV(site_recovery.hyperv.asr_job_info#module:jobs) for the keys.
  returned: always
  type: dict
before:
  description: The job's C(state) and C(allowed_actions) before the task.
  returned: always
  type: dict
  sample: {"state": "Suspended", "allowed_actions": ["Resume", "Cancel"]}
after:
  description: The same keys after the task; in check mode, the prediction.
  returned: always
  type: dict
"""

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import (
    RUNNING_STATES, follow_jobs, get_job, job_problem, job_summary, start_action, suspended_note, timeout_message)
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_lifecycle import normalise
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import id_segment

ACTIONS = {"resumed": ("Resume", "begin_resume"), "restarted": ("Restart", "begin_restart"), "cancelled": ("Cancel", "begin_cancel")}


def main():
    asr = AsrModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", required=True, choices=list(ACTIONS)),
            comments=dict(type="str"),
        ),
        wait_options=True,
    )
    asr.run(run)


def decide(job, state):
    """(act, msg, predicted state) for the job towards state; raises AsrError when ASR does not allow it."""
    props = job.get("properties") or {}
    current = props.get("state")
    allowed = props.get("allowedActions") or []
    action = ACTIONS[state][0]
    described = "ASR job %s (%s) is %s, allowed actions: %s." % (job.get("name"), props.get("scenarioName"), current, ", ".join(allowed) or "none")
    if state == "resumed":
        if current == "Suspended":
            if normalise(props.get("scenarioName")) == "testfailover":
                raise AsrError(described + " A test failover is not resumed: end it with state=test_cleaned_up of "
                               "site_recovery.hyperv.asr_recovery_plan or asr_protected_item.")
            if action in allowed:
                return True, "Resume the job.", "InProgress"
            raise AsrError(described + " ASR does not allow resuming it now.")
        if current in RUNNING_STATES or current == "Succeeded":
            return False, "Not suspended: %s" % described, current
        raise AsrError(described + " A job that ended this way is not resumed; restart it (state=restarted) if ASR allows it.")
    if state == "restarted":
        if action in allowed:
            return True, "Restart the job.", "InProgress"
        if current in RUNNING_STATES or current == "Succeeded":
            return False, "Nothing to restart: %s" % described, current
        raise AsrError(described + " ASR does not allow restarting it.")
    if current == "Cancelled":
        return False, "Already cancelled: %s" % described, current
    if action in allowed:
        return True, "Cancel the job.", "Cancelled"
    if current in ("Succeeded", "Failed"):
        return False, "Already ended, nothing to cancel: %s" % described, current
    raise AsrError(described + " ASR does not allow cancelling it now.")


def run(asr):
    params = asr.params
    vault = asr.vault
    name = id_segment(params["name"], "replicationJobs") or params["name"]
    job = get_job(vault, name)
    act, msg, predicted = decide(job, params["state"])
    before = {"state": job["properties"].get("state"), "allowed_actions": list(job["properties"].get("allowedActions") or [])}
    result = {"changed": act, "msg": msg, "job": job_summary(job), "before": before}
    if not act or asr.check_mode:
        result["after"] = dict(before, state=predicted)
        if act:
            result["msg"] = "Check mode, nothing sent: " + msg
        return with_diff(asr, result)
    operation, method = ACTIONS[params["state"]]
    resume = {"properties": {"comments": params["comments"]} if params["comments"] else {}}
    args = [name] + ([resume] if method == "begin_resume" else [])
    started = start_action(vault, "sending %s to ASR job %s" % (operation.lower(), name), "replication_jobs", method, *args, operation=operation)
    # The action acts on this job (Location .../operationresults/<job>); follow it even when the answer names no job.
    jobs, pending = follow_jobs(vault, [started.job_name or name], params["wait"], params["wait_timeout"], params["poll_interval"])
    job = jobs.get(started.job_name or name) or get_job(vault, name)
    result["job"] = job_summary(job)
    result["after"] = {"state": job["properties"].get("state"), "allowed_actions": list(job["properties"].get("allowedActions") or [])}
    if pending:
        raise AsrError(timeout_message(pending, params["wait_timeout"]), changed=True, job=result["job"])
    problem = job_problem(job) if params["state"] != "cancelled" else None
    if problem:
        raise AsrError(problem, changed=True, job=result["job"])
    note = suspended_note(job)
    if note:
        asr.module.warn(note)
        result["msg"] += " " + note
    return with_diff(asr, result)


def with_diff(asr, result):
    if asr.module._diff:
        result["diff"] = {"before": result["before"], "after": result["after"]}
    return result


if __name__ == "__main__":
    main()
