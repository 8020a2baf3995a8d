# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: shared code of the asr_* modules (Recovery Services vault, Azure Site Recovery).

Connection options and authentication (azure.azcollection's names), client construction, the translation of SDK
errors into one exception with a clear message, and thin wrappers around the SDK calls that return plain wire
(camelCase) dicts. REST reference: /work/shared/reference/asr-api.md (api-version 2025-08-01, SDK 2.0.0).
"""

from __future__ import annotations

import json
import os
import traceback
from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

SDK_IMPORT_ERROR = None
try:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError, ServiceResponseError
    from azure.identity import AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential
    from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
except ImportError:  # the module reports it with missing_required_lib()
    SDK_IMPORT_ERROR = traceback.format_exc()

SDK_PACKAGES = "azure-mgmt-recoveryservicessiterecovery>=2.0.0 and azure-identity"
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
# Sovereign clouds whose token audience is the ARM endpoint itself (azure-mgmt-core get_arm_endpoints()).
KNOWN_ARM_SCOPES = {
    "management.azure.com": "https://management.azure.com/.default",
    "management.chinacloudapi.cn": "https://management.chinacloudapi.cn/.default",
    "management.usgovcloudapi.net": "https://management.usgovcloudapi.net/.default",
}
AUTH_SOURCES = ["auto", "cli", "env", "msi", "service_principal"]

# Tests replace this with a callable returning an azure-core HttpTransport (a fake ARM); None = the SDK's requests transport.
TRANSPORT_FACTORY = None

ASR_COMMON_ARGS = dict(
    subscription_id=dict(type="str", fallback=(env_fallback, ["AZURE_SUBSCRIPTION_ID"])),
    resource_group=dict(type="str", required=True),
    vault_name=dict(type="str", required=True),
    auth_source=dict(type="str", default="auto", choices=AUTH_SOURCES, fallback=(env_fallback, ["ANSIBLE_AZURE_AUTH_SOURCE"])),
    client_id=dict(type="str", fallback=(env_fallback, ["AZURE_CLIENT_ID"])),
    secret=dict(type="str", no_log=True, fallback=(env_fallback, ["AZURE_SECRET", "AZURE_CLIENT_SECRET"])),
    tenant=dict(type="str", fallback=(env_fallback, ["AZURE_TENANT", "AZURE_TENANT_ID"])),
    arm_endpoint=dict(type="str", default=DEFAULT_ARM_ENDPOINT, fallback=(env_fallback, ["AZURE_ARM_ENDPOINT"])),
    authority_host=dict(type="str", fallback=(env_fallback, ["AZURE_AUTHORITY_HOST"])),
    ca_bundle=dict(type="path"),
    cert_validation_mode=dict(type="str", default="validate", choices=["validate", "ignore"], fallback=(env_fallback, ["AZURE_CERT_VALIDATION_MODE"])),
)

WAIT_ARGS = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=3600),
    poll_interval=dict(type="int", default=15),
)


class AsrError(Exception):
    """A failure with a message for the user and extra result keys (never secrets)."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class AuthPlan:
    """How the module authenticates: the credential kind and the values it needs (the secret is kept, never returned)."""

    def __init__(self, kind, subscription_id=None, tenant=None, client_id=None, secret=None):
        self.kind = kind
        self.subscription_id = subscription_id
        self.tenant = tenant
        self.client_id = client_id
        self.secret = secret

    def describe(self):
        """Who we are, for error messages."""
        if self.kind == "service_principal":
            return "service principal %s in tenant %s" % (self.client_id, self.tenant)
        if self.kind == "msi":
            return "managed identity%s" % (" " + self.client_id if self.client_id else "")
        return "the Azure CLI login"


def resolve_auth(params, environ=None):
    """Decide how to authenticate from the module options (env fallbacks already applied) and, for auth_source=env, the environment.

    Follows azure.azcollection: auto = the service principal options when given, else the Azure CLI login.
    Raises AsrError naming the missing values.
    """
    environ = os.environ if environ is None else environ
    source = params.get("auth_source") or "auto"
    if source == "env":
        values = dict(
            subscription_id=environ.get("AZURE_SUBSCRIPTION_ID"),
            client_id=environ.get("AZURE_CLIENT_ID"),
            secret=environ.get("AZURE_SECRET") or environ.get("AZURE_CLIENT_SECRET"),
            tenant=environ.get("AZURE_TENANT") or environ.get("AZURE_TENANT_ID"),
        )
        missing = [env for env, key in (("AZURE_CLIENT_ID", "client_id"), ("AZURE_SECRET", "secret"), ("AZURE_TENANT", "tenant"),
                                        ("AZURE_SUBSCRIPTION_ID", "subscription_id")) if not values[key]]
        if missing:
            raise AsrError("auth_source=env needs the environment variables %s (AZURE_CLIENT_SECRET and AZURE_TENANT_ID are accepted too)."
                           % ", ".join(missing))
        return AuthPlan("service_principal", **values)
    sp_values = dict(client_id=params.get("client_id"), secret=params.get("secret"), tenant=params.get("tenant"))
    subscription_id = params.get("subscription_id")
    if source == "service_principal" or (source == "auto" and (sp_values["client_id"] or sp_values["secret"])):
        missing = [key for key in ("client_id", "secret", "tenant") if not sp_values[key]]
        if missing:
            raise AsrError("A service principal needs client_id, secret and tenant; missing: %s (options, or AZURE_CLIENT_ID, AZURE_SECRET, "
                           "AZURE_TENANT in the environment)." % ", ".join(missing))
        _require_subscription(subscription_id, "service principal")
        return AuthPlan("service_principal", subscription_id, **sp_values)
    if source == "msi":
        _require_subscription(subscription_id, "managed identity")
        return AuthPlan("msi", subscription_id, tenant=sp_values["tenant"], client_id=sp_values["client_id"])
    # auto without service principal values, or cli: the subscription may come from `az account show`.
    return AuthPlan("cli", subscription_id, tenant=sp_values["tenant"])


def _require_subscription(subscription_id, what):
    if not subscription_id:
        raise AsrError("subscription_id is required with a %s (option, or AZURE_SUBSCRIPTION_ID in the environment)." % what)


def arm_scope(arm_endpoint):
    """The token scope for an ARM endpoint.

    The public and sovereign clouds' ARM hosts have their own audience; any other URL (a private endpoint or proxy in
    front of ARM, the DR lab) keeps the public ARM audience, as the SDK does when only base_url is changed (asr-api.md §7).
    """
    parsed = urlparse(arm_endpoint)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise AsrError("arm_endpoint must be a URL such as https://management.azure.com, got %r." % arm_endpoint)
    return KNOWN_ARM_SCOPES.get(parsed.hostname.lower(), KNOWN_ARM_SCOPES["management.azure.com"])


def connection_kwargs(params):
    """azure-core transport keywords shared by the credential and the client: TLS verification."""
    if params.get("cert_validation_mode") == "ignore":
        return {"connection_verify": False}
    if params.get("ca_bundle"):
        return {"connection_verify": params["ca_bundle"]}
    return {}


def credential_kwargs(plan, params):
    """Keywords of the azure-identity credential for the plan (authority and TLS)."""
    kwargs = connection_kwargs(params)
    if plan.kind == "service_principal" and params.get("authority_host"):
        # A private authority (Azure Stack, a lab) is not in Microsoft's instance-discovery list.
        kwargs.update(authority=params["authority_host"], disable_instance_discovery=True)
    return kwargs


def client_kwargs(params):
    """Keywords of SiteRecoveryManagementClient besides credential and subscription."""
    endpoint = params.get("arm_endpoint") or DEFAULT_ARM_ENDPOINT
    kwargs = connection_kwargs(params)
    # Bounded retries (429 and 5xx honour Retry-After); the module's own job polling handles long waits.
    kwargs.update(base_url=endpoint.rstrip("/"), credential_scopes=[arm_scope(endpoint)], retry_total=4)
    return kwargs


class AsrModule:
    """AnsibleModule plus the vault: merges the common options, checks the SDK, builds the client, fails cleanly."""

    def __init__(self, argument_spec, supports_check_mode=True, wait_options=False, **kwargs):
        spec = dict(ASR_COMMON_ARGS)
        if wait_options:
            spec.update(WAIT_ARGS)
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._vault = None

    @property
    def vault(self):
        if self._vault is None:
            if SDK_IMPORT_ERROR:
                self.module.fail_json(msg=missing_required_lib(SDK_PACKAGES), exception=SDK_IMPORT_ERROR)
            plan = resolve_auth(self.params)
            if not plan.subscription_id:
                plan.subscription_id = self._cli_subscription()
            try:
                self._vault = Vault(plan, self.params)
            except ValueError as exc:  # azure-identity validates tenant and authority when the credential is built
                raise AsrError("Invalid authentication settings for %s: %s" % (plan.describe(), exc)) from exc
        return self._vault

    def _cli_subscription(self):
        """The default subscription of the Azure CLI login, as azure.azcollection does for auth_source=cli."""
        cli = self.module.get_bin_path("az")
        if not cli:
            raise AsrError("No credentials: give client_id, secret and tenant (or AZURE_CLIENT_ID, AZURE_SECRET, AZURE_TENANT), choose "
                           "auth_source=msi, or log in with the Azure CLI (az login); the az command was not found.")
        rc, out, err = self.module.run_command([cli, "account", "show", "--query", "id", "--output", "tsv"])
        if rc != 0 or not out.strip():
            raise AsrError("subscription_id is not set and the Azure CLI has no default subscription (az account show: %s). "
                           "Run az login or set subscription_id." % (err.strip() or "no output"))
        return out.strip()

    def run(self, body):
        """Run body(self) -> result dict and exit; AsrError and SDK errors become fail_json with a clear msg."""
        try:
            result = body(self)
        except AsrError as exc:
            self.module.fail_json(msg=exc.msg, **exc.details)
        self.module.exit_json(**result)


class Vault:
    """The Recovery Services vault: SDK calls by name, errors translated, results as wire dicts."""

    def __init__(self, plan, params):
        self.plan = plan
        self.resource_group = params["resource_group"]
        self.name = params["vault_name"]
        self.subscription_id = plan.subscription_id
        self.endpoint = (params.get("arm_endpoint") or DEFAULT_ARM_ENDPOINT).rstrip("/")
        transport = {"transport": TRANSPORT_FACTORY()} if TRANSPORT_FACTORY else {}
        credential = build_credential(plan, params, transport)
        self.client = SiteRecoveryManagementClient(credential, plan.subscription_id, **client_kwargs(params), **transport)

    @property
    def where(self):
        return "vault %s in resource group %s (subscription %s, %s)" % (self.name, self.resource_group, self.subscription_id, self.endpoint)

    def id_prefix(self):
        return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.RecoveryServices/vaults/%s" % (
            self.subscription_id, self.resource_group, self.name)

    def operations(self, group):
        return getattr(self.client, group)

    def call(self, doing, group, method, *args, missing=None, **kwargs):
        """client.<group>.<method>(resource_group, vault, *args); SDK errors become AsrError saying what we were doing."""
        function = getattr(self.operations(group), method)
        try:
            return function(self.resource_group, self.name, *args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise translate_error(exc, doing, self, missing) from exc

    def list(self, doing, group, method, *args, **kwargs):
        """A paged list as wire dicts (the pages are fetched inside the error translation)."""
        pages = self.call(doing, group, method, *args, **kwargs)
        try:
            return [as_wire(item) for item in pages]
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise translate_error(exc, doing, self, None) from exc

    def get(self, doing, group, method, *args, missing=None, **kwargs):
        return as_wire(self.call(doing, group, method, *args, missing=missing, **kwargs))

    def get_or_none(self, doing, group, method, *args, **kwargs):
        """GET that answers None on 404 (the resource does not exist), other errors raise."""
        try:
            return as_wire(getattr(self.operations(group), method)(self.resource_group, self.name, *args, **kwargs))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if getattr(exc, "status_code", None) == 404 and not _vault_missing(exc, self.name):
                return None
            raise translate_error(exc, doing, self, None) from exc


def build_credential(plan, params, transport):
    kwargs = credential_kwargs(plan, params)
    kwargs.update(transport)
    if plan.kind == "service_principal":
        return ClientSecretCredential(plan.tenant, plan.client_id, plan.secret, **kwargs)
    if plan.kind == "msi":
        return ManagedIdentityCredential(client_id=plan.client_id, **kwargs) if plan.client_id else ManagedIdentityCredential(**kwargs)
    return AzureCliCredential(tenant_id=plan.tenant) if plan.tenant else AzureCliCredential()


def as_wire(model):
    """SDK 2.x models are MutableMappings over the wire JSON: a plain dict with camelCase keys."""
    if model is None:
        return None
    if hasattr(model, "as_dict"):
        return model.as_dict()
    return dict(model)


def error_body(exc):
    """The ARM/ASR error object {code, message, possibleCauses, recommendedAction} of an HttpResponseError, {} when none."""
    response = getattr(exc, "response", None)
    if response is None:
        return {}
    try:
        body = json.loads(response.text() or "{}")
    except (ValueError, TypeError, AttributeError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _vault_missing(exc, vault_name):
    """Whether a 404 is about the vault, resource group or subscription rather than the child resource asked for.

    ARM answers ResourceGroupNotFound, or ResourceNotFound naming 'Microsoft.RecoveryServices/vaults/<name>'.
    """
    body = error_body(exc)
    code = (body.get("code") or "").lower()
    if code in ("resourcegroupnotfound", "subscriptionnotfound"):
        return True
    message = (body.get("message") or "").lower()
    return code == "resourcenotfound" and ("/vaults/%s'" % vault_name.lower()) in message


def translate_error(exc, doing, vault, missing):
    """One AsrError with a message that says what failed, where, and what to do next."""
    if SDK_IMPORT_ERROR is None and isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return AsrError("Authentication as %s failed while %s: %s. Check tenant, client_id and secret (or the managed identity / az login), "
                        "and authority_host for a private cloud." % (vault.plan.describe(), doing, _first_line(exc)))
    if SDK_IMPORT_ERROR is None and isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return AsrError("Cannot reach the ARM endpoint %s while %s: %s. Check arm_endpoint, the network and TLS (ca_bundle)."
                        % (vault.endpoint, doing, _first_line(exc)))
    if SDK_IMPORT_ERROR is None and isinstance(exc, HttpResponseError):
        return _http_error(exc, doing, vault, missing)
    return AsrError("Unexpected error while %s on %s: %s" % (doing, vault.where, _first_line(exc)), exception=traceback.format_exc())


def _http_error(exc, doing, vault, missing):
    status = exc.status_code
    body = error_body(exc)
    # ASR answers its own errors as a generic code (BadRequest) with the specific one, possible causes and recommended
    # action in details[0] (azure-rest-api-specs issue #12759 shape, asr-api.md §2 "ASR uses its own error shape").
    detail = next((d for d in body.get("details") or [] if isinstance(d, dict)), {})
    code = detail.get("code") or body.get("code") or getattr(getattr(exc, "error", None), "code", None) or ""
    message = body.get("message") or detail.get("message") or getattr(getattr(exc, "error", None), "message", None) or _first_line(exc)
    details = {"status_code": status, "error_code": code}
    for key, name in (("possibleCauses", "possible_causes"), ("recommendedAction", "recommended_action")):
        if body.get(key) or detail.get(key):
            details[name] = body.get(key) or detail.get(key)
    if status == 401:
        msg = ("ARM rejected the token of %s (401 %s) while %s on %s: %s. Check tenant and client_id, and that the token audience matches "
               "arm_endpoint." % (vault.plan.describe(), code, doing, vault.where, message))
    elif status == 403:
        msg = ("%s is not authorised (403 %s) while %s on %s: %s. Give it a role on the vault such as Site Recovery Contributor "
               "(Site Recovery Operator for failover only)." % (vault.plan.describe(), code, doing, vault.where, message))
    elif status == 404:
        what = missing if missing and not _vault_missing(exc, vault.name) else "the %s" % vault.where
        msg = "Not found (404 %s) while %s: %s does not exist. %s Check subscription_id, resource_group, vault_name and the names given." % (
            code, doing, what, message)
    elif status == 429:
        retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
        msg = "ARM throttled the requests (429 %s) while %s on %s; retried and gave up. Wait %s and run again." % (
            code, doing, vault.where, ("%s s" % retry_after) if retry_after else "a minute")
    else:
        msg = "ARM answered %s %s while %s on %s: %s" % (status, code, doing, vault.where, message)
    if details.get("recommended_action"):
        msg += " Recommended action: %s" % details["recommended_action"]
    return AsrError(msg, **details)


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
