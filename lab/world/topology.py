"""Topology YAML -> validated plain data. Errors name the offending entry so a typo is found at `lab up`."""

from __future__ import annotations

import os

import yaml

from lab.vault import config as vault_config
from lab.world import sqlag

TOPOLOGY_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "topologies")
# timings.md §1.1: 30 s, 5 min or 15 min per VM (WS2012 R2 and later).
FREQUENCIES = (30, 300, 900)
# timings.md §1.1: up to 24 additional recovery points.
MAX_RECOVERY_HISTORY = 24
# INFERRED: -VSSSnapshotFrequencyHour accepts 1..12 (the Hyper-V Manager UI offers 1-12 hours).
MAX_VSS_HOURS = 12
AUTH_TYPES = ("Kerberos", "Certificate")
_REPLICATION_KEYS = {"frequency", "recovery_history", "vss_hours", "port", "auth", "established_hours_ago"}
_VM_KEYS = {"name", "host", "replica", "state", "generation", "memory_mb", "cpus", "disk_gb"} | _REPLICATION_KEYS
# INFERRED: total VHD size of a VM that gives none (drives initial replication and resync times, timings.md §7.1).
DEFAULT_DISK_GB = 60
# DESIGN.md: the two layouts of the VMM server and the two engines for the workload VMs.
LAYOUTS = ("standalone", "stretch_cluster")
ENGINES = ("replica", "asr")


class TopologyError(ValueError):
    """The topology file is inconsistent; the message says where."""


def resolve_path(path_or_name: str) -> str:
    """A bare name ('standalone') is a file in lab/topologies/."""
    if os.sep in path_or_name or path_or_name.endswith((".yml", ".yaml")):
        return path_or_name
    return os.path.join(TOPOLOGY_DIR, path_or_name + ".yml")


def load(path_or_name: str) -> dict:
    path = resolve_path(path_or_name)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise TopologyError("cannot read topology {0}: {1}".format(path, exc.strerror)) from exc
    if not isinstance(data, dict):
        raise TopologyError("{0}: top level must be a mapping".format(path))
    return validate(data, os.path.splitext(os.path.basename(path))[0])


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise TopologyError(message)


def validate(data: dict, default_name: str) -> dict:
    name = str(data.get("name") or default_name)
    _require(isinstance(data.get("domain"), str), "topology '{0}': 'domain' (DNS domain) is required".format(name))
    creds = data.get("credentials") or {}
    _require(isinstance(creds.get("username"), str), "topology '{0}': credentials.username is required".format(name))
    _require("password" not in creds, "topology '{0}': no password in the topology; the lab generates one per run".format(name))
    host_site: dict[str, str] = {}
    sites = data.get("sites") or {}
    _require(isinstance(sites, dict) and len(sites) >= 2, "topology '{0}': at least two sites are required".format(name))
    for site, spec in sites.items():
        for host in (spec or {}).get("hosts") or []:
            key = str(host).lower()
            _require(key not in host_site, "host '{0}' is listed in site '{1}' and site '{2}'".format(host, host_site.get(key), site))
            host_site[key] = site
    defaults = dict(frequency=300, recovery_history=0, vss_hours=0, port=80, auth="Kerberos", established_hours_ago=48)
    unknown = set(data.get("replication_defaults") or {}) - _REPLICATION_KEYS
    _require(not unknown, "replication_defaults: unknown keys {0}".format(sorted(unknown)))
    defaults.update(data.get("replication_defaults") or {})
    vms = []
    seen: dict[str, str] = {}
    for vm in data.get("vms") or []:
        vms.append(_vm(vm, defaults, host_site, seen))
    clusters = _clusters(data.get("clusters") or {}, host_site, sites)
    vmm = _vmm(data.get("vmm") or {}, host_site, vms, clusters)
    try:
        availability_groups = sqlag.validate(data.get("availability_groups"), clusters)  # lab/world/sqlag.py
    except sqlag.AgTopologyError as exc:
        raise TopologyError(str(exc)) from None
    layout = data.get("site_recovery_layout", "standalone")
    _require(layout in LAYOUTS, "topology '{0}': site_recovery_layout must be one of {1}".format(name, LAYOUTS))
    engine = data.get("site_recovery_engine", "replica")
    _require(engine in ENGINES, "topology '{0}': site_recovery_engine must be one of {1}".format(name, ENGINES))
    try:
        # The Recovery Services vault whose fabric is the VMM server (lab/vault/config.py); None: no vault endpoint.
        vault = vault_config.validate(data.get("vault"), name, vms, vmm)
    except vault_config.VaultConfigError as exc:
        raise TopologyError(str(exc)) from None
    return {"name": name, "domain": data["domain"], "username": creds["username"], "sites": {s: [h for h, hs in host_site.items() if hs == s]
            for s in sites}, "vms": vms, "vmm": vmm, "clusters": clusters, "layout": layout, "engine": engine,
            "availability_groups": availability_groups, "vault": vault}


def _vm(vm: dict, defaults: dict, host_site: dict, seen: dict) -> dict:
    _require(isinstance(vm, dict) and vm.get("name"), "every VM needs a name: {0!r}".format(vm))
    name = str(vm["name"])
    unknown = set(vm) - _VM_KEYS
    _require(not unknown, "VM '{0}': unknown keys {1}".format(name, sorted(unknown)))
    host = str(vm.get("host", "")).lower()
    _require(host in host_site, "VM '{0}': unknown host '{1}'".format(name, vm.get("host")))
    _require(name.lower() not in seen, "VM '{0}' is defined on host '{1}' and host '{2}'".format(name, seen.get(name.lower()), host))
    seen[name.lower()] = host
    out = dict(defaults)
    out.update({k: v for k, v in vm.items() if k in _REPLICATION_KEYS})
    out.update(name=name, host=host, replica=None, state=vm.get("state", "Running"), generation=int(vm.get("generation", 2)),
               memory_mb=int(vm.get("memory_mb", 4096)), cpus=int(vm.get("cpus", 2)), disk_gb=vm.get("disk_gb", DEFAULT_DISK_GB))
    _require(isinstance(out["disk_gb"], (int, float)) and out["disk_gb"] > 0, "VM '{0}': disk_gb must be a positive number".format(name))
    _require(out["state"] in ("Running", "Off"), "VM '{0}': state must be Running or Off".format(name))
    if vm.get("replica"):
        replica = str(vm["replica"]).lower()
        _require(replica in host_site, "VM '{0}': unknown replica host '{1}'".format(name, vm["replica"]))
        _require(host_site[replica] != host_site[host],
                 "VM '{0}': replica host '{1}' is in the same site ('{2}') as its primary host".format(name, replica, host_site[host]))
        out["replica"] = replica
        _require(out["frequency"] in FREQUENCIES, "VM '{0}': frequency must be one of {1}".format(name, FREQUENCIES))
        _require(0 <= out["recovery_history"] <= MAX_RECOVERY_HISTORY, "VM '{0}': recovery_history must be 0-24".format(name))
        _require(0 <= out["vss_hours"] <= MAX_VSS_HOURS, "VM '{0}': vss_hours must be 0-12".format(name))
        # hyperv-replica-states.md §4: VSS points only apply when RecoveryHistory is nonzero.
        _require(out["vss_hours"] == 0 or out["recovery_history"] > 0, "VM '{0}': vss_hours needs recovery_history > 0".format(name))
        _require(out["auth"] in AUTH_TYPES, "VM '{0}': auth must be one of {1}".format(name, AUTH_TYPES))
    return out


# ---- VMM section (lab/world/vmm.py) ----------------------------------------------------------------
_VMM_KEYS = {"server_vm", "clouds", "cluster", "cluster_role", "database"}
_CLOUD_KEYS = {"host_group", "hosts"}


def _vmm(vmm: dict, host_site: dict, vms: list, clusters: list | None = None) -> dict:
    """The VMM server (a VM, or a role of a failover cluster) and its clouds (vmm-cluster-sql-notes.md §A); {} without VMM."""
    if not vmm:
        return {}
    _require(isinstance(vmm, dict), "vmm: must be a mapping")
    unknown = set(vmm) - _VMM_KEYS
    _require(not unknown, "vmm: unknown keys {0}".format(sorted(unknown)))
    if vmm.get("cluster_role") is not None:
        out = _vmm_role(vmm, host_site, clusters or [])
    else:
        out = {"server_vm": _vmm_vm(vmm, host_site, vms)}
    out["clouds"] = _clouds(vmm, host_site)
    return out


def _vmm_vm(vmm: dict, host_site: dict, vms: list) -> str:
    _require(not vmm.get("cluster") and not vmm.get("database"), "vmm: cluster and database apply to a cluster_role only")
    wanted = str(vmm.get("server_vm") or "").lower()
    names = [vm["name"] for vm in vms if vm["name"].lower() == wanted]
    _require(bool(names), "vmm.server_vm '{0}' is not a VM of the topology".format(vmm.get("server_vm")))
    server = names[0]
    # The VMM server becomes a Windows host named like its VM, so the name must not clash with a Hyper-V host.
    _require(server.lower() not in host_site, "vmm.server_vm '{0}' has the name of a Hyper-V host".format(server))
    return server


def _vmm_role(vmm: dict, host_site: dict, clusters: list) -> dict:
    """VMM installed highly available (DESIGN.md stretch_cluster): a role of a failover cluster, its database in an AG."""
    _require(not vmm.get("server_vm"), "vmm: give server_vm (a VM) or cluster_role (a cluster role), not both")
    role = str(vmm["cluster_role"])
    cluster = next((c for c in clusters if c["name"].lower() == str(vmm.get("cluster") or "").lower()), None)
    _require(cluster is not None, "vmm.cluster '{0}' is not a cluster of the topology".format(vmm.get("cluster")))
    _require(any(g["name"].lower() == role.lower() for g in cluster["groups"]),
             "vmm.cluster_role '{0}' is not a role (group) of cluster '{1}'".format(role, cluster["name"]))
    # The role's network name becomes a Windows host (the client access point), so it must not clash with a host name.
    _require(role.lower() not in host_site and all(role.lower() != n["name"].lower() for n in cluster["nodes"]),
             "vmm.cluster_role '{0}' has the name of a host".format(role))
    database = vmm.get("database") or {}
    _require(isinstance(database, dict) and set(database) <= {"name", "availability_group"},
             "vmm.database: a mapping with name and availability_group")
    return {"cluster": cluster["name"], "cluster_role": role,
            "database": {"name": str(database.get("name") or "VirtualManagerDB"), "availability_group": database.get("availability_group")}}


def _clouds(vmm: dict, host_site: dict) -> dict:
    clouds: dict[str, dict] = {}
    group_of: dict[str, str] = {}
    for cloud, spec in (vmm.get("clouds") or {}).items():
        _require(isinstance(spec, dict), "vmm cloud '{0}': must be a mapping".format(cloud))
        unknown = set(spec) - _CLOUD_KEYS
        _require(not unknown, "vmm cloud '{0}': unknown keys {1}".format(cloud, sorted(unknown)))
        group = spec.get("host_group")
        _require(isinstance(group, str) and group, "vmm cloud '{0}': host_group (a name) is required".format(cloud))
        hosts = []
        for host in spec.get("hosts") or []:
            key = str(host).lower()
            _require(key in host_site, "vmm cloud '{0}': unknown host '{1}'".format(cloud, host))
            # INFERRED from VMM's hierarchy: a host belongs to exactly one host group.
            _require(group_of.setdefault(key, group) == group,
                     "vmm cloud '{0}': host '{1}' is already in host group '{2}'".format(cloud, host, group_of[key]))
            hosts.append(key)
        clouds[str(cloud)] = {"host_group": group, "hosts": hosts}
    return clouds


# ---- failover clusters (lab/world/cluster.py) --------------------------------------------------------
_CLUSTER_KEYS = {"nodes", "witness", "groups"}
_GROUP_KEYS = {"type", "owner", "preferred_owners", "resources", "online", "online_s", "offline_s"}
CORE_GROUP = "Cluster Group"
# vmm-cluster-sql-notes.md §B.3: the witness kinds Set-ClusterQuorum knows; the lab models the file share witness only.
WITNESS_TYPES = ("FileShareWitness",)


def _clusters(clusters: dict, host_site: dict, sites: dict) -> list:
    _require(isinstance(clusters, dict), "clusters: must be a mapping of cluster name -> nodes, witness, groups")
    out, taken = [], set(host_site)
    for name, spec in clusters.items():
        _require(isinstance(spec, dict), "cluster '{0}': must be a mapping".format(name))
        unknown = set(spec) - _CLUSTER_KEYS
        _require(not unknown, "cluster '{0}': unknown keys {1}".format(name, sorted(unknown)))
        _require(str(name).lower() not in taken, "cluster '{0}' has the name of a host".format(name))
        nodes = []
        for node, nspec in (spec.get("nodes") or {}).items():
            nspec = nspec or {}
            key = str(node).lower()
            _require(key not in taken, "cluster '{0}': node '{1}' has the name of another host".format(name, node))
            _require(nspec.get("site") in sites, "cluster '{0}': node '{1}' needs a site of the topology".format(name, node))
            # vmm-cluster-sql-notes.md §B.3 (force-quorum): NodeWeight is the node's vote, 1 or 0.
            _require(nspec.get("node_weight", 1) in (0, 1), "cluster '{0}': node '{1}': node_weight must be 0 or 1".format(name, node))
            taken.add(key)
            nodes.append({"name": key, "site": nspec["site"], "node_weight": nspec.get("node_weight", 1)})
        _require(len(nodes) >= 2, "cluster '{0}': at least two nodes are required".format(name))
        node_names = [n["name"] for n in nodes]
        witness = spec.get("witness")
        if witness:
            _require(witness.get("type", "FileShareWitness") in WITNESS_TYPES,
                     "cluster '{0}': witness type must be one of {1}".format(name, WITNESS_TYPES))
            _require(witness.get("site") in sites and witness.get("path"), "cluster '{0}': witness needs a path and a site".format(name))
            witness = {"type": "FileShareWitness", "path": str(witness["path"]), "site": witness["site"]}
        groups = [_core_group(node_names, witness)]
        for gname, gspec in (spec.get("groups") or {}).items():
            groups.append(_group(str(name), str(gname), gspec or {}, node_names, [g["name"] for g in groups]))
        out.append({"name": str(name).lower(), "nodes": nodes, "witness": witness, "groups": groups})
    return out


def _core_group(nodes: list, witness: dict | None) -> dict:
    # INFERRED resource names and types of the core group, as Failover Cluster Manager shows them.
    resources = [{"name": "Cluster Name", "type": "Network Name"}, {"name": "Cluster IP Address", "type": "IP Address"}]
    if witness:
        resources.append({"name": "File Share Witness", "type": "File Share Witness"})
    return {"name": CORE_GROUP, "type": "Cluster", "owner": nodes[0], "preferred_owners": [], "resources": resources, "is_core": True}


def _group(cluster: str, name: str, spec: dict, nodes: list, taken: list) -> dict:
    where = "cluster '{0}' group '{1}'".format(cluster, name)
    unknown = set(spec) - _GROUP_KEYS
    _require(not unknown, "{0}: unknown keys {1}".format(where, sorted(unknown)))
    _require(name.lower() not in (t.lower() for t in taken), "{0}: the name is used twice".format(where))
    owner = str(spec.get("owner") or "").lower()
    _require(owner in nodes, "{0}: owner '{1}' is not a node of the cluster".format(where, spec.get("owner")))
    preferred = [str(n).lower() for n in spec.get("preferred_owners") or []]
    _require(all(n in nodes for n in preferred), "{0}: preferred_owners must be nodes of the cluster".format(where))
    resources = spec.get("resources") or []
    _require(bool(resources) and all(isinstance(r, dict) and r.get("name") and r.get("type") for r in resources),
             "{0}: resources must be a list of {{name, type}}".format(where))
    for key in ("online_s", "offline_s"):
        _require(isinstance(spec.get(key, 1), (int, float)) and spec.get(key, 1) >= 0, "{0}: {1} must be seconds".format(where, key))
    out = {"name": name, "type": str(spec.get("type") or "GenericService"), "owner": owner, "preferred_owners": preferred,
           "resources": [{"name": str(r["name"]), "type": str(r["type"])} for r in resources], "online": bool(spec.get("online", True))}
    out.update({k: float(spec[k]) for k in ("online_s", "offline_s") if k in spec})
    return out
