#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_info
short_description: Read the Azure Site Recovery state of a Recovery Services vault (VMM cloud to VMM cloud)
version_added: 0.1.0
description:
  - Reads what a disaster-recovery run needs to know from the vault, in one task - the vault's health; the VMM servers (fabrics)
    with the connection status and last heartbeat of their ASR Provider; the clouds (protection containers) and their pairing;
    the protected VMs with protection state, replication health, active location and the operations ASR allows now; the recovery
    plans with their groups (VM names resolved); the replication policies; the VM networks and their mappings; recent jobs.
  - Read only; every call is a C(GET) (api-version 2025-08-01).
options:
  include:
    description:
      - What to read. V(all) is everything; the others limit the calls made.
      - V(vault) is the vault's health (C(replicationVaultHealth)).
    type: list
    elements: str
    choices: [all, vault, fabrics, clouds, items, plans, jobs, policies, networks]
    default: [all]
  cloud:
    description:
      - Only these clouds (friendly or ARM names), and only the protected items and recovery plans that have VMs in them (as primary
        or recovery cloud).
    type: list
    elements: str
  recovery_plan:
    description: Only these recovery plans (name or friendly name) and, unless O(item) is given, only their protected items.
    type: list
    elements: str
  item:
    description: Only these protected items (VM name or ARM name, case-insensitive), and only the recovery plans that contain them.
    type: list
    elements: str
  jobs:
    description: How many of the newest jobs to return (of the selected items and plans when a filter is given); V(0) for none.
    type: int
    default: 10
  recovery_points:
    description: Also list the recovery points of each protected item returned (one request per item).
    type: bool
    default: false
extends_documentation_fragment:
  - site_recovery.hyperv.asr
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.info_module
  - site_recovery.hyperv.asr.actiongroup_asr
notes:
  - Names given in O(recovery_plan) or O(item) that match nothing produce a warning, not a failure.
seealso:
  - module: site_recovery.hyperv.asr_protected_item
  - module: site_recovery.hyperv.asr_recovery_plan
  - module: site_recovery.hyperv.asr_job_info
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Is the vault ready for a failover?
  site_recovery.hyperv.asr_info:
    include: [fabrics, plans]
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"
  register: asr

- name: The ASR Provider on the VMM server must be connected
  ansible.builtin.assert:
    that: asr.fabrics | map(attribute='providers') | flatten | selectattr('connected') | list | length > 0
    fail_msg: The VMM server's ASR Provider is not connected; start the VMM server and its service first.

- name: One VM with its recovery points
  site_recovery.hyperv.asr_info:
    include: [items]
    item: [sql01]
    recovery_points: true
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost
"""

RETURN = r"""
vault:
  description: The vault and its health, when O(include) has V(vault) or V(all).
  returned: always
  type: dict
  contains:
    name:
      description: Vault name.
      type: str
    resource_group:
      description: Resource group.
      type: str
    subscription_id:
      description: Subscription.
      type: str
    health:
      description:
        - C(vault_errors) (C(code), C(message), C(level), C(recommended_action)) and the C(resourceCount)/C(issues) summaries of
          C(protected_items), C(fabrics) and C(containers), as the vault reports them (C(replicationVaultHealth)).
        - V(null), with a warning, when the vault does not answer that request (the DR lab does not model it).
      type: dict
fabrics:
  description: The fabrics (registered VMM servers).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: ARM name.
      type: str
    friendly_name:
      description: VMM server name.
      type: str
    type:
      description: C(VMM) for a VMM server.
      type: str
    health:
      description: Fabric health.
      type: str
    providers:
      description:
        - The ASR Providers on the server with C(friendly_name), C(connection_status), C(connected) (C(connection_status) is
          C(Connected)), C(last_heartbeat), C(provider_version), C(server_version), C(protected_item_count), C(health_errors).
      type: list
      elements: dict
clouds:
  description: The clouds (protection containers) with their pairing.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: ARM name (for VMM, C(cloud_<guid>)).
      type: str
    friendly_name:
      description: Cloud name.
      type: str
    fabric:
      description: ARM name of the fabric.
      type: str
    pairing_status:
      description: C(Paired) or C(NotPaired).
      type: str
    protected_item_count:
      description: Number of protected VMs.
      type: int
    mappings:
      description:
        - The pairings of this cloud as primary, with C(name), C(recovery_cloud), C(recovery_container_id), C(policy), C(policy_id),
          C(state), C(health).
      type: list
      elements: dict
protected_items:
  description: The protected VMs (replication protected items).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: ARM name of the item.
      type: str
    id:
      description: ARM id.
      type: str
    friendly_name:
      description: VM name.
      type: str
    fabric:
      description: ARM name of the fabric.
      type: str
    container:
      description: ARM name of the primary cloud's container.
      type: str
    primary_cloud:
      description: Primary cloud name.
      type: str
    recovery_cloud:
      description: Recovery cloud name.
      type: str
    policy:
      description: Replication policy name.
      type: str
    protection_state:
      description: C(protectionState), an opaque string such as C(Protected) or C(PlannedFailoverCommitRequired).
      type: str
    protection_state_description:
      description: Human text of the protection state.
      type: str
    lifecycle:
      description:
        - Derived from C(allowedOperations) - V(protected), V(failed_over) (awaits commit), V(committed) (awaits reprotect),
          V(test_failed_over) (awaits cleanup), V(in_progress), V(other).
      type: str
    active_location:
      description: C(Primary) or C(Recovery), the site the VM runs at.
      type: str
    replication_direction:
      description: C(PrimaryToRecovery) or C(RecoveryToPrimary) when the item replicates; V(null) otherwise.
      type: str
    replication_health:
      description: C(Normal), C(Warning), C(Critical) or C(None).
      type: str
    failover_health:
      description: Same values.
      type: str
    test_failover_state:
      description: C(None), C(WaitingForCompletion), C(MarkedForDeletion)...
      type: str
    allowed_operations:
      description: What ASR allows now (C(PlannedFailover), C(UnplannedFailover), C(TestFailover), C(Commit), C(ReverseReplicate)...).
      type: list
      elements: str
    current_scenario:
      description: The running scenario (C(name), C(job_id), C(job_name), C(start_time)); V(null) when idle.
      type: dict
    last_replicated_time:
      description: Last replication (Hyper-V Replica provider details).
      type: str
    last_successful_failover_time:
      description: Last failover.
      type: str
    failover_recovery_point_id:
      description: Recovery point of the last failover.
      type: str
    health_errors:
      description: C(code), C(message), C(level), C(recommended_action).
      type: list
      elements: dict
    recovery_points:
      description: With O(recovery_points=true), the points (C(name), C(id), C(time), C(type)), newest first.
      type: list
      elements: dict
recovery_plans:
  description: The recovery plans.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Plan name.
      type: str
    friendly_name:
      description: Display name.
      type: str
    primary_fabric:
      description: Primary VMM server.
      type: str
    recovery_fabric:
      description: Recovery VMM server (the same one for a single VMM server).
      type: str
    allowed_operations:
      description: What ASR allows for the plan now.
      type: list
      elements: str
    lifecycle:
      description: As for items, from the plan's C(allowedOperations).
      type: str
    active_location:
      description: C(Primary), C(Recovery), or C(Mixed) when the plan's VMs are active at different sites.
      type: str
    current_scenario:
      description: The running scenario, V(null) when idle.
      type: dict
    groups:
      description:
        - The groups in order (C(index), C(type) - C(Shutdown), C(Failover), C(Boot) - C(items) with C(id), C(name) (the VM name)
          and C(virtual_machine_id), C(start_actions), C(end_actions)).
      type: list
      elements: dict
    items:
      description:
        - The plan's VMs with C(name), C(id), C(active_location), C(lifecycle), C(protection_state), C(allowed_operations),
          C(replication_health).
      type: list
      elements: dict
jobs:
  description: The newest jobs; see RV(site_recovery.hyperv.asr_job_info#module:jobs) for the keys.
  returned: always
  type: list
  elements: dict
policies:
  description: The replication policies (C(name), C(id), C(friendly_name), C(provider), C(settings) with the option names of
    M(site_recovery.hyperv.asr_replication_policy)).
  returned: always
  type: list
  elements: dict
networks:
  description:
    - The VM networks of each fabric (C(name), C(id), C(friendly_name), C(fabric), C(network_type), C(subnets)) with their
      C(mappings) (C(name), C(recovery_network), C(recovery_network_id), C(state), C(type)).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import job_summary, select_jobs
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    cloud_matches, container_view, fabric_view, health_errors, id_segment, item_location, item_view, list_containers, list_fabrics, list_items,
    list_networks, list_plans, list_policies, network_view, plan_items, plan_view, policy_view, props, recovery_point_view, same_id)

SECTIONS = ["vault", "fabrics", "clouds", "items", "plans", "jobs", "policies", "networks"]


def main():
    asr = AsrModule(
        dict(
            include=dict(type="list", elements="str", default=["all"], choices=["all"] + SECTIONS),
            cloud=dict(type="list", elements="str"),
            recovery_plan=dict(type="list", elements="str"),
            item=dict(type="list", elements="str"),
            jobs=dict(type="int", default=10),
            recovery_points=dict(type="bool", default=False),
        ),
    )
    asr.run(run)


def named(resource, names):
    wanted = {name.lower() for name in names}
    return (resource.get("name") or "").lower() in wanted or (props(resource).get("friendlyName") or "").lower() in wanted


class Selection:
    """The items and plans that pass the filters (read once, shared by the sections)."""

    def __init__(self, asr, vault):
        params = asr.params
        self.filtered = bool(params["cloud"] or params["item"] or params["recovery_plan"])
        self.all_items = list_items(vault)
        self.items_by_id = {item["id"].lower(): item for item in self.all_items}
        plans = list_plans(vault)
        if params["recovery_plan"]:
            plans = [plan for plan in plans if named(plan, params["recovery_plan"])]
            warn_unmatched(asr, params["recovery_plan"], plans, "recovery plan")
        items = self.all_items
        if params["cloud"]:
            items = [item for item in items if any(cloud_matches(item, cloud) for cloud in params["cloud"])]
        if params["item"]:
            items = [item for item in items if named(item, params["item"])]
            warn_unmatched(asr, params["item"], items, "protected item")
        elif params["recovery_plan"]:
            members = [arm_id for plan in plans for arm_id in plan_items(plan)]
            items = [item for item in items if any(same_id(item["id"], arm_id) for arm_id in members)]
        if params["cloud"] or params["item"]:
            plans = [plan for plan in plans if any(same_id(arm_id, item["id"]) for arm_id in plan_items(plan) for item in items)]
        self.items = items
        self.plans = plans


def warn_unmatched(asr, names, found, kind):
    for name in names:
        if not any(named(resource, [name]) for resource in found):
            asr.module.warn("No %s %r in vault %s." % (kind, name, asr.params["vault_name"]))


def run(asr):
    params = asr.params
    include = set(SECTIONS) if "all" in params["include"] else set(params["include"])
    vault = asr.vault
    result = {"changed": False, "vault": None, "fabrics": [], "clouds": [], "protected_items": [], "recovery_plans": [], "jobs": [],
              "policies": [], "networks": []}
    if "vault" in include:
        result["vault"] = vault_section(asr, vault)
    fabrics = list_fabrics(vault) if include & {"fabrics", "clouds", "networks"} else []
    if "fabrics" in include:
        result["fabrics"] = [fabric_view(fabric, list_providers(vault, fabric)) for fabric in fabrics]
    if "clouds" in include:
        result["clouds"] = clouds_section(vault, fabrics, params["cloud"])
    selection = Selection(asr, vault) if include & {"items", "plans", "jobs"} else None
    if "items" in include:
        result["protected_items"] = [items_entry(vault, item, params["recovery_points"]) for item in selection.items]
    if "plans" in include:
        result["recovery_plans"] = [plan_view(plan, selection.items_by_id) for plan in selection.plans]
    if "jobs" in include and params["jobs"] > 0:
        result["jobs"] = jobs_section(vault, selection, params["jobs"])
    if "policies" in include:
        result["policies"] = [policy_view(policy) for policy in list_policies(vault)]
    if "networks" in include:
        result["networks"] = networks_section(vault, fabrics)
    return result


def list_providers(vault, fabric):
    return vault.list("listing the ASR Providers of %s" % fabric["name"], "replication_recovery_services_providers",
                      "list_by_replication_fabrics", fabric["name"])


def vault_section(asr, vault):
    """The vault and its health; the health summary is auxiliary, so a vault that cannot give it only warns."""
    section = {"name": vault.name, "resource_group": vault.resource_group, "subscription_id": vault.subscription_id, "health": None}
    try:
        health = props(vault.get("reading the vault health", "replication_vault_health", "get"))
    except AsrError as exc:
        if exc.details.get("status_code") in (401, 403) or exc.details.get("status_code") is None:
            raise
        asr.module.warn("The vault health summary is not available: %s" % exc.msg)
        return section
    section["health"] = {"vault_errors": health_errors(health.get("vaultErrors")), "protected_items": health.get("protectedItemsHealth"),
                         "fabrics": health.get("fabricsHealth"), "containers": health.get("containersHealth")}
    return section


def clouds_section(vault, fabrics, clouds):
    mappings = vault.list("listing the cloud pairings", "replication_protection_container_mappings", "list")
    views = []
    for fabric in fabrics:
        for container in list_containers(vault, fabric["name"]):
            if clouds and not named(container, clouds):
                continue
            own = [m for m in mappings if same_id(m["id"].rsplit("/replicationProtectionContainerMappings/", 1)[0], container["id"])]
            views.append(container_view(container, own))
    return views


def items_entry(vault, item, with_points):
    view = item_view(item)
    if with_points:
        fabric, container, name = item_location(item["id"])
        points = vault.list("listing the recovery points of %s" % view["friendly_name"], "recovery_points",
                            "list_by_replication_protected_items", fabric, container, name)
        view["recovery_points"] = sorted((recovery_point_view(point) for point in points), key=lambda p: p["time"] or "", reverse=True)
    return view


def jobs_section(vault, selection, count):
    jobs = vault.list("listing the ASR jobs", "replication_jobs", "list")
    if selection.filtered:
        targets = [item["id"] for item in selection.items] + [plan["id"] for plan in selection.plans]
        names = {(props(r).get("friendlyName") or "").lower() for r in selection.items + selection.plans} | {
            (r.get("name") or "").lower() for r in selection.items + selection.plans}
        jobs = [job for job in jobs if any(same_id(props(job).get("targetObjectId"), target) for target in targets)
                or (props(job).get("targetObjectName") or "").lower() in names]
    return [job_summary(job) for job in select_jobs(jobs, limit=count)]


def networks_section(vault, fabrics):
    mappings = vault.list("listing the network mappings", "replication_network_mappings", "list")
    views = []
    for fabric in fabrics:
        for network in list_networks(vault, fabric["name"]):
            own = [m for m in mappings if same_id(props(m).get("primaryNetworkId"), network["id"])
                   or (id_segment(m["id"], "replicationNetworks") or "").lower() == network["name"].lower()
                   and (id_segment(m["id"], "replicationFabrics") or "").lower() == fabric["name"].lower()]
            views.append(network_view(network, own))
    return views


if __name__ == "__main__":
    main()
