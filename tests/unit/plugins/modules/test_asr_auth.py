# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Authentication options, client construction and error messages of the asr_* modules (module_utils/_asr.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.site_recovery.hyperv.plugins.module_utils import _asr
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, arm_scope, client_kwargs, credential_kwargs, resolve_auth
from ansible_collections.site_recovery.hyperv.plugins.modules import asr_job_info
from ansible_collections.site_recovery.hyperv.tests.unit.plugins.modules.asr_fake import (
    AUTHORITY, CLIENT_ID, RG, SECRET, SUB, TENANT, VAULT, FakeArm, connection_args, run_module)

SP = {"client_id": "cid", "secret": "sec", "tenant": "tid", "subscription_id": "sub"}


def params(**values):
    return dict({"auth_source": "auto", "client_id": None, "secret": None, "tenant": None, "subscription_id": None}, **values)


def test_auto_with_service_principal_values():
    plan = resolve_auth(params(**SP), environ={})
    assert (plan.kind, plan.client_id, plan.tenant, plan.subscription_id, plan.secret) == ("service_principal", "cid", "tid", "sub", "sec")


def test_auto_with_an_incomplete_service_principal_names_what_is_missing():
    with pytest.raises(AsrError) as err:
        resolve_auth(params(client_id="cid", subscription_id="sub"), environ={})
    assert "missing: secret, tenant" in err.value.msg


def test_auto_without_service_principal_uses_the_cli_login():
    plan = resolve_auth(params(tenant="tid"), environ={})
    assert plan.kind == "cli" and plan.tenant == "tid" and plan.subscription_id is None


def test_service_principal_needs_a_subscription():
    with pytest.raises(AsrError) as err:
        resolve_auth(params(auth_source="service_principal", client_id="cid", secret="sec", tenant="tid"), environ={})
    assert "subscription_id is required" in err.value.msg


def test_env_source_reads_the_environment_only_and_accepts_azure_identity_names():
    environ = {"AZURE_CLIENT_ID": "e-cid", "AZURE_CLIENT_SECRET": "e-sec", "AZURE_TENANT_ID": "e-tid", "AZURE_SUBSCRIPTION_ID": "e-sub"}
    plan = resolve_auth(params(auth_source="env", **SP), environ=environ)
    assert (plan.client_id, plan.secret, plan.tenant, plan.subscription_id) == ("e-cid", "e-sec", "e-tid", "e-sub")


def test_env_source_names_the_missing_variables():
    with pytest.raises(AsrError) as err:
        resolve_auth(params(auth_source="env"), environ={"AZURE_CLIENT_ID": "x"})
    assert "AZURE_SECRET, AZURE_TENANT, AZURE_SUBSCRIPTION_ID" in err.value.msg


def test_msi_with_a_user_assigned_identity():
    plan = resolve_auth(params(auth_source="msi", client_id="uami", subscription_id="sub"), environ={})
    assert plan.kind == "msi" and plan.client_id == "uami" and plan.secret is None


@pytest.mark.parametrize("endpoint, scope", [
    ("https://management.azure.com", "https://management.azure.com/.default"),
    ("https://management.usgovcloudapi.net/", "https://management.usgovcloudapi.net/.default"),
    ("https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"),
    ("https://127.0.0.1:8443", "https://management.azure.com/.default"),
])
def test_token_scope_follows_the_arm_endpoint(endpoint, scope):
    assert arm_scope(endpoint) == scope


def test_bad_arm_endpoint_is_refused():
    with pytest.raises(AsrError):
        arm_scope("management.azure.com")


def test_tls_and_authority_keywords():
    plan = resolve_auth(params(**SP), environ={})
    custom = {"ca_bundle": "/etc/lab/ca.pem", "cert_validation_mode": "validate", "authority_host": "https://login.lab:8444",
              "arm_endpoint": "https://arm.lab:8443/"}
    assert credential_kwargs(plan, custom) == {"connection_verify": "/etc/lab/ca.pem", "authority": "https://login.lab:8444",
                                               "disable_instance_discovery": True}
    assert client_kwargs(custom)["base_url"] == "https://arm.lab:8443" and client_kwargs(custom)["connection_verify"] == "/etc/lab/ca.pem"
    assert credential_kwargs(plan, {"cert_validation_mode": "ignore", "ca_bundle": "/x"}) == {"connection_verify": False}
    assert credential_kwargs(plan, {}) == {}


@pytest.fixture
def arm():
    fake = FakeArm()
    fake.estate()
    return fake


def test_env_fallbacks_authenticate_against_the_custom_authority(monkeypatch, arm):
    for name, value in (("AZURE_CLIENT_ID", CLIENT_ID), ("AZURE_SECRET", SECRET), ("AZURE_TENANT", TENANT), ("AZURE_SUBSCRIPTION_ID", SUB)):
        monkeypatch.setenv(name, value)
    result, failed = run_module(monkeypatch, asr_job_info, arm, {"resource_group": RG, "vault_name": VAULT, "arm_endpoint": connection_args()[
        "arm_endpoint"], "authority_host": AUTHORITY})
    assert not failed, result["msg"]
    token = [r for r in arm.requests if r["path"].endswith("/oauth2/v2.0/token")]
    assert len(token) == 1 and token[0]["path"] == "/%s/oauth2/v2.0/token" % TENANT
    assert token[0]["body"]["scope"] == ["https://management.azure.com/.default"]
    assert arm.arm_requests()[0]["path"].startswith("/subscriptions/%s/resourceGroups/%s/" % (SUB, RG))


def test_wrong_secret_is_a_clear_failure_without_the_secret(monkeypatch, arm):
    arm.accept_secret = "the-right-one"
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args())
    assert failed
    assert result["msg"].startswith("Authentication as service principal %s in tenant %s failed" % (CLIENT_ID, TENANT))
    assert "AADSTS7000215" in result["msg"]
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize("status, body, expected", [
    (403, {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization."}}, "is not authorised (403 AuthorizationFailed)"),
    (401, {"error": {"code": "InvalidAuthenticationTokenAudience", "message": "wrong audience"}}, "ARM rejected the token"),
    (429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, "ARM throttled the requests (429 TooManyRequests)"),
    (409, {"error": {"code": "Conflict", "message": "busy", "recommendedAction": "Wait."}}, "Recommended action: Wait."),
])
def test_http_errors_become_clear_messages(monkeypatch, arm, status, body, expected):
    arm.status_override[("GET", r"/replicationJobs$")] = (status, {"Retry-After": "1"}, body)
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args())
    assert failed and expected in result["msg"]
    assert "vault %s in resource group %s" % (VAULT, RG) in result["msg"]
    assert result["status_code"] == status
    assert SECRET not in json.dumps(result)


def test_missing_vault_is_named(monkeypatch, arm):
    arm.vault_exists = False
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args())
    assert failed and "Not found (404 ResourceNotFound)" in result["msg"]
    assert "the vault %s in resource group %s" % (VAULT, RG) in result["msg"]


def test_missing_job_is_named(monkeypatch, arm):
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args(name="0000-missing"))
    assert failed and "ASR job 0000-missing does not exist" in result["msg"]


def test_missing_sdk_is_reported_with_missing_required_lib(monkeypatch, arm):
    monkeypatch.setattr(_asr, "SDK_IMPORT_ERROR", "Traceback: No module named 'azure'")
    result, failed = run_module(monkeypatch, asr_job_info, arm, connection_args())
    assert failed and "azure-mgmt-recoveryservicessiterecovery" in result["msg"] and "Failed to import" in result["msg"]
    assert arm.requests == []


def test_no_credentials_and_no_cli(monkeypatch, arm):
    monkeypatch.setattr(_asr.AnsibleModule, "get_bin_path", lambda self, name, *args, **kwargs: None)
    args = {key: value for key, value in connection_args().items() if key not in ("client_id", "secret", "tenant", "subscription_id")}
    for name in ("AZURE_CLIENT_ID", "AZURE_SECRET", "AZURE_CLIENT_SECRET", "AZURE_TENANT", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"):
        monkeypatch.delenv(name, raising=False)
    result, failed = run_module(monkeypatch, asr_job_info, arm, args)
    assert failed and "No credentials" in result["msg"] and "az login" in result["msg"]
