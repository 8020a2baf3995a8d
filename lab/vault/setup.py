"""Setup records: replication policies, cloud pairings, network mappings, protected items and recovery plans,
either from the topology's `vault:` section (a vault that was set up before the lab starts) or normalised from
REST bodies (lab/vault/actions.py)."""

from __future__ import annotations

from lab.vault.errors import bad_request
from lab.vault.state import Item, Mapping, NetworkMapping, Plan, Policy

# asr-api.md §6 HyperVReplica2012R2 defaults the lab fills in for members a client leaves out (INFERRED: the
# values Az PowerShell's New-AzRecoveryServicesAsrPolicy uses when a parameter is not given).
POLICY_DEFAULTS = {"replicationFrequencyInSeconds": 300, "recoveryPoints": 0, "applicationConsistentSnapshotFrequencyInHours": 0,
                   "compression": "Enable", "initialReplicationMethod": "OverNetwork", "onlineReplicationStartTime": None,
                   "offlineReplicationImportPath": None, "offlineReplicationExportPath": None, "replicaDeletion": "NotRequired"}


def policy_settings(instance_type: str, given: dict) -> dict:
    """Wire settings with defaults; raises 400 for the combinations Hyper-V Replica cannot apply."""
    settings = dict(POLICY_DEFAULTS)
    settings.update({k: v for k, v in given.items() if k != "instanceType" and v is not None})
    if instance_type == "HyperVReplica2012":
        settings["replicationFrequencyInSeconds"] = 300  # asr-api.md §6: fixed for Windows Server 2012
    for member in ("replicationPort", "allowedAuthenticationType"):
        if given.get(member) is None:
            # INFERRED: Hyper-V Replica cannot be enabled without a port and an authentication type (HRS §3.0 step 3).
            raise bad_request("InvalidPolicyInput", "The {0} policy needs '{1}' (HRS: Enable-VMReplication requires the replica server "
                                                    "port and authentication type).".format(instance_type, member),
                              "A mandatory replication setting is missing.", "Set replicationPort and allowedAuthenticationType.")
    if settings["applicationConsistentSnapshotFrequencyInHours"] and not settings["recoveryPoints"]:
        # hyperv-replica-states.md §4: VSS points only apply when RecoveryHistory is nonzero.
        raise bad_request("InvalidPolicyInput", "applicationConsistentSnapshotFrequencyInHours needs recoveryPoints greater than 0.",
                          "Application-consistent points are kept as additional recovery points.", "Set recoveryPoints, or set the "
                          "snapshot frequency to 0.")
    paths = settings["offlineReplicationImportPath"] and settings["offlineReplicationExportPath"]
    if settings["initialReplicationMethod"] == "Offline" and not paths:
        raise bad_request("InvalidPolicyInput", "Offline initial replication needs offlineReplicationImportPath and "
                                                "offlineReplicationExportPath.", "The paths are missing.", "Give both paths.")
    return settings


def policy_details(policy: Policy) -> dict:
    """HyperVReplicaBluePolicyDetails: the input's members, replicaDeletion read back as replicaDeletionOption (asr-api.md §6)."""
    out = {"instanceType": policy.instance_type}
    for key, value in policy.settings.items():
        if key == "replicaDeletion":
            out["replicaDeletionOption"] = "OnRecoveryCloud" if value == "Required" else "None"
        elif key != "replicationFrequencyInSeconds" or policy.instance_type == "HyperVReplica2012R2":
            out[key] = value
    return out


def plan_groups(boot_groups: list, items_by_vm: dict) -> list:
    """asr-api.md §3: one Shutdown group, one Failover group, then the Boot groups carrying the VMs."""
    groups = [{"groupType": "Shutdown", "items": [], "startGroupActions": [], "endGroupActions": []},
              {"groupType": "Failover", "items": [], "startGroupActions": [], "endGroupActions": []}]
    for members in boot_groups:
        groups.append({"groupType": "Boot", "items": [items_by_vm[name.lower()].name for name in members],
                       "startGroupActions": [], "endGroupActions": []})
    return groups


def configure(vault) -> None:
    """The vault the topology describes, as if its setup jobs had run before the lab started."""
    cfg = vault.cfg
    spec = cfg["policy"]
    given = {"replicationFrequencyInSeconds": spec["replication_frequency_seconds"], "recoveryPoints": spec["recovery_points"],
             "applicationConsistentSnapshotFrequencyInHours": spec["app_consistent_hours"], "compression": spec["compression"],
             "initialReplicationMethod": "OverNetwork", "replicationPort": spec["replication_port"],
             "allowedAuthenticationType": 1 if spec["authentication"] == "Kerberos" else 2, "replicaDeletion": spec["replica_deletion"]}
    policy = Policy(spec["name"], "HyperVReplica2012R2", policy_settings("HyperVReplica2012R2", given))
    vault.policies[policy.name.lower()] = policy
    pairing = cfg["pairing"]
    vault.mappings[pairing["name"].lower()] = Mapping(pairing["name"], pairing["primary"], pairing["recovery"], policy.name)
    for entry in cfg["network_mappings"]:
        primary, recovery = vault.network_named(entry["primary"]), vault.network_named(entry["recovery"])
        vault.network_mappings[entry["name"].lower()] = NetworkMapping(entry["name"], primary, recovery)
    by_vm = {}
    for vm_name in cfg["protect"]:
        vm = next(v for v in vault.world.vms.values() if v.name.lower() == vm_name.lower() and v.host in vault.cloud_hosts(pairing["primary"]))
        # Protected item and protectable item are named after the VM's id (asr-api.md §1: RPI names are GUID-like).
        item = Item(vm.id, vm.name, vm.id, pairing["primary"], pairing["recovery"], policy.name)
        vault.items[item.name.lower()] = item
        by_vm[vm.name.lower()] = item
    for plan in cfg["recovery_plans"]:
        vault.plans[plan["name"].lower()] = Plan(plan["name"], plan_groups(plan["groups"], by_vm))
