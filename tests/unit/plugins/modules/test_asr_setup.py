# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The setup modules against the fake ARM: replication policy, cloud pairing, network mapping, protection, recovery plan definition."""

from __future__ import annotations

import pytest

from ansible_collections.site_recovery.hyperv.plugins.modules import (
    asr_container_mapping, asr_network_mapping, asr_protection, asr_recovery_plan_config, asr_replication_policy)
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.modules.asr_fake import PRI, REC, FakeArm, connection_args, run_module


@pytest.fixture
def arm():
    fake = FakeArm()
    fake.estate()
    return fake


def writes(arm):
    return [r for r in arm.arm_requests() if r["method"] in ("PUT", "PATCH", "POST", "DELETE")]


# ---------------------------------------------------------------- replication policy

def policy(monkeypatch, arm, check_mode=False, **args):
    return run_module(monkeypatch, asr_replication_policy, arm, connection_args(**args), check_mode=check_mode, diff=True)


def test_policy_created_with_defaults_then_idempotent(monkeypatch, arm):
    result, failed = policy(monkeypatch, arm, name="pol-new", recovery_points=4, app_consistent_frequency=2, compression=True)
    assert not failed and result["changed"], result["msg"]
    put = writes(arm)[0]
    assert put["method"] == "PUT" and put["path"].endswith("/replicationPolicies/pol-new")
    assert put["body"] == {"properties": {"providerSpecificInput": {
        "instanceType": "HyperVReplica2012R2", "replicationFrequencyInSeconds": 300, "recoveryPoints": 4,
        "applicationConsistentSnapshotFrequencyInHours": 2, "compression": "Enable", "initialReplicationMethod": "OverNetwork",
        "replicationPort": 8083, "allowedAuthenticationType": 1, "replicaDeletion": "NotRequired"}}}
    assert result["policy"]["settings"]["recovery_points"] == 4 and result["policy"]["settings"]["allow_replica_deletion"] is False
    result, failed = policy(monkeypatch, arm, name="pol-new", recovery_points=4, compression=True)
    assert not failed and not result["changed"] and len(writes(arm)) == 1


def test_policy_update_sends_all_settings_with_the_change(monkeypatch, arm):
    result, failed = policy(monkeypatch, arm, name="pol-15m", replication_frequency=30, allow_replica_deletion=True)
    assert not failed and result["changed"]
    patch = writes(arm)[0]
    assert patch["method"] == "PATCH"
    settings = patch["body"]["properties"]["replicationProviderSettings"]
    assert settings["replicationFrequencyInSeconds"] == 30 and settings["replicaDeletion"] == "Required" and settings["recoveryPoints"] == 2
    assert result["diff"]["before"]["replication_frequency"] == 300 and result["diff"]["after"]["replication_frequency"] == 30
    assert "allow_replica_deletion, replication_frequency" in result["msg"]


def test_policy_check_mode_and_bad_input(monkeypatch, arm):
    result, failed = policy(monkeypatch, arm, name="pol-x", authentication="certificate", check_mode=True)
    assert not failed and result["changed"] and writes(arm) == []
    assert result["request"]["properties"]["providerSpecificInput"]["replicationPort"] == 8084
    result, failed = policy(monkeypatch, arm, name="pol-x", app_consistent_frequency=2)
    assert failed and "needs recovery_points above 0" in result["msg"]
    result, failed = policy(monkeypatch, arm, name="pol-x", initial_replication_method="offline")
    assert failed and "offline_export_path" in result["msg"]
    result, failed = policy(monkeypatch, arm, name="pol-x", online_replication_start_time="25:00")
    assert failed and "HH:MM:SS" in result["msg"]
    assert writes(arm) == []


def test_policy_in_use_is_not_removed(monkeypatch, arm):
    result, failed = policy(monkeypatch, arm, name="pol-15m", state="absent")
    assert failed and "used by the cloud pairing(s) Primary Cloud -> Recovery Cloud" in result["msg"]
    result, failed = policy(monkeypatch, arm, name="pol-gone", state="absent")
    assert not failed and not result["changed"]


# ---------------------------------------------------------------- cloud pairing

def pairing(monkeypatch, arm, check_mode=False, **args):
    return run_module(monkeypatch, asr_container_mapping, arm, connection_args(**args), check_mode=check_mode, diff=True)


def test_existing_pairing_is_left_alone_and_a_new_policy_pairs_again(monkeypatch, arm):
    result, failed = pairing(monkeypatch, arm, primary_cloud="Primary Cloud", recovery_cloud="Recovery Cloud", policy="pol-15m")
    assert not failed and not result["changed"] and writes(arm) == []
    assert policy(monkeypatch, arm, name="pol-30s", replication_frequency=30)[0]["changed"]
    result, failed = pairing(monkeypatch, arm, primary_cloud=PRI, recovery_cloud="recovery cloud", policy="pol-30s")
    assert not failed and result["changed"], result["msg"]
    put = writes(arm)[-1]
    assert put["method"] == "PUT" and put["path"].endswith("/replicationProtectionContainers/%s/replicationProtectionContainerMappings/"
                                                           "pol-30s-%s-%s" % (PRI, PRI, REC))
    assert put["body"]["properties"]["targetProtectionContainerId"].endswith("/replicationProtectionContainers/" + REC)
    assert put["body"]["properties"]["policyId"].endswith("/replicationPolicies/pol-30s")
    assert len(result["mappings"]) == 2


def test_pairing_a_cloud_with_itself_is_refused(monkeypatch, arm):
    result, failed = pairing(monkeypatch, arm, primary_cloud="Primary Cloud", recovery_cloud=PRI, policy="pol-15m")
    assert failed and "same cloud" in result["msg"]


def test_unpairing_is_refused_while_items_are_protected(monkeypatch, arm):
    arm.add_item("app01")
    arm.get(next(k for k in arm.resources if k.endswith("rpi-app01")))["properties"]["policyId"] = arm.get(
        next(k for k in arm.resources if k.endswith("/replicationpolicies/pol-15m")))["id"]
    result, failed = pairing(monkeypatch, arm, primary_cloud="Primary Cloud", recovery_cloud="Recovery Cloud", state="absent")
    assert failed and "app01" in result["msg"] and "asr_protection" in result["msg"]


def test_unpairing(monkeypatch, arm):
    result, failed = pairing(monkeypatch, arm, primary_cloud="Primary Cloud", recovery_cloud="Recovery Cloud", state="absent")
    assert not failed and result["changed"] and result["mappings"] == []
    post = writes(arm)[0]
    assert post["method"] == "POST" and post["path"].endswith("/replicationProtectionContainerMappings/map-1/remove")
    assert post["body"] == {"properties": {}}


# ---------------------------------------------------------------- network mapping

def netmap(monkeypatch, arm, check_mode=False, **args):
    return run_module(monkeypatch, asr_network_mapping, arm, connection_args(**args), check_mode=check_mode, diff=True)


def test_network_mapping_create_remap_and_remove(monkeypatch, arm):
    result, failed = netmap(monkeypatch, arm, primary_network="VMNet-Prod", recovery_network="VMNet-DR")
    assert not failed and result["changed"]
    put = writes(arm)[0]
    assert put["path"].endswith("/replicationNetworks/net-pri/replicationNetworkMappings/net-pri-net-rec")
    assert put["body"]["properties"]["fabricSpecificDetails"] == {"instanceType": "VmmToVmm"}
    assert put["body"]["properties"]["recoveryNetworkId"].endswith("/replicationNetworks/net-rec")
    assert not netmap(monkeypatch, arm, primary_network="net-pri", recovery_network="VMNet-DR")[0]["changed"]
    result, failed = netmap(monkeypatch, arm, primary_network="VMNet-Prod", recovery_network="VMNet-Test")
    assert not failed and result["changed"] and writes(arm)[-1]["method"] == "PATCH"
    assert result["diff"] == {"before": {"recovery_network": "VMNet-DR"}, "after": {"recovery_network": "VMNet-Test"}}
    assert result["mapping"]["recovery_network_id"].endswith("/net-test") and result["mapping"]["type"] == "VmmToVmm"
    result, failed = netmap(monkeypatch, arm, primary_network="VMNet-Prod", state="absent")
    assert not failed and result["changed"] and writes(arm)[-1]["method"] == "DELETE" and result["mapping"] is None


def test_network_mapping_unknown_network(monkeypatch, arm):
    result, failed = netmap(monkeypatch, arm, primary_network="VMNet-Nope", recovery_network="VMNet-DR")
    assert failed and "No VM network 'VMNet-Nope'" in result["msg"] and "VMNet-DR (net-rec)" in result["msg"]


# ---------------------------------------------------------------- protection

def protect(monkeypatch, arm, check_mode=False, **args):
    return run_module(monkeypatch, asr_protection, arm, connection_args(**args), check_mode=check_mode, diff=True)


def test_enable_protection_with_the_pairing_policy(monkeypatch, arm):
    arm.add_protectable("app05")
    result, failed = protect(monkeypatch, arm, name=["app05"], cloud="Primary Cloud")
    assert not failed and result["changed"], result["msg"]
    put = writes(arm)[0]
    assert put["method"] == "PUT" and put["path"].endswith("/replicationProtectionContainers/%s/replicationProtectedItems/pi-app05" % PRI)
    assert put["body"]["properties"]["policyId"].endswith("/replicationPolicies/pol-15m")
    assert put["body"]["properties"]["protectableItemId"].endswith("/replicationProtectableItems/pi-app05")
    assert "providerSpecificDetails" not in put["body"]["properties"]
    assert result["items"][0]["item"]["friendly_name"] == "app05"
    result, failed = protect(monkeypatch, arm, name=["app05"], cloud="Primary Cloud")
    assert not failed and not result["changed"] and "Protected already" in result["msg"]


def test_enable_protection_refuses_a_vm_that_is_not_ready(monkeypatch, arm):
    arm.add_protectable("app05")
    arm.add_protectable("app06", readiness=["The virtual machine has a shared VHDX."])
    result, failed = protect(monkeypatch, arm, name=["app05", "app06"], cloud="Primary Cloud")
    assert failed and "app06 is not ready for protection: The virtual machine has a shared VHDX." in result["msg"]
    assert writes(arm) == []


def test_disable_protection(monkeypatch, arm):
    arm.add_item("app01")
    result, failed = protect(monkeypatch, arm, name=["app01"], cloud=PRI, state="absent", check_mode=True)
    assert not failed and result["changed"] and writes(arm) == []
    assert result["diff"]["after"]["app01"]["protected"] is False
    result, failed = protect(monkeypatch, arm, name=["app01"], cloud=PRI, state="absent")
    assert not failed and result["changed"]
    assert writes(arm)[0]["path"].endswith("/replicationProtectedItems/rpi-app01/remove")
    assert writes(arm)[0]["body"] == {"properties": {"disableProtectionReason": "NotSpecified"}}
    result, failed = protect(monkeypatch, arm, name=["app01"], cloud=PRI, state="absent")
    assert not failed and not result["changed"]


def test_disable_protection_not_allowed_during_a_test_failover(monkeypatch, arm):
    arm.add_item("app01", lifecycle="test_failed_over")
    result, failed = protect(monkeypatch, arm, name=["app01"], cloud=PRI, state="absent")
    assert failed and "ASR allows TestFailoverCleanup now" in result["msg"]


# ---------------------------------------------------------------- recovery plan definition

def plan_config(monkeypatch, arm, check_mode=False, **args):
    return run_module(monkeypatch, asr_recovery_plan_config, arm, connection_args(**args), check_mode=check_mode, diff=True)


GROUPS = [{"items": ["db01"]}, {"items": ["web01", "web02"], "start_actions": [
    {"name": "Check db", "type": "manual", "description": "Is the database up?", "failover_types": ["planned_failover", "unplanned_failover"]}]}]


def test_plan_created_as_az_powershell_does_for_vmm_to_vmm(monkeypatch, arm):
    for vm in ("db01", "web01", "web02"):
        arm.add_item(vm)
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", groups=GROUPS)
    assert not failed and result["changed"], result["msg"]
    put = writes(arm)[0]
    props = put["body"]["properties"]
    assert put["method"] == "PUT" and props["failoverDeploymentModel"] == "NotApplicable"
    assert props["primaryFabricId"] == props["recoveryFabricId"] and props["primaryFabricId"].endswith("/replicationFabrics/f-vmm01")
    assert [g["groupType"] for g in props["groups"]] == ["Shutdown", "Failover", "Boot", "Boot"]
    assert props["groups"][2]["replicationProtectedItems"][0]["virtualMachineId"] == "vmid-db01"
    assert props["groups"][3]["startGroupActions"] == [{"actionName": "Check db", "failoverTypes": ["PlannedFailover", "UnplannedFailover"],
                                                        "failoverDirections": ["PrimaryToRecovery", "RecoveryToPrimary"],
                                                        "customDetails": {"instanceType": "ManualActionDetails", "description": "Is the database up?"}}]
    assert result["diff"]["after"]["groups"][3]["items"] == ["web01", "web02"]
    reordered = [GROUPS[0], dict(GROUPS[1], items=["web02", "web01"])]
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", groups=reordered)
    assert not failed and not result["changed"] and len(writes(arm)) == 1


def test_plan_groups_changed_with_patch_keeping_shutdown_and_failover_groups(monkeypatch, arm):
    for vm in ("db01", "web01"):
        arm.add_item(vm)
    plan = arm.add_plan("rp-erp", ["db01"])
    plan["properties"]["groups"][0]["startGroupActions"] = [{"actionName": "pre", "failoverTypes": ["PlannedFailover"],
                                                             "failoverDirections": ["PrimaryToRecovery"],
                                                             "customDetails": {"instanceType": "ManualActionDetails"}}]
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", groups=[{"items": ["db01"]}, {"items": ["web01"]}])
    assert not failed and result["changed"]
    patch = writes(arm)[0]
    assert patch["method"] == "PATCH" and list(patch["body"]["properties"]) == ["groups"]
    assert patch["body"]["properties"]["groups"][0]["startGroupActions"][0]["actionName"] == "pre"
    assert [len(g["replicationProtectedItems"]) for g in patch["body"]["properties"]["groups"]] == [0, 0, 1, 1]


def test_plan_input_errors_before_any_change(monkeypatch, arm):
    arm.add_item("db01")
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", groups=[{"items": ["db01"]}, {"items": ["DB01"]}])
    assert failed and "boot group 1 and 2" in result["msg"]
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", groups=[{"items": ["nope"]}])
    assert failed and "No protected item 'nope'" in result["msg"]
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", groups=[{"items": ["db01"], "end_actions": [{"name": "s", "type": "script"}]}])
    assert failed and "needs a path" in result["msg"]
    assert writes(arm) == []


def test_plan_removed(monkeypatch, arm):
    arm.add_item("db01")
    arm.add_plan("rp-erp", ["db01"])
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", state="absent")
    assert not failed and result["changed"] and writes(arm)[0]["method"] == "DELETE" and result["plan"] is None
    result, failed = plan_config(monkeypatch, arm, name="rp-erp", state="absent")
    assert not failed and not result["changed"]
