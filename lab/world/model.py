"""The world state of one lab run: sites, Hyper-V hosts, VMs, replication, VMM data. One RLock guards it all."""

from __future__ import annotations

import dataclasses
import datetime
import threading
import uuid

from lab.world import sqlag, topology
from lab.world.cluster import Cluster
from lab.world.durations import Durations
from lab.world.replication import MONITORING_INTERVAL_S, Replication
from lab.world.vmm import VmmServer

# Stable ids: the same topology always yields the same VM ids (uuid5 of topology + VM name).
_NAMESPACE = uuid.UUID("6f1c3f0e-8d7a-5b8e-9a51-2d0c1e4b7a10")


@dataclasses.dataclass
class Host:
    name: str
    fqdn: str
    site: str
    down: bool = False  # the host itself (its site may be down too; see World.host_is_down)
    # Replica-server settings (Set-VMReplicationServer). INFERRED: every host is a Kerberos Replica
    # server on port 80 so that reverse replication (failback) works without extra setup.
    replication_enabled: bool = True
    auth_type: str = "Kerberos"
    kerberos_port: int = 80
    certificate_port: int = 443
    allow_any_server: bool = True
    # "hyperv" for a Hyper-V host; "vmm" for the VMM server, a VM of the estate (lab/world/vmm.py).
    role: str = "hyperv"
    storage_location: str = "D:\\Hyper-V\\Replica"
    logical_processors: int = 32
    memory_gb: int = 512
    certificate_thumbprint: str | None = None
    monitoring_interval_s: float = MONITORING_INTERVAL_S
    monitoring_start_s: float = 15 * 3600.0  # INFERRED default MonitoringStartTime 15:00
    # New-VMReplicationAuthorizationEntry rows: {"AllowedPrimaryServer", "ReplicaStorageLocation", "TrustGroup"}.
    auth_entries: list = dataclasses.field(default_factory=list)


class ServerHost(Host):
    """A Windows host that is a VM of the estate (the VMM server): its site is where that VM runs now."""

    def __init__(self, server) -> None:
        self._server = server
        self._site = ""
        super().__init__(name=server.name, fqdn=server.fqdn, site="", role="vmm")

    @property
    def site(self) -> str:
        self._site = self._server.site(self._site)
        return self._site

    @site.setter
    def site(self, value: str) -> None:
        self._site = value


@dataclasses.dataclass
class VM:
    name: str
    id: str
    host: str
    state: str  # VMState name (HRS §1.4)
    generation: int
    memory_mb: int
    cpus: int
    started_at: datetime.datetime | None = None
    replication: Replication | None = None
    role: str = ""  # "vmm_server" for the VMM VM
    disk_gb: float = topology.DEFAULT_DISK_GB
    test_of: str = ""  # the Replica VM a TestReplica VM was created from (HRS §3.3)
    # Enable-VMReplication -AsReplica on a VM without a relationship: the primary it accepts ("" = any).
    awaiting_primary: str | None = None


class World:
    """Holds every simulated object. Callers take `world.lock` around read-modify-write sequences."""

    def __init__(self, data: dict, clock, audit, password: str | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.audit = audit
        if audit is not None and hasattr(audit, "attach_clock"):
            audit.attach_clock(clock)
        self.name = data["name"]
        self.domain = data["domain"]
        self.credentials = {"username": data["username"], "password": password}
        self.vmm = data["vmm"]
        # What the runbook reads from the inventory (lab/service.py): the VMM layout and the workloads' engine.
        self.layout = data.get("layout", "standalone")
        self.engine = data.get("engine", "replica")
        self.sites: dict[str, dict] = {s: {"down": False} for s in data["sites"]}
        self.hosts: dict[str, Host] = {}
        for site, names in data["sites"].items():
            for name in names:
                self.hosts[name] = Host(name=name, fqdn="{0}.{1}".format(name, self.domain), site=site)
        # Key (host, vm name lower) -> VM: a replicated VM exists on both hosts with the same Id (Hyper-V Replica keeps VMId).
        self.vms: dict[tuple[str, str], VM] = {}
        # (host, since): when each host became unreachable, to build replication outages.
        self._down_since: dict[str, datetime.datetime] = {}
        self.durations = Durations(clock)
        # (host, cmdlet lower) -> {"message", "fqid", "category", "count"}: see inject_cmdlet_fault.
        self._cmdlet_faults: dict[tuple[str, str], dict] = {}
        start = clock.now()
        for spec in data["vms"]:
            self._add_vm(spec, start)
        # ---- failover clusters (lab/world/cluster.py): their nodes are Windows hosts of the world ----
        self.clusters: dict[str, Cluster] = {}
        for spec in data.get("clusters") or []:
            for node in spec["nodes"]:
                self.hosts[node["name"]] = Host(name=node["name"], fqdn="{0}.{1}".format(node["name"], self.domain), site=node["site"],
                                                role="cluster_node")
            self.clusters[spec["name"]] = Cluster(self, spec)
        # ---- SQL Server availability groups (lab/world/sqlag.py): replicas on cluster nodes, roles of their cluster ----
        self.availability_groups = sqlag.load(self, data.get("availability_groups") or {})
        # ---- VMM server (lab/world/vmm.py): a Windows host that is a VM of the estate, or a cluster role ----
        self.vmm_server = VmmServer(self, self.vmm) if self.vmm else None
        if self.vmm_server is not None:
            self.hosts[self.vmm_server.name] = ServerHost(self.vmm_server)

    @classmethod
    def load(cls, path_or_name: str, clock, audit, password: str | None = None) -> "World":
        return cls(topology.load(path_or_name), clock, audit, password)

    def _add_vm(self, spec: dict, start: datetime.datetime) -> None:
        vm_id = str(uuid.uuid5(_NAMESPACE, self.name + "/" + spec["name"].lower()))
        role = "vmm_server" if self.vmm and self.vmm.get("server_vm", "").lower() == spec["name"].lower() else ""
        running = spec["state"] == "Running"
        # INFERRED: running VMs have been up three days when the lab starts.
        primary = VM(spec["name"], vm_id, spec["host"], spec["state"], spec["generation"], spec["memory_mb"], spec["cpus"],
                     started_at=start - datetime.timedelta(days=3) if running else None, role=role,
                     disk_gb=spec.get("disk_gb", topology.DEFAULT_DISK_GB))
        self.vms[(spec["host"], spec["name"].lower())] = primary
        if spec["replica"]:
            rel = Replication(vm_name=spec["name"], vm_id=vm_id, primary_host=spec["host"], replica_host=spec["replica"],
                              primary_fqdn=self.hosts[spec["host"]].fqdn, replica_fqdn=self.hosts[spec["replica"]].fqdn,
                              frequency=spec["frequency"], recovery_history=spec["recovery_history"], vss_hours=spec["vss_hours"],
                              port=spec["port"], auth=spec["auth"],
                              # INFERRED: initial replication finished on a whole hour, established_hours_ago before start.
                              established=(start - datetime.timedelta(hours=spec["established_hours_ago"])).replace(
                                  minute=0, second=0, microsecond=0))
            primary.replication = rel
            # HRS §3.1/§3.2: the replica VM is off until failover.
            replica = VM(spec["name"], vm_id, spec["replica"], "Off", spec["generation"], spec["memory_mb"], spec["cpus"],
                         replication=rel, role=role, disk_gb=primary.disk_gb)
            self.vms[(spec["replica"], spec["name"].lower())] = replica

    # ---- lookups -------------------------------------------------------------------------
    def windows_hosts(self) -> list[Host]:
        return list(self.hosts.values())

    def host(self, name: str) -> Host:
        """By short name or FQDN, case-insensitively; KeyError if unknown."""
        low = name.lower()
        for host in self.hosts.values():
            if low in (host.name.lower(), host.fqdn.lower()):
                return host
        raise KeyError("unknown host '{0}'".format(name))

    def vm(self, host: str, name: str) -> VM | None:
        return self.vms.get((self.host(host).name, name.lower()))

    def add_vm(self, name: str, vm_id: str, host: str, like: VM) -> VM:
        """A new VM (Off) shaped like another: the Replica VM of Enable-VMReplication, a TestReplica VM (HRS §3.0, §3.3)."""
        with self.lock:
            vm = VM(name, vm_id, self.host(host).name, "Off", like.generation, like.memory_mb, like.cpus, role=like.role,
                    disk_gb=like.disk_gb)
            self.vms[(vm.host, name.lower())] = vm
            return vm

    def remove_vm(self, host: str, name: str) -> None:
        with self.lock:
            self.vms.pop((self.host(host).name, name.lower()), None)

    def vms_on(self, host: str) -> list[VM]:
        key = self.host(host).name
        return [vm for (vm_host, dummy), vm in self.vms.items() if vm_host == key]

    def replications(self) -> list[Replication]:
        seen: dict[int, Replication] = {}
        for vm in self.vms.values():
            if vm.replication is not None:
                seen[id(vm.replication)] = vm.replication
        return list(seen.values())

    def host_is_down(self, name: str) -> bool:
        host = self.host(name)
        if host.role == "vmm":
            # A VM-hosted server answers while its VM runs on a reachable host and its guest has booted.
            return host.down or not self.vmm_server.guest_up()
        return host.down or self.sites[host.site]["down"]

    def host_reachable(self, name: str) -> bool:
        """Whether the host's WinRM endpoint should answer: the host and its site are up."""
        return not self.host_is_down(name)

    def cluster_of(self, host_name: str) -> Cluster | None:
        """The failover cluster the host is a node of, if any."""
        for cluster in self.clusters.values():
            if cluster.node(host_name) is not None:
                return cluster
        return None

    def sync_clusters(self) -> None:
        """Bring the clusters up to now (before a reachability change, so events already due see the old state)."""
        for cluster in self.clusters.values():
            cluster.sync()
        sqlag.settle(self, self.clock.now())  # the AGs date what changes next from this look

    # ---- faults --------------------------------------------------------------------------
    def set_site_down(self, site: str, down: bool) -> None:
        if site not in self.sites:
            raise KeyError("unknown site '{0}'".format(site))
        with self.lock:
            self.sync_clusters()
            before = {h.name: self.host_is_down(h.name) for h in self.hosts.values()}
            self.sites[site]["down"] = down
            self._reachability_changed(before)

    def set_host_down(self, host: str, down: bool) -> None:
        with self.lock:
            self.sync_clusters()
            before = {h.name: self.host_is_down(h.name) for h in self.hosts.values()}
            self.host(host).down = down
            self._reachability_changed(before)

    def _reachability_changed(self, before: dict[str, bool]) -> None:
        now = self.clock.now()
        for cluster in self.clusters.values():
            cluster.reachability_changed(now)  # crashed members are lost, returning nodes boot (lab/world/cluster.py)
        for name, was_down in before.items():
            is_down = self.host_is_down(name)
            if is_down and not was_down:
                self._down_since[name] = now
                for rel in self.replications():
                    if name in (rel.primary_host, rel.replica_host):
                        # TIM §1.2: no send/receive while either end is unreachable.
                        rel.outages.append([now, None])
                self.audit_event("fault", name, change="down")
            elif was_down and not is_down:
                since = self._down_since.pop(name, now)
                self._host_returned(name, since, now)
                self.audit_event("fault", name, change="up")

    def _host_returned(self, name: str, since: datetime.datetime, now: datetime.datetime) -> None:
        for rel in self.replications():
            if name not in (rel.primary_host, rel.replica_host):
                continue
            other = rel.replica_host if name == rel.primary_host else rel.primary_host
            if not self.host_is_down(other):
                for outage in rel.outages:
                    if outage[1] is None:
                        outage[1] = now
            primary_vm = self.vms.get((rel.primary_host, rel.vm_name.lower()))
            if name == rel.primary_host and primary_vm is not None and primary_vm.state == "Running" \
                    and rel.state == "Replicating":
                # TIM §1.2: a host crash with the VM running requires resynchronization (health Critical).
                rel.state = "WaitingForStartResynchronize"
                rel.stopped_at = since
        for vm in self.vms_on(name):
            if vm.state == "Running":
                # INFERRED: a crashed host brings its VMs back Off (no automatic start action modelled).
                vm.state = "Off"
                vm.started_at = None

    def set_replication_state(self, rel: Replication, state: str, host: str | None = None) -> None:
        """The one way to change a relationship's state, so the clock-derived model stays consistent.

        Leaving shipping (both sides Replicating) freezes LastReplicationTime (HRS §3.5 Suspend pauses
        replication); coming back records the gap as an outage so missed cycles count against health
        (TIM §1.2). `host` sets one side's state only.
        """
        with self.lock:
            now = self.clock.now()
            was_shipping = rel.shipping()
            if host is not None:
                # One side only (HRS §3.1: the primary shows PreparedForFailover, the replica does not).
                rel.side_states[self.host(host).name] = state
            else:
                rel.side_states.clear()
                rel.state = state
            shipping = rel.shipping()
            if was_shipping and not shipping:
                rel.stopped_at = now
            elif shipping and not was_shipping:
                if rel.stopped_at is not None:
                    rel.outages.append([rel.stopped_at, now])
                rel.stopped_at = None

    def settle(self) -> None:
        """Apply the transitions the clock has made due since the last look (no background threads)."""
        with self.lock:
            now = self.clock.now()
            for rel in self.replications():
                job = rel.job
                if job is None or job["start"] > now or rel.state == "ResynchronizeSuspended":
                    continue
                if job["kind"] == "ir" and rel.state == "ReadyForInitialReplication":
                    # HRS §3.0 step 4: a scheduled initial replication starts at its time (the replica side keeps its state).
                    rel.state = "InitialReplicationInProgress"
                elif job["kind"] == "resync" and rel.state == "WaitingForStartResynchronize":
                    self.set_replication_state(rel, "Resynchronizing")  # HRS §3.5: scheduled resync starts
                if job["end"] <= now:
                    # Done: cycles (and recovery points) start afresh from the end of the copy (TIM §1.2: resync deletes points).
                    rel.job = None
                    rel.established = job["end"]
                    rel.outages = []
                    rel.stopped_at = None
                    rel.frequency_changes = []
                    self.set_replication_state(rel, "Replicating")
            sqlag.settle(self, now)

    # ---- cmdlet faults (tests and `lab fault cmdlet`) ---------------------------------------
    def inject_cmdlet_fault(self, host: str, cmdlet: str, message: str, fqid: str | None = None, category: str = "NotSpecified",
                            count: int | None = None) -> None:
        """The next `count` calls (None: every call) of cmdlet on host fail with this error, before any change."""
        with self.lock:
            self._cmdlet_faults[(self.host(host).name, cmdlet.lower())] = {"message": message, "fqid": fqid, "category": category,
                                                                           "count": count}
        self.audit_event("fault", self.host(host).name, change="cmdlet", cmdlet=cmdlet, count=count)

    def clear_cmdlet_fault(self, host: str, cmdlet: str) -> None:
        with self.lock:
            self._cmdlet_faults.pop((self.host(host).name, cmdlet.lower()), None)
        self.audit_event("fault", self.host(host).name, change="cmdlet-cleared", cmdlet=cmdlet)

    def take_cmdlet_fault(self, host: str, cmdlet: str) -> dict | None:
        """The fault this call must raise, if any (its count goes down by one)."""
        with self.lock:
            key = (self.host(host).name, cmdlet.lower())
            fault = self._cmdlet_faults.get(key)
            if fault is None:
                return None
            if fault["count"] is not None:
                fault["count"] -= 1
                if fault["count"] <= 0:
                    del self._cmdlet_faults[key]
            return dict(fault)

    def split_brain(self) -> list[str]:
        """VMs (by name) running on more than one host: only a user forcing a start can cause this."""
        with self.lock:
            running: dict[str, list[str]] = {}
            for vm in self.vms.values():
                # A down host counts as crashed (its VMs come back Off, see _host_returned): it runs nothing.
                if vm.state == "Running" and not vm.test_of and not self.host_is_down(vm.host):
                    running.setdefault(vm.id, []).append(vm.name)
            return sorted(names[0] for names in running.values() if len(names) > 1)

    def audit_event(self, kind: str, host: str, **fields) -> None:
        if self.audit is not None:
            self.audit.record(kind, host, **fields)

    # ---- summary -------------------------------------------------------------------------
    def status(self) -> dict:
        with self.lock:
            now = self.clock.now()
            reps = []
            self.settle()
            for rel in self.replications():
                last = rel.last_replication_time(now)
                reps.append({"vm": rel.vm_name, "primary": rel.primary_host, "replica": rel.replica_host, "state": rel.state,
                             "health": rel.health(now), "frequency": rel.frequency,
                             "last_replication": last.isoformat() if last else None,
                             "recovery_points": len(rel.recovery_points(now))})
            return {
                "topology": self.name,
                "time": now.isoformat(),
                "sites": {s: {"down": v["down"]} for s, v in self.sites.items()},
                "hosts": [{"name": h.name, "fqdn": h.fqdn, "site": h.site, "down": self.host_is_down(h.name),
                           "vms": [{"name": vm.name, "state": vm.state, "mode": vm.replication.mode_on(h.name) if vm.replication else "None"}
                                   for vm in self.vms_on(h.name)]} for h in self.hosts.values()],
                "replication": reps,
                "split_brain": self.split_brain(),
                "clusters": [c.status() for c in self.clusters.values()],
                "availability_groups": [ag.status(now) for ag in self.availability_groups.values()],
                "vmm": {"server_vm": self.vmm.get("server_vm"), "clouds": sorted((self.vmm.get("clouds") or {})),
                        **(self.vmm_server.status() if self.vmm_server is not None else {})},
            }
