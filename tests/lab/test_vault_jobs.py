"""Vault jobs against the world: tasks over simulated time, the ASR state machine (allowed operations), the
Hyper-V Replica state the jobs leave on the hosts, VMM's view, the provider coupling, and the job faults."""

from __future__ import annotations

from lab.world import operations as ops
# lab_fixture is the `lab` fixture.
from tests.lab.test_vault_support import fail_over_vmm_by_hand, lab_fixture  # noqa: F401 pylint: disable=unused-import

P2R = {"properties": {"failoverDirection": "PrimaryToRecovery"}}
R2P = {"properties": {"failoverDirection": "RecoveryToPrimary"}}
UNPLANNED = {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired"}}


def props(lab, path):
    return lab.ok(path)["properties"]


def test_planned_failover_is_a_job_that_moves_through_its_tasks(lab):
    item = lab.item_path("app01")
    resp = lab.action(item, "plannedFailover", P2R)
    assert resp.status_code == 202 and resp.content == b""
    name = lab.job_name(resp)
    assert resp.headers["Location"].split("?")[0].lower().endswith((item + "/operationresults/" + name).lower())
    assert resp.headers["Retry-After"] == "30" and resp.headers["x-ms-request-id"].endswith("/replicationJobs/" + name)
    job = lab.job(name)["properties"]
    assert job["scenarioName"] == "PlannedFailover" and job["state"] == "InProgress" and job["allowedActions"] == ["Cancel"]
    assert [t["name"] for t in job["tasks"]] == ["PrerequisitesCheck", "ShutdownVirtualMachine", "SynchronizeData", "Failover",
                                                 "StartVirtualMachine"]
    # While it runs, the item allows nothing and reports the job as its current scenario.
    running = props(lab, item)
    assert running["allowedOperations"] == [] and running["currentScenario"]["scenarioName"] == "PlannedFailover"
    assert lab.session.get(resp.headers["Location"], timeout=30).status_code == 202
    lab.clock.advance(30)  # timings.md §7.3: prerequisites 30 s
    job = lab.job(name)["properties"]
    assert [t["state"] for t in job["tasks"]][:2] == ["Succeeded", "InProgress"]
    assert lab.vm("hv-pri-02", "app01").state == "Stopping"  # the shutdown has begun on the host
    lab.clock.advance(30 + 15 + 30 + 30)  # shutdown 30, sync 15, failover 20+10, start 30
    job = lab.job(name)["properties"]
    assert job["state"] == "Succeeded" and job["stateDescription"] == "Completed"
    final = lab.session.get(resp.headers["Location"], timeout=30)
    assert final.status_code == 200 and final.json()["properties"]["protectionState"] == "PlannedFailoverCommitRequired"
    # The Hyper-V Replica state on the hosts (HRS §3.1): primary prepared and off, replica failed over and running.
    assert lab.sides("app01") == {"hv-pri-02": ("Off", "Primary", "PreparedForFailover"),
                                  "hv-sec-02": ("Running", "Replica", "FailedOverWaitingCompletion")}
    view = lab.world.vmm_server.views[("hv-sec-02", "app01")]
    assert view.status == "Running" and view.replication_state == "FailedOverWaitingCompletion"  # VMM's view follows
    item_now = props(lab, item)
    assert item_now["activeLocation"] == "Recovery"
    assert item_now["allowedOperations"] == ["Commit", "CancelFailover", "ChangePit", "DisableProtection"]


def test_state_machine_refuses_what_is_not_allowed(lab):
    item = lab.item_path("web01")
    for verb, body in (("failoverCommit", None), ("reProtect", R2P), ("failoverCancel", None), ("testFailoverCleanup", {"properties": {}})):
        resp = lab.action(item, verb, body)
        assert resp.status_code == 400, verb
        assert resp.json()["error"]["details"][0]["code"] == "OperationNotAllowed"
    wrong = lab.action(item, "plannedFailover", R2P)
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["code"] == "InvalidFailoverDirection"
    first = lab.action(item, "testFailover", {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "NoNetworkAttachAsInput"}})
    assert first.status_code == 202
    second = lab.action(item, "plannedFailover", P2R)
    assert second.status_code == 400 and second.json()["error"]["details"][0]["code"] == "OperationInProgress"


def test_failover_commit_reprotect_and_failback(lab):
    item = lab.item_path("web02")
    assert lab.run_job(lab.action(item, "plannedFailover", P2R))["properties"]["state"] == "Succeeded"
    assert lab.run_job(lab.action(item, "failoverCommit"))["properties"]["state"] == "Succeeded"
    committed = props(lab, item)
    assert committed["protectionState"] == "FailoverCommitted" and committed["allowedOperations"] == ["ReverseReplicate", "DisableProtection"]
    assert lab.sides("web02")["hv-sec-03"] == ("Running", "Replica", "FailedOver")
    assert lab.run_job(lab.action(item, "reProtect", R2P))["properties"]["state"] == "Succeeded"
    # HRS §3.1 step 4: after a planned failover the reverse keeps replicating, now from the recovery site.
    assert lab.sides("web02") == {"hv-sec-03": ("Running", "Primary", "Replicating"), "hv-pri-03": ("Off", "Replica", "Replicating")}
    back = props(lab, item)
    assert back["protectionState"] == "Protected" and back["activeLocation"] == "Recovery"
    # Failback: planned failover the other way, commit, reprotect again (timings.md §2 [ASR-VMM-FO]).
    assert lab.run_job(lab.action(item, "plannedFailover", R2P))["properties"]["state"] == "Succeeded"
    assert lab.run_job(lab.action(item, "failoverCommit"))["properties"]["state"] == "Succeeded"
    assert lab.run_job(lab.action(item, "reProtect", P2R))["properties"]["state"] == "Succeeded"
    assert lab.sides("web02") == {"hv-pri-03": ("Running", "Primary", "Replicating"), "hv-sec-03": ("Off", "Replica", "Replicating")}
    home = props(lab, item)
    assert home["activeLocation"] == "Primary" and "PlannedFailover" in home["allowedOperations"] and home["lastSuccessfulFailoverTime"]


def test_cancel_failover_returns_to_protected(lab):
    item = lab.item_path("app02")
    lab.run_job(lab.action(item, "plannedFailover", P2R))
    assert lab.run_job(lab.action(item, "failoverCancel"))["properties"]["state"] == "Succeeded"
    assert lab.sides("app02") == {"hv-pri-03": ("Off", "Primary", "Replicating"), "hv-sec-03": ("Off", "Replica", "Replicating")}
    assert props(lab, item)["allowedOperations"] == ["PlannedFailover", "UnplannedFailover", "TestFailover", "DisableProtection"]


def test_provider_not_connected_fails_the_job_at_its_first_task(lab):
    lab.service.apply_fault({"kind": "provider-disconnected"})
    provider = lab.ok("replicationRecoveryServicesProviders")["value"][0]["properties"]
    assert provider["connectionStatus"] == "NotConnected"
    job = lab.run_job(lab.action(lab.item_path("app03"), "unplannedFailover", UNPLANNED))["properties"]
    assert job["state"] == "Failed" and job["tasks"][0]["state"] == "Failed" and job["allowedActions"] == ["Restart"]
    error = job["errors"][0]["serviceErrorDetails"]
    assert error["code"] == "VmmServerNotConnected" and "vmm01.lab.test" in error["message"] and "not connected" in error["message"]
    assert lab.sides("app03")["hv-sec-02"] == ("Off", "Replica", "Replicating")  # nothing happened on the hosts
    lab.service.apply_fault({"kind": "provider-disconnected", "clear": True})
    lab.clock.advance(59)
    assert lab.ok("replicationRecoveryServicesProviders")["value"][0]["properties"]["connectionStatus"] == "NotConnected"
    lab.clock.advance(2)  # timings.md §7.2: the provider reconnects 60 s after VMM is back
    assert lab.ok("replicationRecoveryServicesProviders")["value"][0]["properties"]["connectionStatus"] == "Connected"


def test_vmm_service_stopped_or_vm_off_means_not_connected(lab):
    lab.world.vmm_server.set_service_stopped(True)
    assert lab.ok("replicationRecoveryServicesProviders")["value"][0]["properties"]["connectionStatus"] == "NotConnected"
    job = lab.run_job(lab.action(lab.item_path("app01"), "plannedFailover", P2R))["properties"]
    assert job["state"] == "Failed" and "stopped" in job["errors"][0]["serviceErrorDetails"]["message"]
    lab.world.vmm_server.set_service_stopped(False)
    lab.clock.advance(180 + 60)
    assert lab.ok("replicationRecoveryServicesProviders")["value"][0]["properties"]["connectionStatus"] == "Connected"
    ops.run(lab.world, lambda: ops.stop_vm(lab.world, lab.vm("hv-pri-01", "vmm01"), "turnoff"))
    assert lab.ok("replicationRecoveryServicesProviders")["value"][0]["properties"]["connectionStatus"] == "NotConnected"


def test_unplanned_failover_with_the_primary_site_down(lab):
    lab.world.set_site_down("primary", True)
    item = lab.item_path("sql01")
    refused = lab.run_job(lab.action(item, "unplannedFailover", UNPLANNED))["properties"]
    assert refused["state"] == "Failed"  # VMM (on hv-pri-01) went down with the site
    fail_over_vmm_by_hand(lab)
    assert lab.ok("replicationRecoveryServicesProviders")["value"][0]["properties"]["connectionStatus"] == "Connected"
    body = {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "Required"}}
    job = lab.run_job(lab.action(item, "unplannedFailover", body))["properties"]
    # Source-site operations are not possible: they are reported, the failover goes on (timings.md §2 [ASR-VMM-FO]).
    assert job["state"] == "Succeeded" and job["stateDescription"] == "CompletedWithInformation"
    assert any(e["errorLevel"] == "Warning" for e in job["errors"])
    pending = props(lab, item)
    assert pending["protectionState"] == "UnplannedFailoverCommitPendingStatesBegin" and pending["activeLocation"] == "Recovery"
    assert lab.sides("sql01")["hv-sec-02"] == ("Running", "Replica", "FailedOverWaitingCompletion")
    assert lab.run_job(lab.action(item, "failoverCommit"))["properties"]["state"] == "Succeeded"
    assert props(lab, item)["protectionState"] == "UnplannedFailoverCommitted"
    no_site = lab.run_job(lab.action(item, "reProtect", R2P))["properties"]
    assert no_site["state"] == "Failed" and no_site["errors"][0]["serviceErrorDetails"]["code"] == "HostNotReachable"
    lab.world.set_site_down("primary", False)
    job = lab.run_job(lab.action(item, "reProtect", R2P))["properties"]
    assert job["state"] == "Succeeded"
    # After an unplanned failover the old primary becomes a replica and initial replication starts (timings.md §1.4).
    assert lab.sides("sql01") == {"hv-sec-02": ("Running", "Primary", "InitialReplicationInProgress"),
                                  "hv-pri-02": ("Off", "Replica", "WaitingForInitialReplication")}
    assert props(lab, item)["protectionState"] == "InitialReplicationInProgress"
    lab.clock.advance(4 * 3600)  # 60 GB at 20 MB/s (timings.md §7.1)
    done = props(lab, item)
    assert done["protectionState"] == "Protected" and done["activeLocation"] == "Recovery"
    assert "PlannedFailover" in done["allowedOperations"]


def test_test_failover_and_cleanup(lab):
    item = lab.item_path("file01")
    fabric = lab.ok("replicationFabrics")["value"][0]["name"]
    test_net = next(n for n in lab.ok("replicationNetworks")["value"] if n["properties"]["friendlyName"] == "Corp-Test")
    primary_net = next(n for n in lab.ok("replicationNetworks")["value"] if n["properties"]["friendlyName"] == "Corp-Primary")
    wrong = lab.action(item, "testFailover", {"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput",
                                                             "networkId": primary_net["id"]}})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["code"] == "InvalidNetworkId"
    assert fabric in test_net["id"]
    job = lab.run_job(lab.action(item, "testFailover", {"properties": {"failoverDirection": "PrimaryToRecovery",
                                                                       "networkType": "VmNetworkAsInput", "networkId": test_net["id"]}}))
    assert job["properties"]["state"] == "Succeeded"
    drill = props(lab, item)
    assert drill["testFailoverState"] == "WaitingForCompletion" and drill["allowedOperations"] == ["TestFailoverCleanup"]
    assert drill["currentScenario"]["scenarioName"] == "TestFailover" and drill["currentScenario"]["jobId"].endswith(job["name"])
    assert lab.vm("hv-sec-03", "file01 - Test").state == "Running" and lab.vm("hv-pri-03", "file01").state == "Running"
    cleanup = lab.run_job(lab.action(item, "testFailoverCleanup", {"properties": {"comments": "drill ok"}}))
    assert cleanup["properties"]["state"] == "Succeeded"
    assert lab.vm("hv-sec-03", "file01 - Test") is None
    after = props(lab, item)
    assert after["testFailoverState"] == "None" and after["lastSuccessfulTestFailoverTime"] and after["currentScenario"]["scenarioName"] == "None"


def test_change_recovery_point_after_unplanned_failover(lab):
    lab.world.set_site_down("primary", True)
    fail_over_vmm_by_hand(lab)
    item = lab.item_path("sql02")
    lab.run_job(lab.action(item, "unplannedFailover", UNPLANNED))
    points = lab.ok(item + "/recoveryPoints")["value"]
    assert len(points) > 2
    older = sorted(points, key=lambda p: p["properties"]["recoveryPointTime"])[0]
    body = {"properties": {"recoveryPointId": older["id"], "providerSpecificDetails": {}}}
    assert lab.run_job(lab.action(item, "applyRecoveryPoint", body))["properties"]["state"] == "Succeeded"
    rel = lab.vm("hv-sec-03", "sql02").replication
    assert rel.snapshot_id(rel.failover["point"]) == older["name"]
    assert props(lab, item)["failoverRecoveryPointId"].lower() == older["id"].lower()
    assert lab.vm("hv-sec-03", "sql02").state == "Running"


def test_job_fault_fails_at_the_task_and_restart_finishes(lab):
    lab.service.apply_fault({"kind": "vault-job-fail", "task": "Failover", "scenario": "PlannedFailover"})
    item = lab.item_path("app03")
    job = lab.run_job(lab.action(item, "plannedFailover", P2R))["properties"]
    assert job["state"] == "Failed"
    states = {t["name"]: t["state"] for t in job["tasks"]}
    assert states == {"PrerequisitesCheck": "Succeeded", "ShutdownVirtualMachine": "Succeeded", "SynchronizeData": "Succeeded",
                      "Failover": "Failed", "StartVirtualMachine": "NotStarted"}
    provider_error = job["errors"][0]["providerErrorDetails"]
    assert provider_error["errorCode"] == 31389 and "0x80004005" in provider_error["errorMessage"]
    # The failed step changed nothing: the replica has not failed over; the item allows resuming or cancelling.
    assert lab.sides("app03")["hv-sec-02"] == ("Off", "Replica", "Replicating")
    assert props(lab, item)["allowedOperations"] == ["PlannedFailover", "CancelFailover", "DisableProtection"]
    restarted = lab.call("POST", "replicationJobs/{0}/restart".format(job and lab.ok("replicationJobs")["value"][0]["name"]))
    assert restarted.status_code == 200 and restarted.json()["properties"]["state"] == "InProgress"
    lab.clock.advance(200)
    assert lab.job(restarted.json()["name"])["properties"]["state"] == "Succeeded"
    assert lab.sides("app03")["hv-sec-02"] == ("Running", "Replica", "FailedOverWaitingCompletion")
    # The next planned failover is not affected (the fault fires once).
    assert lab.run_job(lab.action(lab.item_path("app01"), "plannedFailover", P2R))["properties"]["state"] == "Succeeded"


def test_cancel_a_running_job(lab):
    name = lab.job_name(lab.action(lab.item_path("web03"), "plannedFailover", P2R))
    lab.clock.advance(35)
    resp = lab.call("POST", "replicationJobs/{0}/cancel".format(name))
    assert resp.status_code == 200
    lab.clock.advance(60)
    job = lab.job(name)["properties"]
    assert job["state"] == "Cancelled" and job["tasks"][-1]["state"] == "Cancelled"
    again = lab.call("POST", "replicationJobs/{0}/cancel".format(name))
    assert again.status_code == 400 and again.json()["error"]["details"][0]["code"] == "JobActionNotAllowed"
