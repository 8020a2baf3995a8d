#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_container_mapping
short_description: Pair a primary VMM cloud with a recovery VMM cloud under a replication policy (Azure Site Recovery)
version_added: 0.1.0
description:
  - Creates or removes the protection container mapping that pairs a primary cloud with a recovery cloud and associates a
    replication policy - C(PUT .../replicationProtectionContainers/<primary>/replicationProtectionContainerMappings/<name>) with
    C(targetProtectionContainerId) and C(policyId); removal is C(POST .../remove).
  - Single VMM server - both clouds are protection containers of the same fabric (the VMM server), as Microsoft documents for
    replicating between clouds of one VMM server.
  - The pairing is identified by its primary cloud, recovery cloud and policy, whatever its name; an existing pairing is left alone.
    A pairing under another policy is a new mapping, which the service refuses when it allows one pairing per cloud (the error
    names the existing mapping).
options:
  primary_cloud:
    description: The primary cloud, by friendly or ARM name (protection container of O(fabric)).
    type: str
    required: true
  recovery_cloud:
    description: The recovery cloud, by friendly or ARM name (protection container of O(fabric)). Must differ from O(primary_cloud).
    type: str
    required: true
  policy:
    description:
      - The replication policy (name or friendly name), see M(site_recovery.hyperv.asr_replication_policy).
      - Required with O(state=present). With O(state=absent), only the pairing with this policy is removed; not set - every pairing
        of O(primary_cloud) to O(recovery_cloud).
    type: str
  fabric:
    description: The VMM server (fabric, friendly or ARM name); not set - the vault's only VMM server.
    type: str
  mapping_name:
    description: ARM name of a new pairing; default C(<policy>-<primary cloud ARM name>-<recovery cloud ARM name>).
    type: str
  state:
    description:
      - V(present) - the clouds are paired with the policy.
      - V(absent) - they are not. Refused while VMs of the primary cloud are protected with the policy (disable their protection first
        with M(site_recovery.hyperv.asr_protection)).
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
      - The diff lists the pairings of the primary cloud (recovery cloud and policy) before and after.
seealso:
  - module: site_recovery.hyperv.asr_replication_policy
  - module: site_recovery.hyperv.asr_protection
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Pair the production cloud with the DR cloud
  site_recovery.hyperv.asr_container_mapping:
    primary_cloud: Cloud-Prod
    recovery_cloud: Cloud-DR
    policy: pol-hvr-5min
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
"""

RETURN = r"""
msg:
  description: What the task did or found.
  returned: always
  type: str
mappings:
  description:
    - The pairings of the primary cloud to the recovery cloud after the task (in check mode, the prediction), with C(name), C(id),
      C(primary_cloud), C(recovery_cloud), C(recovery_container_id), C(policy), C(policy_id), C(state) (C(Paired)), C(health).
  returned: always
  type: list
  elements: dict
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
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    find_named, item_location, list_containers, list_items, list_policies, mapping_view, props, resolve_container, resolve_fabric, same_id)

GROUP = "replication_protection_container_mappings"


def main():
    asr = AsrModule(
        dict(
            primary_cloud=dict(type="str", required=True),
            recovery_cloud=dict(type="str", required=True),
            policy=dict(type="str"),
            fabric=dict(type="str"),
            mapping_name=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        wait_options=True,
        required_if=[("state", "present", ["policy"])],
    )
    asr.run(run)


def pairings(vault, fabric, primary, recovery):
    mappings = vault.list("listing the pairings of cloud %s" % props(primary).get("friendlyName"), GROUP,
                          "list_by_replication_protection_containers", fabric["name"], primary["name"])
    return [m for m in mappings if same_id(props(m).get("targetProtectionContainerId"), recovery["id"])]


def run(asr):
    params = asr.params
    vault = asr.vault
    fabric = resolve_fabric(vault, params["fabric"])
    containers = list_containers(vault, fabric["name"])
    primary = resolve_container(vault, fabric, params["primary_cloud"], containers)
    recovery = resolve_container(vault, fabric, params["recovery_cloud"], containers)
    if same_id(primary["id"], recovery["id"]):
        raise AsrError("primary_cloud and recovery_cloud are the same cloud (%s); pair two different clouds." % primary["name"])
    policy = find_named(list_policies(vault), params["policy"], "replication policy", vault.where) if params["policy"] else None
    existing = pairings(vault, fabric, primary, recovery)
    matching = [m for m in existing if policy is None or same_id(props(m).get("policyId"), policy["id"])]
    before = [mapping_view(m) for m in existing]
    if params["state"] == "present":
        return present(asr, vault, fabric, primary, recovery, policy, matching, before)
    return absent(asr, vault, fabric, primary, recovery, matching, before)


def present(asr, vault, fabric, primary, recovery, policy, matching, before):
    names = (props(primary).get("friendlyName"), props(recovery).get("friendlyName"), props(policy).get("friendlyName") or policy["name"])
    if matching:
        return result(asr, False, "Cloud %s is paired with %s under policy %s already." % names, before, before, None, None)
    name = asr.params["mapping_name"] or "%s-%s-%s" % (policy["name"], primary["name"], recovery["name"])
    body = {"properties": {"targetProtectionContainerId": recovery["id"], "policyId": policy["id"]}}
    msg = "Pair cloud %s with %s under policy %s." % names
    predicted = before + [{"name": name, "primary_cloud": names[0], "recovery_cloud": names[1], "recovery_container_id": recovery["id"],
                           "policy": names[2], "policy_id": policy["id"], "state": "Paired"}]
    if asr.check_mode:
        return result(asr, True, "Check mode, nothing sent: " + msg, before, predicted, None, body)
    job = run_one(asr.vault, "pairing cloud %s with %s" % names[:2], GROUP, "begin_create", [fabric["name"], primary["name"], name, body],
                  "CreateMapping", asr.params)
    return result(asr, True, msg, before, [mapping_view(m) for m in pairings(vault, fabric, primary, recovery)], job, body)


def absent(asr, vault, fabric, primary, recovery, matching, before):
    if not matching:
        return result(asr, False, "Cloud %s is not paired with %s%s." % (
            props(primary).get("friendlyName"), props(recovery).get("friendlyName"),
            " under policy %s" % asr.params["policy"] if asr.params["policy"] else ""), before, before, None, None)
    protected = [item for item in list_items(vault) if item_location(item["id"])[1] and item_location(item["id"])[1].lower() == primary["name"].lower()
                 and any(same_id(props(item).get("policyId"), props(m).get("policyId")) for m in matching)]
    if protected:
        raise AsrError("Cloud %s still has VMs protected with this pairing (%s); disable their protection first (site_recovery.hyperv.asr_protection "
                       "state=absent)." % (props(primary).get("friendlyName"), ", ".join(props(i).get("friendlyName") for i in protected)))
    body = {"properties": {}}
    msg = "Remove the pairing(s) %s." % ", ".join(m["name"] for m in matching)
    after = [view for view in before if not any(view["name"] == m["name"] for m in matching)]
    if asr.check_mode:
        return result(asr, True, "Check mode, nothing sent: " + msg, before, after, None, body)
    job = None
    for mapping in matching:
        job = run_one(vault, "removing pairing %s" % mapping["name"], GROUP, "begin_delete", [fabric["name"], primary["name"], mapping["name"], body],
                      "RemoveMapping", asr.params)
    return result(asr, True, msg, before, [mapping_view(m) for m in pairings(vault, fabric, primary, recovery)], job, body)


def result(asr, changed, msg, before, after, job, body):
    out = {"changed": changed, "msg": msg, "mappings": after, "job": job, "request": body}
    if asr.module._diff:
        out["diff"] = {"before": {"mappings": [{"recovery_cloud": m.get("recovery_cloud"), "policy": m.get("policy")} for m in before]},
                       "after": {"mappings": [{"recovery_cloud": m.get("recovery_cloud"), "policy": m.get("policy")} for m in after]}}
    return out


if __name__ == "__main__":
    main()
