"""The vault's ARM endpoint and token endpoint: paths, status codes, error bodies, validation, paging, throttling, audit."""

from __future__ import annotations

import json
import time

import requests

from lab.vault import server as vault_server
# lab_fixture is the `lab` fixture.
from tests.lab.test_vault_support import API, lab_fixture  # noqa: F401 pylint: disable=unused-import


# ---- Entra ID side -------------------------------------------------------------------------------------
def test_openid_discovery_names_the_token_endpoint(lab):
    resp = requests.get("{0}/{1}/v2.0/.well-known/openid-configuration".format(lab.inv["authority_host"], lab.inv["tenant"]),
                        verify=lab.inv["ca_bundle"], timeout=30)
    assert resp.status_code == 200
    assert resp.json()["token_endpoint"] == "{0}/{1}/oauth2/v2.0/token".format(lab.inv["authority_host"], lab.inv["tenant"])
    unknown = requests.get("{0}/{1}/v2.0/.well-known/openid-configuration".format(lab.inv["authority_host"], "0" * 8 + "-0000-0000-0000-" + "0" * 12),
                           verify=lab.inv["ca_bundle"], timeout=30)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_tenant"


def test_token_errors_are_entra_errors(lab):
    wrong = lab.token_request(secret="not-the-secret")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client" and wrong.json()["error_codes"] == [7000215]
    assert wrong.json()["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert lab.token_request(client_id="11111111-2222-3333-4444-555555555555").json()["error_codes"] == [700016]
    assert lab.token_request(scope="https://management.azure.com/user_impersonation").json()["error"] == "invalid_scope"
    assert lab.token_request(scope="https://vault.azure.net/.default").json()["error"] == "invalid_resource"
    good = lab.token_request()
    assert good.status_code == 200 and good.json()["token_type"] == "Bearer" and good.json()["expires_in"] == 3599


def test_arm_needs_a_valid_bearer_token(lab, monkeypatch):
    url = lab.url("replicationFabrics")
    missing = requests.get(url, verify=lab.inv["ca_bundle"], timeout=30)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    assert 'error="invalid_token"' in missing.headers["WWW-Authenticate"]
    forged = requests.get(url, headers={"Authorization": "Bearer abc.def.ghi"}, verify=lab.inv["ca_bundle"], timeout=30)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "InvalidAuthenticationToken"
    token = lab.token()
    later = time.time() + 3600  # the token's lifetime (3599 s) has passed on the wall clock
    monkeypatch.setattr("lab.vault.auth.time.time", lambda: later)
    expired = requests.get(url, headers={"Authorization": "Bearer " + token}, verify=lab.inv["ca_bundle"], timeout=30)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "ExpiredAuthenticationToken"


# ---- ARM front door --------------------------------------------------------------------------------
def test_api_version_is_checked(lab):
    missing = lab.get("replicationFabrics", api=None)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "MissingApiVersionParameter"
    unknown = lab.get("replicationFabrics", api="2099-01-01")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "NoRegisteredProviderFound"
    assert "2025-08-01" in unknown.json()["error"]["message"]
    for version in ("2025-08-01", "2026-05-01", "2018-01-10"):
        assert lab.get("replicationFabrics", api=version).status_code == 200


def test_paths_match_case_insensitively_like_arm(lab):
    expected = lab.ok("replicationFabrics")
    path = lab.vault_path.replace("/subscriptions/", "/Subscriptions/").replace("resourceGroups", "RESOURCEGROUPS")
    path = path.replace("Microsoft.RecoveryServices", "microsoft.recoveryservices").replace("dr-lab-vault", "DR-LAB-VAULT")
    resp = lab.get(path + "/REPLICATIONFABRICS")
    assert resp.status_code == 200 and resp.json()["value"][0]["id"] == expected["value"][0]["id"]
    # Ids come back with `/Subscriptions/` (asr-api.md §1) and resolve when sent back.
    assert expected["value"][0]["id"].startswith("/Subscriptions/")
    assert lab.get(expected["value"][0]["id"]).status_code == 200


def test_unknown_resources_answer_404_with_arm_errors(lab):
    wrong_sub = lab.vault_path.replace(lab.inv["subscription_id"], "00000000-0000-0000-0000-000000000000")
    assert lab.get(wrong_sub + "/replicationFabrics").json()["error"]["code"] == "SubscriptionNotFound"
    assert lab.get(lab.vault_path.replace("dr-lab-rg", "other-rg")).json()["error"]["code"] == "ResourceGroupNotFound"
    resp = lab.get(lab.vault_path.replace("dr-lab-vault", "other-vault"))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "ResourceNotFound"
    fabric = lab.ok("replicationFabrics")["value"][0]["name"]
    for path in ("replicationFabrics/nofabric", "replicationFabrics/{0}/replicationProtectionContainers/cloud_x".format(fabric),
                 "replicationPolicies/none", "replicationRecoveryPlans/none", "replicationJobs/none"):
        resp = lab.get(path)
        assert resp.status_code == 404, path
        assert set(resp.json()["error"]) >= {"code", "message"}
    item = lab.item_path("app01")
    assert lab.get(item.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000001").status_code == 404


def test_unmodelled_operations_are_refused_not_faked(lab):
    resp = lab.get("replicationLogicalNetworks")
    assert resp.status_code == 400 and resp.json()["error"]["details"][0]["code"] == "LabNotModelled"


# ---- the resources of the standalone vault ---------------------------------------------------------------
def test_fabric_provider_containers_and_setup_objects(lab):
    fabric = lab.ok("replicationFabrics")["value"]
    assert len(fabric) == 1 and fabric[0]["properties"]["customDetails"]["instanceType"] == "VMM"
    assert fabric[0]["properties"]["friendlyName"] == "vmm01.lab.test"
    base = "replicationFabrics/" + fabric[0]["name"]
    provider = lab.ok(base + "/replicationRecoveryServicesProviders")["value"][0]["properties"]
    assert provider["connectionStatus"] == "Connected" and provider["fabricType"] == "VMM" and provider["lastHeartBeat"]
    containers = {c["properties"]["friendlyName"]: c for c in lab.ok(base + "/replicationProtectionContainers")["value"]}
    assert set(containers) == {"Primary-Cloud", "Recovery-Cloud"}
    vmm = lab.world.vmm_server
    assert containers["Primary-Cloud"]["name"] == "cloud_" + vmm.object_id("cloud", "Primary-Cloud")
    assert all(c["properties"]["pairingStatus"] == "Paired" for c in containers.values())
    mapping = lab.ok(containers["Primary-Cloud"]["id"] + "/replicationProtectionContainerMappings")["value"][0]["properties"]
    assert mapping["targetProtectionContainerId"] == containers["Recovery-Cloud"]["id"] and mapping["state"] == "Paired"
    policy = lab.ok("replicationPolicies/hvr-5min")["properties"]["providerSpecificDetails"]
    assert policy["instanceType"] == "HyperVReplica2012R2" and policy["replicationFrequencyInSeconds"] == 300 and policy["replicationPort"] == 80
    networks = {n["properties"]["friendlyName"]: n for n in lab.ok("replicationNetworks")["value"]}
    assert set(networks) == {"Corp-Primary", "Corp-Recovery", "Corp-Test"}
    nmap = lab.ok("replicationNetworkMappings")["value"][0]["properties"]
    assert nmap["fabricSpecificSettings"]["instanceType"] == "VmmToVmm" and nmap["recoveryNetworkId"] == networks["Corp-Recovery"]["id"]
    protectable = lab.ok(containers["Primary-Cloud"]["id"] + "/replicationProtectableItems")["value"]
    # Every VM of the primary cloud except the VMM server VM, all protected in the standalone topology.
    assert sorted(p["properties"]["friendlyName"] for p in protectable) == sorted(
        ["sql01", "sql02", "app01", "app02", "app03", "web01", "web02", "web03", "file01", "dc-branch"])
    assert {p["properties"]["protectionStatus"] for p in protectable} == {"Protected"}


def test_protected_items_and_plan_of_the_standalone_topology(lab):
    items = lab.ok("replicationProtectedItems")["value"]
    assert len(items) == 10
    app01 = next(i for i in items if i["properties"]["friendlyName"] == "app01")["properties"]
    assert app01["protectionState"] == "Protected" and app01["activeLocation"] == "Primary"
    assert app01["allowedOperations"] == ["PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection"]
    assert app01["providerSpecificDetails"]["instanceType"] == "HyperVReplica2012R2"
    assert app01["providerSpecificDetails"]["vmId"] == lab.vm("hv-pri-02", "app01").id
    assert app01["currentScenario"]["scenarioName"] == "None" and app01["replicationHealth"] == "Normal"
    plan = lab.ok(lab.plan_path())["properties"]
    assert [g["groupType"] for g in plan["groups"]] == ["Shutdown", "Failover", "Boot", "Boot", "Boot"]
    names = {i["id"]: i["properties"]["friendlyName"] for i in items}
    assert [sorted(names[m["id"]] for m in g["replicationProtectedItems"]) for g in plan["groups"][2:]] == [
        ["sql01", "sql02"], ["app01", "app02", "app03"], ["dc-branch", "file01", "web01", "web02", "web03"]]
    assert set(plan["allowedOperations"]) == {"PlannedFailover", "UnplannedFailover", "TestFailover"}
    filtered = lab.ok("replicationProtectedItems", **{"$filter": "RecoveryPlanName eq 'full-estate'"})["value"]
    assert len(filtered) == 10
    points = lab.ok(lab.item_path("sql01") + "/recoveryPoints")["value"]
    assert len(points) == len(lab.vm("hv-sec-02", "sql01").replication.recovery_points(lab.clock.now()))
    assert {p["properties"]["recoveryPointType"] for p in points} <= {"ApplicationConsistent", "CrashConsistent"}


def test_lists_page_with_next_link(lab, monkeypatch):
    monkeypatch.setattr(vault_server, "PAGE_SIZE", 4)
    first = lab.ok("replicationProtectedItems")
    assert len(first["value"]) == 4 and "skipToken=4" in first["nextLink"] and "api-version=" + API in first["nextLink"]
    names = [v["name"] for v in first["value"]]
    link = first["nextLink"]
    while link:
        page = lab.session.get(link, timeout=30).json()
        names += [v["name"] for v in page["value"]]
        link = page.get("nextLink")
    assert sorted(names) == sorted(i.name for i in lab.vault.items.values())


# ---- request bodies ---------------------------------------------------------------------------------
def test_bodies_are_checked_against_the_models(lab):
    item = lab.item_path("app01")
    cases = [
        ("unplannedFailover", {}, "'properties' is required by UnplannedFailoverInput"),
        ("unplannedFailover", {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "Maybe"}}, "'Maybe' is not one of"),
        ("plannedFailover", {"properties": {"failoverDirection": "Sideways"}}, "'Sideways' is not one of"),
        ("plannedFailover", {"properties": {"failoverdirection": "PrimaryToRecovery"}}, "'failoverdirection' is not a member"),
        ("plannedFailover", {"properties": {"providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"}}}, "belongs to another replication"),
        ("plannedFailover", {"properties": {"providerSpecificDetails": {"instanceType": "HyperVReplica2012R2"}}}, "is not a type of"),
        ("testFailover", {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "Bridged"}}, "networkType 'Bridged'"),
        ("applyRecoveryPoint", {"properties": {"recoveryPointId": "x"}}, "'providerSpecificDetails' is required"),
    ]
    for verb, body, text in cases:
        resp = lab.action(item, verb, body)
        assert resp.status_code == 400, (verb, body, resp.text)
        assert text in resp.json()["error"]["message"], (verb, resp.json())
    broken = lab.session.post(lab.url(item + "/plannedFailover"), data="{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "InvalidRequestContent"
    # Nothing started: no job, the VM still runs at the primary site.
    assert lab.ok("replicationJobs")["value"] == [] and lab.vm("hv-pri-02", "app01").state == "Running"


def test_policy_and_plan_bodies(lab):
    no_port = {"properties": {"providerSpecificInput": {"instanceType": "HyperVReplica2012R2", "replicationFrequencyInSeconds": 300,
                                                        "allowedAuthenticationType": 1}}}
    resp = lab.call("PUT", "replicationPolicies/p2", no_port)
    assert resp.status_code == 400 and "replicationPort" in resp.json()["error"]["message"]
    bad_freq = {"properties": {"providerSpecificInput": {"instanceType": "HyperVReplica2012R2", "replicationFrequencyInSeconds": 60,
                                                         "replicationPort": 80, "allowedAuthenticationType": 1}}}
    assert lab.call("PUT", "replicationPolicies/p2", bad_freq).status_code == 400
    azure = {"properties": {"providerSpecificInput": {"instanceType": "A2A"}}}
    assert "another replication scenario" in lab.call("PUT", "replicationPolicies/p2", azure).json()["error"]["message"]
    fabric = lab.ok("replicationFabrics")["value"][0]["id"]
    classic = {"properties": {"primaryFabricId": fabric, "recoveryFabricId": fabric, "failoverDeploymentModel": "Classic",
                              "groups": [{"groupType": "Boot", "replicationProtectedItems": []}]}}
    assert lab.call("PUT", "replicationRecoveryPlans/rp2", classic).json()["error"]["details"][0]["code"] == "InvalidFailoverDeploymentModel"
    runbook = {"properties": {"primaryFabricId": fabric, "recoveryFabricId": fabric, "groups": [{"groupType": "Boot", "startGroupActions": [
        {"actionName": "rb", "failoverTypes": ["UnplannedFailover"], "failoverDirections": ["PrimaryToRecovery"],
         "customDetails": {"instanceType": "AutomationRunbookActionDetails", "fabricLocation": "Recovery"}}]}]}}
    assert lab.call("PUT", "replicationRecoveryPlans/rp2", runbook).status_code == 400
    other = {"properties": {"primaryFabricId": fabric, "recoveryFabricId": "Microsoft Azure", "groups": [{"groupType": "Boot"}]}}
    assert lab.call("PUT", "replicationRecoveryPlans/rp2", other).json()["error"]["details"][0]["code"] == "InvalidFabricId"


# ---- throttling and audit ----------------------------------------------------------------------------------
def test_throttle_fault_answers_429_with_retry_after(lab):
    lab.service.apply_fault({"kind": "vault-throttle", "count": 2})
    for dummy in range(2):
        resp = lab.get("replicationFabrics")
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
        assert resp.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert lab.get("replicationFabrics").status_code == 200


def test_every_request_is_audited_without_secrets(lab):
    lab.token_request(secret="wrong-one")
    lab.action(lab.item_path("app01"), "plannedFailover", {"properties": {"failoverDirection": "PrimaryToRecovery"}})
    entries = lab.audit.entries()
    rest = [e for e in entries if e["kind"] == "rest"]
    posts = [e for e in rest if e["method"] == "POST" and e["path"].endswith("/plannedFailover")]
    assert posts and posts[0]["status"] == 202 and posts[0]["api_version"] == API
    assert posts[0]["body"] == {"properties": {"failoverDirection": "PrimaryToRecovery"}}
    tokens = [e for e in rest if e["host"] == "login" and e["path"].endswith("/token")]
    assert {e["status"] for e in tokens} == {200, 401}
    assert all(e["body"]["client_secret"] == "********" for e in tokens)
    text = open(lab.audit.path, encoding="utf-8").read()
    assert lab.inv["secret"] not in text and "wrong-one" not in text
    assert lab.session.headers["Authorization"].split()[1] not in text
    assert json.loads(text.splitlines()[-1])["ts"]
