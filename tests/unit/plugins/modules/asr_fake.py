# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake Azure Resource Manager for the asr_* module unit tests, plugged in as the azure-core HttpTransport.

It answers what the SDK and azure-identity send: the Entra token flow of a service principal (openid configuration,
token endpoint; a wrong secret is refused), ARM GET/list of vault resources, and ASR actions as 202 + Location
.../operationresults/<job> with the job then progressing on each GET replicationJobs/<job> (asr-api.md §5, §7).
Every request is recorded (method, path, query, JSON body, headers) so tests assert on what was really sent.
"""

from __future__ import annotations

import copy
import io
import json
import re
import uuid
from urllib.parse import parse_qs, urlparse

import requests
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._requests_basic import RestRequestsTransportResponse

SUB = "00000000-0000-0000-0000-000000000001"
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT_ID = "22222222-2222-2222-2222-222222222222"
SECRET = "s3cr3t-Value-never-in-results"
RG = "rg-dr"
VAULT = "vault-dr"
ARM = "https://arm.example.test:8443"
AUTHORITY = "https://login.example.test:8444"
TOKEN = "fake-access-token-value"
FABRIC = "f-vmm01"
PRI = "cloud_pri"
REC = "cloud_rec"
NO_SCENARIO = {"scenarioName": "None", "jobId": "/Subscriptions/%s/resourceGroups/%s/providers/Microsoft.RecoveryServices/vaults/%s"
               "/replicationJobs/None" % (SUB, RG, VAULT), "startTime": "1753-01-01T01:01:01Z"}

# allowedOperations per lifecycle, as the SPEC examples show them for the E2E vocabulary (asr-api.md §4).
ALLOWED = {
    "protected": ["PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection"],
    "failed_over": ["Commit", "CancelFailover", "ChangePit", "DisableProtection"],
    "committed": ["ReverseReplicate", "DisableProtection"],
    "test_failed_over": ["TestFailoverCleanup"],
}


def vault_path(sub=SUB, rg=RG, vault=VAULT):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.RecoveryServices/vaults/%s" % (sub, rg, vault)


class FakeTransport(HttpTransport):
    def __init__(self, arm):
        self.arm = arm

    def open(self):
        pass

    def close(self):
        pass

    def __exit__(self, *args):
        pass

    def sleep(self, duration):
        pass

    def send(self, request, **kwargs):
        status, headers, body = self.arm.handle(request)
        raw = requests.Response()
        raw.status_code = status
        raw.reason = "Fake"
        raw.headers.update(headers)
        data = b"" if body is None else json.dumps(body).encode()
        if body is not None:
            raw.headers["Content-Type"] = "application/json"
        raw.raw = io.BytesIO(data)
        raw.url = request.url
        return RestRequestsTransportResponse(request=request, internal_response=raw)


class FakeArm:
    """State: resources by lower-cased ARM path; jobs; request log; knobs for faults."""

    def __init__(self, job_polls=2):
        self.resources = {}
        self.jobs = {}
        self.requests = []
        self.job_polls = job_polls
        self.fail_job_with = None  # (code, message): the next job started ends Failed
        self.suspend_job_at = None  # manual action name: the next job started stops Suspended there until resumed
        self.status_override = {}  # (METHOD, path regex) -> (status, headers, body)
        self.accept_secret = SECRET
        self.location_style = "location"  # or "async" (Azure-AsyncOperation) or "request-id" or "sync200"
        self.vault_exists = True

    # ------------------------------------------------------------ building state

    def put(self, path, resource):
        resource = copy.deepcopy(resource)
        resource.setdefault("id", path)
        resource.setdefault("name", path.rsplit("/", 1)[-1])
        self.resources[path.lower()] = resource
        return resource

    def get(self, path):
        return self.resources[path.lower()]

    def estate(self):
        """One VMM fabric with a connected provider, two clouds paired with a policy, two VM networks."""
        base = vault_path()
        fabric = "%s/replicationFabrics/%s" % (base, FABRIC)
        self.put(fabric, {"properties": {"friendlyName": "vmm01.lab.test", "customDetails": {"instanceType": "VMM"}, "health": "Normal"}})
        self.put(fabric + "/replicationRecoveryServicesProviders/prov-1", {"properties": {
            "friendlyName": "vmm01.lab.test", "connectionStatus": "Connected", "lastHeartBeat": "2026-11-25T10:00:00Z",
            "providerVersion": "5.1.8000.0", "serverVersion": "10.22", "fabricType": "VMM"}})
        policy = self.put(base + "/replicationPolicies/pol-15m", {"properties": {"friendlyName": "pol-15m", "providerSpecificDetails": {
            "instanceType": "HyperVReplica2012R2", "replicationFrequencyInSeconds": 300, "recoveryPoints": 2,
            "applicationConsistentSnapshotFrequencyInHours": 1, "compression": "Enable", "initialReplicationMethod": "OverNetwork",
            "replicationPort": 8083, "allowedAuthenticationType": 1, "replicaDeletionOption": "None"}}})
        for name, friendly in ((PRI, "Primary Cloud"), (REC, "Recovery Cloud")):
            self.put("%s/replicationProtectionContainers/%s" % (fabric, name), {"properties": {
                "friendlyName": friendly, "fabricFriendlyName": "vmm01.lab.test", "pairingStatus": "Paired", "fabricType": "VMM"}})
        self.put("%s/replicationProtectionContainers/%s/replicationProtectionContainerMappings/map-1" % (fabric, PRI), {"properties": {
            "targetProtectionContainerId": "%s/replicationProtectionContainers/%s" % (fabric, REC), "policyId": policy["id"],
            "policyFriendlyName": "pol-15m", "state": "Paired", "health": "Normal", "sourceProtectionContainerFriendlyName": "Primary Cloud",
            "targetProtectionContainerFriendlyName": "Recovery Cloud"}})
        for name, friendly in (("net-pri", "VMNet-Prod"), ("net-rec", "VMNet-DR"), ("net-test", "VMNet-Test")):
            network = {"friendlyName": friendly, "networkType": "VmNetwork", "fabricType": "VMM", "subnets": []}
            self.put("%s/replicationNetworks/%s" % (fabric, name), {"properties": network})
        return fabric

    def add_item(self, vm, lifecycle="protected", active="Primary", rpi=None, points=()):
        fabric = "%s/replicationFabrics/%s" % (vault_path(), FABRIC)
        rpi = rpi or "rpi-%s" % vm
        path = "%s/replicationProtectionContainers/%s/replicationProtectedItems/%s" % (fabric, PRI, rpi)
        item = self.put(path, {"properties": {
            "friendlyName": vm, "protectedItemType": "HyperVVirtualMachine", "primaryFabricFriendlyName": "vmm01.lab.test",
            "recoveryFabricFriendlyName": "vmm01.lab.test", "recoveryFabricId": fabric, "primaryProtectionContainerFriendlyName": "Primary Cloud",
            "recoveryProtectionContainerFriendlyName": "Recovery Cloud", "recoveryContainerId": "%s/replicationProtectionContainers/%s" % (fabric, REC),
            "policyFriendlyName": "pol-15m", "replicationHealth": "Normal", "failoverHealth": "Normal", "testFailoverState": "None",
            "currentScenario": dict(NO_SCENARIO), "healthErrors": [],
            "providerSpecificDetails": {"instanceType": "HyperVReplica2012R2", "vmId": "vmid-%s" % vm, "lastReplicatedTime": "2026-11-25T10:00:00Z"}}})
        self.set_lifecycle(item, lifecycle, active)
        for index, (kind, when) in enumerate(points):
            self.put("%s/recoveryPoints/rp-%d" % (path, index), {"properties": {"recoveryPointType": kind, "recoveryPointTime": when}})
        return item

    @staticmethod
    def set_lifecycle(item, lifecycle, active):
        p = item["properties"]
        p["allowedOperations"] = list(ALLOWED[lifecycle])
        p["activeLocation"] = active
        p["protectionState"] = {"protected": "Protected", "failed_over": "PlannedFailoverCommitRequired", "committed": "FailoverCommitted",
                                "test_failed_over": "Protected"}[lifecycle]
        p["testFailoverState"] = "WaitingForCompletion" if lifecycle == "test_failed_over" else "None"

    def add_protectable(self, vm, readiness=()):
        fabric = "%s/replicationFabrics/%s" % (vault_path(), FABRIC)
        return self.put("%s/replicationProtectionContainers/%s/replicationProtectableItems/pi-%s" % (fabric, PRI, vm), {"properties": {
            "friendlyName": vm, "protectionStatus": "Unprotected", "protectionReadinessErrors": list(readiness),
            "supportedReplicationProviders": ["HyperVReplica2012R2"]}})

    def add_plan(self, name, vms, allowed=None):
        base = vault_path()
        fabric = "%s/replicationFabrics/%s" % (base, FABRIC)
        items = [r for r in self.resources.values() if "/replicationprotecteditems/" in r["id"].lower() and "/recoverypoints/" not in r["id"].lower()]
        members = [{"id": r["id"], "virtualMachineId": r["properties"]["providerSpecificDetails"]["vmId"]}
                   for vm in vms for r in items if r["properties"]["friendlyName"] == vm]
        return self.put("%s/replicationRecoveryPlans/%s" % (base, name), {"properties": {
            "friendlyName": name, "primaryFabricId": fabric, "recoveryFabricId": fabric, "primaryFabricFriendlyName": "vmm01.lab.test",
            "recoveryFabricFriendlyName": "vmm01.lab.test", "failoverDeploymentModel": "NotApplicable", "replicationProviders": ["HyperVReplica2012R2"],
            "allowedOperations": allowed if allowed is not None else list(ALLOWED["protected"][:3]), "currentScenario": dict(NO_SCENARIO),
            "groups": [{"groupType": "Shutdown", "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []},
                       {"groupType": "Failover", "replicationProtectedItems": [], "startGroupActions": [], "endGroupActions": []},
                       {"groupType": "Boot", "replicationProtectedItems": members, "startGroupActions": [], "endGroupActions": []}]}})

    # ------------------------------------------------------------ request log helpers

    def sent(self, method=None, contains=None):
        return [r for r in self.requests if (method is None or r["method"] == method) and (contains is None or contains.lower() in r["path"].lower())]

    def arm_requests(self):
        return [r for r in self.requests if r["host"] == urlparse(ARM).netloc]

    # ------------------------------------------------------------ HTTP

    def handle(self, request):
        url = urlparse(request.url)
        body = None
        content = request.content if hasattr(request, "content") else request.body
        if isinstance(content, dict):  # form data (the token request)
            body = {key: [str(value)] for key, value in content.items()}
        elif content:
            text = content.decode() if isinstance(content, bytes) else content
            try:
                body = json.loads(text)
            except ValueError:
                body = parse_qs(text)
        self.requests.append({"method": request.method, "host": url.netloc, "path": url.path, "query": parse_qs(url.query), "body": body,
                              "headers": dict(request.headers), "url": request.url})
        for (method, pattern), answer in self.status_override.items():
            if method == request.method and re.search(pattern, url.path, re.IGNORECASE):
                return answer
        if url.netloc == urlparse(AUTHORITY).netloc:
            return self._identity(url.path, body)
        if request.headers.get("Authorization") != "Bearer " + TOKEN:
            return 401, {}, {"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}
        if not self.vault_exists:
            return 404, {}, {"error": {"code": "ResourceNotFound", "message": "The Resource 'Microsoft.RecoveryServices/vaults/%s' under "
                                       "resource group '%s' was not found." % (VAULT, RG)}}
        return self._arm(request.method, url.path, body)

    def _identity(self, path, form):
        tenant = path.strip("/").split("/")[0]
        if path.endswith("/.well-known/openid-configuration"):
            return 200, {}, {"token_endpoint": AUTHORITY + "/%s/oauth2/v2.0/token" % tenant, "issuer": AUTHORITY + "/%s/v2.0" % tenant,
                             "authorization_endpoint": AUTHORITY + "/%s/oauth2/v2.0/authorize" % tenant}
        if path.endswith("/oauth2/v2.0/token"):
            secret = (form or {}).get("client_secret", [None])[0]
            if tenant != TENANT or secret != self.accept_secret or (form or {}).get("client_id", [None])[0] != CLIENT_ID:
                return 401, {}, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}
            return 200, {}, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        return 404, {}, {"error": "not_found"}

    def _arm(self, method, path, body):
        key = path.lower()
        if "/replicationjobs/" in key and method == "POST":
            return self._job_action(path, body)
        if method == "GET":
            if key.endswith("/replicationjobs"):
                return 200, {}, {"value": [self._public(job) for job in self.jobs.values()]}
            if "/replicationjobs/" in key:
                return self._job_get(key)
            if key in self.resources:
                return 200, {}, self._public(self.resources[key])
            parent, collection = key.rsplit("/", 1)
            if parent.startswith(vault_path().lower()) and self._is_collection(collection):
                found = [self._public(r) for p, r in sorted(self.resources.items())
                         if p.startswith(parent + "/") and p.split("/")[-2] == collection]
                return 200, {}, {"value": found}
            return 404, {}, {"error": {"code": "NotFound", "message": "%s was not found." % path.rsplit("/", 1)[-1]}}
        return self._action(method, path, body)

    @staticmethod
    def _is_collection(segment):
        return segment.startswith("replication") or segment == "recoverypoints"

    @staticmethod
    def _public(resource):
        return {k: v for k, v in resource.items() if not k.startswith("_")}

    # ------------------------------------------------------------ actions and jobs

    def _action(self, method, path, body):
        """POST <resource>/<action>, PUT/PATCH/DELETE <resource>: start a job whose end applies the effect."""
        if method == "POST":
            resource_path, action = path.rsplit("/", 1)
        else:
            resource_path, action = path, method
        effect = self.effects.get(action.lower())
        resource = self.resources.get(resource_path.lower())
        if resource is None and method in ("POST", "PATCH", "DELETE"):
            return 404, {}, {"error": {"code": "NotFound", "message": "%s was not found." % resource_path.rsplit("/", 1)[-1]}}
        job = self._new_job(action, resource_path, lambda: effect(self, resource_path, body) if effect else None)
        if self.location_style == "sync200":
            job["_polls_left"] = 0
            self._finish(job)
            return 200, {"x-ms-request-id": job["id"]}, self._public(self.resources.get(resource_path.lower()) or {})
        headers = {"Retry-After": "30"}
        if self.location_style == "location":
            headers["Location"] = ARM + resource_path + "/operationresults/" + job["name"] + "?api-version=2025-08-01"
        elif self.location_style == "async":
            headers["Azure-AsyncOperation"] = ARM + vault_path() + "/replicationOperationStatus/" + job["name"] + "?api-version=2025-08-01"
        elif self.location_style == "request-id":
            headers["x-ms-request-id"] = job["id"]
        return 202, headers, None

    def _new_job(self, action, target_path, on_done):
        name = str(uuid.uuid4())
        job = {"id": vault_path() + "/replicationJobs/" + name, "name": name, "type": "Microsoft.RecoveryServices/vaults/replicationJobs",
               "properties": {"scenarioName": SCENARIO_NAMES.get(action.lower(), action), "state": "InProgress", "stateDescription": "InProgress",
                              "targetObjectId": target_path, "targetObjectName": target_path.rsplit("/", 1)[-1], "allowedActions": ["Cancel"],
                              "startTime": "2026-11-25T10:00:00Z", "tasks": [{"name": "Prerequisite", "friendlyName": "Prerequisites check",
                                                                              "state": "InProgress", "errors": []}], "errors": []},
               "_polls_left": self.job_polls, "_on_done": on_done, "_fail": self.fail_job_with, "_suspend": self.suspend_job_at}
        self.fail_job_with = None
        self.suspend_job_at = None
        self.jobs[name.lower()] = job
        target = self.resources.get(target_path.lower())
        if target is not None and "currentScenario" in target.get("properties", {}):
            target["properties"]["currentScenario"] = {"scenarioName": job["properties"]["scenarioName"], "jobId": job["id"],
                                                       "startTime": "2026-11-25T10:00:00Z"}
        return job

    def _job_action(self, path, body):
        """POST replicationJobs/<job>/{resume,restart,cancel}: allowed by the job's allowedActions, answered 202 + Location."""
        job_path, action = path.rsplit("/", 1)
        job = self.jobs.get(job_path.rsplit("/", 1)[-1].lower())
        if job is None:
            return 404, {}, {"error": {"code": "NotFound", "message": "Job was not found."}}
        if action.capitalize() not in job["properties"]["allowedActions"]:
            return 400, {}, {"error": {"code": "OperationNotAllowed", "message": "%s is not allowed for the job." % action}}
        props = job["properties"]
        job["_comments"] = ((body or {}).get("properties") or {}).get("comments")
        if action == "cancel":
            props.update(state="Cancelled", stateDescription="Cancelled", allowedActions=[])
        else:
            for task in props["tasks"]:
                if "Resume" in task.get("allowedActions", []):
                    task.update(state="Succeeded", allowedActions=[])
            props.update(state="InProgress", stateDescription="InProgress", allowedActions=["Cancel"])
            job["_polls_left"] = self.job_polls
            job["_fail"] = None
        return 202, {"Location": ARM + job_path + "/operationresults/" + job["name"] + "?api-version=2025-08-01", "Retry-After": "30"}, None

    def _job_get(self, key):
        name = key.rsplit("/", 1)[-1]
        job = self.jobs.get(name)
        if job is None:
            return 404, {}, {"error": {"code": "NotFound", "message": "Job %s was not found." % name}}
        if job["properties"]["state"] == "InProgress":
            job["_polls_left"] -= 1
            if job["_polls_left"] <= 0:
                self._finish(job)
        return 200, {}, self._public(job)

    def _finish(self, job):
        props = job["properties"]
        if job["_suspend"]:
            props.update(state="Suspended", stateDescription="WaitingForManualAction", allowedActions=["Resume", "Cancel"])
            props["tasks"].append({"name": "ManualAction", "friendlyName": job["_suspend"], "state": "InProgress", "allowedActions": ["Resume"],
                                   "customDetails": {"instanceType": "ManualActionTaskDetails", "name": job["_suspend"],
                                                     "instructions": "Do it, then resume."}, "errors": []})
            job["_suspend"] = None
            return
        target = self.resources.get(props["targetObjectId"].lower())
        if target is not None and "currentScenario" in target.get("properties", {}):
            target["properties"]["currentScenario"] = dict(NO_SCENARIO)
        props["endTime"] = "2026-11-25T10:05:00Z"
        props["allowedActions"] = []
        if job["_fail"]:
            code, message = job["_fail"]
            props.update(state="Failed", stateDescription="Failed", allowedActions=["Restart"])
            props["tasks"][0].update(state="Failed", errors=[{"serviceErrorDetails": {"code": code, "message": message}}])
            props["errors"] = [{"serviceErrorDetails": {"code": code, "message": message, "recommendedAction": "Fix it."}, "errorLevel": "Error"}]
            return
        props.update(state="Succeeded", stateDescription="Completed")
        props["tasks"][0]["state"] = "Succeeded"
        if job["_on_done"]:
            job["_on_done"]()


# ---------------------------------------------------------------- effects of actions (a small E2E state machine)

def _item_effect(lifecycle, active=None):
    def effect(arm, path, body):
        item = arm.get(path)
        where = active
        if where == "target":
            where = "Recovery" if body["properties"]["failoverDirection"] == "PrimaryToRecovery" else "Primary"
        elif where == "other":
            where = {"Primary": "Recovery", "Recovery": "Primary"}[item["properties"]["activeLocation"]]
        arm.set_lifecycle(item, lifecycle, where or item["properties"]["activeLocation"])
        if lifecycle == "failed_over":
            item["properties"]["lastSuccessfulFailoverTime"] = "2026-11-25T10:05:00Z"
    return effect


def _plan_effect(lifecycle, active=None):
    def effect(arm, path, body):
        plan = arm.get(path)
        member_effect = _item_effect(lifecycle, active)
        plan["properties"]["allowedOperations"] = [op for op in ALLOWED[lifecycle] if op not in ("ChangePit", "DisableProtection")]
        for group in plan["properties"]["groups"]:
            for member in group["replicationProtectedItems"]:
                member_effect(arm, urlparse(member["id"]).path if member["id"].startswith("http") else member["id"], body)
    return effect


def _apply_point(arm, path, body):
    arm.get(path)["properties"]["failoverRecoveryPointId"] = body["properties"]["recoveryPointId"]


def _create(arm, path, body):
    """PUT/PATCH: what the service stores, in its read-back shape for the resource kinds the modules manage."""
    properties = copy.deepcopy(body.get("properties") or {})
    kind = path.lower().rsplit("/", 2)[-2]
    if kind == "replicationprotecteditems":
        protectable = arm.get(urlparse(properties["protectableItemId"]).path)
        item = arm.add_item(protectable["properties"]["friendlyName"], rpi=path.rsplit("/", 1)[-1])
        item["properties"]["policyId"] = properties["policyId"]
        protectable["properties"]["protectionStatus"] = "Protected"
        return
    if kind == "replicationpolicies":
        settings = dict(properties.get("providerSpecificInput") or properties.get("replicationProviderSettings"))
        deletion = settings.pop("replicaDeletion", "NotRequired")
        settings["replicaDeletionOption"] = "OnRecoveryCloud" if deletion == "Required" else "None"
        properties = {"friendlyName": path.rsplit("/", 1)[-1], "providerSpecificDetails": settings}
    if kind == "replicationprotectioncontainermappings":
        properties.update(state="Paired", health="Normal")
    if kind == "replicationnetworkmappings":
        primary = arm.get(path.rsplit("/replicationNetworkMappings/", 1)[0])
        recovery = arm.get(urlparse(properties["recoveryNetworkId"]).path)
        properties.update(state="Paired", primaryNetworkId=primary["id"], primaryNetworkFriendlyName=primary["properties"]["friendlyName"],
                          recoveryNetworkFriendlyName=recovery["properties"]["friendlyName"],
                          fabricSpecificSettings=properties.pop("fabricSpecificDetails"))
    existing = arm.resources.get(path.lower(), {"id": path, "name": path.rsplit("/", 1)[-1], "properties": {}})
    existing["properties"].update(properties)
    arm.resources[path.lower()] = existing


def _delete(arm, path, body):
    arm.resources.pop(path.lower(), None)


def _remove(arm, path, body):
    arm.resources.pop(path.lower(), None)


FakeArm.effects = {
    "plannedfailover": None, "unplannedfailover": None, "failovercommit": None, "reprotect": None, "testfailover": None,
    "testfailovercleanup": None, "failovercancel": None, "applyrecoverypoint": _apply_point, "put": _create, "patch": _create,
    "delete": _delete, "remove": _remove,
}
ITEM_EFFECTS = {
    "plannedfailover": _item_effect("failed_over", "target"), "unplannedfailover": _item_effect("failed_over", "target"),
    "failovercommit": _item_effect("committed"), "reprotect": _item_effect("protected"), "testfailover": _item_effect("test_failed_over"),
    "testfailovercleanup": _item_effect("protected"), "failovercancel": _item_effect("protected", "other"),
}
PLAN_EFFECTS = {
    "plannedfailover": _plan_effect("failed_over", "target"), "unplannedfailover": _plan_effect("failed_over", "target"),
    "failovercommit": _plan_effect("committed"), "reprotect": _plan_effect("protected"), "testfailover": _plan_effect("test_failed_over"),
    "testfailovercleanup": _plan_effect("protected"), "failovercancel": _plan_effect("protected", "other"),
}


def _dispatch(action):
    def effect(arm, path, body):
        kind = PLAN_EFFECTS if "/replicationrecoveryplans/" in path.lower() else ITEM_EFFECTS
        return kind[action](arm, path, body)
    return effect


for _action_name in ITEM_EFFECTS:
    FakeArm.effects[_action_name] = _dispatch(_action_name)

SCENARIO_NAMES = {"plannedfailover": "PlannedFailover", "unplannedfailover": "UnplannedFailover", "failovercommit": "CommitFailover",
                  "reprotect": "Reprotect", "testfailover": "TestFailover", "testfailovercleanup": "TestFailoverCleanup",
                  "failovercancel": "CancelFailover", "applyrecoverypoint": "ChangePit", "put": "Create", "patch": "Update", "delete": "Delete",
                  "remove": "Remove", "resume": "Resume", "restart": "Restart", "cancel": "Cancel"}


def connection_args(**extra):
    """Module options for a service principal against the fake ARM."""
    args = dict(subscription_id=SUB, resource_group=RG, vault_name=VAULT, client_id=CLIENT_ID, secret=SECRET, tenant=TENANT,
                arm_endpoint=ARM, authority_host=AUTHORITY)
    args.update(extra)
    return args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def run_module(monkeypatch, module, arm, args, check_mode=False, diff=False):
    """Run module.main() with args against the fake ARM; return (result dict, failed)."""
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.site_recovery.hyperv.plugins.module_utils import _asr, _asr_jobs

    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        raise ModuleExit(kwargs, True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(_asr, "TRANSPORT_FACTORY", lambda: FakeTransport(arm))
    monkeypatch.setattr(_asr_jobs, "sleep", lambda seconds: None)
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(full):
        try:
            module.main()
        except ModuleExit as done:
            return done.result, done.failed
    raise AssertionError("the module neither exited nor failed")
