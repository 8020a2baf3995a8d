"""The setup path on a vault started unconfigured: policy, cloud pairing, network mapping, enable protection, plan."""

from __future__ import annotations

# setup_lab_fixture is the `setup_lab` fixture.
from tests.lab.test_vault_support import setup_lab_fixture  # noqa: F401 pylint: disable=unused-import

POLICY = {"properties": {"providerSpecificInput": {
    "instanceType": "HyperVReplica2012R2", "replicationFrequencyInSeconds": 300, "recoveryPoints": 4,
    "applicationConsistentSnapshotFrequencyInHours": 1, "compression": "Enable", "initialReplicationMethod": "OverNetwork",
    "replicationPort": 80, "allowedAuthenticationType": 1, "replicaDeletion": "NotRequired"}}}


def containers(lab):
    fabric = lab.ok("replicationFabrics")["value"][0]
    return fabric, {c["properties"]["friendlyName"]: c for c in lab.ok(fabric["id"] + "/replicationProtectionContainers")["value"]}


def test_unconfigured_vault_has_nothing_set_up(setup_lab):
    lab = setup_lab
    dummy, clouds = containers(lab)
    assert {c["properties"]["pairingStatus"] for c in clouds.values()} == {"NotPaired"}
    for kind in ("replicationPolicies", "replicationProtectionContainerMappings", "replicationNetworkMappings", "replicationProtectedItems",
                 "replicationRecoveryPlans"):
        assert lab.ok(kind)["value"] == [], kind
    protectable = lab.ok(clouds["Primary-Cloud"]["id"] + "/replicationProtectableItems", **{"$filter": "state eq 'Unprotected'"})["value"]
    assert len(protectable) == 10 and all(not p["properties"]["protectionReadinessErrors"] for p in protectable)
    assert lab.vm("hv-sec-02", "app01") is None and lab.vm("hv-pri-02", "app01").replication is None  # not replicating yet


def test_protection_setup_from_policy_to_plan(setup_lab):
    lab = setup_lab
    fabric, clouds = containers(lab)
    primary, recovery = clouds["Primary-Cloud"], clouds["Recovery-Cloud"]
    policy_job = lab.run_job(lab.call("PUT", "replicationPolicies/hvr-setup", POLICY))["properties"]
    assert policy_job["scenarioName"] == "AddProtectionProfile" and policy_job["state"] == "Succeeded"
    policy = lab.ok("replicationPolicies/hvr-setup")
    assert policy["properties"]["providerSpecificDetails"]["replicaDeletionOption"] == "None"
    protectable = {p["properties"]["friendlyName"]: p for p in lab.ok(primary["id"] + "/replicationProtectableItems")["value"]}
    enable = {"properties": {"policyId": policy["id"], "protectableItemId": protectable["app01"]["id"]}}
    not_paired = lab.call("PUT", primary["id"] + "/replicationProtectedItems/" + protectable["app01"]["name"], enable)
    assert not_paired.status_code == 400 and not_paired.json()["error"]["details"][0]["code"] == "ProtectionContainerNotPaired"
    mapping = {"properties": {"targetProtectionContainerId": recovery["id"], "policyId": policy["id"]}}
    self_pair = lab.call("PUT", primary["id"] + "/replicationProtectionContainerMappings/pair", {"properties": dict(
        mapping["properties"], targetProtectionContainerId=primary["id"])})
    assert self_pair.status_code == 400
    paired = lab.run_job(lab.call("PUT", primary["id"] + "/replicationProtectionContainerMappings/pair", mapping))["properties"]
    assert paired["state"] == "Succeeded" and paired["scenarioName"] == "PairClouds"
    assert {c["properties"]["pairingStatus"] for c in containers(lab)[1].values()} == {"Paired"}
    nets = {n["properties"]["friendlyName"]: n for n in lab.ok("replicationNetworks")["value"]}
    net_body = {"properties": {"recoveryFabricName": fabric["name"], "recoveryNetworkId": nets["Corp-Recovery"]["id"],
                               "fabricSpecificDetails": {"instanceType": "VmmToVmm"}}}
    to_azure = {"properties": dict(net_body["properties"], fabricSpecificDetails={"instanceType": "VmmToAzure"})}
    assert lab.call("PUT", nets["Corp-Primary"]["id"] + "/replicationNetworkMappings/corp", to_azure).status_code == 400
    assert lab.run_job(lab.call("PUT", nets["Corp-Primary"]["id"] + "/replicationNetworkMappings/corp", net_body))["properties"]["state"] == "Succeeded"
    # Enable protection: Hyper-V Replica is enabled to the recovery cloud and initial replication runs (HRS §3.0).
    item_path = primary["id"] + "/replicationProtectedItems/" + protectable["app01"]["name"]
    resp = lab.call("PUT", item_path, enable)
    job = lab.run_job(resp)["properties"]
    assert job["scenarioName"] == "EnableDr" and job["state"] == "Succeeded"
    assert lab.sides("app01") == {"hv-pri-02": ("Running", "Primary", "InitialReplicationInProgress"),
                                  "hv-sec-02": ("Off", "Replica", "WaitingForInitialReplication")}
    rel = lab.vm("hv-pri-02", "app01").replication
    assert (rel.frequency, rel.recovery_history, rel.vss_hours, rel.port, rel.auth) == (300, 4, 1, 80, "Kerberos")  # the policy's settings
    item = lab.ok(item_path)["properties"]
    assert item["protectionState"] == "InitialReplicationInProgress" and item["allowedOperations"] == ["DisableProtection"]
    assert lab.call("PUT", item_path, enable).json()["error"]["details"][0]["code"] == "ProtectedItemAlreadyExists"
    lab.clock.advance(4 * 3600)
    item = lab.ok(item_path)["properties"]
    assert item["protectionState"] == "Protected" and "PlannedFailover" in item["allowedOperations"]
    assert lab.ok(primary["id"] + "/replicationProtectableItems/" + protectable["app01"]["name"])["properties"]["protectionStatus"] == "Protected"
    plan = {"properties": {"primaryFabricId": fabric["id"], "recoveryFabricId": fabric["id"], "failoverDeploymentModel": "NotApplicable",
                           "groups": [{"groupType": "Boot", "replicationProtectedItems": [{"id": lab.ok(item_path)["id"]}]}]}}
    assert lab.run_job(lab.call("PUT", "replicationRecoveryPlans/apps", plan))["properties"]["state"] == "Succeeded"
    assert lab.ok("replicationRecoveryPlans/apps")["properties"]["allowedOperations"] == ["PlannedFailover", "UnplannedFailover", "TestFailover"]
    busy = lab.call("DELETE", "replicationPolicies/hvr-setup")
    assert busy.status_code == 400 and busy.json()["error"]["details"][0]["code"] == "PolicyInUse"


def test_enable_protection_needs_the_provider(setup_lab):
    lab = setup_lab
    dummy, clouds = containers(lab)
    primary, recovery = clouds["Primary-Cloud"], clouds["Recovery-Cloud"]
    policy = lab.run_job(lab.call("PUT", "replicationPolicies/p", POLICY)) and lab.ok("replicationPolicies/p")
    lab.run_job(lab.call("PUT", primary["id"] + "/replicationProtectionContainerMappings/pair",
                         {"properties": {"targetProtectionContainerId": recovery["id"], "policyId": policy["id"]}}))
    lab.service.apply_fault({"kind": "provider-disconnected"})
    web = next(p for p in lab.ok(primary["id"] + "/replicationProtectableItems")["value"] if p["properties"]["friendlyName"] == "web01")
    path = primary["id"] + "/replicationProtectedItems/" + web["name"]
    job = lab.run_job(lab.call("PUT", path, {"properties": {"policyId": policy["id"], "protectableItemId": web["id"]}}))["properties"]
    assert job["state"] == "Failed" and job["errors"][0]["serviceErrorDetails"]["code"] == "VmmServerNotConnected"
    assert lab.get(path).status_code == 404  # a failed enable leaves no item: it can be retried
    assert lab.vm("hv-pri-02", "web01").replication is None
