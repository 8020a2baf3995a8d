"""JSON of the vault's resources, shaped like the site recovery API's models (asr-api.md §4-§6; the spec's
2025-08-01 examples for ReplicationJobs_Get, ReplicationRecoveryServicesProviders_Get,
ReplicationProtectedItems_PlannedFailover and ReplicationProtectionContainerMappings_Get).
Properties the reference does not describe for VMM-to-VMM are left out rather than invented."""

from __future__ import annotations

import datetime
import uuid

from lab.vault import items as itemmod
from lab.vault import plans as planmod
from lab.vault import setup
from lab.vault.state import IDLE_START, PROVIDER_VERSION

_T = "Microsoft.RecoveryServices/vaults"
_FABRIC_T = _T + "/replicationFabrics"
_CONTAINER_T = _FABRIC_T + "/replicationProtectionContainers"
# lab/cmdlets/vmm.py claims VMM 2022 (10.22.1287.0); the provider reports the same server version.
_VMM_VERSION = "10.22.1287.0"


def ts(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _resource(vault, rid: str, name: str, kind: str, properties: dict) -> dict:
    return {"id": rid, "name": name, "type": kind, "location": vault.location, "properties": properties}


def vault_resource(vault) -> dict:
    # Microsoft.RecoveryServices/vaults (a different API from site recovery's; only what a client checks).
    return {"id": vault.id, "name": vault.name, "type": _T, "location": vault.location, "tags": {}, "sku": {"name": "Standard"},
            "etag": 'W/"datetime\'{0}\'"'.format(ts(vault.started)), "properties": {"provisioningState": "Succeeded"}}


def fabric(vault, now: datetime.datetime) -> dict:
    connected = vault.provider_connected(now)
    return _resource(vault, vault.fabric_id(), vault.fabric, _FABRIC_T, {
        "friendlyName": vault.vmm.fqdn, "internalIdentifier": vault.vmm.object_id("server"), "bcdrState": "Valid",
        "health": "Normal" if connected else "Warning", "healthErrorDetails": [] if connected else [_provider_health(vault, now)],
        "customDetails": {"instanceType": "VMM"}})


def _provider_health(vault, now: datetime.datetime) -> dict:
    error = vault.not_connected_error(now).service
    return {"errorCode": error["code"], "errorMessage": error["message"], "possibleCauses": error["possibleCauses"],
            "recommendedAction": error["recommendedAction"], "errorLevel": "Error", "errorSource": "Provider",
            "creationTimeUtc": ts(vault.last_heartbeat(now)), "entityId": vault.provider, "innerHealthErrors": []}


def provider(vault, now: datetime.datetime) -> dict:
    connected = vault.provider_connected(now)
    identity = {"tenantId": vault.tenant, "applicationId": vault.client_id, "objectId": str(uuid.uuid5(uuid.UUID(vault.tenant), "provider")),
                "audience": "https://microsoft.onmicrosoft.com/RecoveryServices", "aadAuthority": "https://login.windows.net/" + vault.tenant}
    return _resource(vault, vault.provider_id(), vault.provider, _FABRIC_T + "/replicationRecoveryServicesProviders", {
        "fabricType": "VMM", "friendlyName": vault.vmm.fqdn, "fabricFriendlyName": vault.vmm.fqdn, "providerVersion": PROVIDER_VERSION,
        "serverVersion": _VMM_VERSION, "providerVersionState": "Latest",
        "providerVersionDetails": {"version": PROVIDER_VERSION, "expiryDate": None, "status": "Supported"},
        "connectionStatus": "Connected" if connected else "NotConnected", "lastHeartBeat": ts(vault.last_heartbeat(now)),
        "protectedItemCount": len(vault.items), "allowedScenarios": ["Refresh"] if connected else [],
        "healthErrorDetails": [] if connected else [_provider_health(vault, now)], "draIdentifier": vault.provider,
        "machineName": vault.vmm.name, "machineId": vault.vmm.object_id("machine"), "biosId": vault.vmm.object_id("bios"),
        "authenticationIdentityDetails": identity, "resourceAccessIdentityDetails": identity})


def container(vault, cloud: str) -> dict:
    paired = any(cloud in (m.source, m.target) for m in vault.mappings.values())
    return _resource(vault, vault.container_id(cloud), vault.containers[cloud], _CONTAINER_T, {
        "fabricFriendlyName": vault.vmm.fqdn, "friendlyName": cloud, "fabricType": "VMM",
        "protectedItemCount": sum(1 for i in vault.items.values() if i.cloud == cloud),
        "pairingStatus": "Paired" if paired else "NotPaired", "role": "", "fabricSpecificDetails": {"instanceType": "VMM"}})


def container_mapping(vault, mapping) -> dict:
    return _resource(vault, vault.mapping_id(mapping), mapping.name, _CONTAINER_T + "/replicationProtectionContainerMappings", {
        "targetProtectionContainerId": vault.container_id(mapping.target), "targetProtectionContainerFriendlyName": mapping.target,
        "health": "Normal", "healthErrorDetails": [], "policyId": vault.policy_id(mapping.policy), "policyFriendlyName": mapping.policy,
        "state": "Paired", "sourceFabricFriendlyName": vault.vmm.fqdn, "targetFabricFriendlyName": vault.vmm.fqdn,
        "sourceProtectionContainerFriendlyName": mapping.source})


def policy(vault, record) -> dict:
    return _resource(vault, vault.policy_id(record.name), record.name, _T + "/replicationPolicies", {
        "friendlyName": record.name, "providerSpecificDetails": setup.policy_details(record)})


def _subnet(vault, net: str) -> dict:
    clouds = sorted(vault.vmm.clouds)
    names = sorted(vault.networks, key=lambda n: vault.networks[n]["friendly"].lower())
    # INFERRED addressing: one /24 per VM network.
    prefix = "10.{0}.{1}.0/24".format(clouds.index(vault.networks[net]["cloud"]) + 1, names.index(net))
    friendly = vault.networks[net]["friendly"]
    return {"name": friendly + "-subnet", "friendlyName": friendly + "-subnet", "addressList": [prefix]}


def network(vault, net: str) -> dict:
    return _resource(vault, vault.network_id(net), net, _FABRIC_T + "/replicationNetworks", {
        "fabricType": "VMM", "networkType": "VmNetwork", "friendlyName": vault.networks[net]["friendly"], "subnets": [_subnet(vault, net)]})


def network_mapping(vault, mapping) -> dict:
    return _resource(vault, vault.network_mapping_id(mapping), mapping.name, _FABRIC_T + "/replicationNetworks/replicationNetworkMappings", {
        "state": "Paired", "primaryNetworkFriendlyName": vault.networks[mapping.primary]["friendly"],
        "primaryNetworkId": vault.network_id(mapping.primary), "primaryFabricFriendlyName": vault.vmm.fqdn,
        "recoveryNetworkFriendlyName": vault.networks[mapping.recovery]["friendly"], "recoveryNetworkId": vault.network_id(mapping.recovery),
        "recoveryFabricArmId": vault.fabric_id(), "recoveryFabricFriendlyName": vault.vmm.fqdn,
        "fabricSpecificSettings": {"instanceType": "VmmToVmm"}})


# ---- VMs ----------------------------------------------------------------------------------------------
def protectable_vms(vault, cloud: str) -> list:
    """VMs of a cloud: the current (primary) copy of each VM on the cloud's hosts; never a Replica or test copy, nor the VMM VM."""
    hosts = vault.cloud_hosts(cloud)
    out = []
    for vm in vault.world.vms.values():
        if vm.host not in hosts or vm.test_of or vm.role == "vmm_server":
            continue
        if vm.replication is not None and vm.replication.mode_on(vm.host) not in ("Primary", "None"):
            continue
        out.append(vm)
    return sorted(out, key=lambda v: v.name.lower())


def protectable_vm(vault, cloud: str, name: str):
    return next((vm for vm in protectable_vms(vault, cloud) if vm.id.lower() == name.lower()), None)


def protectable_item(vault, cloud: str, vm) -> dict:
    owner = vault.item_by_vm(vm.name)
    errors = []
    if owner is None and vm.replication is not None:
        errors.append("Replication is already enabled for the virtual machine in Hyper-V (outside Azure Site Recovery).")
    disk = {"maxSizeMB": int(vm.disk_gb * 1024), "vhdType": "OperatingSystem", "vhdId": str(uuid.uuid5(uuid.UUID(vm.id), "disk0")),
            "vhdName": vm.name + ".vhdx"}
    return _resource(vault, vault.protectable_id(cloud, vm.id), vm.id, _CONTAINER_T + "/replicationProtectableItems", {
        "friendlyName": vm.name, "protectionStatus": "Protected" if owner else "Unprotected",
        "replicationProtectedItemId": vault.item_id(owner) if owner else None, "recoveryServicesProviderId": vault.provider_id(),
        "protectionReadinessErrors": errors, "supportedReplicationProviders": ["HyperVReplica2012", "HyperVReplica2012R2"],
        "customDetails": {"instanceType": "HyperVVirtualMachine", "sourceItemId": vm.id, "generation": str(vm.generation),
                          "hasPhysicalDisk": False, "hasFibreChannelAdapter": False, "hasSharedVhd": False, "diskDetails": [disk]}})


def _scenario(vault, job) -> dict:
    if job is None:
        return {"scenarioName": "None", "jobId": vault.job_id("None"), "startTime": IDLE_START}
    return {"scenarioName": job.scenario, "jobId": vault.job_id(job.name), "startTime": ts(job.start)}


def protected_item(vault, item, now: datetime.datetime) -> dict:
    view = itemmod.view(vault, item, now)
    rel = view.rel
    scenario_job = view.job
    if scenario_job is None and view.test_vm:
        # asr-api.md §4: during a drill currentScenario stays TestFailover with the test failover's job.
        scenario_job = vault.last_job(item=item, scenario="TestFailover")
    test_state, test_text = itemmod.test_state(view)
    point_id = None
    if rel is not None and rel.failover and rel.failover.get("point") is not None:
        point_id = vault.recovery_point_id(item, rel.snapshot_id(rel.failover["point"]))
    details = {"instanceType": "HyperVReplica2012R2", "vmId": item.vm_id, "vmNics": [], "vMDiskDetails": []}
    if rel is not None:
        last = rel.last_replication_time(now)
        host = rel.replica_host
        details.update(lastReplicatedTime=ts(last), vmProtectionState=rel.state_on(host), vmProtectionStateDescription=rel.state_on(host),
                       initialReplicationDetails=_initial(rel, now))
    return _resource(vault, vault.item_id(item), item.name, _CONTAINER_T + "/replicationProtectedItems", {
        "friendlyName": item.vm, "protectedItemType": "HyperVVirtualMachine", "protectableItemId": vault.protectable_id(item.cloud, item.vm_id),
        "recoveryServicesProviderId": vault.provider_id(), "primaryFabricFriendlyName": vault.vmm.fqdn, "primaryFabricProvider": "VMM",
        "recoveryFabricFriendlyName": vault.vmm.fqdn, "recoveryFabricId": vault.fabric_id(),
        "primaryProtectionContainerFriendlyName": item.cloud, "recoveryProtectionContainerFriendlyName": item.recovery_cloud,
        "recoveryContainerId": vault.container_id(item.recovery_cloud),
        "protectionState": view.protection_state, "protectionStateDescription": view.description, "activeLocation": view.active,
        "testFailoverState": test_state, "testFailoverStateDescription": test_text, "allowedOperations": list(view.allowed),
        "replicationHealth": view.health, "failoverHealth": "Normal", "healthErrors": _health_errors(rel, now),
        "policyId": vault.policy_id(item.policy), "policyFriendlyName": item.policy,
        "lastSuccessfulFailoverTime": ts(item.last_failover), "lastSuccessfulTestFailoverTime": ts(item.last_test_failover),
        "currentScenario": _scenario(vault, scenario_job), "failoverRecoveryPointId": point_id, "providerSpecificDetails": details})


def _initial(rel, now: datetime.datetime) -> dict:
    if rel.job is None or rel.job["kind"] != "ir":
        done = rel.state not in ("ReadyForInitialReplication", "InitialReplicationInProgress")
        return {"initialReplicationType": "InitialReplication", "initialReplicationProgressPercentage": 100 if done else 0}
    total = (rel.job["end"] - rel.job["start"]).total_seconds()
    spent = (now - rel.job["start"]).total_seconds()
    return {"initialReplicationType": "InitialReplication",
            "initialReplicationProgressPercentage": max(0, min(99, int(100 * spent / total))) if total > 0 else 0}


def _health_errors(rel, now: datetime.datetime) -> list:
    if rel is None:
        return [{"errorCode": "ReplicationNotEnabled", "errorMessage": "Replication is not enabled for the virtual machine.",
                 "errorLevel": "Error", "errorSource": "Provider", "customerResolvability": "Allowed", "innerHealthErrors": []}]
    health = rel.health(now)
    # INFERRED codes; the messages are Measure-VMReplication's health details (lab/world/replication.py).
    return [{"errorCode": "ReplicationHealth" + health, "errorMessage": text, "errorLevel": "Error" if health == "Critical" else "Warning",
             "errorSource": "Provider", "creationTimeUtc": ts(now), "customerResolvability": "Allowed", "innerHealthErrors": []}
            for text in rel.health_details(now)]


def recovery_point(vault, item, name: str, point) -> dict:
    # asr-api.md §2 RecoveryPointProperties; HRS §4 application-consistent (VSS) vs crash-consistent (standard) points.
    kind = "ApplicationConsistent" if point.kind == "AppConsistentReplica" else "CrashConsistent"
    return _resource(vault, vault.recovery_point_id(item, name), name, _CONTAINER_T + "/replicationProtectedItems/recoveryPoints", {
        "recoveryPointTime": ts(point.time), "recoveryPointType": kind})


# ---- recovery plans and jobs --------------------------------------------------------------------------------
def recovery_plan(vault, plan, now: datetime.datetime) -> dict:
    job = vault.job_on_plan(plan)
    last = vault.last_job(plan=plan)
    groups = [{"groupType": g["groupType"], "replicationProtectedItems": [
        {"id": vault.item_id(vault.items[n.lower()]), "virtualMachineId": vault.items[n.lower()].vm_id} for n in g["items"] if n.lower() in vault.items],
        "startGroupActions": g["startGroupActions"], "endGroupActions": g["endGroupActions"]} for g in plan.groups]
    return _resource(vault, vault.plan_id(plan), plan.name, _T + "/replicationRecoveryPlans", {
        "friendlyName": plan.name, "primaryFabricId": vault.fabric_id(), "primaryFabricFriendlyName": vault.vmm.fqdn,
        "recoveryFabricId": vault.fabric_id(), "recoveryFabricFriendlyName": vault.vmm.fqdn, "failoverDeploymentModel": "NotApplicable",
        "replicationProviders": ["HyperVReplica2012R2"], "allowedOperations": planmod.allowed_operations(vault, plan, now),
        "lastPlannedFailoverTime": ts(plan.last_planned), "lastUnplannedFailoverTime": ts(plan.last_unplanned),
        "lastTestFailoverTime": ts(plan.last_test), "currentScenario": _scenario(vault, job),
        "currentScenarioStatus": last.state if last else None, "currentScenarioStatusDescription": last.description if last else None,
        "groups": groups, "providerSpecificDetails": []})


def _task(task) -> dict:
    out = {"taskId": task.task_id, "name": task.name, "friendlyName": task.friendly, "state": task.state,
           "stateDescription": task.description, "startTime": ts(task.start), "endTime": ts(task.end), "allowedActions": [],
           "taskType": "TaskDetails", "errors": [_error(e, task.task_id) for e in task.errors],
           "customDetails": task.details or {"instanceType": "JobTaskDetails"}}
    if task.kind == "group":
        out["taskType"] = "GroupTaskDetails"
        out["groupTaskCustomDetails"] = {"instanceType": "RecoveryPlanGroupTaskDetails", "groupId": task.group["groupId"],
                                         "rpGroupType": task.group["rpGroupType"], "name": task.name,
                                         "childTasks": [_child(task, lane) for lane in task.lanes]}
    return out


def _child(task, lane) -> dict:
    if lane.error is not None:
        state = "Failed"
    elif lane.done():
        state = "Succeeded"
    else:
        state = "InProgress"
    return {"taskId": str(uuid.uuid5(uuid.UUID(task.task_id), lane.label)), "name": task.name,
            "friendlyName": "{0}: {1}".format(task.friendly, lane.label), "state": state,
            "stateDescription": "Completed" if state == "Succeeded" else state, "startTime": ts(lane.started),
            "endTime": ts(lane.time) if lane.done() else None, "allowedActions": [], "taskType": "TaskDetails", "errors": []}


def _error(entry: dict, task_id: str) -> dict:
    out = {"serviceErrorDetails": entry["serviceErrorDetails"], "errorLevel": entry["errorLevel"], "creationTime": ts(entry["creationTime"]),
           "taskId": task_id}
    if entry.get("providerErrorDetails"):
        out["providerErrorDetails"] = entry["providerErrorDetails"]
    return out


def job(vault, record) -> dict:
    return {"id": vault.job_id(record.name), "name": record.name, "type": _T + "/replicationJobs", "location": vault.location, "properties": {
        "activityId": record.activity, "scenarioName": record.scenario, "friendlyName": record.friendly, "state": record.state,
        "stateDescription": record.description, "tasks": [_task(t) for t in record.tasks],
        "errors": [_error(e, e["taskId"]) for e in record.errors()], "startTime": ts(record.start), "endTime": ts(record.end),
        "allowedActions": record.allowed_actions(), "targetObjectId": record.target_id, "targetObjectName": record.target_name,
        "targetInstanceType": record.target_type,
        "customDetails": {"instanceType": "AsrJobDetails", "affectedObjectDetails": record.affected}}}
