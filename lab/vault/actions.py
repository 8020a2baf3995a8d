"""ASR operations on protected items and setup objects: checked at once (a 400 before any job, like the
service's validation), then run as a job (202 + Location, asr-api.md §5).

What the lab refuses with 400 (INFERRED codes, ASR's details shape, lab/vault/errors.py):
- an operation that is not in the item's allowedOperations (asr-api.md §4: the vocabulary gates the calls);
- a failover/reprotect direction that does not leave the item's active location;
- a second operation while a job acts on the item;
- references (policyId, protectableItemId, container, network ids) that do not name objects of this vault.
What fails inside the job instead (JobErrorDetails): anything that needs the provider on the VMM server
while it is not connected, and every Hyper-V refusal (lab/vault/steps.py).
"""

from __future__ import annotations

import datetime
import uuid

from lab.vault import ids, items as itemmod, setup, steps, validate
from lab.vault.errors import ArmError, bad_request, not_found
from lab.vault.jobs import Job, Lane, Task
from lab.vault.state import Item, Mapping, NetworkMapping, Policy

_SOURCE_SIDE = {"PrimaryToRecovery": "Primary", "RecoveryToPrimary": "Recovery"}


# ---- shared -----------------------------------------------------------------------------------------
def one_lane(label: str, *step_list):
    def build(ctx):
        del ctx
        return [Lane(label, list(step_list))]
    return build


def task(name: str, friendly: str, *step_list, label: str = "", overhead: float = 0.0) -> Task:
    return Task(name, friendly, one_lane(label or name, *step_list), overhead)


def affected(vault, item: Item | None = None) -> dict:
    """AsrJobDetails.affectedObjectDetails (asr-api.md §5: PrimaryVmmId/Name, RecoveryVmmId/Name, PrimaryCloudId/Name ...)."""
    out = {"PrimaryVmmId": vault.vmm.object_id("server"), "PrimaryVmmName": vault.vmm.fqdn,
           "RecoveryVmmId": vault.vmm.object_id("server"), "RecoveryVmmName": vault.vmm.fqdn}
    if item is not None:
        out.update(PrimaryCloudId=vault.vmm.object_id("cloud", item.cloud), PrimaryCloudName=item.cloud,
                   RecoveryCloudId=vault.vmm.object_id("cloud", item.recovery_cloud), RecoveryCloudName=item.recovery_cloud)
    return out


def new_job(vault, scenario: str, friendly: str, target: tuple, tasks: list, resource_id: str, **kwargs) -> Job:
    target_type, target_id, target_name = target
    job = Job(str(uuid.uuid4()), scenario, friendly, target_type, target_id, target_name, tasks, resource_id, vault.world.clock.now(),
              **kwargs)
    return vault.start_job(job)


def store(records: dict, key: str, value):
    """A job's on_success that records what the job created (the resource exists once its job succeeded)."""
    def done():
        records[key.lower()] = value
    return done


def item_target(item: Item) -> tuple:
    return "ProtectionEntity", item.name, item.vm


def _ready(vault, item: Item, operation: str, now: datetime.datetime) -> itemmod.ItemView:
    view = itemmod.view(vault, item, now)
    if view.job is not None:
        raise bad_request("OperationInProgress", "Another operation ({0}, job {1}) is in progress on protected item '{2}'. Wait for the job "
                          "to finish.".format(view.job.scenario, view.job.name, item.vm), "A job is running on the item.",
                          "Wait for the job to complete, or cancel it.")
    if operation not in view.allowed:
        raise bad_request("OperationNotAllowed", "The operation '{0}' is not allowed for protected item '{1}' in its current state "
                          "(protectionState {2}, activeLocation {3}; allowed operations: {4}).".format(
                              operation, item.vm, view.protection_state, view.active, ", ".join(view.allowed) or "none"),
                          "The item's replication state does not permit the operation.", "Check allowedOperations of the item.")
    return view


def _direction(view: itemmod.ItemView, given: str | None, operation: str) -> str:
    expected = itemmod.expected_direction(view)
    if given is not None and given != expected:
        raise bad_request("InvalidFailoverDirection", "The direction '{0}' is not valid for {1} of '{2}': the item is active at the {3} "
                          "site, so the direction is '{4}'.".format(given, operation, view.item.vm, view.active.lower(), expected),
                          "The failover direction does not match the item's active location.", "Use failoverDirection " + expected + ".")
    return expected


def _reachable_check(item: Item, side_from: str):
    """Prerequisites: the hosts the operation needs answer (a planned failover needs both sites)."""
    def check(ctx):
        rel = steps.relationship(ctx, item)
        for host in (rel.primary_host, rel.replica_host):
            if side_from == "both" or ctx.vault.side_of(item, host) == side_from:
                if not ctx.world.host_reachable(host):
                    raise steps.unreachable(ctx, host, item.vm)
    return check


def _touch_failover(vault, item: Item):
    def done():
        item.last_failover = vault.world.clock.now()
    return done


# ---- protected item actions (asr-api.md §2) ----------------------------------------------------------------
def planned_failover(vault, item: Item, body) -> Job:
    props = validate.props(validate.body_of(validate.PLANNED_FAILOVER, body, required=True))
    view = _ready(vault, item, "PlannedFailover", vault.world.clock.now())
    direction = _direction(view, props.get("failoverDirection"), "planned failover")
    target = "Recovery" if direction == "PrimaryToRecovery" else "Primary"
    tasks = [task("PrerequisitesCheck", "Prerequisites check for planned failover", steps.prerequisites(_reachable_check(item, "both"))),
             task("ShutdownVirtualMachine", "Shut down the virtual machine", steps.shutdown_source(item, False)),
             task("SynchronizeData", "Synchronize data", steps.prepare(item, False)),
             task("Failover", "Start failover", steps.failover(item)),
             task("StartVirtualMachine", "Start the replica virtual machine", steps.start_target(item))]
    return new_job(vault, "PlannedFailover", "Planned failover", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=dict(affected(vault, item), FailoverDirection=direction, TargetSide=target),
                   on_success=_touch_failover(vault, item), result=lambda: _item_body(vault, item))


def unplanned_failover(vault, item: Item, body) -> Job:
    props = validate.props(validate.body_of(validate.UNPLANNED_FAILOVER, body, required=True))
    view = _ready(vault, item, "UnplannedFailover", vault.world.clock.now())
    direction = _direction(view, props.get("failoverDirection"), "unplanned failover")
    # asr-api.md §2: Required = shut down / sync the source first (Az PowerShell -PerformSourceSideAction); INFERRED default NotRequired.
    source_ops = props.get("sourceSiteOperations") or "NotRequired"
    tasks = [task("PrerequisitesCheck", "Prerequisites check for unplanned failover",
                  steps.prerequisites(_reachable_check(item, view.other)))]
    if source_ops == "Required":
        tasks += [task("ShutdownVirtualMachine", "Shut down the virtual machine", steps.shutdown_source(item, True)),
                  task("SynchronizeData", "Synchronize data", steps.prepare(item, True))]
    tasks += [task("Failover", "Start failover", steps.failover(item)),
              task("StartVirtualMachine", "Start the replica virtual machine", steps.start_target(item))]
    return new_job(vault, "UnplannedFailover", "Unplanned failover", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=dict(affected(vault, item), FailoverDirection=direction, SourceSiteOperations=source_ops),
                   on_success=_touch_failover(vault, item), result=lambda: _item_body(vault, item))


def test_network(vault, view: itemmod.ItemView, props: dict) -> str | None:
    """networkType / networkId of a test failover (asr-api.md §2): a VM network of the recovery-side cloud, or none."""
    kind = props.get("networkType") or "NoNetworkAttachAsInput"  # INFERRED default when a client leaves it out
    if kind not in validate.NETWORK_TYPES:
        raise bad_request("InvalidNetworkType", "networkType '{0}' is not valid; use one of {1}.".format(kind, ", ".join(validate.NETWORK_TYPES)),
                          "The test failover network type is unknown.", "Use VmNetworkAsInput with a networkId, or NoNetworkAttachAsInput.")
    if kind == "LogicalNetworkAsInput":
        raise bad_request("LabNotModelled", "The lab's vault does not model logical networks (networkType LogicalNetworkAsInput).",
                          "Logical networks are a legacy option.", "Use VmNetworkAsInput or NoNetworkAttachAsInput.")
    if kind == "NoNetworkAttachAsInput":
        return None
    given = props.get("networkId")
    names = ids.name_of(given or "", vault.id, "replicationFabrics", "replicationNetworks")
    net = names and names[0].lower() == vault.fabric.lower() and vault.network_named(names[1])
    test_cloud = view.item.recovery_cloud if view.active == "Primary" else view.item.cloud
    if not net or vault.networks[net]["cloud"] != test_cloud:
        raise bad_request("InvalidNetworkId", "networkId '{0}' is not a VM network of cloud '{1}', where the test virtual machine is "
                          "created.".format(given, test_cloud), "The network does not exist on the recovery side.",
                          "List replicationNetworks of the fabric and pass the id of a network of the recovery cloud.")
    return net


def test_failover(vault, item: Item, body) -> Job:
    props = validate.props(validate.body_of(validate.TEST_FAILOVER, body, required=True))
    view = _ready(vault, item, "TestFailover", vault.world.clock.now())
    direction = _direction(view, props.get("failoverDirection"), "test failover")
    network = test_network(vault, view, props)

    def done():
        item.last_test_failover = vault.world.clock.now()
        item.test_network = network
    tasks = [task("PrerequisitesCheck", "Prerequisites check for test failover", steps.prerequisites(_reachable_check(item, view.other))),
             task("CreateTestVirtualMachine", "Create the test virtual machine", steps.test_failover(item)),
             task("StartTestVirtualMachine", "Start the test virtual machine", steps.start_test(item))]
    return new_job(vault, "TestFailover", "Test failover", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=dict(affected(vault, item), FailoverDirection=direction), on_success=done, result=lambda: _item_body(vault, item))


def test_failover_cleanup(vault, item: Item, body) -> Job:
    validate.body_of(validate.TEST_FAILOVER_CLEANUP, body, required=True)
    _ready(vault, item, "TestFailoverCleanup", vault.world.clock.now())
    tasks = [task("CleanupTestFailover", "Clean up the test environment", steps.cleanup_test(item, steps.CLEANUP_S))]

    def done():
        item.test_network = None
    return new_job(vault, "TestFailoverCleanup", "Cleanup test failover", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=affected(vault, item), on_success=done, result=lambda: _item_body(vault, item))


def commit(vault, item: Item, body) -> Job:
    del body  # ReplicationProtectedItems_FailoverCommit takes no body (asr-api.md §2)
    _ready(vault, item, "Commit", vault.world.clock.now())
    tasks = [task("PrerequisitesCheck", "Prerequisites check for commit", steps.prerequisites(seconds=0.0)),
             task("CommitFailover", "Commit the failover", steps.commit(item))]
    return new_job(vault, "Commit", "Commit", item_target(item), tasks, vault.item_id(item), items=(item.name,), affected=affected(vault, item),
                   result=lambda: _item_body(vault, item))


def cancel_failover(vault, item: Item, body) -> Job:
    del body  # no body (asr-api.md §2 FailoverCancel)
    _ready(vault, item, "CancelFailover", vault.world.clock.now())
    tasks = [task("PrerequisitesCheck", "Prerequisites check for cancel failover", steps.prerequisites(seconds=0.0)),
             task("CancelFailover", "Cancel the failover", steps.cancel_failover(item), steps.cancel_prepare(item))]
    return new_job(vault, "CancelFailover", "Cancel failover", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=affected(vault, item), result=lambda: _item_body(vault, item))


def reprotect(vault, item: Item, body) -> Job:
    props = validate.props(validate.body_of(validate.REVERSE_REPLICATION, body, required=True))
    view = _ready(vault, item, "ReverseReplicate", vault.world.clock.now())
    direction = _direction(view, props.get("failoverDirection"), "reprotect")
    tasks = [task("PrerequisitesCheck", "Prerequisites check for reverse replication", steps.prerequisites(_reachable_check(item, "both"))),
             task("PrepareReverseReplication", "Prepare the virtual machine at the other site", steps.make_old_primary_replica(item)),
             task("ReverseReplication", "Reverse replication", steps.reverse(item)),
             task("StartInitialReplication", "Start initial replication", steps.start_initial_replication(item))]
    return new_job(vault, "Reprotect", "Reverse replicate", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=dict(affected(vault, item), FailoverDirection=direction), result=lambda: _item_body(vault, item))


def repair_replication(vault, item: Item, body) -> Job:
    del body  # no body (asr-api.md §2 RepairReplication)
    _ready(vault, item, "RepairReplication", vault.world.clock.now())
    tasks = [task("PrerequisitesCheck", "Prerequisites check for resynchronization", steps.prerequisites(_reachable_check(item, "both"))),
             task("Resynchronize", "Resynchronize replication", steps.resynchronize(item))]
    return new_job(vault, "RepairReplication", "Resynchronize", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=affected(vault, item), result=lambda: _item_body(vault, item))


def apply_recovery_point(vault, item: Item, body) -> Job:
    props = validate.props(validate.body_of(validate.APPLY_RECOVERY_POINT, body, required=True))
    now = vault.world.clock.now()
    _ready(vault, item, "ChangePit", now)
    given = props.get("recoveryPointId")
    names = ids.parse(given or "", vault.item_id(item))
    points = dict(itemmod.recovery_points(vault, item, now))
    name = names[0][1] if names and len(names) == 1 and names[0][0] == "recoverypoints" else None
    match = next((key for key in points if name and key.lower() == name.lower()), None)
    if match is None:
        # INFERRED: E2E has no provider-specific way to pick a point, so recoveryPointId is needed here.
        raise bad_request("InvalidRecoveryPoint", "recoveryPointId '{0}' is not a recovery point of protected item '{1}'.".format(given, item.vm),
                          "The recovery point does not exist or was deleted (commit keeps only the point failed over to).",
                          "List the item's recoveryPoints and pass the id of one of them.")
    tasks = [task("PrerequisitesCheck", "Prerequisites check for change recovery point", steps.prerequisites(seconds=0.0)),
             task("ChangeRecoveryPoint", "Change the recovery point", *steps.failover_to_point(item, match))]
    return new_job(vault, "ChangePit", "Change recovery point", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=affected(vault, item), result=lambda: _item_body(vault, item))


def disable_protection(vault, item: Item, body) -> Job:
    validate.body_of(validate.DISABLE_PROTECTION, body, required=True)
    _ready(vault, item, "DisableProtection", vault.world.clock.now())
    in_plan = [plan.name for plan in vault.plans.values() if any(item.name in g["items"] for g in plan.groups)]
    if in_plan:
        raise bad_request("ProtectedItemInRecoveryPlan", "Protected item '{0}' is part of recovery plan(s) {1}; remove it from them before "
                          "disabling protection.".format(item.vm, ", ".join(in_plan)), "The item is referenced by a recovery plan.",
                          "Update the recovery plan without the item.")
    policy = vault.policies.get(item.policy.lower())
    delete_replica = bool(policy and policy.settings.get("replicaDeletion") == "Required")

    def done():
        vault.items.pop(item.name.lower(), None)
    tasks = [task("PrerequisitesCheck", "Prerequisites check for disable protection", steps.prerequisites(seconds=0.0)),
             task("DisableReplication", "Disable replication", steps.disable_replication(item, delete_replica))]
    return new_job(vault, "DisableDr", "Disable protection", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                   affected=affected(vault, item), on_success=done, result=lambda: None)


def purge_item(vault, item: Item) -> Job:
    """ReplicationProtectedItems_Purge: the vault forgets the item; Hyper-V replication stays (asr-api.md §2 force delete)."""
    view = itemmod.view(vault, item, vault.world.clock.now())
    if view.job is not None:
        raise bad_request("OperationInProgress", "A job ({0}) is running on protected item '{1}'.".format(view.job.name, item.vm), "",
                          "Wait for the job to complete.")

    def done():
        vault.items.pop(item.name.lower(), None)
        for plan in vault.plans.values():
            for group in plan.groups:
                group["items"] = [name for name in group["items"] if name != item.name]
    return new_job(vault, "PurgeProtection", "Purge protection", item_target(item),
                   [task("PurgeProtection", "Remove the protected item from the vault", steps.vault_only())], vault.item_id(item),
                   items=(item.name,), needs_provider=False, on_success=done, result=lambda: None)


ITEM_ACTIONS = {"plannedfailover": planned_failover, "unplannedfailover": unplanned_failover, "testfailover": test_failover,
                "testfailovercleanup": test_failover_cleanup, "failovercommit": commit, "failovercancel": cancel_failover,
                "reprotect": reprotect, "repairreplication": repair_replication, "applyrecoverypoint": apply_recovery_point,
                "remove": disable_protection}


def _item_body(vault, item: Item):
    # Imported late: resources imports plans, which imports this module.
    from lab.vault import resources  # pylint: disable=import-outside-toplevel

    return resources.protected_item(vault, item, vault.world.clock.now())


# ---- enable protection (PUT replicationProtectedItems, asr-api.md §2) --------------------------------------
def enable_protection(vault, cloud: str, name: str, body) -> Job:
    props = validate.props(validate.body_of(validate.ENABLE_PROTECTION, body, required=True))
    if not validate.NAME_PATTERN.match(name):
        raise bad_request("InvalidResourceName", "The protected item name '{0}' is not valid: use letters, digits and hyphens.".format(name))
    if name.lower() in vault.items:
        raise bad_request("ProtectedItemAlreadyExists", "A protected item named '{0}' already exists in the vault.".format(name),
                          "The item is already protected.", "Read the item instead, or disable its protection first.")
    mapping = next((m for m in vault.mappings.values() if m.source == cloud), None)
    if mapping is None:
        raise bad_request("ProtectionContainerNotPaired", "Cloud '{0}' is not paired with a recovery cloud: create a protection container "
                          "mapping first.".format(cloud), "The cloud is not configured for protection.",
                          "PUT replicationProtectionContainerMappings on this container with a policy.")
    policy = _policy_ref(vault, props.get("policyId"))
    if policy.name.lower() != mapping.policy.lower():
        raise bad_request("PolicyNotAssociated", "Policy '{0}' is not associated with cloud '{1}' (its pairing uses '{2}').".format(
            policy.name, cloud, mapping.policy), "The policy is not the one of the cloud's pairing.", "Use the pairing's policy.")
    vm = _protectable_ref(vault, cloud, props.get("protectableItemId"))
    item = Item(name, vm.name, vm.id, cloud, mapping.target, policy.name)
    replica_host = _placement(vault, item)
    vault.items[name.lower()] = item

    def done():
        item.enabling = None

    def failed():
        vault.items.pop(name.lower(), None)  # INFERRED: a failed enable leaves no item, so it can be retried
    tasks = [task("PrerequisitesCheck", "Prerequisites check", steps.prerequisites(seconds=steps.PREREQUISITES_S)),
             task("EnableReplication", "Enable replication", steps.offline_not_modelled(policy),
                  steps.enable_replication(item, policy, replica_host)),
             task("StartInitialReplication", "Start initial replication", steps.start_initial_replication(item, steps.online_start(policy)))]
    job = new_job(vault, "EnableDr", "Enable protection", item_target(item), tasks, vault.item_id(item), items=(item.name,),
                  affected=affected(vault, item), on_success=done, on_failure=failed, result=lambda: _item_body(vault, item))
    if job.state == "InProgress":
        item.enabling = job.name
    return job


def _policy_ref(vault, given) -> Policy:
    names = ids.name_of(given or "", vault.id, "replicationPolicies")
    policy = vault.policies.get(names[0].lower()) if names else None
    if policy is None:
        raise bad_request("InvalidPolicyId", "policyId '{0}' is not a replication policy of this vault.".format(given),
                          "The policy does not exist.", "List replicationPolicies and pass the id of one of them.")
    return policy


def _protectable_ref(vault, cloud: str, given):
    names = ids.name_of(given or "", vault.id, "replicationFabrics", "replicationProtectionContainers", "replicationProtectableItems")
    if not names or names[0].lower() != vault.fabric.lower() or names[1].lower() != vault.containers[cloud].lower():
        raise bad_request("InvalidProtectableItemId", "protectableItemId '{0}' is not a protectable item of cloud '{1}'.".format(given, cloud),
                          "The item belongs to another container, or does not exist.",
                          "List replicationProtectableItems of this container and pass the id of one of them.")
    from lab.vault import resources  # pylint: disable=import-outside-toplevel

    vm = resources.protectable_vm(vault, cloud, names[2])
    if vm is None:
        raise bad_request("InvalidProtectableItemId", "protectableItemId '{0}' is not a protectable item of cloud '{1}'.".format(given, cloud))
    owner = vault.item_by_vm(vm.name)
    if owner is not None:
        raise bad_request("ProtectedItemAlreadyExists", "Virtual machine '{0}' is already protected (item '{1}').".format(vm.name, owner.name),
                          "Protection is already enabled.", "Read the existing item.")
    return vm


def _placement(vault, item: Item) -> str:
    """Where VMM places the replica VM on the recovery cloud: the topology's replica host, else the host with the fewest VMs (INFERRED)."""
    hosts = vault.cloud_hosts(item.recovery_cloud)
    chosen = vault.placement.get(item.vm.lower())
    if chosen in hosts:
        return chosen
    return min(hosts, key=lambda h: (len(vault.world.vms_on(h)), h))


# ---- policies (asr-api.md §6) -------------------------------------------------------------------------
def create_policy(vault, name: str, body) -> Job:
    props = validate.props(validate.body_of(validate.CREATE_POLICY, body, required=True))
    psi = props.get("providerSpecificInput")
    if psi is None:
        raise bad_request("InvalidPolicyInput", "providerSpecificInput is required: a VMM-to-VMM policy is HyperVReplica2012R2.")
    settings = setup.policy_settings(psi["instanceType"], psi)
    existing = vault.policies.get(name.lower())
    policy = existing or Policy(name, psi["instanceType"], settings)

    def done():
        policy.instance_type, policy.settings = psi["instanceType"], settings  # INFERRED: PUT on an existing policy replaces its settings
        vault.policies[name.lower()] = policy
    return new_job(vault, "AddProtectionProfile", "Create replication policy", ("ProtectionProfile", name, name),
                   [task("CreateProtectionProfile", "Create the replication policy", steps.vault_only())], vault.policy_id(name),
                   needs_provider=False, on_success=done, result=lambda: _render("policy", vault, policy))


def update_policy(vault, policy: Policy, body) -> Job:
    props = validate.props(validate.body_of(validate.UPDATE_POLICY, body, required=True))
    psi = props.get("replicationProviderSettings")
    if psi is None:
        raise bad_request("InvalidPolicyInput", "replicationProviderSettings is required.")
    if psi["instanceType"] != policy.instance_type:
        text = "Policy '{0}' is {1}; its type cannot change to {2}.".format(policy.name, policy.instance_type, psi["instanceType"])
        raise bad_request("InvalidPolicyInput", text)
    settings = setup.policy_settings(psi["instanceType"], psi)

    def done():
        # INFERRED: the new settings apply to protection enabled afterwards; replication already running keeps its settings.
        policy.settings = settings
    return new_job(vault, "UpdateProtectionProfile", "Update replication policy", ("ProtectionProfile", policy.name, policy.name),
                   [task("UpdateProtectionProfile", "Update the replication policy", steps.vault_only())], vault.policy_id(policy.name),
                   needs_provider=False, on_success=done, result=lambda: _render("policy", vault, policy))


def delete_policy(vault, policy: Policy) -> Job:
    users = [m.name for m in vault.mappings.values() if m.policy.lower() == policy.name.lower()]
    if users:
        raise bad_request("PolicyInUse", "Policy '{0}' is associated with cloud pairing(s) {1}; remove them first.".format(
            policy.name, ", ".join(users)), "The policy is in use.", "Remove the protection container mappings that use it.")
    return new_job(vault, "RemoveProtectionProfile", "Delete replication policy", ("ProtectionProfile", policy.name, policy.name),
                   [task("RemoveProtectionProfile", "Delete the replication policy", steps.vault_only())], vault.policy_id(policy.name),
                   needs_provider=False, on_success=lambda: vault.policies.pop(policy.name.lower(), None), result=lambda: None)


# ---- cloud pairing (protection container mappings, asr-api.md §6) ------------------------------------------
def create_mapping(vault, cloud: str, name: str, body) -> Job:
    props = validate.props(validate.body_of(validate.CREATE_CONTAINER_MAPPING, body, required=True))
    given = props.get("targetProtectionContainerId")
    names = ids.name_of(given or "", vault.id, "replicationFabrics", "replicationProtectionContainers")
    target = vault.cloud_of_container(names[1]) if names and names[0].lower() == vault.fabric.lower() else None
    if target is None:
        raise bad_request("InvalidTargetContainer", "targetProtectionContainerId '{0}' is not a protection container of this vault's "
                          "fabric.".format(given), "The recovery cloud does not exist.", "List replicationProtectionContainers and pass "
                          "the id of the recovery cloud's container.")
    if target == cloud:
        raise bad_request("InvalidTargetContainer", "Cloud '{0}' cannot be paired with itself (asr-api.md §8: one VMM server needs a "
                          "primary and a recovery cloud).".format(cloud))
    policy = _policy_ref(vault, props.get("policyId"))
    existing = vault.mappings.get(name.lower())
    if existing is not None and (existing.source, existing.target, existing.policy.lower()) != (cloud, target, policy.name.lower()):
        raise bad_request("ContainerMappingAlreadyExists", "Mapping '{0}' already pairs '{1}' with '{2}' using policy '{3}'.".format(
            existing.name, existing.source, existing.target, existing.policy), "The mapping exists with other settings.",
            "Remove it first, or use another name.")
    other = next((m for m in vault.mappings.values() if m.source == cloud and m.name.lower() != name.lower()), None)
    if other is not None:
        # INFERRED: a cloud is paired once (one mapping per primary cloud in the single-VMM layout).
        raise bad_request("ContainerAlreadyPaired", "Cloud '{0}' is already paired by mapping '{1}'.".format(cloud, other.name))
    mapping = existing or Mapping(name, cloud, target, policy.name)
    return new_job(vault, "PairClouds", "Pair clouds", ("ProtectionProfile", name, name),
                   [task("PrerequisitesCheck", "Prerequisites check", steps.prerequisites()),
                    task("PairClouds", "Pair the clouds and associate the policy", steps.prerequisites(seconds=steps.SETUP_S))],
                   ids.child(vault.container_id(cloud), "replicationProtectionContainerMappings", name), affected=affected(vault),
                   on_success=store(vault.mappings, name, mapping), result=lambda: _render("mapping", vault, mapping))


def remove_mapping(vault, mapping: Mapping, body, purge: bool = False) -> Job:
    if not purge:
        validate.body_of(validate.REMOVE_CONTAINER_MAPPING, body, required=True)
    protected = [i.vm for i in vault.items.values() if i.cloud == mapping.source]
    if protected:
        raise bad_request("ContainerHasProtectedItems", "Cloud '{0}' still has protected items ({1}); disable their protection first.".format(
            mapping.source, ", ".join(sorted(protected))), "Protected items depend on the pairing.", "Disable protection of the items.")
    scenario, friendly = ("PurgeCloudPairing", "Purge cloud pairing") if purge else ("UnpairClouds", "Unpair clouds")
    tasks = [task("UnpairClouds", "Remove the cloud pairing", steps.vault_only() if purge else steps.prerequisites(seconds=steps.SETUP_S))]
    return new_job(vault, scenario, friendly, ("ProtectionProfile", mapping.name, mapping.name), tasks, vault.mapping_id(mapping),
                   needs_provider=not purge, on_success=lambda: vault.mappings.pop(mapping.name.lower(), None), result=lambda: None)


# ---- network mappings (asr-api.md §6) ----------------------------------------------------------------
def create_network_mapping(vault, primary: str, name: str, body, update: NetworkMapping | None = None) -> Job:
    schema = validate.UPDATE_NETWORK_MAPPING if update else validate.CREATE_NETWORK_MAPPING
    props = validate.props(validate.body_of(schema, body, required=True))
    fabric_name = props.get("recoveryFabricName")
    if fabric_name is not None and fabric_name.lower() != vault.fabric.lower():
        raise bad_request("InvalidRecoveryFabric", "recoveryFabricName '{0}' is not this vault's fabric '{1}' (one VMM server).".format(
            fabric_name, vault.fabric))
    given = props.get("recoveryNetworkId") or (vault.network_id(update.recovery) if update else None)
    names = ids.name_of(given or "", vault.id, "replicationFabrics", "replicationNetworks")
    recovery = vault.network_named(names[1]) if names and names[0].lower() == vault.fabric.lower() else None
    if recovery is None or recovery == primary:
        raise bad_request("InvalidRecoveryNetwork", "recoveryNetworkId '{0}' is not another VM network of this vault's fabric.".format(given),
                          "The recovery VM network does not exist.", "List replicationNetworks and pass the id of a recovery VM network.")
    if vault.networks[recovery]["cloud"] == vault.networks[primary]["cloud"]:
        raise bad_request("InvalidRecoveryNetwork", "VM networks '{0}' and '{1}' are in the same cloud '{2}'; map a primary cloud network to a "
                          "recovery cloud network.".format(vault.networks[primary]["friendly"], vault.networks[recovery]["friendly"],
                                                           vault.networks[primary]["cloud"]))
    other = next((m for m in vault.network_mappings.values() if m.primary == primary and m.name.lower() != name.lower()), None)
    if other is not None:
        raise bad_request("NetworkAlreadyMapped", "VM network '{0}' is already mapped by '{1}'.".format(vault.networks[primary]["friendly"],
                                                                                                        other.name))
    mapping = update or vault.network_mappings.get(name.lower()) or NetworkMapping(name, primary, recovery)

    def done():
        mapping.recovery = recovery
        vault.network_mappings[name.lower()] = mapping
    return new_job(vault, "MapNetworks", "Map networks", ("ProtectionProfile", name, name),
                   [task("PrerequisitesCheck", "Prerequisites check", steps.prerequisites()),
                    task("MapNetworks", "Map the VM networks", steps.prerequisites(seconds=steps.SETUP_S))],
                   ids.child(vault.network_id(primary), "replicationNetworkMappings", name), affected=affected(vault), on_success=done,
                   result=lambda: _render("network_mapping", vault, mapping))


def delete_network_mapping(vault, mapping: NetworkMapping) -> Job:
    return new_job(vault, "UnmapNetworks", "Unmap networks", ("ProtectionProfile", mapping.name, mapping.name),
                   [task("UnmapNetworks", "Remove the network mapping", steps.prerequisites(seconds=steps.SETUP_S))],
                   vault.network_mapping_id(mapping), on_success=lambda: vault.network_mappings.pop(mapping.name.lower(), None),
                   result=lambda: None)


# ---- provider ------------------------------------------------------------------------------------------------
def refresh_provider(vault) -> Job:
    hosts = vault.vmm.managed_hosts()
    return new_job(vault, "RefreshProvider", "Refresh server", ("Server", vault.provider, vault.vmm.fqdn),
                   [task("RefreshServer", "Refresh the VMM server", steps.refresh_provider(hosts))], vault.provider_id(),
                   affected=affected(vault), result=lambda: _render("provider", vault, None))


def _render(kind: str, vault, obj):
    from lab.vault import resources  # pylint: disable=import-outside-toplevel

    now = vault.world.clock.now()
    return {"policy": lambda: resources.policy(vault, obj), "mapping": lambda: resources.container_mapping(vault, obj),
            "network_mapping": lambda: resources.network_mapping(vault, obj), "provider": lambda: resources.provider(vault, now)}[kind]()


def job_conflict(job: Job, action: str) -> ArmError:
    return bad_request("JobActionNotAllowed", "Job '{0}' is {1}; '{2}' is not allowed (allowed actions: {3}).".format(
        job.name, job.state, action, ", ".join(job.allowed_actions()) or "none"), "The job's state does not permit the action.",
        "Check allowedActions of the job.")


def find_item(vault, cloud: str, name: str) -> Item:
    item = vault.items.get(name.lower())
    if item is None or item.cloud != cloud:
        raise not_found("replication protected item", name)
    return item
