"""Recovery plans: group order, allowed operations derived from the items, resuming a partial plan, manual actions, CRUD."""

from __future__ import annotations

# lab_fixture is the `lab` fixture.
from tests.lab.test_vault_support import fail_over_vmm_by_hand, lab_fixture  # noqa: F401 pylint: disable=unused-import

P2R_UNPLANNED = {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired"}}
BOOT_ORDER = [["sql01", "sql02"], ["app01", "app02", "app03"], ["web01", "web02", "web03", "file01", "dc-branch"]]


def replica_hosts(lab):
    return {vm.name: vm.host for vm in lab.world.vms.values() if vm.host.startswith("hv-sec") and vm.role != "vmm_server"}


def test_plan_unplanned_failover_boots_group_after_group(lab):
    lab.world.set_site_down("primary", True)
    fail_over_vmm_by_hand(lab)
    resp = lab.action(lab.plan_path(), "unplannedFailover", P2R_UNPLANNED)
    assert resp.status_code == 202 and "/replicationRecoveryPlans/full-estate/operationresults/" in resp.headers["Location"]
    job = lab.run_job(resp)["properties"]
    assert job["state"] == "Succeeded" and job["targetInstanceType"] == "RecoveryPlan"
    assert [t["name"] for t in job["tasks"]] == ["PrerequisitesCheck", "Shutdown", "Failover", "Group1", "Group2", "Group3"]
    assert job["tasks"][1]["stateDescription"] == "Skipped"  # no source-site operations
    failover = job["tasks"][2]
    assert failover["groupTaskCustomDetails"]["rpGroupType"] == "Failover" and len(failover["groupTaskCustomDetails"]["childTasks"]) == 10
    # Boot order: every VM of group N started before any VM of group N+1 (timings.md §2 [ASR-RP-OVERVIEW]).
    hosts = replica_hosts(lab)
    started = {name: lab.vm(hosts[name], name).started_at for group in BOOT_ORDER for name in group}
    for earlier, later in zip(BOOT_ORDER, BOOT_ORDER[1:]):
        assert max(started[n] for n in earlier) < min(started[n] for n in later)
    assert all(lab.vm(hosts[n], n).replication.state_on(hosts[n]) == "FailedOverWaitingCompletion" for g in BOOT_ORDER for n in g)
    plan = lab.ok(lab.plan_path())["properties"]
    assert set(plan["allowedOperations"]) == {"Commit", "CancelFailover"} and plan["lastUnplannedFailoverTime"]
    assert plan["currentScenarioStatus"] == "Succeeded"
    commit = lab.run_job(lab.action(lab.plan_path(), "failoverCommit"))["properties"]
    assert commit["state"] == "Succeeded"
    assert lab.ok(lab.plan_path())["properties"]["allowedOperations"] == ["ReverseReplicate"]
    assert {i["properties"]["protectionState"] for i in lab.ok("replicationProtectedItems")["value"]} == {"UnplannedFailoverCommitted"}


def test_plan_resumes_after_a_partial_failover(lab):
    """An item failed over on its own (or by a job that stopped half-way) is skipped; the others fail over."""
    item = lab.item_path("app02")
    lab.run_job(lab.action(item, "plannedFailover", {"properties": {"failoverDirection": "PrimaryToRecovery"}}))
    plan = lab.ok(lab.plan_path())["properties"]
    assert "PlannedFailover" in plan["allowedOperations"] and "Commit" not in plan["allowedOperations"]
    job = lab.run_job(lab.action(lab.plan_path(), "plannedFailover", {"properties": {"failoverDirection": "PrimaryToRecovery"}}))["properties"]
    assert job["state"] == "Succeeded"
    children = [c["friendlyName"] for c in job["tasks"][2]["groupTaskCustomDetails"]["childTasks"]]
    assert len(children) == 9 and not any(c.endswith(": app02") for c in children)
    states = {i["properties"]["friendlyName"]: i["properties"]["protectionState"] for i in lab.ok("replicationProtectedItems")["value"]}
    assert set(states.values()) == {"PlannedFailoverCommitRequired"}
    wrong = lab.action(lab.plan_path(), "plannedFailover", {"properties": {"failoverDirection": "PrimaryToRecovery"}})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["code"] == "OperationNotAllowed"


def test_plan_manual_action_suspends_until_resumed(lab):
    fabric = lab.ok("replicationFabrics")["value"][0]["id"]
    items = {i["properties"]["friendlyName"]: i["id"] for i in lab.ok("replicationProtectedItems")["value"]}
    manual = {"actionName": "check-sql", "failoverTypes": ["TestFailover"], "failoverDirections": ["PrimaryToRecovery"],
              "customDetails": {"instanceType": "ManualActionDetails", "description": "Check the SQL test VMs"}}
    body = {"properties": {"primaryFabricId": fabric, "recoveryFabricId": fabric, "failoverDeploymentModel": "NotApplicable", "groups": [
        {"groupType": "Boot", "replicationProtectedItems": [{"id": items["sql01"]}], "endGroupActions": [manual]},
        {"groupType": "Boot", "replicationProtectedItems": [{"id": items["app01"]}]}]}}
    dupe = lab.call("PUT", "replicationRecoveryPlans/drill", {"properties": dict(body["properties"], groups=[
        {"groupType": "Boot", "replicationProtectedItems": [{"id": items["sql01"]}, {"id": items["sql01"]}]}])})
    assert dupe.status_code == 400 and dupe.json()["error"]["details"][0]["code"] == "DuplicateProtectedItem"
    created = lab.run_job(lab.call("PUT", "replicationRecoveryPlans/drill", body))
    assert created["properties"]["scenarioName"] == "CreateRecoveryPlan" and created["properties"]["state"] == "Succeeded"
    plan = lab.ok("replicationRecoveryPlans/drill")["properties"]
    assert [g["groupType"] for g in plan["groups"]] == ["Shutdown", "Failover", "Boot", "Boot"]  # the service adds Shutdown and Failover
    test = {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "NoNetworkAttachAsInput"}}
    job = lab.run_job(lab.action(lab.plan_path("drill"), "testFailover", test))["properties"]
    assert job["state"] == "Suspended" and job["allowedActions"] == ["Resume", "Cancel"]
    assert [t["name"] for t in job["tasks"] if t["state"] == "InProgress"] == ["check-sql"]
    assert lab.vm("hv-sec-02", "sql01 - Test").state == "Running" and lab.vm("hv-sec-02", "app01 - Test") is not None
    assert lab.vm("hv-sec-02", "app01 - Test").state == "Off"  # group 2 waits for the manual action
    resumed = lab.call("POST", "replicationJobs/{0}/resume".format(lab.ok("replicationJobs")["value"][0]["name"]),
                       {"properties": {"comments": "checked"}})
    assert resumed.status_code == 200
    lab.clock.advance(60)
    assert lab.job(resumed.json()["name"])["properties"]["state"] == "Succeeded"
    assert lab.vm("hv-sec-02", "app01 - Test").state == "Running"
    assert lab.ok("replicationRecoveryPlans/drill")["properties"]["allowedOperations"] == ["TestFailoverCleanup"]
    cleanup = lab.run_job(lab.action(lab.plan_path("drill"), "testFailoverCleanup", {"properties": {"comments": "ok"}}))
    assert cleanup["properties"]["state"] == "Succeeded" and lab.vm("hv-sec-02", "sql01 - Test") is None
    update = lab.run_job(lab.call("PATCH", "replicationRecoveryPlans/drill", {"properties": {"groups": [
        {"groupType": "Boot", "replicationProtectedItems": [{"id": items["web01"]}]}]}}))
    assert update["properties"]["state"] == "Succeeded"
    groups = lab.ok("replicationRecoveryPlans/drill")["properties"]["groups"]
    assert [m["id"] for g in groups for m in g["replicationProtectedItems"]] == [items["web01"]]
    deleted = lab.call("DELETE", "replicationRecoveryPlans/drill")
    job = lab.run_job(deleted)
    assert job["properties"]["scenarioName"] == "DeleteRecoveryPlan"
    assert lab.session.get(deleted.headers["Location"], timeout=30).status_code == 204
    assert lab.get("replicationRecoveryPlans/drill").status_code == 404


def test_item_in_a_plan_cannot_be_disabled(lab):
    resp = lab.action(lab.item_path("web01"), "remove", {"properties": {"disableProtectionReason": "NotSpecified"}})
    assert resp.status_code == 400 and resp.json()["error"]["details"][0]["code"] == "ProtectedItemInRecoveryPlan"
