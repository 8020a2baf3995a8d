#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_network_mapping
short_description: Map a primary VM network to a recovery VM network for failover (Azure Site Recovery, VMM to VMM)
version_added: 0.1.0
description:
  - Creates, changes or removes the network mapping that tells ASR which VMM VM network a failed-over VM is connected to -
    C(PUT .../replicationFabrics/<fabric>/replicationNetworks/<primary>/replicationNetworkMappings/<name>) with
    C(recoveryNetworkId) and C(fabricSpecificDetails.instanceType=VmmToVmm); change is C(PATCH), removal C(DELETE).
  - Without a mapping a failed-over VM has no network.
  - Single VMM server - both VM networks belong to the same fabric (the VMM server).
  - A primary VM network has one mapping; one to another recovery network is changed to O(recovery_network).
options:
  primary_network:
    description: The VM network of the primary cloud (friendly name, ARM name or ARM id of a C(replicationNetworks) resource).
    type: str
    required: true
  recovery_network:
    description:
      - The VM network the failed-over VMs connect to (friendly name, ARM name or ARM id). Required with O(state=present).
      - With O(state=absent), only a mapping to this network is removed; not set - the primary network's mapping whatever its target.
    type: str
  fabric:
    description: The VMM server (fabric, friendly or ARM name); not set - the vault's only VMM server.
    type: str
  mapping_name:
    description: ARM name of a new mapping; default C(<primary network ARM name>-<recovery network ARM name>).
    type: str
  state:
    description: V(present) - the mapping exists to O(recovery_network); V(absent) - it does not.
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
      - The diff has the recovery network of the primary network's mapping before and after.
seealso:
  - module: site_recovery.hyperv.asr_info
  - name: Network mapping for Hyper-V VM disaster recovery to a secondary site
    description: How ASR connects failed-over VMs.
    link: https://learn.microsoft.com/azure/site-recovery/hyper-v-vmm-network-mapping
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Failed-over VMs of VMNet-Prod connect to VMNet-DR
  site_recovery.hyperv.asr_network_mapping:
    primary_network: VMNet-Prod
    recovery_network: VMNet-DR
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
"""

RETURN = r"""
msg:
  description: What the task did or found.
  returned: always
  type: str
mapping:
  description:
    - The mapping after the task (V(null) when absent; in check mode the prediction) with C(name), C(id), C(state),
      C(primary_network), C(primary_network_id), C(recovery_network), C(recovery_network_id), C(type) (C(VmmToVmm)).
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
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    find_named, list_networks, network_mapping_view, props, resolve_fabric, same_id)

GROUP = "replication_network_mappings"


def main():
    asr = AsrModule(
        dict(
            primary_network=dict(type="str", required=True),
            recovery_network=dict(type="str"),
            fabric=dict(type="str"),
            mapping_name=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        wait_options=True,
        required_if=[("state", "present", ["recovery_network"])],
    )
    asr.run(run)


def run(asr):
    params = asr.params
    vault = asr.vault
    fabric = resolve_fabric(vault, params["fabric"])
    networks = list_networks(vault, fabric["name"])
    where = "VMM server %s" % props(fabric).get("friendlyName")
    primary = find_named(networks, params["primary_network"], "VM network", where)
    recovery = find_named(networks, params["recovery_network"], "VM network", where) if params["recovery_network"] else None
    if recovery and same_id(primary["id"], recovery["id"]):
        raise AsrError("primary_network and recovery_network are the same VM network (%s)." % primary["name"])
    mappings = vault.list("listing the mappings of VM network %s" % primary["name"], GROUP, "list_by_replication_networks",
                          fabric["name"], primary["name"])
    current = mappings[0] if mappings else None
    before = network_mapping_view(current) if current else None
    if params["state"] == "absent":
        return absent(asr, vault, fabric, primary, recovery, current, before)
    body = {"properties": {"recoveryFabricName": fabric["name"], "recoveryNetworkId": recovery["id"],
                           "fabricSpecificDetails": {"instanceType": "VmmToVmm"}}}
    if current and same_id(props(current).get("recoveryNetworkId"), recovery["id"]):
        return result(asr, False, "VM network %s is mapped to %s already." % (props(primary).get("friendlyName"), props(recovery).get("friendlyName")),
                      before, before, None, None)
    name = current["name"] if current else (params["mapping_name"] or "%s-%s" % (primary["name"], recovery["name"]))
    msg = "%s VM network %s to %s." % ("Map" if not current else "Re-map", props(primary).get("friendlyName"), props(recovery).get("friendlyName"))
    predicted = {"name": name, "id": (current or {}).get("id"), "state": (before or {}).get("state"), "primary_network": props(primary).get("friendlyName"),
                 "primary_network_id": primary["id"], "recovery_network": props(recovery).get("friendlyName"), "recovery_network_id": recovery["id"],
                 "type": "VmmToVmm"}
    if asr.check_mode:
        return result(asr, True, "Check mode, nothing sent: " + msg, before, predicted, None, body)
    job = run_one(vault, "mapping VM network %s" % primary["name"], GROUP, "begin_update" if current else "begin_create",
                  [fabric["name"], primary["name"], name, body], "UpdateNetworkMapping" if current else "CreateNetworkMapping", params)
    after = vault.get("reading network mapping %s" % name, GROUP, "get", fabric["name"], primary["name"], name, missing="network mapping %s" % name)
    return result(asr, True, msg, before, network_mapping_view(after), job, body)


def absent(asr, vault, fabric, primary, recovery, current, before):
    if current is None or (recovery and not same_id(props(current).get("recoveryNetworkId"), recovery["id"])):
        return result(asr, False, "VM network %s has no mapping%s." % (
            props(primary).get("friendlyName"), " to %s" % props(recovery).get("friendlyName") if recovery else ""), before, before, None, None)
    msg = "Remove the mapping %s of VM network %s." % (current["name"], props(primary).get("friendlyName"))
    if asr.check_mode:
        return result(asr, True, "Check mode, nothing sent: " + msg, before, None, None, None)
    job = run_one(vault, "removing network mapping %s" % current["name"], GROUP, "begin_delete", [fabric["name"], primary["name"], current["name"]],
                  "DeleteNetworkMapping", asr.params)
    return result(asr, True, msg, before, None, job, None)


def result(asr, changed, msg, before, after, job, body):
    out = {"changed": changed, "msg": msg, "mapping": after, "job": job, "request": body}
    if asr.module._diff:
        out["diff"] = {"before": {"recovery_network": (before or {}).get("recovery_network")},
                       "after": {"recovery_network": (after or {}).get("recovery_network")}}
    return out


if __name__ == "__main__":
    main()
