#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_recovery_plan_config
short_description: Create, change or remove a recovery plan of a Recovery Services vault (VMM cloud to VMM cloud)
version_added: 0.1.0
description:
  - Manages the definition of a recovery plan - its boot groups of protected VMs, in order, with script and manual actions before
    and after each group. C(PUT .../replicationRecoveryPlans/<name>) creates it (C(failoverDeploymentModel=NotApplicable), primary
    and recovery fabric = the VMM server, as Az PowerShell does for VMM to VMM), C(PATCH) changes its groups, C(DELETE) removes it.
  - O(groups) are the plan's boot groups; ASR's C(Shutdown) and C(Failover) groups come first and are created empty. On a change,
    the existing C(Shutdown) and C(Failover) groups (and their actions) are kept as they are.
  - The plan is compared with O(groups) - the VMs of each group (order within a group does not matter, ASR starts them together) and
    its actions (order matters). Only a difference is sent.
  - To run a plan use M(site_recovery.hyperv.asr_recovery_plan).
options:
  name:
    description: Name of the recovery plan.
    type: str
    required: true
  state:
    description: V(present) - the plan exists with O(groups); V(absent) - it does not.
    type: str
    choices: [present, absent]
    default: present
  primary_fabric:
    description: The VMM server the VMs run on (fabric, friendly or ARM name); not set - the vault's only VMM server.
    type: str
  recovery_fabric:
    description: The VMM server of the recovery clouds; not set - O(primary_fabric) (a single VMM server).
    type: str
  groups:
    description:
      - The boot groups, in the order ASR starts them. Required with O(state=present).
      - Every VM is a protected item whose primary VMM server is O(primary_fabric); a VM may appear in one group only.
    type: list
    elements: dict
    suboptions:
      items:
        description: VM names (friendly names of protected items) or ARM names of the items.
        type: list
        elements: str
        required: true
      start_actions:
        description: Actions run before the group's VMs start.
        type: list
        elements: dict
        suboptions: &action
          name:
            description: Name of the action, unique in the plan.
            type: str
            required: true
          type:
            description:
              - V(script) - a script in the VMM library run on the VMM server (C(ScriptActionDetails)).
              - V(manual) - an operator step; the plan job waits (C(Suspended)) until it is resumed with M(site_recovery.hyperv.asr_job).
            type: str
            required: true
            choices: [script, manual]
          path:
            description: With V(script), the script's path in the VMM library.
            type: str
          timeout:
            description: With V(script), the timeout ASR gives the script (C(timeout)), as a string.
            type: str
          location:
            description: With V(script), the VMM server that runs it (C(fabricLocation)).
            type: str
            choices: [primary, recovery]
            default: recovery
          description:
            description: With V(manual), the instructions shown to the operator.
            type: str
          failover_types:
            description: The failovers the action runs in.
            type: list
            elements: str
            choices: [planned_failover, unplanned_failover, test_failover]
            default: [planned_failover, unplanned_failover, test_failover]
          failover_directions:
            description: The directions the action runs in.
            type: list
            elements: str
            choices: [primary_to_recovery, recovery_to_primary]
            default: [primary_to_recovery, recovery_to_primary]
      end_actions:
        description: Actions run after the group's VMs started; same keys as O(groups[].start_actions).
        type: list
        elements: dict
        suboptions: *action
extends_documentation_fragment:
  - site_recovery.hyperv.asr
  - site_recovery.hyperv.asr.wait
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.state_changing
  - site_recovery.hyperv.asr.actiongroup_asr
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff has the plan's groups (type, VM names, action names) before and after.
notes:
  - ASR refuses changes to a plan while one of its jobs runs; the error names the job.
seealso:
  - module: site_recovery.hyperv.asr_recovery_plan
  - module: site_recovery.hyperv.asr_protection
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: ERP plan - database first, then the application servers after a check
  site_recovery.hyperv.asr_recovery_plan_config:
    name: rp-erp
    groups:
      - items: [erp-db01]
      - items: [erp-app01, erp-app02]
        start_actions:
          - name: Check the database
            type: manual
            description: Confirm that erp-db01 accepts connections, then resume the job.
            failover_types: [planned_failover, unplanned_failover]
        end_actions:
          - name: Switch DNS
            type: script
            path: \\vmm01\MSSCVMMLibrary\scripts\switch-dns.ps1
            location: recovery
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
"""

RETURN = r"""
msg:
  description: What the task did or found.
  returned: always
  type: str
plan:
  description:
    - The plan after the task (V(null) when absent; in check mode the prediction), with the keys of
      RV(site_recovery.hyperv.asr_info#module:recovery_plans).
  returned: always
  type: dict
job:
  description: The ASR job of the change, V(null) when nothing ran; see RV(site_recovery.hyperv.asr_job_info#module:jobs).
  returned: always
  type: dict
request:
  description: The request body sent (or that would be sent); V(null) for none.
  returned: always
  type: dict
"""

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import run_one
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_lifecycle import DIRECTIONS
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    find_named, list_fabrics, list_items, plan_view, props, resolve_fabric, same_id)

GROUP = "replication_recovery_plans"
FAILOVER_TYPES = {"planned_failover": "PlannedFailover", "unplanned_failover": "UnplannedFailover", "test_failover": "TestFailover"}
ACTION_SPEC = dict(
    name=dict(type="str", required=True),
    type=dict(type="str", required=True, choices=["script", "manual"]),
    path=dict(type="str"),
    timeout=dict(type="str"),
    location=dict(type="str", default="recovery", choices=["primary", "recovery"]),
    description=dict(type="str"),
    failover_types=dict(type="list", elements="str", choices=list(FAILOVER_TYPES), default=list(FAILOVER_TYPES)),
    failover_directions=dict(type="list", elements="str", choices=list(DIRECTIONS), default=list(DIRECTIONS)),
)


def main():
    asr = AsrModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            primary_fabric=dict(type="str"),
            recovery_fabric=dict(type="str"),
            groups=dict(type="list", elements="dict", options=dict(
                items=dict(type="list", elements="str", required=True),
                start_actions=dict(type="list", elements="dict", options=ACTION_SPEC),
                end_actions=dict(type="list", elements="dict", options=ACTION_SPEC),
            )),
        ),
        wait_options=True,
        required_if=[("state", "present", ["groups"])],
    )
    asr.run(run)


def wire_action(action):
    if action["type"] == "script":
        if not action["path"]:
            raise AsrError("Script action %r needs a path (the script in the VMM library)." % action["name"])
        details = {"instanceType": "ScriptActionDetails", "path": action["path"], "fabricLocation": action["location"].capitalize()}
        if action["timeout"]:
            details["timeout"] = action["timeout"]
    else:
        details = {"instanceType": "ManualActionDetails"}
        if action["description"]:
            details["description"] = action["description"]
    return {"actionName": action["name"], "failoverTypes": [FAILOVER_TYPES[t] for t in action["failover_types"]],
            "failoverDirections": [DIRECTIONS[d] for d in action["failover_directions"]], "customDetails": details}


def boot_groups(params, items):
    """The Boot groups (wire) of O(groups), VMs resolved to their protected items; raises AsrError before any change."""
    groups, seen, names = [], {}, []
    for index, group in enumerate(params["groups"]):
        members = []
        for name in group["items"]:
            item = find_named(items, name, "protected item", "the primary VMM server")
            if item["id"].lower() in seen:
                raise AsrError("VM %s is in boot group %d and %d; a VM belongs to one group." % (name, seen[item["id"].lower()] + 1, index + 1))
            seen[item["id"].lower()] = index
            members.append({"id": item["id"], "virtualMachineId": (props(item).get("providerSpecificDetails") or {}).get("vmId")})
        actions = [wire_action(a) for a in (group["start_actions"] or [])], [wire_action(a) for a in (group["end_actions"] or [])]
        names += [a["actionName"] for a in actions[0] + actions[1]]
        groups.append({"groupType": "Boot", "replicationProtectedItems": members, "startGroupActions": actions[0], "endGroupActions": actions[1]})
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AsrError("Action names must be unique in a plan; repeated: %s." % ", ".join(duplicates))
    if not seen:
        raise AsrError("A recovery plan needs at least one VM in its groups.")
    return groups


def comparable(groups):
    """Groups reduced to what the module compares: type, VM ids (unordered), actions (ordered)."""
    def action_key(action):
        details = action.get("customDetails") or {}
        return (action.get("actionName"), details.get("instanceType"), tuple(sorted(action.get("failoverTypes") or [])),
                tuple(sorted(action.get("failoverDirections") or [])), details.get("path"), details.get("timeout"),
                (details.get("fabricLocation") or "").lower() or None, details.get("description"))
    return [(g.get("groupType"), tuple(sorted((m.get("id") or "").lower() for m in g.get("replicationProtectedItems") or [])),
             tuple(action_key(a) for a in g.get("startGroupActions") or []), tuple(action_key(a) for a in g.get("endGroupActions") or []))
            for g in groups]


def empty_group(kind):
    return {"groupType": kind, "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []}


def run(asr):
    params = asr.params
    vault = asr.vault
    plan = vault.get_or_none("reading recovery plan %s" % params["name"], GROUP, "get", params["name"])
    items = list_items(vault)
    items_by_id = {item["id"].lower(): item for item in items}
    before = plan_view(plan, items_by_id) if plan else None
    if params["state"] == "absent":
        return absent(asr, vault, plan, before)
    fabrics = list_fabrics(vault)
    primary = resolve_fabric(vault, params["primary_fabric"], fabrics)
    recovery = resolve_fabric(vault, params["recovery_fabric"], fabrics) if params["recovery_fabric"] else primary
    own = [item for item in items if (item["id"].lower().split("/replicationprotectioncontainers/")[0]).endswith("/" + primary["name"].lower())]
    boots = boot_groups(params, own)
    if plan is None:
        groups = [empty_group("Shutdown"), empty_group("Failover")] + boots
        body = {"properties": {"primaryFabricId": primary["id"], "recoveryFabricId": recovery["id"], "failoverDeploymentModel": "NotApplicable",
                               "groups": groups}}
        return change(asr, vault, None, body, groups, items_by_id, "Create recovery plan %s." % params["name"], "begin_create")
    p = props(plan)
    if not (same_id(p.get("primaryFabricId"), primary["id"]) and same_id(p.get("recoveryFabricId"), recovery["id"])):
        raise AsrError("Recovery plan %s runs from %s to %s; its fabrics cannot change. Remove it (state=absent) and create it again." % (
            params["name"], p.get("primaryFabricFriendlyName"), p.get("recoveryFabricFriendlyName")))
    current = p.get("groups") or []
    kept = [g for g in current if g.get("groupType") in ("Shutdown", "Failover")] or [empty_group("Shutdown"), empty_group("Failover")]
    groups = kept + boots
    if comparable(groups) == comparable(current):
        return result(asr, False, "Recovery plan %s has these groups already." % params["name"], before, before, None, None)
    return change(asr, vault, plan, {"properties": {"groups": groups}}, groups, items_by_id,
                  "Change the groups of recovery plan %s." % params["name"], "begin_update")


def change(asr, vault, plan, body, groups, items_by_id, msg, method):
    name = asr.params["name"]
    before = plan_view(plan, items_by_id) if plan else None
    if asr.check_mode:
        predicted = dict(plan or {"name": name, "id": None}, properties=dict(props(plan), friendlyName=props(plan).get("friendlyName") or name,
                                                                             groups=groups))
        return result(asr, True, "Check mode, nothing sent: " + msg, before, plan_view(predicted, items_by_id), None, body)
    job = run_one(vault, "%s recovery plan %s" % ("creating" if plan is None else "changing", name), GROUP, method, [name, body],
                  "CreateRecoveryPlan" if plan is None else "UpdateRecoveryPlan", asr.params)
    after = vault.get("reading recovery plan %s" % name, GROUP, "get", name, missing="recovery plan %s" % name)
    return result(asr, True, msg, before, plan_view(after, items_by_id), job, body)


def absent(asr, vault, plan, before):
    name = asr.params["name"]
    if plan is None:
        return result(asr, False, "Recovery plan %s does not exist." % name, None, None, None, None)
    msg = "Remove recovery plan %s." % name
    if asr.check_mode:
        return result(asr, True, "Check mode, nothing sent: " + msg, before, None, None, None)
    job = run_one(vault, "removing recovery plan %s" % name, GROUP, "begin_delete", [name], "DeleteRecoveryPlan", asr.params)
    return result(asr, True, msg, before, None, job, None)


def groups_diff(view):
    if not view:
        return {}
    return {"groups": [{"type": g["type"], "items": sorted(m["name"] or m["id"] for m in g["items"]),
                        "start_actions": [a["name"] for a in g["start_actions"]], "end_actions": [a["name"] for a in g["end_actions"]]}
                       for g in view["groups"]]}


def result(asr, changed, msg, before, after, job, body):
    out = {"changed": changed, "msg": msg, "plan": after, "job": job, "request": body}
    if asr.module._diff:
        out["diff"] = {"before": groups_diff(before), "after": groups_diff(after)}
    return out


if __name__ == "__main__":
    main()
