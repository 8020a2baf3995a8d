"""The vault's own records (what Azure stores) and its link to the world (what the VMM provider reports).

One fabric: the VMM server (fabricType VMM, asr-api.md §6); one Recovery Services Provider on it, Connected
while the VMM service answers (lab/world/vmm.py VmmServer.service_answering) plus the provider's reconnect
delay (timings.md §7.2: 60 s after VMM starts), and not while the `provider-disconnected` fault is set.
One protection container per VMM cloud, named cloud_<VMM cloud id> (asr-api.md §1). Protected items,
recovery plans and jobs are records; everything that describes replication is derived from the live
Hyper-V Replica state (lab/vault/items.py), so a client that crashed at any step reads the truth.
Callers hold world.lock around every use.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import uuid

from lab.vault import ids
from lab.vault import items as itemmod
from lab.vault import jobs as jobmod

# timings.md §7.2: the ASR Provider on VMM reconnects to the vault 60 s after VMM starts (Kind M).
PROVIDER_RECONNECT_S = 60.0
# timings.md §7.3 / asr-api.md §5: ASR asks clients to wait 30 s between polls.
RETRY_AFTER_S = 30.0
# INFERRED: a provider build of the Microsoft Azure Site Recovery Provider for VMM 2022.
PROVIDER_VERSION = "5.1.8095.0"
# asr-api.md §4: the idle currentScenario.
IDLE_START = "1753-01-01T01:01:01Z"


@dataclasses.dataclass
class Policy:
    name: str
    instance_type: str  # HyperVReplica2012R2 or HyperVReplica2012
    settings: dict  # the provider input as sent (wire names), defaults filled in


@dataclasses.dataclass
class Mapping:
    name: str
    source: str  # cloud names
    target: str
    policy: str


@dataclasses.dataclass
class NetworkMapping:
    name: str
    primary: str  # VM network names
    recovery: str


@dataclasses.dataclass
class Item:
    name: str
    vm: str
    vm_id: str
    cloud: str  # the primary cloud: the item's container, for good (INFERRED: failover does not move the resource)
    recovery_cloud: str
    policy: str
    enabling: str | None = None  # the EnableDr job while protection is being enabled
    last_failover: datetime.datetime | None = None
    last_test_failover: datetime.datetime | None = None
    test_network: str | None = None


@dataclasses.dataclass
class Plan:
    name: str
    groups: list  # [{"groupType", "items": [item names], "startGroupActions": [...], "endGroupActions": [...]}]
    last_planned: datetime.datetime | None = None
    last_unplanned: datetime.datetime | None = None
    last_test: datetime.datetime | None = None


class Vault:
    """One Recovery Services vault whose only fabric is the topology's VMM server."""

    def __init__(self, world, cfg: dict, secret: str) -> None:
        self.world = world
        self.cfg = cfg
        self.secret = secret
        self.subscription = cfg["subscription_id"]
        self.resource_group = cfg["resource_group"]
        self.name = cfg["name"]
        self.location = cfg["location"]
        self.tenant = cfg["tenant"]
        self.client_id = cfg["client_id"]
        self.vmm = world.vmm_server
        self.id = ids.vault_id(self.subscription, self.resource_group, self.name)
        # asr-api.md §1/§6: fabric names are long hex ids for a registered VMM server; containers are cloud_<guid>.
        self.fabric = hashlib.sha256(self.vmm.object_id("server").encode()).hexdigest()
        self.provider = self.vmm.object_id("asr-provider")
        self.containers = {cloud: "cloud_" + self.vmm.object_id("cloud", cloud) for cloud in self.vmm.clouds}
        self.networks = {self.vmm.object_id("vmnetwork", net): {"friendly": net, "cloud": cloud} for net, cloud in cfg["networks"].items()}
        self.policies: dict[str, Policy] = {}
        self.mappings: dict[str, Mapping] = {}
        self.network_mappings: dict[str, NetworkMapping] = {}
        self.items: dict[str, Item] = {}
        self.plans: dict[str, Plan] = {}
        self.jobs: dict[str, jobmod.Job] = {}
        self.placement = dict(cfg.get("placement") or {})
        self.started = world.clock.now()
        self._heartbeat = self.started
        self._provider_fault_at: datetime.datetime | None = None
        self._provider_cleared_at: datetime.datetime | None = None
        self._job_faults: list[dict] = []
        self.throttle_left = 0
        if cfg["configured"]:
            self._configure()

    # ---- the configured vault of the topology ---------------------------------------------------------
    def _configure(self) -> None:
        # Imported late: setup imports this module.
        from lab.vault import setup  # pylint: disable=import-outside-toplevel

        setup.configure(self)

    # ---- lookups (ARM names are case-insensitive) ----------------------------------------------------------
    def cloud_of_container(self, container: str) -> str | None:
        return next((cloud for cloud, name in self.containers.items() if name.lower() == container.lower()), None)

    def network_named(self, name: str) -> str | None:
        """Network resource name (id) from its name or friendly name."""
        low = name.lower()
        return next((key for key, net in self.networks.items() if low in (key.lower(), net["friendly"].lower())), None)

    def cloud_hosts(self, cloud: str) -> list[str]:
        return list(self.vmm.clouds[cloud]["hosts"])

    def side_of(self, item: Item, host: str) -> str:
        return "Primary" if host in self.cloud_hosts(item.cloud) else "Recovery"

    def item_by_vm(self, vm_name: str) -> Item | None:
        return next((i for i in self.items.values() if i.vm.lower() == vm_name.lower()), None)

    # ---- ids ----------------------------------------------------------------------------------------
    def fabric_id(self) -> str:
        return ids.child(self.id, "replicationFabrics", self.fabric)

    def provider_id(self) -> str:
        return ids.child(self.fabric_id(), "replicationRecoveryServicesProviders", self.provider)

    def container_id(self, cloud: str) -> str:
        return ids.child(self.fabric_id(), "replicationProtectionContainers", self.containers[cloud])

    def item_id(self, item: Item) -> str:
        return ids.child(self.container_id(item.cloud), "replicationProtectedItems", item.name)

    def protectable_id(self, cloud: str, vm_id: str) -> str:
        return ids.child(self.container_id(cloud), "replicationProtectableItems", vm_id)

    def policy_id(self, name: str) -> str:
        return ids.child(self.id, "replicationPolicies", name)

    def mapping_id(self, mapping: Mapping) -> str:
        return ids.child(self.container_id(mapping.source), "replicationProtectionContainerMappings", mapping.name)

    def network_id(self, net: str) -> str:
        return ids.child(self.fabric_id(), "replicationNetworks", net)

    def network_mapping_id(self, mapping: NetworkMapping) -> str:
        return ids.child(self.network_id(mapping.primary), "replicationNetworkMappings", mapping.name)

    def plan_id(self, plan: Plan) -> str:
        return ids.child(self.id, "replicationRecoveryPlans", plan.name)

    def job_id(self, name: str) -> str:
        return ids.child(self.id, "replicationJobs", name)

    def recovery_point_id(self, item: Item, point_name: str) -> str:
        return ids.child(self.item_id(item), "recoveryPoints", point_name)

    # ---- the provider on the VMM server ---------------------------------------------------------------
    def provider_connected(self, now: datetime.datetime) -> bool:
        if self._provider_fault_at is not None:
            return False
        since = self.vmm.answering_since(now)
        if since is None:
            return False
        since = max(since, self._provider_cleared_at or since)
        return now >= since + datetime.timedelta(seconds=PROVIDER_RECONNECT_S)

    def last_heartbeat(self, now: datetime.datetime) -> datetime.datetime:
        return now if self.provider_connected(now) else self._heartbeat

    def set_provider_disconnected(self, down: bool) -> None:
        """The provider-disconnected fault: the provider stops heartbeating; cleared, it reconnects like after a VMM start."""
        now = self.world.clock.now()
        self.sync(now)
        if down and self._provider_fault_at is None:
            self._provider_fault_at = now
        elif not down and self._provider_fault_at is not None:
            self._provider_fault_at = None
            self._provider_cleared_at = now

    def not_connected_error(self, now: datetime.datetime) -> jobmod.StepError:
        """What a job task that needs the provider reports while it is not connected."""
        fqdn = self.vmm.fqdn
        state, dummy = self.vmm.service(now)
        why = ("the Virtual Machine Manager service on it is {0}".format(state.lower()) if not self.vmm.guest_up(now)
               or state != "Running" else "its Azure Site Recovery Provider is not connected to the vault")
        # INFERRED code and wording (no public catalogue of ASR job error codes); the shape is JobErrorDetails (asr-api.md §5).
        return jobmod.StepError(
            "VmmServerNotConnected",
            "The operation failed because the Virtual Machine Manager server '{0}' is not connected to the Recovery Services vault "
            "'{1}': {2} (provider connectionStatus NotConnected, last heartbeat {3}).".format(
                fqdn, self.name, why, self._heartbeat.isoformat().replace("+00:00", "Z")),
            "The VMM server is off or unreachable, the Virtual Machine Manager service is stopped, or the Azure Site Recovery Provider "
            "on the VMM server cannot reach the vault.",
            "Start the VMM server and its Virtual Machine Manager service, wait until the provider's connectionStatus is Connected "
            "(replicationRecoveryServicesProviders), then restart the job or run the operation again.")

    # ---- faults (LabService.apply_fault) -----------------------------------------------------------
    def inject_job_failure(self, task: str, scenario: str | None) -> None:
        self._job_faults.append({"task": str(task), "scenario": scenario})

    def clear_job_faults(self) -> None:
        self._job_faults.clear()

    def take_job_fault(self, scenario: str) -> dict | None:
        for fault in self._job_faults:
            if fault["scenario"] is None or fault["scenario"].lower() == scenario.lower():
                self._job_faults.remove(fault)
                return fault
        return None

    def injected_error(self, job: jobmod.Job, task: jobmod.Task) -> jobmod.StepError:
        """vault-job-fail: the provider reports a failed VMM/Hyper-V job, in the shape of the transcript in
        MicrosoftDocs/azure-docs issue #68695 (provider error 31389 wrapping a Hyper-V error 0x80004005)."""
        vmm_job = str(uuid.uuid4()).upper()
        return jobmod.StepError(
            "ProviderOperationFailed", "The task '{0}' of job '{1}' failed on the Virtual Machine Manager server '{2}'.".format(
                task.friendly, job.friendly, self.vmm.fqdn),
            "Check the Provider errors for more information.", "Resolve the issue and restart the job.",
            provider={"errorCode": 31389, "errorId": str(uuid.uuid4()), "possibleCauses": "Check the error details.",
                      "recommendedAction": "Resolve the issue and try again.",
                      "errorMessage": "Job '{0}' ({1}) failed. Job State Exception. Error Code: 32768. ErrorSummaryDescription: Hyper-V "
                                      "failed to complete the operation.. ErrorDescription: Hyper-V failed to complete the operation for "
                                      "virtual machine '{2}': Unspecified error (0x80004005).".format(task.friendly, vmm_job,
                                                                                                      job.target_name)})

    def take_throttle(self) -> bool:
        if self.throttle_left > 0:
            self.throttle_left -= 1
            return True
        return False

    # ---- jobs --------------------------------------------------------------------------------------
    def start_job(self, job: jobmod.Job) -> jobmod.Job:
        job.cursor = job.start
        job.fault = self.take_job_fault(job.scenario)
        self.jobs[job.name.lower()] = job
        self.world.audit_event("vault-job", self.name, job=job.name, scenario=job.scenario,
                               target=job.target_name, event="created", fault=bool(job.fault))
        self.sync(self.world.clock.now())
        return job

    def running_jobs(self) -> list:
        return [job for job in self.jobs.values() if job.state in jobmod.ACTIVE]

    def job_on_item(self, item: Item):
        return next((job for job in self.running_jobs() if item.name in job.items), None)

    def job_on_plan(self, plan: Plan):
        return next((job for job in self.running_jobs() if job.plan == plan.name), None)

    def last_job(self, *, item: Item | None = None, plan: Plan | None = None, scenario: str | None = None):
        found = [job for job in self.jobs.values() if (item is None or item.name in job.items) and (plan is None or job.plan == plan.name)
                 and (scenario is None or job.scenario == scenario)]
        return found[-1] if found else None

    def sync(self, now: datetime.datetime) -> None:
        """Bring the world (initial replications, resyncs), the provider heartbeat and every running job up to now."""
        self.world.settle()
        if self.provider_connected(now):
            self._heartbeat = now
        for job in self.running_jobs():
            before = (job.state, job.index)
            jobmod.advance(job, jobmod.Ctx(self, self.world, now))
            if (job.state, job.index) != before:
                self.world.audit_event("vault-job", self.name, job=job.name, scenario=job.scenario, state=job.state,
                                       task=job.tasks[min(job.index, len(job.tasks) - 1)].name if job.tasks else None)

    def retry_after(self) -> int:
        """Retry-After in real seconds: ASR's 30 simulated seconds at the lab's time scale (1 s at the default 60x), an integer
        from 1 to 30 (a clock slower than real time, as in tests that move it by hand, still answers 30)."""
        return min(int(RETRY_AFTER_S), max(1, int(-(-RETRY_AFTER_S // self.world.clock.scale))))

    # ---- summary (python -m lab status) -------------------------------------------------------------------
    def summary(self) -> dict:
        now = self.world.clock.now()
        self.sync(now)
        states: dict[str, int] = {}
        for item in self.items.values():
            view = itemmod.view(self, item, now)
            key = "{0}/{1}".format(view.protection_state, view.active)
            states[key] = states.get(key, 0) + 1
        return {"name": self.name, "subscription_id": self.subscription, "resource_group": self.resource_group,
                "provider": "Connected" if self.provider_connected(now) else "NotConnected",
                "last_heartbeat": self.last_heartbeat(now).isoformat(), "policies": sorted(p.name for p in self.policies.values()),
                "pairings": sorted(m.name for m in self.mappings.values()), "protected_items": len(self.items), "item_states": states,
                "recovery_plans": sorted(p.name for p in self.plans.values()),
                "jobs_running": [{"name": j.name, "scenario": j.scenario, "state": j.state,
                                  "task": j.tasks[min(j.index, len(j.tasks) - 1)].name if j.tasks else None} for j in self.running_jobs()],
                "jobs_failed": sum(1 for j in self.jobs.values() if j.state == "Failed")}
