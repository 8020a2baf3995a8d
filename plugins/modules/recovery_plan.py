# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: recovery_plan
short_description: Validate recovery plans against live Hyper-V Replica state and resolve them per host
version_added: 0.1.0
description:
  - Runs on the controller only; it never contacts a host. Give it the recovery plans and the results of
    M(site_recovery.hyperv.vm_replication_info) gathered from every Hyper-V host.
  - Validates the plans and lists every error at once - a VM that no reachable host knows, a VM in two groups or
    two plans, an empty group, duplicate plan or group names, an unknown recovery point, a selected plan that does
    not exist - and fails before anything is changed.
  - Resolves, per plan and boot group in order, the primary host (at the primary site) and the replica host (at the
    secondary site) of every VM from the live replication relationships, the current state of both copies, and the
    per-host batches of each runbook step with only the VMs for which that step is still to do, so that a re-run
    after a crash converges.
  - When O(plans) is empty, one plan C(all) with one group of every replicated VM except those in O(exclude).
options:
  plans:
    description:
      - Recovery plans. Each is a mapping with C(name), C(recovery_point) (C(latest) or C(latest_app_consistent),
        default C(latest)), C(approval_required) (bool, default false), optional C(description), optional
        C(rpo_seconds) (the plan's recovery point objective, a positive number of seconds, used by RV(plans[].readiness))
        and C(groups), a list of boot groups in order, each with C(name), C(vms) (a list of VM names), and optional
        C(pre_tasks) and C(post_tasks) (paths of task files run before and after the group).
    type: list
    elements: raw
  plan_names:
    description:
      - Names of the plans to resolve; all when omitted. Every plan is validated anyway.
    type: list
    elements: str
  replication:
    description:
      - Live state per Hyper-V host. Either a mapping of inventory host name to the registered result of
        M(site_recovery.hyperv.vm_replication_info) on that host, or the registered result of such a task looping over
        the hosts with C(delegate_to) (each result's C(item) is the host).
      - A result that is unreachable, failed or skipped means the host did not answer.
    type: raw
    required: true
  primary_site_hosts:
    description:
      - Inventory names of the Hyper-V hosts of the primary site. Of the two hosts of a relationship, the one in this
        list is the VM's primary host, the other its replica host, whichever way replication runs now.
      - When omitted, the primary server the relationship reports now.
    type: list
    elements: str
  exclude:
    description:
      - VM names left out of the default plan (for example the VMM server VM).
    type: list
    elements: str
  replica_hosts:
    description:
      - Replica host (inventory name) of VMs that are not replicated yet, by VM name; needed to protect them.
    type: dict
  fqdns:
    description:
      - Name to pass as Replica server for an inventory host, by inventory host name. By default the name the
        relationship reports, else the inventory name.
    type: dict
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: none
  platform:
    platforms: all
    details:
      - Runs on the controller and does not use the task's connection.
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.actiongroup_hyperv
seealso:
  - module: site_recovery.hyperv.vm_replication_info
  - module: site_recovery.hyperv.vm_failover
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Live replication state of every Hyper-V host
  site_recovery.hyperv.vm_replication_info:
  delegate_to: "{{ item }}"
  loop: "{{ groups['hyperv_hosts'] }}"
  ignore_unreachable: true
  register: replication

- name: Validate and resolve the plans
  site_recovery.hyperv.recovery_plan:
    plans:
      - name: tier1
        recovery_point: latest_app_consistent
        approval_required: true
        groups:
          - {name: data, vms: [dc-branch, sql01, sql02]}
          - {name: apps, vms: [app01, app02], post_tasks: hooks/smoke_test.yml}
    replication: "{{ replication }}"
    primary_site_hosts: "{{ groups['primary_site'] }}"
  register: resolved
"""

RETURN = r"""
plans:
  description: The selected plans, in order, with their groups resolved.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Plan name.
      type: str
    recovery_point:
      description: C(latest) or C(latest_app_consistent).
      type: str
    approval_required:
      description: Whether the plan needs an explicit approval before any change.
      type: bool
    vms:
      description: VM names of the plan in boot order.
      type: list
      elements: str
    by_primary_host:
      description: VM names per primary host.
      type: dict
    by_replica_host:
      description: VM names per replica host.
      type: dict
    rpo_seconds:
      description: The plan's recovery point objective, when it sets one.
      type: int
    readiness:
      description:
        - Whether the plan can fail over now. C(verdict) is the worst of its VMs - V(ready), V(degraded) (it can fail
          over, but replication health is Warning, replication is not running, or the lag exceeds the RPO target) or
          V(not_ready) (replica host unreachable, no Replica copy, initial replication not finished, health Critical, no
          cycle applied yet) - or V(failed_over) when every VM already runs from its replica host.
        - C(max_lag_seconds), C(not_ready) and C(degraded) (VM names), and C(vms) - per VM C(verdict), C(reasons),
          C(lag_seconds) (the replica host's age of the last applied cycle) and C(rpo_target_seconds) (the plan's
          C(rpo_seconds), else two replication cycles).
      type: dict
      sample:
        verdict: degraded
        max_lag_seconds: 700
        not_ready: []
        degraded: [app01]
    groups:
      description: The boot groups, in order; the same entries as RV(groups).
      type: list
      elements: dict
groups:
  description:
    - Every boot group of the selected plans, plans in order, groups in order.
    - Each has C(plan), C(name), C(recovery_point), C(pre_tasks), C(post_tasks), C(vms), C(by_primary_host),
      C(by_replica_host), and per-host batches (lists of C({host, vms})) of the steps still to do - C(failover)
      (with C(primary_state), the observed state of the primary copies, C(unreachable), C(off) or C(running)),
      C(start), C(commit), C(protect) (with C(replica_server)) and C(failback) (a mapping of C(make_replica),
      C(reverse), C(stop), C(prepare), C(failover_home), C(reverse_home), C(start_home)) and C(planned) (the same
      mapping for a planned failover to the replica hosts, C(failover_home) etc. then meaning the replica side) - and
      C(done), flags of the steps the whole group has already reached.
  returned: success
  type: list
  elements: dict
vms:
  description:
    - Per VM name, C(primary_host), C(replica_host), C(replica_server), the state of both copies (C(primary) and
      C(replica), each with C(host), C(reachable), C(present), C(power), C(mode), C(replication_state), C(health)),
      C(failed_over) (the secondary-site copy is failed over or holds the primary side), C(running_on),
      C(split_brain) and C(primary_running).
  returned: success
  type: dict
vm_names:
  description: Every VM of the selected plans, in order.
  returned: success
  type: list
  elements: str
by_primary_host:
  description: VM names of the selected plans per primary host.
  returned: success
  type: dict
by_replica_host:
  description: VM names of the selected plans per replica host.
  returned: success
  type: dict
hosts:
  description: Per Hyper-V host, whether it answered (C(reachable)).
  returned: success
  type: dict
approval_required:
  description: Names of the selected plans that need approval.
  returned: success
  type: list
  elements: str
split_brain:
  description: VMs running at both sites now.
  returned: success
  type: list
  elements: str
primary_running:
  description: VMs not failed over whose primary copy runs on a reachable host.
  returned: success
  type: list
  elements: str
unreachable_primary_hosts:
  description: Primary hosts of plan VMs that did not answer.
  returned: success
  type: list
  elements: str
errors:
  description: Every validation error, when the plans are invalid.
  returned: failure
  type: list
  elements: str
"""
