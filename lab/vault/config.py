"""The `vault:` section of a topology: one subscription, resource group and Recovery Services vault whose
VMM fabric is the topology's VMM server (asr-api.md §1, §6), validated with a message that names the entry.

    vault:
      subscription_id: <guid>        resource_group: dr-lab-rg      name: dr-lab-vault     location: westeurope
      tenant: <guid>                 client_id: <guid>              # the service principal; its secret is made per run
      configured: true               # false: no policy, pairing, network mapping, protection or plan (setup path)
      policy: {name, replication_frequency_seconds, recovery_points, app_consistent_hours, compression,
               replication_port, authentication, replica_deletion}
      pairing: {name, primary: <cloud>, recovery: <cloud>}
      networks: {<cloud>: [<VM network>, ...]}
      network_mappings: [{name, primary: <network>, recovery: <network>}]
      protect: all | [<vm>, ...]     # VMs of the primary cloud (never the VMM server VM)
      recovery_plans: [{name, groups: [[<vm>, ...], ...]}]   # boot groups, in order
"""

from __future__ import annotations

import re
import uuid

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# asr-api.md §1 / TSP: vault names (and ARM resource group names: letters, digits, - _ . ( ), INFERRED subset here).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$")
_RG = re.compile(r"^[-\w._()]{1,90}$")
_KEYS = {"subscription_id", "resource_group", "name", "location", "tenant", "client_id", "configured", "policy", "pairing", "networks",
         "network_mappings", "protect", "recovery_plans"}
_POLICY_KEYS = {"name", "replication_frequency_seconds", "recovery_points", "app_consistent_hours", "compression", "replication_port",
                "authentication", "replica_deletion"}
# timings.md §2: up to 100 protected items and 7 groups per recovery plan [ASR-RP-OVERVIEW], [ASR-RP-CREATE].
MAX_PLAN_ITEMS = 100
MAX_PLAN_GROUPS = 7
_NAMESPACE = uuid.UUID("9d3c0f5e-7a61-5c2e-b1d4-3e8f2a6c4b90")


class VaultConfigError(ValueError):
    """Raised with the offending entry; lab/world/topology.py turns it into a TopologyError."""


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise VaultConfigError(message)


def validate(section, topology_name: str, vms: list, vmm: dict) -> dict | None:
    """The validated vault section, or None when the topology has none (then there is no vault endpoint)."""
    if not section:
        return None
    _require(isinstance(section, dict), "vault: must be a mapping")
    unknown = set(section) - _KEYS
    _require(not unknown, "vault: unknown keys {0}".format(sorted(unknown)))
    _require(bool(vmm), "vault: needs the topology's vmm section (the VMM server is the vault's fabric)")
    out = {
        "subscription_id": _guid(section, "subscription_id", topology_name),
        "resource_group": str(section.get("resource_group") or "dr-lab-rg"),
        "name": str(section.get("name") or "dr-lab-vault"),
        "location": str(section.get("location") or "westeurope"),
        "tenant": _guid(section, "tenant", topology_name),
        "client_id": _guid(section, "client_id", topology_name),
        "configured": section.get("configured", True),
    }
    _require(isinstance(out["configured"], bool), "vault.configured must be true or false")
    _require(bool(_RG.match(out["resource_group"])), "vault.resource_group '{0}' is not a valid resource group name".format(out["resource_group"]))
    _require(bool(_NAME.match(out["name"])), "vault.name '{0}' must be letters, digits and hyphens (asr-api.md §1)".format(out["name"]))
    clouds = vmm.get("clouds") or {}
    out["policy"] = _policy(section.get("policy") or {})
    out["pairing"] = _pairing(section.get("pairing") or {}, clouds)
    out["networks"] = _networks(section.get("networks") or {}, clouds)
    out["network_mappings"] = _network_mappings(section.get("network_mappings") or [], out["networks"], out["pairing"])
    out["protect"] = _protect(section.get("protect") or [], vms, vmm, out["pairing"], clouds)
    out["recovery_plans"] = _plans(section.get("recovery_plans") or [], out["protect"])
    out["placement"] = {}
    return out


def _guid(section: dict, key: str, topology_name: str) -> str:
    value = section.get(key)
    if value is None:
        # Stable per topology when not given, like the VM ids (lab/world/model.py).
        return str(uuid.uuid5(_NAMESPACE, topology_name + "/" + key))
    _require(isinstance(value, str) and bool(_GUID.match(value)), "vault.{0} must be a GUID, not {1!r}".format(key, value))
    return value.lower()


def _policy(spec: dict) -> dict:
    _require(isinstance(spec, dict), "vault.policy must be a mapping")
    unknown = set(spec) - _POLICY_KEYS
    _require(not unknown, "vault.policy: unknown keys {0}".format(sorted(unknown)))
    out = {"name": str(spec.get("name") or "hvr-policy"), "replication_frequency_seconds": spec.get("replication_frequency_seconds", 300),
           "recovery_points": spec.get("recovery_points", 0), "app_consistent_hours": spec.get("app_consistent_hours", 0),
           "compression": spec.get("compression", "Enable"), "replication_port": spec.get("replication_port", 80),
           "authentication": spec.get("authentication", "Kerberos"), "replica_deletion": spec.get("replica_deletion", "NotRequired")}
    # The same limits the REST API applies to a HyperVReplica2012R2 policy (lab/vault/validate.py).
    _require(out["replication_frequency_seconds"] in (30, 300, 900), "vault.policy.replication_frequency_seconds must be 30, 300 or 900")
    _require(out["recovery_points"] in range(25), "vault.policy.recovery_points must be 0-24")
    _require(out["app_consistent_hours"] in range(13), "vault.policy.app_consistent_hours must be 0-12")
    _require(out["app_consistent_hours"] == 0 or out["recovery_points"] > 0, "vault.policy.app_consistent_hours needs recovery_points > 0")
    _require(out["compression"] in ("Enable", "Disable"), "vault.policy.compression must be Enable or Disable")
    _require(out["authentication"] in ("Kerberos", "Certificate"), "vault.policy.authentication must be Kerberos or Certificate")
    _require(out["replica_deletion"] in ("Required", "NotRequired"), "vault.policy.replica_deletion must be Required or NotRequired")
    _require(isinstance(out["replication_port"], int) and 0 < out["replication_port"] < 65536, "vault.policy.replication_port must be a port")
    return out


def _pairing(spec: dict, clouds: dict) -> dict:
    _require(isinstance(spec, dict), "vault.pairing must be a mapping {name, primary, recovery}")
    unknown = set(spec) - {"name", "primary", "recovery"}
    _require(not unknown, "vault.pairing: unknown keys {0}".format(sorted(unknown)))
    out = {"name": str(spec.get("name") or "primary-to-recovery"), "primary": spec.get("primary"), "recovery": spec.get("recovery")}
    for role in ("primary", "recovery"):
        _require(out[role] in clouds, "vault.pairing.{0}: '{1}' is not a cloud of the VMM server ({2})".format(role, out[role], ", ".join(clouds)))
    # asr-api.md §8 item 5: one VMM server needs two clouds, one primary and one secondary.
    _require(out["primary"] != out["recovery"], "vault.pairing: the primary and recovery clouds must differ")
    return out


def _networks(spec: dict, clouds: dict) -> dict:
    """VM network name -> cloud (VMM VM networks; asr-api.md §6 network mapping)."""
    _require(isinstance(spec, dict), "vault.networks must map a cloud to its VM networks")
    out: dict[str, str] = {}
    for cloud, names in spec.items():
        _require(cloud in clouds, "vault.networks: '{0}' is not a cloud of the VMM server".format(cloud))
        _require(isinstance(names, list), "vault.networks.{0} must be a list of VM network names".format(cloud))
        for name in names:
            _require(str(name).lower() not in {n.lower() for n in out}, "vault.networks: VM network '{0}' is listed twice".format(name))
            out[str(name)] = cloud
    return out


def _network_mappings(spec: list, networks: dict, pairing: dict) -> list:
    _require(isinstance(spec, list), "vault.network_mappings must be a list")
    out, mapped = [], set()
    for entry in spec:
        _require(isinstance(entry, dict) and set(entry) <= {"name", "primary", "recovery"},
                 "vault.network_mappings: each entry is {{name, primary, recovery}}: {0!r}".format(entry))
        primary, recovery = entry.get("primary"), entry.get("recovery")
        _require(networks.get(primary) == pairing["primary"], "vault.network_mappings: '{0}' is not a VM network of cloud '{1}'"
                 .format(primary, pairing["primary"]))
        _require(networks.get(recovery) == pairing["recovery"], "vault.network_mappings: '{0}' is not a VM network of cloud '{1}'"
                 .format(recovery, pairing["recovery"]))
        _require(primary not in mapped, "vault.network_mappings: VM network '{0}' is mapped twice".format(primary))
        mapped.add(primary)
        out.append({"name": str(entry.get("name") or primary + "-to-" + recovery), "primary": primary, "recovery": recovery})
    return out


def _protect(spec, vms: list, vmm: dict, pairing: dict, clouds: dict) -> list:
    """Names (topology spelling) of the protected VMs: VMs of the primary cloud, with a replica in the recovery cloud."""
    primary_hosts = set(clouds[pairing["primary"]]["hosts"])
    recovery_hosts = set(clouds[pairing["recovery"]]["hosts"])
    server_vm = str(vmm.get("server_vm") or "").lower()
    candidates = [vm for vm in vms if vm["host"] in primary_hosts and vm["name"].lower() != server_vm]
    if spec == "all":
        chosen = candidates
    else:
        _require(isinstance(spec, list), "vault.protect must be 'all' or a list of VM names")
        by_name = {vm["name"].lower(): vm for vm in vms}
        chosen = []
        for name in spec:
            vm = by_name.get(str(name).lower())
            _require(vm is not None, "vault.protect: '{0}' is not a VM of the topology".format(name))
            _require(vm["name"].lower() != server_vm, "vault.protect: '{0}' is the VMM server VM; it is not a VM of a VMM cloud (INFERRED)"
                     .format(name))
            _require(vm["host"] in primary_hosts, "vault.protect: '{0}' runs on '{1}', not a host of cloud '{2}'".format(
                name, vm["host"], pairing["primary"]))
            chosen.append(vm)
    for vm in chosen:
        _require(vm["replica"] in recovery_hosts, "vault.protect: '{0}' must replicate to a host of cloud '{1}' (its replica host is {2})"
                 .format(vm["name"], pairing["recovery"], vm["replica"]))
    return [vm["name"] for vm in chosen]


def _plans(spec: list, protected: list) -> list:
    _require(isinstance(spec, list), "vault.recovery_plans must be a list")
    known = {name.lower(): name for name in protected}
    out, names = [], set()
    for plan in spec:
        _require(isinstance(plan, dict) and set(plan) <= {"name", "groups"}, "vault.recovery_plans: each plan is {{name, groups}}: {0!r}".format(plan))
        name = str(plan.get("name") or "")
        _require(bool(_NAME.match(name)), "vault.recovery_plans: plan name '{0}' must be letters, digits and hyphens".format(name))
        _require(name.lower() not in names, "vault.recovery_plans: plan '{0}' is defined twice".format(name))
        names.add(name.lower())
        groups = plan.get("groups") or []
        _require(isinstance(groups, list) and 0 < len(groups) <= MAX_PLAN_GROUPS,
                 "recovery plan '{0}': 1 to {1} boot groups (timings.md §2)".format(name, MAX_PLAN_GROUPS))
        seen: set[str] = set()
        out_groups = []
        for group in groups:
            _require(isinstance(group, list) and group, "recovery plan '{0}': each boot group is a non-empty list of VMs".format(name))
            members = []
            for vm in group:
                key = str(vm).lower()
                _require(key in known, "recovery plan '{0}': '{1}' is not a protected VM of the vault".format(name, vm))
                _require(key not in seen, "recovery plan '{0}': '{1}' is in two groups".format(name, vm))
                seen.add(key)
                members.append(known[key])
            out_groups.append(members)
        _require(len(seen) <= MAX_PLAN_ITEMS, "recovery plan '{0}': at most {1} protected items".format(name, MAX_PLAN_ITEMS))
        out.append({"name": name, "groups": out_groups})
    return out


def unconfigure(data: dict) -> None:
    """The setup-path lab: no policy, pairing, network mapping, protection or plan, and the VMs to protect do not
    replicate yet (enable protection creates their Hyper-V Replica relationship, asr-api.md §2 EnableProtectionInput).
    Their topology replica host is kept as the placement VMM would choose on the recovery cloud (INFERRED)."""
    vault = data["vault"]
    vault["configured"] = False
    wanted = {name.lower() for name in vault["protect"]}
    for vm in data["vms"]:
        if vm["name"].lower() in wanted and vm["replica"]:
            vault["placement"][vm["name"].lower()] = vm["replica"]
            vm["replica"] = None
