"""The VMM management server of the lab: a VM of the estate, its service, its cached view, its jobs.

Sources: vmm-cluster-sql-notes.md §A (VCS below), timings.md (TIM), hyperv-replica-states.md (HRS).
Everything derives lazily from the clock and the world (no background thread): `sync(now)` brings
service state, job completion and the periodic refresher up to date whenever VMM is looked at.

Refresher choice (TIM §3.3, §7.2): the lab models the *legacy light refresher* (power state and
host responsiveness every 120 s) and no event-based push (5 s). Event-based refresh needs change
events from the hosts that the lab's Hyper-V side does not emit; the 120 s figure is the documented
worst case, so a runbook that refreshes VMM explicitly (Read-SCVirtualMachine, VCS §A.2) works
against both. Replication properties are only refreshed on demand (the heavy refresher runs every
30 min, TIM §3.3; INFERRED that it is never due within a DR rehearsal, so it is not modelled).

Hosting: the standalone layout runs VMM in a VM of the estate (`server_vm`); the stretch_cluster layout installs it
highly available as a role of a failover cluster (`cluster_role`, lab/world/cluster.py). The role's network name is
the VMM server's Windows host (a client access point that reaches the owner node): it answers while that network name
is online; the service answers once the role's service resource has been online SERVICE_READY_S, on a member of a
cluster with quorum, and while its database (in an availability group, lab/world/sqlag.py) is writable.
`service_answering(now)` is the one test every caller uses.

Database: standalone layout, the VMM database lives inside the VMM VM. INFERRED: after an unplanned
failover VMM restarts from a crash-consistent copy that is consistent; the lab keeps VMM's data as
it was when the service last ran (the few seconds between the last replication cycle and the crash
are not rolled back).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

from lab.world import operations as ops
from lab.world.durations import SECONDS

# TIM §7.1: guest boot to heartbeat OK, 60 s after the VM starts (the lab's shared duration table).
GUEST_BOOT_S = float(SECONDS["guest_boot"])
# TIM §7.2: VMM service ready 180 s after its VM boots (Kind M). INFERRED: the same after a service restart.
SERVICE_READY_S = 180.0
# TIM §3.3 / §7.2: legacy light refresher, 2 min per host.
LIGHT_REFRESH_S = 120.0
# TIM §7.2: Read-SCVirtualMachine (on-demand heavy refresh) 10 s.
VM_REFRESH_S = 10.0
# INFERRED: Read-SCVMHost takes as long as one VM refresh.
HOST_REFRESH_S = 10.0
# TIM §7.3: a VMM start job is 30 s (guest boot continues after it).
START_JOB_S = 30.0
# TIM §7.1: graceful guest shutdown 30 s; INFERRED 5 s for hard power-off, save and discard.
SHUTDOWN_JOB_S = 30.0
FAST_STOP_JOB_S = 5.0
# INFERRED: Repair-SCVirtualMachine -Dismiss is a database change plus one refresh.
REPAIR_JOB_S = VM_REFRESH_S
# VCS §A.1: default TCP port of the VMM service.
DEFAULT_PORT = 8100

# VCS §A.3: Status strings Running/PowerOff/Paused; "Saved" is INFERRED (prose only).
STATUS_OF_STATE = {"Running": "Running", "Off": "PowerOff", "Paused": "Paused", "Saved": "Saved"}
# INFERRED VMComputerSystemState names for a VM whose host does not answer / that vanished from its host.
HOST_NOT_RESPONDING = "HostNotResponding"
MISSING = "Missing"

_NAMESPACE = uuid.UUID("0b6c8d0e-3c2f-5e43-9a57-6f7d1c2e9b41")


class VmmError(Exception):
    """A VMM operation failed; `code` is VMM's error ID when a source gives one (else None)."""

    def __init__(self, message: str, code: int | None = None, kind: str = "InvalidOperation") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind


@dataclasses.dataclass
class VmView:
    """VMM's database row for one VM on one host: what VMM last saw, not what the host says now."""

    id: str
    host: str
    name: str
    status: str
    vm_state: str
    replication_state: str
    replication_mode: str
    replication_health: str
    light_at: datetime.datetime
    heavy_at: datetime.datetime
    failed: str | None = None  # a failed-state Status (VCS §A.3), cleared by Repair-SCVirtualMachine


@dataclasses.dataclass
class Job:
    """A VMM job (VCS §A.4). `due` is when it finishes if the service keeps running."""

    id: str
    name: str
    cmdlet: str
    result_name: str
    result_type: str
    owner: str
    start: datetime.datetime
    duration: float
    due: datetime.datetime
    instance: datetime.datetime | None  # the service run that executes it
    action: object = None  # callable(now) run at completion; raises VmmError to fail the job
    target: tuple | None = None  # key of the VM view a power job acts on
    status: str = "Running"
    end: datetime.datetime | None = None
    error: str | None = None
    done_s: float = 0.0  # seconds of work done at the last checkpoint (Restart-SCJob resumes here)

    def progress(self, now: datetime.datetime) -> int:
        if self.status == "Completed":
            return 100
        if self.status != "Running" or self.duration <= 0:
            return int(100 * self.done_s / self.duration) if self.duration else 0
        left = (self.due - now).total_seconds()
        return max(0, min(99, int(100 * (self.duration - left) / self.duration)))


class VmmServer:
    """One VMM management server: a VM (`server_vm`) protected by Hyper-V Replica (standalone layout), or a role of a
    failover cluster (`cluster_role`, stretch_cluster layout)."""

    def __init__(self, world, spec: dict) -> None:
        self.world = world
        self.cluster_role = spec.get("cluster_role")
        self.cluster_name = spec.get("cluster")
        self.database = dict(spec.get("database") or {})
        self.name = spec.get("server_vm") or self.cluster_role
        self.fqdn = "{0}.{1}".format(self.name, world.domain)
        self.port = DEFAULT_PORT
        self.clouds: dict[str, dict] = {name: dict(c) for name, c in (spec.get("clouds") or {}).items()}
        self.service_stopped = False  # the vmm-service fault
        self.service_started_at: datetime.datetime | None = None  # last restart by clearing the fault
        self.views: dict[tuple[str, str], VmView] = {}
        self.jobs: list[Job] = []
        self._instance: datetime.datetime | None = None
        self._last_seen_up: datetime.datetime | None = None
        now = world.clock.now()
        # INFERRED: VMM had refreshed everything just before the lab starts.
        for vm in list(world.vms.values()):
            if self.manages(vm.host):
                self.views[(vm.host, vm.name.lower())] = self._new_view(vm, now)

    # ---- identity and topology ------------------------------------------------------------
    def object_id(self, *parts: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join((self.world.name,) + parts).lower()))

    def managed_hosts(self) -> list[str]:
        out: list[str] = []
        for cloud in self.clouds.values():
            out.extend(h for h in cloud["hosts"] if h not in out)
        return out

    def manages(self, host: str) -> bool:
        return host in self.managed_hosts()

    def cloud_of(self, host: str) -> str | None:
        # INFERRED: a VM belongs to the cloud whose host group holds its host.
        for name, cloud in self.clouds.items():
            if host in cloud["hosts"]:
                return name
        return None

    def host_group_of(self, host: str) -> str | None:
        name = self.cloud_of(host)
        return self.clouds[name]["host_group"] if name else None

    # ---- the cluster role (stretch_cluster layout) ------------------------------------------------
    @property
    def highly_available(self) -> bool:
        return bool(self.cluster_role)

    def cluster(self):
        return self.world.clusters[self.cluster_name] if self.cluster_role else None

    def _role_resource_since(self, resource_type: str) -> datetime.datetime | None:
        """Since when the role's resource of that type (else the whole role) is online on a member of a quorate cluster."""
        cluster = self.cluster()
        group = cluster.group(self.cluster_role)
        res = next((r for r in group.resources if r.resource_type == resource_type), None)
        return cluster.group_online_since(group.name, res.name if res else None)

    def active_node(self) -> str | None:
        """The node that runs the VMM service: the role's owner (clustered), else the server VM itself."""
        if not self.cluster_role:
            return self.name
        return self.cluster().group(self.cluster_role).owner

    def database_writable(self) -> bool:
        """The VMM database accepts writes: a reachable replica of its availability group is primary with the database
        online (lab/world/sqlag.py). Without an availability group model the database counts as writable."""
        ag_name = self.database.get("availability_group")
        groups = getattr(self.world, "availability_groups", None) or {}
        ag = groups.get(ag_name) if isinstance(groups, dict) else next((g for g in groups if getattr(g, "name", None) == ag_name), None)
        if not ag_name or ag is None:
            return True
        return bool(ag.database_writable(self.database.get("name") or "VirtualManagerDB"))

    # ---- the VM, its guest and the service ----------------------------------------------------
    def server_vm(self):
        """The copy of the VMM VM that runs on a reachable Hyper-V host, if any."""
        with self.world.lock:  # also called from the service's reachability thread
            for vm in self.world.vms.values():
                if vm.role == "vmm_server" and vm.state == "Running" and not self.world.host_is_down(vm.host):
                    return vm
        return None

    def site(self, default: str) -> str:
        """Site of the Hyper-V host running the VMM VM (of the role's owner node); else `default`, else the site of its first copy."""
        if self.cluster_role:
            return self.cluster().nodes[self.active_node()].site
        vm = self.server_vm()
        if vm is None and not default:
            vm = next((v for v in self.world.vms.values() if v.role == "vmm_server"), None)
        return self.world.hosts[vm.host].site if vm is not None else default

    def booted_at(self) -> datetime.datetime | None:
        if self.cluster_role:
            # INFERRED: the client access point answers while the role's network name is online.
            return self._role_resource_since("Network Name")
        vm = self.server_vm()
        if vm is None or vm.started_at is None:
            return None
        return vm.started_at + datetime.timedelta(seconds=GUEST_BOOT_S)

    def guest_up(self, now: datetime.datetime | None = None) -> bool:
        """WinRM on the VMM server answers once its guest has booted (TIM §7.1)."""
        booted = self.booted_at()
        return booted is not None and (now or self.world.clock.now()) >= booted

    def service(self, now: datetime.datetime) -> tuple[str, datetime.datetime | None]:
        """(Stopped|Starting|Running, time it became Running)."""
        booted = self._role_resource_since("Generic Service") if self.cluster_role else self.booted_at()
        if booted is None or now < booted or self.service_stopped:
            return "Stopped", None
        if self.cluster_role and not self.database_writable():
            # INFERRED: the service cannot work without writing to its database; it answers again once the database is
            # writable (it keeps running and reconnects to SQL Server, so no new start delay).
            return "Stopped", None
        begin = max(booted, self.service_started_at or booted)
        ready = begin + datetime.timedelta(seconds=SERVICE_READY_S)
        return ("Running", ready) if now >= ready else ("Starting", None)

    def answering_since(self, now: datetime.datetime) -> datetime.datetime | None:
        """When the VMM service started answering clients (Running), or None while it does not answer.

        The one rule for "VMM is up" that its clients use (the ASR provider in lab/vault/state.py among them).
        """
        state, since = self.service(now)
        return since if state == "Running" else None

    def service_answering(self, now: datetime.datetime) -> bool:
        return self.answering_since(now) is not None

    def set_service_stopped(self, stopped: bool) -> None:
        """The vmm-service fault: stop the service, or start it again (Running SERVICE_READY_S later)."""
        with self.world.lock:
            now = self.world.clock.now()
            self.sync(now)
            if stopped and not self.service_stopped:
                self.service_stopped = True
            elif not stopped and self.service_stopped:
                self.service_stopped = False
                self.service_started_at = now
            self.sync(now)
        self.world.audit_event("fault", self.name, change="vmm-service", stopped=stopped)

    # ---- lazy progress ---------------------------------------------------------------------
    def sync(self, now: datetime.datetime) -> str:
        """Bring jobs and the periodic refresher up to `now`; returns the service state."""
        self.world.settle()  # Hyper-V transitions that fell due (lab/world/model.py)
        state, since = self.service(now)
        if since != self._instance:
            self._service_changed(since)
        if state != "Running":
            return state
        self._last_seen_up = now
        for job in self.jobs:
            if job.status == "Running" and job.due <= now:
                self._finish(job, job.due)
        # TIM §3.3: light refresher ticks every 120 s after the service started (INFERRED: first tick one
        # interval after start). The lab reads the hosts when it evaluates a tick, so a change that happened
        # between the tick and `now` can show up to one interval early (INFERRED approximation).
        ticks = int((now - since).total_seconds() // LIGHT_REFRESH_S)
        if ticks:
            tick = since + datetime.timedelta(seconds=ticks * LIGHT_REFRESH_S)
            self._discover(tick)
            for view in self.views.values():
                if view.light_at < tick:
                    self.light_refresh(view, tick)
        return state

    def _service_changed(self, since: datetime.datetime | None) -> None:
        # Jobs of a service run that ended: finished if due while VMM was last seen up, else failed
        # (INFERRED: VMM marks jobs interrupted by a service stop Failed; Restart-SCJob resumes them, TIM §7.2).
        for job in self.jobs:
            if job.status != "Running" or job.instance != self._instance or self._instance is None:
                continue
            if self._last_seen_up is not None and job.due <= self._last_seen_up:
                self._finish(job, job.due)
            else:
                end = self._last_seen_up or job.start
                job.done_s = max(0.0, min(job.duration, (end - job.start).total_seconds()))
                job.status, job.end = "Failed", end
                job.error = "The Virtual Machine Manager service stopped while the job was running."
                self._mark_failed(job)
        self._instance = since

    def _finish(self, job: Job, at: datetime.datetime) -> None:
        try:
            if callable(job.action):
                job.action(at)
        except VmmError as exc:
            job.status, job.end, job.error = "Failed", at, exc.message
            return
        job.status, job.end, job.done_s = "Completed", at, job.duration

    def _mark_failed(self, job: Job) -> None:
        # INFERRED: a VM whose power job was interrupted shows a failed state ("Update Failed", VCS §A.3)
        # until Repair-SCVirtualMachine.
        view = self.views.get(job.target) if job.target else None
        if view is not None and job.cmdlet in ("Start-SCVirtualMachine", "Stop-SCVirtualMachine"):
            view.failed = view.status = "UpdateFailed"

    # ---- VMM's view --------------------------------------------------------------------------
    def _new_view(self, vm, now: datetime.datetime) -> VmView:
        view = VmView(id=self.object_id("vm", vm.host, vm.name), host=vm.host, name=vm.name, status="", vm_state=vm.state,
                      replication_state="Disabled", replication_mode="None", replication_health="NotApplicable",
                      light_at=now, heavy_at=now)
        self._heavy_refresh(view, now)
        return view

    def _discover(self, now: datetime.datetime) -> None:
        # INFERRED: the light refresher also picks up VMs that appeared on a managed host.
        for vm in list(self.world.vms.values()):
            key = (vm.host, vm.name.lower())
            if key not in self.views and self.manages(vm.host):
                self.views[key] = self._new_view(vm, now)

    def light_refresh(self, view: VmView, now: datetime.datetime) -> None:
        """Power state and host responsiveness (TIM §3.3 light refresher)."""
        view.light_at = max(view.light_at, now)
        if self.world.host_is_down(view.host):
            view.status = HOST_NOT_RESPONDING
            return
        vm = self.world.vm(view.host, view.name)
        if vm is None:
            view.status = MISSING
            return
        view.vm_state = vm.state
        view.status = view.failed or STATUS_OF_STATE.get(vm.state, vm.state)

    def _heavy_refresh(self, view: VmView, now: datetime.datetime) -> None:
        """Every property VMM keeps (VCS §A.2: Read-SCVirtualMachine refreshes Name, Status, Host, ...)."""
        self.light_refresh(view, now)
        vm = self.world.vm(view.host, view.name)
        if vm is None or self.world.host_is_down(view.host):
            return
        view.heavy_at = max(view.heavy_at, now)
        rel = vm.replication
        if rel is None:
            view.replication_state, view.replication_mode, view.replication_health = "Disabled", "None", "NotApplicable"
        else:
            view.replication_state = rel.state_on(vm.host)
            view.replication_mode = rel.mode_on(vm.host)
            view.replication_health = rel.health(now, vm.host)

    def refresh_vm(self, view: VmView, now: datetime.datetime) -> None:
        if self.world.host_is_down(view.host):
            view.status = HOST_NOT_RESPONDING
            # INFERRED wording: no VMM transcript of a refresh against a dead host was found.
            raise VmmError("The host {0} is not responding. Virtual Machine Manager cannot refresh virtual machine {1}."
                           .format(self.world.hosts[view.host].fqdn, view.name), kind="ConnectionError")
        self._heavy_refresh(view, now)

    def refresh_host(self, host: str, now: datetime.datetime) -> None:
        """Read-SCVMHost (VCS §A.2). INFERRED: a host refresh also refreshes every VM on that host."""
        self._discover(now)
        for view in self.views_on(host):
            self.light_refresh(view, now)
        if self.world.host_is_down(host):
            raise VmmError("The host {0} is not responding.".format(self.world.hosts[host].fqdn), kind="ConnectionError")
        for view in self.views_on(host):
            self._heavy_refresh(view, now)

    def views_on(self, host: str) -> list[VmView]:
        return sorted((v for v in self.views.values() if v.host == host), key=lambda v: v.name.lower())

    def all_views(self) -> list[VmView]:
        return sorted(self.views.values(), key=lambda v: (v.name.lower(), v.host))

    def host_responding(self, host: str) -> bool:
        """VMM's view of a host: INFERRED to follow the light refresher's latest tick."""
        views = self.views_on(host)
        if views:
            return not all(v.status == HOST_NOT_RESPONDING for v in views)
        return not self.world.host_is_down(host)

    # ---- jobs --------------------------------------------------------------------------------
    def new_job(self, name: str, cmdlet: str, target: VmView | str, duration: float, action=None) -> Job:
        now = self.world.clock.now()
        view = target if isinstance(target, VmView) else None
        job = Job(id=self.object_id("job", str(len(self.jobs)), now.isoformat()), name=name, cmdlet=cmdlet,
                  result_name=view.name if view else str(target), result_type="VM" if view else "VMHost",
                  owner=self.world.credentials["username"], start=now, duration=duration,
                  due=now + datetime.timedelta(seconds=duration), instance=self._instance, action=action,
                  target=(view.host, view.name.lower()) if view else None)
        self.jobs.append(job)
        self.world.audit_event("vmm-job", self.name, job=job.id, name=name, cmdlet=cmdlet, target=job.result_name, event="created")
        return job

    def fail_job(self, job: Job, message: str) -> None:
        job.status, job.end, job.error = "Failed", self.world.clock.now(), message

    def stop_job(self, job: Job, now: datetime.datetime) -> None:
        """VCS §A.4: Stop-SCJob cancels a running job and has no effect otherwise."""
        if job.status == "Running":
            job.done_s = job.duration - max(0.0, (job.due - now).total_seconds())
            job.status, job.end = "Canceled", now

    def restart_job(self, job: Job, now: datetime.datetime) -> None:
        """VCS §A.4: failed or cancelled jobs restart from their last checkpoint (TIM §3.3)."""
        left = max(0.0, job.duration - job.done_s)
        job.status, job.end, job.error = "Running", None, None
        job.instance = self._instance
        job.due = now + datetime.timedelta(seconds=left)

    def status(self) -> dict:
        now = self.world.clock.now()
        state = self.sync(now)
        vm = self.server_vm()
        out = {"server_vm": self.name, "host": vm.host if vm else None, "guest_up": self.guest_up(now), "service": state,
               "clouds": sorted(self.clouds), "jobs_running": sum(1 for j in self.jobs if j.status == "Running")}
        if self.cluster_role:
            out.update(server_vm=None, cluster_role=self.cluster_role, cluster=self.cluster_name, host=self.active_node(),
                       database_writable=self.database_writable())
        return out


# ---- power actions on the Hyper-V VM (what VMM asks the host to do) -----------------------------------
# Stop-SCVirtualMachine flavours -> the Hyper-V stop of lab/world/operations.py (VCS §A.3: Use-SCShutdownVM,
# Use-SCSaveStateVM, Use-SCDiscardSavedStateVM, Use-SCStopVM).
_HOW = {"shutdown": "shutdown", "force": "turnoff", "save": "save", "discard": "turnoff"}


def host_error(world, host: str, detail: str) -> VmmError:
    # INFERRED wording, shaped like VMM's "cannot complete the host operation" errors; the error ID is not confirmed.
    return VmmError("VMM cannot complete the host operation on the {0} server because of the error: {1}"
                    .format(world.hosts[host].fqdn, detail), kind="InvalidOperation")


def power(world, vm, action: str) -> bool:
    """Have the host start/stop the Hyper-V VM with the Hyper-V rules (lab/world/operations.py); False if nothing to do.

    INFERRED: the host completes the change when VMM's job starts; the few seconds of Starting/Stopping
    inside the VMM job are not modelled.
    """
    if world.host_is_down(vm.host):
        raise host_error(world, vm.host, "The host is not responding.")
    if action == "discard" and vm.state != "Saved":
        # VCS §A.3: Use-SCDiscardSavedStateVM moves a VM from Saved to Stopped only (wording INFERRED).
        raise VmmError("The virtual machine {0} is not in a saved state.".format(vm.name), kind="InvalidOperation")
    try:
        plan = ops.start_vm(world, vm) if action == "start" else ops.stop_vm(world, vm, _HOW[action])
    except ops.Refused as exc:
        raise host_error(world, vm.host, exc.message) from None
    if plan.begin is None and plan.finish is None:
        return False  # VCS §A.3: starting a running VM (or stopping a stopped one) changes nothing
    for step in (plan.begin, plan.finish):
        if callable(step):
            step()
    return True
