"""Topology YAML -> validated plain data. Errors name the offending entry so a typo is found at `lab up`."""

from __future__ import annotations

import os

import yaml

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
    vmm = _vmm(data.get("vmm") or {}, host_site, vms)
    return {"name": name, "domain": data["domain"], "username": creds["username"], "sites": {s: [h for h, hs in host_site.items() if hs == s]
            for s in sites}, "vms": vms, "vmm": vmm}


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
_VMM_KEYS = {"server_vm", "clouds"}
_CLOUD_KEYS = {"host_group", "hosts"}


def _vmm(vmm: dict, host_site: dict, vms: list) -> dict:
    """The VMM server VM and its clouds (vmm-cluster-sql-notes.md §A); {} when the topology has no VMM."""
    if not vmm:
        return {}
    _require(isinstance(vmm, dict), "vmm: must be a mapping")
    unknown = set(vmm) - _VMM_KEYS
    _require(not unknown, "vmm: unknown keys {0}".format(sorted(unknown)))
    wanted = str(vmm.get("server_vm") or "").lower()
    names = [vm["name"] for vm in vms if vm["name"].lower() == wanted]
    _require(bool(names), "vmm.server_vm '{0}' is not a VM of the topology".format(vmm.get("server_vm")))
    server = names[0]
    # The VMM server becomes a Windows host named like its VM, so the name must not clash with a Hyper-V host.
    _require(server.lower() not in host_site, "vmm.server_vm '{0}' has the name of a Hyper-V host".format(server))
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
    return {"server_vm": server, "clouds": clouds}
