#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_protection
short_description: Enable or disable Azure Site Recovery protection of VMs of a VMM cloud
version_added: 0.1.0
description:
  - V(present) enables protection of VMs of the primary cloud - each VM's protectable item (C(replicationProtectableItems)) becomes a
    replication protected item - C(PUT .../replicationProtectionContainers/<cloud>/replicationProtectedItems/<name>) with the
    C(policyId) of the cloud's pairing and the C(protectableItemId). ASR then enables Hyper-V Replica and runs the initial replication.
  - V(absent) disables protection cleanly (C(POST .../replicationProtectedItems/<name>/remove)). Whether the replica VM is deleted
    follows the policy's O(site_recovery.hyperv.asr_replication_policy#module:allow_replica_deletion).
  - All VMs are checked first; when one cannot take the step (unknown, not ready for protection, not allowed), nothing is changed.
options:
  name:
    description: VM names (friendly names of the protectable items, or their ARM names).
    type: list
    elements: str
    required: true
  cloud:
    description: The primary cloud of the VMs (friendly or ARM name of the protection container).
    type: str
    required: true
  fabric:
    description: The VMM server (fabric, friendly or ARM name); not set - the vault's only VMM server.
    type: str
  policy:
    description:
      - With O(state=present), the replication policy (name or friendly name) of the pairing to protect with; not set - the policy of
        the cloud's only pairing. The cloud must be paired with it (M(site_recovery.hyperv.asr_container_mapping)).
    type: str
  state:
    description:
      - V(present) - the VMs are protected. Done for a VM that is a protected item already.
      - V(absent) - the VMs are not protected. Done for a VM that is no protected item; refused when ASR does not allow
        C(DisableProtection) now (for example during a failover).
    type: str
    choices: [present, absent]
    default: present
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
      - The diff has, per VM, whether it is protected and its protection state.
notes:
  - The enable request sends only C(policyId) and C(protectableItemId); the Hyper-V Replica (VMM to VMM) provider takes no
    provider-specific input.
  - With O(wait=true) the task waits for the enable-protection job, which ends when protection is set up; the initial replication
    can go on afterwards (see C(protection_state) in M(site_recovery.hyperv.asr_info)).
seealso:
  - module: site_recovery.hyperv.asr_container_mapping
  - module: site_recovery.hyperv.asr_info
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Protect the ERP VMs of Cloud-Prod
  site_recovery.hyperv.asr_protection:
    name: [erp-app01, erp-db01]
    cloud: Cloud-Prod
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"

- name: Stop protecting a retired VM
  site_recovery.hyperv.asr_protection:
    name: [old-app]
    cloud: Cloud-Prod
    state: absent
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
"""

RETURN = r"""
msg:
  description: What the task did or found, one sentence per VM.
  returned: always
  type: str
items:
  description: One entry per VM of O(name).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: VM name.
      type: str
    changed:
      description: Whether protection was (or would be) enabled or disabled.
      type: bool
    msg:
      description: What was done or found.
      type: str
    request:
      description: The request body sent (or that would be sent).
      type: dict
    job:
      description: The ASR job (see RV(site_recovery.hyperv.asr_job_info#module:jobs)); V(null) when nothing ran.
      type: dict
    item:
      description:
        - The protected item after the task (V(null) when not protected; before it in check mode), with the keys of
          RV(site_recovery.hyperv.asr_info#module:protected_items).
      type: dict
"""

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import (
    Action, job_problem, job_summary, run_actions, timeout_message)
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    find_named, item_location, item_view, list_containers, list_items, list_policies, props, resolve_container, resolve_fabric, same_id)

GROUP = "replication_protected_items"


def main():
    asr = AsrModule(
        dict(
            name=dict(type="list", elements="str", required=True),
            cloud=dict(type="str", required=True),
            fabric=dict(type="str"),
            policy=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        wait_options=True,
    )
    asr.run(run)


class Context:
    def __init__(self, vault, fabric, container):
        self.vault = vault
        self.fabric = fabric
        self.container = container
        self.items = [item for item in list_items(vault) if (item_location(item["id"])[1] or "").lower() == container["name"].lower()]

    def protected(self, name):
        """The protected item of VM `name` in this cloud, or None."""
        found = [item for item in self.items if name in (item.get("name"), props(item).get("friendlyName"))]
        found = found or [item for item in self.items if name.lower() in ((item.get("name") or "").lower(), (props(item).get("friendlyName") or "").lower())]
        if len(found) > 1:
            raise AsrError("VM name %r matches several protected items in cloud %s (%s); give the ARM name." % (
                name, props(self.container).get("friendlyName"), ", ".join(item["name"] for item in found)))
        return found[0] if found else None


def run(asr):
    params = asr.params
    vault = asr.vault
    fabric = resolve_fabric(vault, params["fabric"])
    container = resolve_container(vault, fabric, params["cloud"], list_containers(vault, fabric["name"]))
    context = Context(vault, fabric, container)
    names = list(dict.fromkeys(params["name"]))
    plans = plan_enable(context, names, params["policy"]) if params["state"] == "present" else plan_disable(context, names)
    if asr.check_mode:
        for entry in plans:
            if entry["action"]:
                entry["msg"] = "Check mode, nothing sent: " + entry["msg"]
        return finish(asr, context, plans, reread=False)
    actions = [entry["action"] for entry in plans if entry["action"]]
    pending = run_actions(vault, actions, params["wait"], params["wait_timeout"], params["poll_interval"])
    for entry in plans:
        if entry["action"]:
            job = entry["action"].job
            entry["job"] = job_summary(job) if job else {"name": entry["action"].started.job_name}
    if pending:
        raise AsrError(timeout_message(pending, params["wait_timeout"]), changed=True, items=strip(plans))
    problems = [job_problem(entry["action"].job) for entry in plans if entry["action"] and job_problem(entry["action"].job)]
    if problems:
        raise AsrError(" ".join(problems), changed=True, items=strip(plans))
    return finish(asr, context, plans, reread=True)


def paired_policy(context, wanted):
    mappings = context.vault.list("listing the pairings of cloud %s" % context.container["name"], "replication_protection_container_mappings",
                                  "list_by_replication_protection_containers", context.fabric["name"], context.container["name"])
    cloud = props(context.container).get("friendlyName")
    if not mappings:
        raise AsrError("Cloud %s is not paired with a recovery cloud; pair it first (site_recovery.hyperv.asr_container_mapping)." % cloud)
    if wanted:
        policy = find_named(list_policies(context.vault), wanted, "replication policy", context.vault.where)
        if not any(same_id(props(m).get("policyId"), policy["id"]) for m in mappings):
            raise AsrError("Cloud %s is not paired under policy %s (its pairings use %s); pair it first (site_recovery.hyperv.asr_container_mapping)."
                           % (cloud, wanted, ", ".join(props(m).get("policyFriendlyName") or props(m).get("policyId") for m in mappings)))
        return policy["id"]
    policies = {props(m).get("policyId").lower(): props(m).get("policyId") for m in mappings if props(m).get("policyId")}
    if len(policies) != 1:
        raise AsrError("Cloud %s is paired under several policies (%s); choose one with the policy option." % (
            cloud, ", ".join(props(m).get("policyFriendlyName") or "" for m in mappings)))
    return list(policies.values())[0]


def plan_enable(context, names, wanted_policy):
    vault, fabric, container = context.vault, context.fabric, context.container
    cloud = props(container).get("friendlyName")
    todo = [name for name in names if context.protected(name) is None]
    protectable = vault.list("listing the VMs of cloud %s" % cloud, "replication_protectable_items", "list_by_replication_protection_containers",
                             fabric["name"], container["name"]) if todo else []
    policy_id = paired_policy(context, wanted_policy) if todo else None
    plans, refusals = [], []
    for name in names:
        item = context.protected(name)
        if item is not None:
            plans.append(entry(name, None, "Protected already (%s)." % props(item).get("protectionStateDescription"), None, item))
            continue
        try:
            candidate = find_named(protectable, name, "VM", "cloud %s" % cloud)
        except AsrError as exc:
            refusals.append(exc.msg)
            continue
        readiness = props(candidate).get("protectionReadinessErrors") or []
        if readiness:
            refusals.append("VM %s is not ready for protection: %s." % (name, "; ".join(readiness)))
            continue
        body = {"properties": {"policyId": policy_id, "protectableItemId": candidate["id"]}}
        action = Action(name, "enabling protection of VM %s" % name, GROUP, "begin_create", [fabric["name"], container["name"], candidate["name"], body],
                        "EnableProtection")
        plans.append(entry(name, action, "Enable protection (policy %s)." % policy_id.rsplit("/", 1)[-1], body, None, candidate["name"]))
    if refusals:
        raise AsrError(" ".join(refusals))
    return plans


def plan_disable(context, names):
    plans, refusals = [], []
    for name in names:
        item = context.protected(name)
        if item is None:
            plans.append(entry(name, None, "Not protected.", None, None))
            continue
        allowed = props(item).get("allowedOperations") or []
        if "DisableProtection" not in allowed:
            refusals.append("Cannot disable protection of %s: ASR allows %s now (protection state %s)." % (
                name, ", ".join(allowed) or "no operation", props(item).get("protectionState")))
            continue
        fabric, container, rpi = item_location(item["id"])
        body = {"properties": {"disableProtectionReason": "NotSpecified"}}
        action = Action(name, "disabling protection of VM %s" % name, GROUP, "begin_delete", [fabric, container, rpi, body], "DisableProtection")
        plans.append(entry(name, action, "Disable protection.", body, item))
    if refusals:
        raise AsrError(" ".join(refusals))
    return plans


def entry(name, action, msg, body, item, arm_name=None):
    return {"name": name, "action": action, "msg": msg, "request": body, "job": None, "before": item, "arm_name": arm_name}


def strip(plans):
    return [{"name": e["name"], "changed": e["action"] is not None, "msg": e["msg"], "request": e["request"], "job": e["job"]} for e in plans]


def finish(asr, context, plans, reread):
    after_items = {}
    if reread and any(e["action"] for e in plans):
        context.items = [item for item in list_items(context.vault)
                         if (item_location(item["id"])[1] or "").lower() == context.container["name"].lower()]
    for e in plans:
        if reread:
            after_items[e["name"]] = context.protected(e["name"]) or context.protected(e["arm_name"] or e["name"])
        else:
            after_items[e["name"]] = e["before"]
    results = []
    for e in plans:
        after = after_items[e["name"]]
        results.append(dict(strip([e])[0], item=item_view(after) if after else None))
    out = {"changed": any(r["changed"] for r in results), "msg": " ".join("%s: %s" % (r["name"], r["msg"]) for r in results), "items": results}
    if asr.module._diff:
        out["diff"] = {"before": {e["name"]: state_of(e["before"]) for e in plans},
                       "after": {e["name"]: predicted_state(e, after_items[e["name"]], asr.check_mode) for e in plans}}
    return out


def state_of(item):
    return {"protected": item is not None, "protection_state": props(item).get("protectionState") if item else None}


def predicted_state(e, after, check_mode):
    if not check_mode or not e["action"]:
        return state_of(after)
    enabling = e["action"].operation == "EnableProtection"
    return {"protected": enabling, "protection_state": None}


if __name__ == "__main__":
    main()
