#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_job_info
short_description: Read Azure Site Recovery jobs of a Recovery Services vault, with their tasks and errors
version_added: 0.1.0
description:
  - Reads one job (C(GET .../replicationJobs/<job>)) or lists the vault's jobs (C(GET .../replicationJobs)) and filters them.
  - Every job comes with its tasks (recovery plan jobs - one per group and step, with child tasks) and errors, which say what
    failed and what to do.
  - The filters are applied by the module to the listed jobs, so they mean the same on every service version.
options:
  name:
    description:
      - Name (the GUID that the asr_* modules return in C(job.name)) or ARM id of one job. The other filters do not apply.
      - A job that does not exist fails the task.
    type: str
  states:
    description: Only jobs in one of these states.
    type: list
    elements: str
    choices: [NotStarted, InProgress, Succeeded, Failed, Cancelled, Suspended, Other]
  scenario:
    description:
      - Only jobs whose C(scenarioName) is this one (case and punctuation ignored), for example V(UnplannedFailover), V(TestFailover),
        V(Reprotect).
    type: str
  target:
    description: Only jobs on this object, by C(targetObjectName) (a VM or recovery plan name) or C(targetObjectId); case-insensitive.
    type: str
  since:
    description: Only jobs started at or after this time, ISO-8601 such as V(2026-11-25T18:00:00Z) (without offset - UTC).
    type: str
  limit:
    description: At most this many jobs, newest first; V(0) for all.
    type: int
    default: 20
extends_documentation_fragment:
  - site_recovery.hyperv.asr
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.info_module
  - site_recovery.hyperv.asr.actiongroup_asr
seealso:
  - module: site_recovery.hyperv.asr_job
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Failed jobs since the start of the drill
  site_recovery.hyperv.asr_job_info:
    states: [Failed]
    since: "2026-11-25T18:00:00Z"
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
  register: failed_jobs

- name: One job with its tasks
  site_recovery.hyperv.asr_job_info:
    name: "{{ failover.job.name }}"
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost
"""

RETURN = r"""
jobs:
  description: The jobs, newest first (one entry when O(name) is given).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Job name.
      type: str
    id:
      description: ARM id.
      type: str
    scenario:
      description: C(scenarioName), for example C(UnplannedFailover).
      type: str
    friendly_name:
      description: Display name of the job.
      type: str
    state:
      description: C(NotStarted), C(InProgress), C(Succeeded), C(Failed), C(Cancelled), C(Suspended) or C(Other).
      type: str
    state_description:
      description: For example C(Completed), C(PartiallySucceeded), C(WaitingForStopTestFailover).
      type: str
    target_name:
      description: Name of the object the job works on (VM, recovery plan, server).
      type: str
    target_id:
      description: ARM id of that object.
      type: str
    target_type:
      description: C(ProtectionEntity), C(RecoveryPlan), C(Server), ...
      type: str
    start_time:
      description: ISO-8601.
      type: str
    end_time:
      description: ISO-8601.
      type: str
    allowed_actions:
      description: C(Cancel), C(Resume), C(Restart) as the job allows them now.
      type: list
      elements: str
    tasks:
      description:
        - The tasks with C(name), C(friendly_name), C(state), C(state_description), C(task_type), C(start_time), C(end_time),
          C(allowed_actions), C(errors), C(instructions) (manual actions) and C(child_tasks) (recovery plan groups).
      type: list
      elements: dict
    errors:
      description:
        - The errors with C(code), C(message), C(possible_causes), C(recommended_action), C(level), C(task_id), C(creation_time), and
          C(provider_code), C(provider_message) - the error the ASR Provider on the VMM server reported (often the Hyper-V cause).
      type: list
      elements: dict
"""

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import get_job, job_summary, parse_time, select_jobs
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import id_segment

JOB_STATES = ["NotStarted", "InProgress", "Succeeded", "Failed", "Cancelled", "Suspended", "Other"]


def main():
    asr = AsrModule(
        dict(
            name=dict(type="str"),
            states=dict(type="list", elements="str", choices=JOB_STATES),
            scenario=dict(type="str"),
            target=dict(type="str"),
            since=dict(type="str"),
            limit=dict(type="int", default=20),
        ),
    )
    asr.run(run)


def run(asr):
    params = asr.params
    since = parse_time(params["since"]) if params["since"] else None
    if params["since"] and since is None:
        raise AsrError("since must be an ISO-8601 time such as 2026-11-25T18:00:00Z, got %r." % params["since"])
    if params["limit"] < 0:
        raise AsrError("limit must be 0 (all) or more.")
    vault = asr.vault
    if params["name"]:
        name = id_segment(params["name"], "replicationJobs") or params["name"]
        return {"changed": False, "jobs": [job_summary(get_job(vault, name))]}
    jobs = vault.list("listing the ASR jobs", "replication_jobs", "list")
    chosen = select_jobs(jobs, params["states"], params["scenario"], params["target"], since, params["limit"])
    return {"changed": False, "jobs": [job_summary(job) for job in chosen]}


if __name__ == "__main__":
    main()
