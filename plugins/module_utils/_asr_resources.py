# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: reading ASR resources of a vault, finding them by friendly or ARM name, and the
snake_case views the asr_* modules return. Field names are the wire names of api-version 2025-08-01
(asr-api.md §4 protected items, §3 recovery plans, §6 fabrics, providers, containers, mappings, policies, networks).
"""

from __future__ import annotations

import re

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError

NO_SCENARIO = ("", "none")
FAILOVER_OPERATIONS = ("PlannedFailover", "UnplannedFailover", "TestFailover")


# ---------------------------------------------------------------- ARM ids

def id_segment(arm_id, segment):
    """The name after /<segment>/ in an ARM id (case-insensitive: the service returns '/Subscriptions/...')."""
    match = re.search(r"/%s/([^/]+)" % re.escape(segment), arm_id or "", re.IGNORECASE)
    return match.group(1) if match else None


def same_id(left, right):
    return bool(left) and bool(right) and left.rstrip("/").lower() == right.rstrip("/").lower()


def item_location(arm_id):
    """(fabric, container, item) ARM names of a replication protected item id."""
    return (id_segment(arm_id, "replicationFabrics"), id_segment(arm_id, "replicationProtectionContainers"),
            id_segment(arm_id, "replicationProtectedItems"))


def props(resource):
    return (resource or {}).get("properties") or {}


# ---------------------------------------------------------------- finding by name

def find_named(resources, wanted, kind, where, friendly_key="friendlyName"):
    """The one resource whose ARM name, friendly name or ARM id is `wanted` (exact first, then case-insensitive).

    Raises AsrError listing what exists when none or several match.
    """
    for matcher in (lambda r: r.get("name") == wanted or props(r).get(friendly_key) == wanted or same_id(r.get("id"), wanted),
                    lambda r: (r.get("name") or "").lower() == wanted.lower() or (props(r).get(friendly_key) or "").lower() == wanted.lower()):
        found = [resource for resource in resources if matcher(resource)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise AsrError("%s %r is ambiguous in %s: %s. Give the ARM name instead." % (
                kind, wanted, where, ", ".join("%s (%s)" % (props(r).get(friendly_key), r.get("name")) for r in found)))
    raise AsrError("No %s %r in %s. Known: %s." % (kind, wanted, where, describe_names(resources, friendly_key) or "none"))


def describe_names(resources, friendly_key="friendlyName"):
    return ", ".join(sorted("%s (%s)" % (props(r).get(friendly_key), r.get("name")) for r in resources))


def list_fabrics(vault):
    return vault.list("listing the fabrics (VMM servers)", "replication_fabrics", "list")


def resolve_fabric(vault, wanted=None, fabrics=None):
    """The fabric (a registered VMM server) by friendly or ARM name; without a name, the vault's only VMM fabric."""
    fabrics = list_fabrics(vault) if fabrics is None else fabrics
    if wanted:
        return find_named(fabrics, wanted, "fabric (VMM server)", vault.where)
    vmm = [fabric for fabric in fabrics if fabric_type(fabric) == "VMM"]
    if len(vmm) == 1:
        return vmm[0]
    if not vmm:
        raise AsrError("The %s has no registered VMM server (fabric of type VMM); fabrics: %s. Register the ASR Provider on the VMM server."
                       % (vault.where, describe_names(fabrics) or "none"))
    raise AsrError("The %s has several VMM servers (%s); choose one with the fabric option." % (vault.where, describe_names(vmm)))


def fabric_type(fabric):
    return (props(fabric).get("customDetails") or {}).get("instanceType")


def list_containers(vault, fabric_name):
    return vault.list("listing the clouds (protection containers) of fabric %s" % fabric_name,
                      "replication_protection_containers", "list_by_replication_fabrics", fabric_name)


def resolve_container(vault, fabric, wanted, containers=None):
    containers = list_containers(vault, fabric["name"]) if containers is None else containers
    return find_named(containers, wanted, "cloud (protection container)", "VMM server %s" % props(fabric).get("friendlyName"))


def list_items(vault):
    """Every replication protected item of the vault (vault-wide list, one paged call)."""
    return vault.list("listing the protected items", "replication_protected_items", "list")


def get_item(vault, arm_id):
    fabric, container, name = item_location(arm_id)
    return vault.get("reading protected item %s" % name, "replication_protected_items", "get", fabric, container, name,
                     missing="protected item %s" % name)


def resolve_items(vault, names, cloud=None, items=None):
    """Protected items by VM (friendly) name or ARM name, optionally only those whose primary or recovery cloud is `cloud`."""
    items = list_items(vault) if items is None else items
    if cloud:
        items = [item for item in items if cloud_matches(item, cloud)]
    where = vault.where + (" (cloud %s)" % cloud if cloud else "")
    return [find_named(items, name, "protected item", where) for name in names]


def cloud_matches(item, cloud):
    p = props(item)
    container = id_segment(item.get("id"), "replicationProtectionContainers") or ""
    names = (p.get("primaryProtectionContainerFriendlyName"), p.get("recoveryProtectionContainerFriendlyName"), container,
             id_segment(p.get("recoveryContainerId"), "replicationProtectionContainers"))
    return any(name and name.lower() == cloud.lower() for name in names)


def list_plans(vault):
    return vault.list("listing the recovery plans", "replication_recovery_plans", "list")


def resolve_plan(vault, wanted, plans=None):
    plans = list_plans(vault) if plans is None else plans
    return find_named(plans, wanted, "recovery plan", vault.where)


def list_policies(vault):
    return vault.list("listing the replication policies", "replication_policies", "list")


def list_networks(vault, fabric_name):
    return vault.list("listing the VM networks of fabric %s" % fabric_name, "replication_networks", "list_by_replication_fabrics", fabric_name)


# ---------------------------------------------------------------- views

def scenario_view(scenario):
    """currentScenario, or None when idle (scenarioName 'None', jobId .../replicationJobs/None)."""
    scenario = scenario or {}
    if (scenario.get("scenarioName") or "").lower() in NO_SCENARIO:
        return None
    job_id = scenario.get("jobId")
    job_name = id_segment(job_id, "replicationJobs")
    return {"name": scenario.get("scenarioName"), "job_id": job_id, "job_name": None if (job_name or "").lower() in NO_SCENARIO else job_name,
            "start_time": scenario.get("startTime")}


def item_lifecycle(item):
    """Where an item is in the failover lifecycle, from allowedOperations (asr-api.md §4: key on allowedOperations, not protectionState).

    test_failed_over (TestFailoverCleanup allowed), failed_over (Commit allowed: failover awaiting commit),
    committed (ReverseReplicate allowed: committed, replication not yet reversed), protected (a failover allowed),
    in_progress (an operation runs and nothing is allowed), other.
    """
    return lifecycle_from(props(item).get("allowedOperations") or [], scenario_view(props(item).get("currentScenario")))


def lifecycle_from(allowed, scenario):
    if "TestFailoverCleanup" in allowed:
        return "test_failed_over"
    if "Commit" in allowed:
        return "failed_over"
    if "ReverseReplicate" in allowed:
        return "committed"
    if any(operation in allowed for operation in FAILOVER_OPERATIONS):
        return "protected"
    if scenario:
        return "in_progress"
    return "other"


def replication_direction(lifecycle, active_location):
    """The direction data flows when the item replicates: from the side it is active on."""
    if lifecycle not in ("protected", "test_failed_over") or active_location not in ("Primary", "Recovery"):
        return None
    return "PrimaryToRecovery" if active_location == "Primary" else "RecoveryToPrimary"


def health_errors(errors):
    return [{"code": error.get("errorCode"), "message": error.get("errorMessage") or error.get("summaryMessage"),
             "level": error.get("errorLevel"), "recommended_action": error.get("recommendedAction")} for error in errors or []]


def item_view(item):
    """A protected item as the modules return it."""
    p = props(item)
    provider = p.get("providerSpecificDetails") or {}
    lifecycle = item_lifecycle(item)
    fabric, container, name = item_location(item.get("id"))
    return {
        "name": name or item.get("name"),
        "id": item.get("id"),
        "friendly_name": p.get("friendlyName"),
        "fabric": fabric,
        "container": container,
        "primary_fabric": p.get("primaryFabricFriendlyName"),
        "recovery_fabric": p.get("recoveryFabricFriendlyName"),
        "primary_cloud": p.get("primaryProtectionContainerFriendlyName"),
        "recovery_cloud": p.get("recoveryProtectionContainerFriendlyName"),
        "recovery_container_id": p.get("recoveryContainerId"),
        "recovery_fabric_id": p.get("recoveryFabricId"),
        "policy": p.get("policyFriendlyName"),
        "policy_id": p.get("policyId"),
        "replication_provider": provider.get("instanceType"),
        "vm_id": provider.get("vmId"),
        "last_replicated_time": provider.get("lastReplicatedTime"),
        "protection_state": p.get("protectionState"),
        "protection_state_description": p.get("protectionStateDescription"),
        "lifecycle": lifecycle,
        "active_location": p.get("activeLocation"),
        "replication_direction": replication_direction(lifecycle, p.get("activeLocation")),
        "replication_health": p.get("replicationHealth"),
        "failover_health": p.get("failoverHealth"),
        "test_failover_state": p.get("testFailoverState"),
        "test_failover_state_description": p.get("testFailoverStateDescription"),
        "allowed_operations": list(p.get("allowedOperations") or []),
        "current_scenario": scenario_view(p.get("currentScenario")),
        "last_successful_failover_time": p.get("lastSuccessfulFailoverTime"),
        "last_successful_test_failover_time": p.get("lastSuccessfulTestFailoverTime"),
        "failover_recovery_point_id": p.get("failoverRecoveryPointId"),
        "health_errors": health_errors(p.get("healthErrors")),
    }


def plan_items(plan):
    """ARM ids of the protected items of a recovery plan, in group order, without duplicates."""
    seen = []
    for group in props(plan).get("groups") or []:
        for member in group.get("replicationProtectedItems") or []:
            if member.get("id") and not any(same_id(member["id"], known) for known in seen):
                seen.append(member["id"])
    return seen


def aggregate_location(views):
    """Primary / Recovery when all items agree, Mixed otherwise, None for an empty plan."""
    locations = {view.get("active_location") for view in views}
    if not locations:
        return None
    return locations.pop() if len(locations) == 1 else "Mixed"


def plan_view(plan, items_by_id):
    """A recovery plan with groups whose items carry their VM names, its lifecycle and the items' active location."""
    p = props(plan)
    members = [items_by_id.get(arm_id.lower()) for arm_id in plan_items(plan)]
    member_views = [item_view(item) for item in members if item]
    lifecycle = lifecycle_from(p.get("allowedOperations") or [], scenario_view(p.get("currentScenario")))
    return {
        "name": plan.get("name"),
        "id": plan.get("id"),
        "friendly_name": p.get("friendlyName"),
        "primary_fabric": p.get("primaryFabricFriendlyName"),
        "primary_fabric_id": p.get("primaryFabricId"),
        "recovery_fabric": p.get("recoveryFabricFriendlyName"),
        "recovery_fabric_id": p.get("recoveryFabricId"),
        "failover_deployment_model": p.get("failoverDeploymentModel"),
        "replication_providers": list(p.get("replicationProviders") or []),
        "allowed_operations": list(p.get("allowedOperations") or []),
        "lifecycle": lifecycle,
        "active_location": aggregate_location(member_views),
        "current_scenario": scenario_view(p.get("currentScenario")),
        "current_scenario_status": p.get("currentScenarioStatus"),
        "current_scenario_status_description": p.get("currentScenarioStatusDescription"),
        "last_planned_failover_time": p.get("lastPlannedFailoverTime"),
        "last_unplanned_failover_time": p.get("lastUnplannedFailoverTime"),
        "last_test_failover_time": p.get("lastTestFailoverTime"),
        "groups": [group_view(index, group, items_by_id) for index, group in enumerate(p.get("groups") or [])],
        "items": [{"name": view["friendly_name"], "id": view["id"], "active_location": view["active_location"], "lifecycle": view["lifecycle"],
                   "protection_state": view["protection_state"], "allowed_operations": view["allowed_operations"],
                   "replication_health": view["replication_health"]} for view in member_views],
    }


def group_view(index, group, items_by_id):
    members = []
    for member in group.get("replicationProtectedItems") or []:
        item = items_by_id.get((member.get("id") or "").lower())
        members.append({"id": member.get("id"), "name": props(item).get("friendlyName") if item else None,
                        "virtual_machine_id": member.get("virtualMachineId")})
    return {"index": index, "type": group.get("groupType"), "items": members,
            "start_actions": [action_view(action) for action in group.get("startGroupActions") or []],
            "end_actions": [action_view(action) for action in group.get("endGroupActions") or []]}


ACTION_KINDS = {"ScriptActionDetails": "script", "ManualActionDetails": "manual", "AutomationRunbookActionDetails": "runbook"}


def action_view(action):
    details = action.get("customDetails") or {}
    view = {"name": action.get("actionName"), "type": ACTION_KINDS.get(details.get("instanceType"), details.get("instanceType")),
            "failover_types": list(action.get("failoverTypes") or []), "failover_directions": list(action.get("failoverDirections") or [])}
    for key, wire in (("path", "path"), ("timeout", "timeout"), ("location", "fabricLocation"), ("description", "description")):
        if details.get(wire) is not None:
            view[key] = details[wire]
    return view


def fabric_view(fabric, providers):
    p = props(fabric)
    return {"name": fabric.get("name"), "id": fabric.get("id"), "friendly_name": p.get("friendlyName"), "type": fabric_type(fabric),
            "health": p.get("health"), "health_errors": health_errors(p.get("healthErrorDetails")),
            "providers": [provider_view(provider) for provider in providers]}


def provider_view(provider):
    p = props(provider)
    version = p.get("providerVersionDetails") or {}
    return {"name": provider.get("name"), "id": provider.get("id"), "friendly_name": p.get("friendlyName"),
            "connection_status": p.get("connectionStatus"), "connected": p.get("connectionStatus") == "Connected",
            "last_heartbeat": p.get("lastHeartBeat"), "provider_version": p.get("providerVersion"),
            "provider_version_state": p.get("providerVersionState"), "provider_version_status": version.get("status"),
            "server_version": p.get("serverVersion"), "protected_item_count": p.get("protectedItemCount"),
            "allowed_scenarios": list(p.get("allowedScenarios") or []), "health_errors": health_errors(p.get("healthErrorDetails"))}


def container_view(container, mappings):
    p = props(container)
    return {"name": container.get("name"), "id": container.get("id"), "friendly_name": p.get("friendlyName"),
            "fabric": id_segment(container.get("id"), "replicationFabrics"), "fabric_friendly_name": p.get("fabricFriendlyName"),
            "fabric_type": p.get("fabricType"), "pairing_status": p.get("pairingStatus"), "role": p.get("role"),
            "protected_item_count": p.get("protectedItemCount"), "mappings": [mapping_view(mapping) for mapping in mappings]}


def mapping_view(mapping):
    p = props(mapping)
    return {"name": mapping.get("name"), "id": mapping.get("id"), "primary_cloud": p.get("sourceProtectionContainerFriendlyName"),
            "primary_container": id_segment(mapping.get("id"), "replicationProtectionContainers"),
            "recovery_cloud": p.get("targetProtectionContainerFriendlyName"), "recovery_container_id": p.get("targetProtectionContainerId"),
            "policy": p.get("policyFriendlyName"), "policy_id": p.get("policyId"), "state": p.get("state"), "health": p.get("health"),
            "primary_fabric": p.get("sourceFabricFriendlyName"), "recovery_fabric": p.get("targetFabricFriendlyName"),
            "health_errors": health_errors(p.get("healthErrorDetails"))}


def network_view(network, mappings):
    p = props(network)
    return {"name": network.get("name"), "id": network.get("id"), "friendly_name": p.get("friendlyName"),
            "fabric": id_segment(network.get("id"), "replicationFabrics"), "network_type": p.get("networkType"),
            "subnets": [{"name": s.get("name"), "friendly_name": s.get("friendlyName"), "address_list": list(s.get("addressList") or [])}
                        for s in p.get("subnets") or []],
            "mappings": [network_mapping_view(mapping) for mapping in mappings]}


def network_mapping_view(mapping):
    p = props(mapping)
    return {"name": mapping.get("name"), "id": mapping.get("id"), "state": p.get("state"),
            "primary_network": p.get("primaryNetworkFriendlyName"), "primary_network_id": p.get("primaryNetworkId"),
            "recovery_network": p.get("recoveryNetworkFriendlyName"), "recovery_network_id": p.get("recoveryNetworkId"),
            "primary_fabric": p.get("primaryFabricFriendlyName"), "recovery_fabric": p.get("recoveryFabricFriendlyName"),
            "type": (p.get("fabricSpecificSettings") or {}).get("instanceType")}


def recovery_point_view(point):
    p = props(point)
    return {"name": point.get("name"), "id": point.get("id"), "time": p.get("recoveryPointTime"), "type": p.get("recoveryPointType")}


# ---------------------------------------------------------------- replication policies (HyperVReplica2012R2)

POLICY_PROVIDER = "HyperVReplica2012R2"
AUTHENTICATION_TYPES = {"kerberos": 1, "certificate": 2}
REPLICATION_METHODS = {"over_network": "OverNetwork", "offline": "Offline"}


def policy_settings(details):
    """Option-named settings of a HyperVReplicaBluePolicyDetails read-back (asr-api.md §6 replication policy)."""
    details = details or {}
    deletion = details.get("replicaDeletionOption", details.get("replicaDeletion"))
    return {
        "replication_frequency": details.get("replicationFrequencyInSeconds"),
        "recovery_points": details.get("recoveryPoints"),
        "app_consistent_frequency": details.get("applicationConsistentSnapshotFrequencyInHours"),
        "compression": None if details.get("compression") is None else details["compression"].lower() == "enable",
        "initial_replication_method": _reverse(REPLICATION_METHODS, details.get("initialReplicationMethod")),
        "online_replication_start_time": details.get("onlineReplicationStartTime"),
        "offline_import_path": details.get("offlineReplicationImportPath"),
        "offline_export_path": details.get("offlineReplicationExportPath"),
        "replication_port": details.get("replicationPort"),
        "authentication": _reverse(AUTHENTICATION_TYPES, details.get("allowedAuthenticationType")),
        # Input says Required/NotRequired, the read-back OnRecoveryCloud/None (asr-api.md §6).
        "allow_replica_deletion": None if deletion is None else deletion in ("OnRecoveryCloud", "Required"),
    }


def policy_input(settings):
    """HyperVReplicaBluePolicyInput (wire names) from option-named settings."""
    wire = {
        "instanceType": POLICY_PROVIDER,
        "replicationFrequencyInSeconds": settings["replication_frequency"],
        "recoveryPoints": settings["recovery_points"],
        "applicationConsistentSnapshotFrequencyInHours": settings["app_consistent_frequency"],
        "compression": "Enable" if settings["compression"] else "Disable",
        "initialReplicationMethod": REPLICATION_METHODS[settings["initial_replication_method"]],
        "onlineReplicationStartTime": settings["online_replication_start_time"],
        "offlineReplicationImportPath": settings["offline_import_path"],
        "offlineReplicationExportPath": settings["offline_export_path"],
        "replicationPort": settings["replication_port"],
        "allowedAuthenticationType": AUTHENTICATION_TYPES[settings["authentication"]],
        "replicaDeletion": "Required" if settings["allow_replica_deletion"] else "NotRequired",
    }
    return {key: value for key, value in wire.items() if value is not None}


def _reverse(mapping, value):
    for key, wire in mapping.items():
        if wire == value or (isinstance(value, str) and isinstance(wire, str) and wire.lower() == value.lower()):
            return key
    return value


def policy_view(policy):
    p = props(policy)
    details = p.get("providerSpecificDetails") or {}
    return {"name": policy.get("name"), "id": policy.get("id"), "friendly_name": p.get("friendlyName"),
            "provider": details.get("instanceType"),
            "settings": policy_settings(details) if details.get("instanceType") == POLICY_PROVIDER else None}
