"""The real azure-identity ClientSecretCredential and SiteRecoveryManagementClient (api-version 2025-08-01) against the lab."""

from __future__ import annotations

import threading

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient

from tests.lab.test_vault_support import VaultLab


@pytest.fixture(name="sdk_lab")
def sdk_lab_fixture(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("HTTPS_PROXY", "https_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    # At the default 60x time scale ASR's Retry-After of 30 simulated seconds is 1 real second (lab/vault/state.py).
    lab = VaultLab(tmp_path, scale=60.0)
    yield lab
    lab.stop()


def client_for(lab, secret=None):
    inv = lab.inv
    credential = ClientSecretCredential(inv["tenant"], inv["client_id"], secret or inv["secret"], authority=inv["authority_host"],
                                        disable_instance_discovery=True, connection_verify=inv["ca_bundle"])
    return SiteRecoveryManagementClient(credential, inv["subscription_id"], base_url=inv["arm_endpoint"], connection_verify=inv["ca_bundle"])


def test_sdk_client_lists_fabrics_with_a_service_principal(sdk_lab):
    client = client_for(sdk_lab)
    inv = sdk_lab.inv
    fabrics = list(client.replication_fabrics.list(inv["resource_group"], inv["vault_name"]))
    assert [f.properties.friendly_name for f in fabrics] == ["vmm01.lab.test"]
    assert fabrics[0].properties.custom_details.instance_type == "VMM"
    items = list(client.replication_protected_items.list(inv["resource_group"], inv["vault_name"]))
    assert len(items) == 10 and {i.properties.active_location for i in items} == {"Primary"}
    with pytest.raises(ResourceNotFoundError):
        client.replication_recovery_plans.get(inv["resource_group"], inv["vault_name"], "no-such-plan")
    tokens = [e for e in sdk_lab.audit.entries() if e["kind"] == "rest" and e["host"] == "login"]
    # The harness's own token first, then MSAL: OpenID discovery, then the client-credentials token request.
    assert [e["path"].split("/", 2)[2] for e in tokens][1:3] == ["v2.0/.well-known/openid-configuration", "oauth2/v2.0/token"]
    assert all(e["status"] == 200 for e in tokens)


def test_sdk_wrong_secret_is_an_authentication_error(sdk_lab):
    client = client_for(sdk_lab, secret="wrong")
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        list(client.replication_fabrics.list(sdk_lab.inv["resource_group"], sdk_lab.inv["vault_name"]))


def test_sdk_poller_runs_a_failover_to_its_final_item(sdk_lab):
    client = client_for(sdk_lab)
    inv = sdk_lab.inv
    item = next(i for i in client.replication_protected_items.list(inv["resource_group"], inv["vault_name"])
                if i.properties.friendly_name == "dc-branch")
    parts = item.id.split("/")
    fabric, container = parts[parts.index("replicationFabrics") + 1], parts[parts.index("replicationProtectionContainers") + 1]
    stop = threading.Event()

    def faster():  # a planned failover is 135 simulated seconds: help the 60x clock along
        while not stop.wait(0.05):
            sdk_lab.clock.advance(10)
    threading.Thread(target=faster, daemon=True).start()
    try:
        # What the ASR modules can do: take the job name from Location without polling (asr-api.md §7 raw_response_hook).
        seen = {}
        poller = client.replication_protected_items.begin_planned_failover(
            inv["resource_group"], inv["vault_name"], fabric, container, item.name, {"properties": {"failoverDirection": "PrimaryToRecovery"}},
            raw_response_hook=lambda r: seen.setdefault("location", r.http_response.headers.get("Location")))
        result = poller.result(timeout=60)
        assert result.properties.protection_state == "PlannedFailoverCommitRequired" and result.properties.active_location == "Recovery"
        job_name = seen["location"].split("?")[0].rsplit("/", 1)[-1]
        job = client.replication_jobs.get(inv["resource_group"], inv["vault_name"], job_name)
        assert job.properties.state == "Succeeded" and job.properties.scenario_name == "PlannedFailover"
        with pytest.raises(HttpResponseError, match="OperationNotAllowed|not allowed"):
            client.replication_protected_items.begin_reprotect(inv["resource_group"], inv["vault_name"], fabric, container, item.name,
                                                               {"properties": {"failoverDirection": "RecoveryToPrimary"}})
        committed = client.replication_protected_items.begin_failover_commit(inv["resource_group"], inv["vault_name"], fabric, container,
                                                                             item.name).result(timeout=60)
        assert committed.properties.allowed_operations == ["ReverseReplicate", "DisableProtection"]
    finally:
        stop.set()
    assert sdk_lab.sides("dc-branch")["hv-sec-03"] == ("Running", "Replica", "FailedOver")
