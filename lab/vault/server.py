"""HTTPS endpoint on 127.0.0.1 serving the vault's ARM paths and the service principal's token endpoint.

ARM front door behaviour (asr-api.md §1, §5): bearer token required (401 otherwise, lab/vault/auth.py),
`api-version` required and one of the site recovery API's stable versions (the spec's readme.md tags),
path segments and resource names matched case-insensitively, `Subscriptions` and `subscriptions` alike,
lists as {"value", "nextLink"}, actions answered 202 with `Location: <resource id>/operationresults/<job>`,
`Retry-After` and `x-ms-request-id: <job id>` (the real trace in asr-api.md §5). Every request is audited
(kind "rest"), with secrets masked and never the Authorization header.
"""

from __future__ import annotations

import datetime
import http.server
import json
import socketserver
import ssl
import threading
import urllib.parse
import uuid

from lab.vault import actions, items as itemmod, plans, resources, validate
from lab.vault import jobs as jobmod
from lab.vault.auth import Directory
from lab.vault.errors import ArmError, not_found, not_modelled

# The stable api-versions of the site recovery spec (azure-rest-api-specs .../SiteRecovery/readme.md tags; asr-api.md §1).
API_VERSIONS = ("2026-05-01", "2026-02-01", "2026-01-01", "2025-08-01", "2025-02-01", "2025-01-01", "2024-10-01", "2024-04-01", "2024-02-01",
                "2024-01-01", "2023-08-01", "2023-06-01", "2023-04-01", "2023-02-01", "2023-01-01", "2022-10-01", "2022-09-10", "2022-08-01",
                "2022-05-01", "2022-04-01", "2022-03-01", "2022-02-01", "2022-01-01", "2021-12-01", "2021-11-01", "2021-10-01", "2021-08-01",
                "2021-07-01", "2021-06-01", "2021-04-01", "2021-03-01", "2021-02-10", "2018-07-10", "2018-01-10", "2016-08-10")
PAGE_SIZE = 100  # INFERRED page size of ASR lists (nextLink carries skipToken)
# Documented resource types of the API that the lab does not model (asr-operations.json).
_NOT_MODELLED = {"replicationlogicalnetworks", "replicationvaulthealth", "replicationevents", "replicationalertsettings",
                 "replicationstorageclassifications", "replicationstorageclassificationmappings", "replicationvcenters",
                 "replicationmigrationitems", "replicationprotectionintents", "replicationappliances", "replicationeligibilityresults",
                 "replicationvaultsetting", "replicationprotectionclusters", "replicationoperationstatus", "replicationusages"}
_ITEM_VERBS = set(actions.ITEM_ACTIONS)
_PLAN_VERBS = {"plannedfailover", "unplannedfailover", "testfailover", "testfailovercleanup", "failovercommit", "failovercancel", "reprotect"}


class Response:
    def __init__(self, status: int, body=None, headers: dict | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class VaultEndpoint:
    """The vault's HTTPS listener; `base_url` is both the ARM endpoint and the authority host."""

    def __init__(self, vault, tls: ssl.SSLContext, audit=None, port: int = 0) -> None:
        self.vault = vault
        self.tls = tls
        self.audit = audit
        self.port = port
        self.directory = Directory(vault.tenant, vault.client_id, vault.secret)
        self._server: _Listener | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return "https://127.0.0.1:{0}".format(self.port)

    def start(self) -> None:
        self._server = _Listener(self, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="vault-{0}".format(self.port))
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- dispatch ---------------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers, body: bytes) -> Response:
        parsed = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parsed.path)
        query = {k.lower(): v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        segments = [s for s in path.split("/") if s]
        if segments and segments[0].lower() == "subscriptions":
            return self._arm(method, segments, query, headers, body, parsed.query)
        return self._login(method, segments, body)

    def _login(self, method: str, segments: list, body: bytes) -> Response:
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()} if body else {}
        record = {"method": method, "path": "/" + "/".join(segments), "api_version": None, "body": form}
        if method == "GET" and len(segments) == 4 and [s.lower() for s in segments[1:]] == ["v2.0", ".well-known", "openid-configuration"]:
            status, doc = self.directory.openid_configuration(self.base_url, segments[0])
        elif method == "POST" and len(segments) == 4 and [s.lower() for s in segments[1:]] == ["oauth2", "v2.0", "token"]:
            status, doc = self.directory.token(segments[0], form)
        elif method == "GET" and len(segments) == 4 and [s.lower() for s in segments[1:]] == ["discovery", "v2.0", "keys"]:
            status, doc = 200, {"keys": []}  # the lab signs with a symmetric key that never leaves the process
        else:
            text = "The lab's authority serves OpenID discovery and the v2.0 token endpoint only."
            status, doc = 404, {"error": "not_found", "error_description": text}
        self._audit("login", record, status)
        return Response(status, doc, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"} if "token" in record["path"] else {})

    def _arm(self, method: str, segments: list, query: dict, headers, body: bytes, raw_query: str) -> Response:
        record = {"method": method, "path": "/" + "/".join(segments), "api_version": query.get("api-version"),
                  "query": {k: v for k, v in query.items() if k != "api-version"} or None, "body": None}
        try:
            self.directory.verify(headers.get("Authorization"), self.base_url)
            parsed = self._json(body)
            record["body"] = parsed
            with self.vault.world.lock:
                if self.vault.take_throttle():
                    raise _throttled(self.vault.subscription, method)
                self._api_version(query.get("api-version"))
                self.vault.sync(self.vault.world.clock.now())
                response = self._route(method, segments, query, parsed, raw_query)
        except ArmError as exc:
            response = Response(exc.status, exc.body(), exc.headers)
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        self._audit("arm", record, response.status, job=response.headers.get("x-ms-request-id") if response.status == 202 else None)
        return response

    def _audit(self, host: str, record: dict, status: int, **extra) -> None:
        if self.audit is not None:
            self.audit.record("rest", host, **record, status=status, **{k: v for k, v in extra.items() if v})

    @staticmethod
    def _json(body: bytes):
        if not body or not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError as exc:
            # The ARM front door's answer to a body that is not JSON.
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: '{0}'.".format(exc)) from None

    def _api_version(self, version: str | None) -> None:
        if not version:
            raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
        if version not in API_VERSIONS:
            raise ArmError(400, "NoRegisteredProviderFound", "No registered resource provider found for location '{0}' and API version '{1}' "
                           "for type 'vaults'. The supported api-versions are '{2}'. The supported locations are '{0}'.".format(
                               self.vault.location, version, ", ".join(reversed(API_VERSIONS))))

    # ---- routing -------------------------------------------------------------------------------------------
    def _route(self, method: str, segments: list, query: dict, body, raw_query: str) -> Response:
        vault = self.vault
        low = [s.lower() for s in segments]
        if segments[1].lower() != vault.subscription.lower():
            raise ArmError(404, "SubscriptionNotFound", "The subscription '{0}' could not be found.".format(segments[1]))
        if len(low) < 4 or low[2] != "resourcegroups":
            raise ArmError(404, "NotFound", "The lab's ARM endpoint serves only resource group '{0}' and its vault '{1}'.".format(
                vault.resource_group, vault.name))
        if low[3] != vault.resource_group.lower():
            raise ArmError(404, "ResourceGroupNotFound", "Resource group '{0}' could not be found.".format(segments[3]))
        if low[4:7] != ["providers", "microsoft.recoveryservices", "vaults"] or len(low) < 8:
            raise ArmError(404, "NotFound", "The lab's ARM endpoint serves only the Recovery Services vault '{0}'.".format(vault.name))
        if low[7] != vault.name.lower():
            raise ArmError(404, "ResourceNotFound", "The Resource 'Microsoft.RecoveryServices/vaults/{0}' under resource group '{1}' was not found. "
                           "For more details please go to https://aka.ms/ARMResourceNotFoundFix".format(segments[7], segments[3]))
        rest, rest_low = segments[8:], low[8:]
        if len(rest_low) >= 2 and rest_low[-2] == "operationresults":
            return self._operation_result(method, segments, rest[-1], query)
        if rest_low and rest_low[0] in _NOT_MODELLED:
            raise not_modelled(segments[8])
        ctx = _Req(self, method, rest, rest_low, query, body, "/" + "/".join(segments), raw_query)
        return _dispatch(ctx)

    def _operation_result(self, method: str, segments: list, job_name: str, query: dict) -> Response:
        if method != "GET":
            raise _method(method)
        job = self.vault.jobs.get(job_name.lower())
        resource = "/" + "/".join(segments[:-2])
        if job is None or not _same_resource(resource, job.resource_id):
            raise not_found("operation result", job_name)
        if job.state in jobmod.ACTIVE:
            return self.accepted(job, query.get("api-version"))
        if job.state == "Succeeded":
            result = job.result() if callable(job.result) else None
            return Response(204) if result is None else Response(200, result)
        errors = job.errors()
        first = errors[0]["serviceErrorDetails"] if errors else {"code": "Job" + job.state, "message": "The job was {0}.".format(job.state.lower())}
        # The reference could not observe this answer (asr-api.md §5): the lab answers a failed or cancelled job with 400 and
        # the job's errors, so SDK pollers raise HttpResponseError; the job resource keeps the full detail.
        details = [dict(e["serviceErrorDetails"], providerErrorDetails=e.get("providerErrorDetails")) for e in errors]
        raise ArmError(400, first["code"], "Job {0} ({1}) {2}: {3}".format(job.name, job.scenario, job.state.lower(), first["message"]),
                       details or None)

    def accepted(self, job, api_version: str | None) -> Response:
        """202 for a job: Location <resource id>/operationresults/<job>, Retry-After, x-ms-request-id = the job's id (asr-api.md §5)."""
        location = "{0}{1}/operationresults/{2}?api-version={3}".format(self.base_url, job.resource_id, job.name, api_version)
        return Response(202, None, {"Location": location, "Retry-After": str(self.vault.retry_after()),
                                    "x-ms-request-id": self.vault.job_id(job.name)})


class _Req:
    """One ARM request below the vault: method, the segments after vaults/<name>, query and body."""

    def __init__(self, endpoint: VaultEndpoint, method: str, rest: list, low: list, query: dict, body, path: str, raw_query: str) -> None:
        self.endpoint = endpoint
        self.vault = endpoint.vault
        self.method = method
        self.rest = rest
        self.low = low
        self.query = query
        self.body = body
        self.path = path
        self.raw_query = raw_query
        self.now = self.vault.world.clock.now()

    def accepted(self, job) -> Response:
        return self.endpoint.accepted(job, self.query.get("api-version"))

    def page(self, values: list) -> Response:
        """{"value", "nextLink"}: PAGE_SIZE items a page; nextLink keeps the query and adds skipToken (asr-operations.json list operations)."""
        try:
            start = int(self.query.get("skiptoken") or 0)
        except ValueError:
            raise ArmError(400, "InvalidSkipToken", "The skipToken '{0}' is not valid.".format(self.query.get("skiptoken"))) from None
        body = {"value": values[start:start + PAGE_SIZE]}
        if start + PAGE_SIZE < len(values):
            params = [(k, v) for k, v in urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True) if k.lower() != "skiptoken"]
            params.append(("skipToken", str(start + PAGE_SIZE)))
            body["nextLink"] = "{0}{1}?{2}".format(self.endpoint.base_url, self.path, urllib.parse.urlencode(params))
        return Response(200, body)


def _same_resource(a: str, b: str) -> bool:
    return a.lower().lstrip("/") == b.lower().lstrip("/")


def _method(method: str) -> ArmError:
    return ArmError(405, "MethodNotAllowed", "The requested resource does not support http method '{0}'.".format(method))


def _throttled(subscription: str, method: str) -> ArmError:
    # ARM's subscription throttling (error code SubscriptionRequestsThrottled, 429 + Retry-After); wording INFERRED.
    kind = "read" if method == "GET" else "write"
    return ArmError(429, "SubscriptionRequestsThrottled", "Number of '{0}' requests for subscription '{1}' actioned by the server exceeded the "
                    "limit. Please try again after '1' seconds.".format(kind, subscription), headers={"Retry-After": "1"})


def _dispatch(req: _Req) -> Response:
    low = req.low
    if not low:
        return _only(req, "GET", lambda: Response(200, resources.vault_resource(req.vault)))
    head = low[0]
    handler = {"replicationfabrics": _fabrics, "replicationrecoveryservicesproviders": _vault_providers,
               "replicationprotectioncontainers": _vault_containers, "replicationprotectioncontainermappings": _vault_mappings,
               "replicationprotecteditems": _vault_items, "replicationpolicies": _policies, "replicationnetworks": _vault_networks,
               "replicationnetworkmappings": _vault_network_mappings, "replicationrecoveryplans": _plans, "replicationjobs": _jobs}.get(head)
    if handler is None:
        raise ArmError(404, "NotFound", "No resource type '{0}' under the vault.".format(req.rest[0]))
    return handler(req)


def _only(req: _Req, method: str, make) -> Response:
    if req.method != method:
        raise _method(req.method)
    return make()


# ---- fabric, provider, containers ----------------------------------------------------------------------
def _fabrics(req: _Req) -> Response:
    vault, low = req.vault, req.low
    if len(low) == 1:
        return _only(req, "GET", lambda: req.page([resources.fabric(vault, req.now)]))
    if low[1] != vault.fabric.lower():
        raise not_found("replication fabric", req.rest[1])
    if len(low) == 2:
        return _only(req, "GET", lambda: Response(200, resources.fabric(vault, req.now)))
    kind = low[2]
    if kind in _NOT_MODELLED:
        raise not_modelled(req.rest[2])
    sub = {"replicationrecoveryservicesproviders": _providers, "replicationprotectioncontainers": _containers,
           "replicationnetworks": _networks}.get(kind)
    if sub is None:
        if kind in ("checkconsistency", "remove", "renewcertificate", "reassociategateway", "migratetoaad", "removeinfra"):
            raise not_modelled("fabric action '{0}' (a VMM fabric is created and removed by the provider registration)".format(req.rest[2]))
        raise ArmError(404, "NotFound", "No resource type '{0}' under the fabric.".format(req.rest[2]))
    return sub(req, low[3:], req.rest[3:])


def _providers(req: _Req, low: list, rest: list) -> Response:
    vault = req.vault
    if not low:
        return _only(req, "GET", lambda: req.page([resources.provider(vault, req.now)]))
    if low[0] != vault.provider.lower():
        raise not_found("recovery services provider", rest[0])
    if len(low) == 1:
        if req.method == "PUT":
            raise not_modelled("provider registration (the provider registers from the VMM server)")
        return _only(req, "GET", lambda: Response(200, resources.provider(vault, req.now)))
    if low[1:] == ["refreshprovider"]:
        return _only(req, "POST", lambda: req.accepted(actions.refresh_provider(vault)))
    raise not_modelled("provider action '{0}'".format(rest[1]))


def _vault_providers(req: _Req) -> Response:
    if len(req.low) != 1:
        raise ArmError(404, "NotFound", "Providers are addressed under their fabric.")
    return _only(req, "GET", lambda: req.page([resources.provider(req.vault, req.now)]))


def _containers(req: _Req, low: list, rest: list) -> Response:
    vault = req.vault
    if not low:
        return _only(req, "GET", lambda: req.page([resources.container(vault, c) for c in sorted(vault.containers)]))
    cloud = vault.cloud_of_container(rest[0])
    if cloud is None:
        raise not_found("protection container", rest[0])
    if len(low) == 1:
        if req.method in ("PUT",):
            raise not_modelled("creating protection containers (VMM clouds are discovered from the VMM server)")
        return _only(req, "GET", lambda: Response(200, resources.container(vault, cloud)))
    kind = low[1]
    if kind == "replicationprotectioncontainermappings":
        return _mappings(req, cloud, low[2:], rest[2:])
    if kind == "replicationprotectableitems":
        return _protectable(req, cloud, low[2:], rest[2:])
    if kind == "replicationprotecteditems":
        return _items(req, cloud, low[2:], rest[2:])
    if kind in ("remove", "discoverprotectableitem", "switchprotection", "switchclusterprotection"):
        raise not_modelled("protection container action '{0}'".format(rest[1]))
    raise ArmError(404, "NotFound", "No resource type '{0}' under the protection container.".format(rest[1]))


def _vault_containers(req: _Req) -> Response:
    return _only(req, "GET", lambda: req.page([resources.container(req.vault, c) for c in sorted(req.vault.containers)]))


# ---- container mappings --------------------------------------------------------------------------------
def _mappings(req: _Req, cloud: str, low: list, rest: list) -> Response:
    vault = req.vault
    if not low:
        return _only(req, "GET", lambda: req.page([resources.container_mapping(vault, m) for m in _sorted(vault.mappings) if m.source == cloud]))
    name = rest[0]
    mapping = vault.mappings.get(name.lower())
    if mapping is not None and mapping.source != cloud:
        mapping = None
    if len(low) == 1:
        if req.method == "PUT":
            return req.accepted(actions.create_mapping(vault, cloud, name, req.body))
        if mapping is None:
            raise not_found("protection container mapping", name)
        if req.method == "GET":
            return Response(200, resources.container_mapping(vault, mapping))
        if req.method == "DELETE":
            return req.accepted(actions.remove_mapping(vault, mapping, None, purge=True))
        if req.method == "PATCH":
            raise not_modelled("updating a container mapping (its provider-specific input exists for A2A and InMageRcm only)")
        raise _method(req.method)
    if low[1:] == ["remove"] and req.method == "POST":
        if mapping is None:
            raise not_found("protection container mapping", name)
        return req.accepted(actions.remove_mapping(vault, mapping, req.body))
    raise ArmError(404, "NotFound", "No action '{0}' on a protection container mapping.".format("/".join(rest[1:])))


def _vault_mappings(req: _Req) -> Response:
    return _only(req, "GET", lambda: req.page([resources.container_mapping(req.vault, m) for m in _sorted(req.vault.mappings)]))


def _sorted(records: dict) -> list:
    return [records[k] for k in sorted(records)]


# ---- protectable and protected items ----------------------------------------------------------------------
def _protectable(req: _Req, cloud: str, low: list, rest: list) -> Response:
    vault = req.vault
    if not low:
        wanted = _state_filter(req.query.get("$filter"))
        values = [resources.protectable_item(vault, cloud, vm) for vm in resources.protectable_vms(vault, cloud)]
        values = [v for v in values if wanted is None or v["properties"]["protectionStatus"].lower() == wanted]
        return _only(req, "GET", lambda: req.page(values))
    vm = resources.protectable_vm(vault, cloud, rest[0])
    if vm is None or len(low) != 1:
        raise not_found("replication protectable item", rest[0])
    return _only(req, "GET", lambda: Response(200, resources.protectable_item(vault, cloud, vm)))


def _state_filter(text: str | None) -> str | None:
    """$filter of protectable items: state eq 'Protected' | 'Unprotected' (INFERRED: the only filter the lab models)."""
    if not text:
        return None
    parts = text.split(None, 2)
    if len(parts) == 3 and parts[0].lower() == "state" and parts[1].lower() == "eq" and parts[2].strip("'").lower() in ("protected", "unprotected"):
        return parts[2].strip("'").lower()
    raise ArmError(400, "InvalidFilter", "The $filter '{0}' is not supported here; use state eq 'Protected' or state eq 'Unprotected'.".format(text))


def _items(req: _Req, cloud: str, low: list, rest: list) -> Response:
    vault = req.vault
    if not low:
        return _only(req, "GET", lambda: req.page([resources.protected_item(vault, i, req.now) for i in _sorted(vault.items) if i.cloud == cloud]))
    name = rest[0]
    if len(low) == 1:
        if req.method == "PUT":
            return req.accepted(actions.enable_protection(vault, cloud, name, req.body))
        item = actions.find_item(vault, cloud, name)
        if req.method == "GET":
            return Response(200, resources.protected_item(vault, item, req.now))
        if req.method == "DELETE":
            return req.accepted(actions.purge_item(vault, item))
        if req.method == "PATCH":
            raise not_modelled("updating a protected item (its settings are for Azure targets)")
        raise _method(req.method)
    item = actions.find_item(vault, cloud, name)
    if low[1] == "recoverypoints":
        points = itemmod.recovery_points(vault, item, req.now)
        if len(low) == 2:
            return _only(req, "GET", lambda: req.page([resources.recovery_point(vault, item, n, p) for n, p in points]))
        match = next(((n, p) for n, p in points if n.lower() == low[2]), None)
        if match is None or len(low) != 3:
            raise not_found("recovery point", rest[2])
        return _only(req, "GET", lambda: Response(200, resources.recovery_point(vault, item, *match)))
    if len(low) == 2 and low[1] in _ITEM_VERBS:
        return _only(req, "POST", lambda: req.accepted(actions.ITEM_ACTIONS[low[1]](vault, item, req.body)))
    if len(low) == 2:
        raise not_modelled("protected item action '{0}'".format(rest[1]))
    raise ArmError(404, "NotFound", "No resource '{0}' under a protected item.".format("/".join(rest[1:])))


def _vault_items(req: _Req) -> Response:
    vault = req.vault
    if len(req.low) != 1:
        raise ArmError(404, "NotFound", "Protected items are addressed under their protection container.")
    plan_name = _plan_filter(req.query.get("$filter"))
    chosen = _sorted(vault.items)
    if plan_name is not None:
        plan = vault.plans.get(plan_name.lower())
        names = {n for g in plan.groups for n in g["items"]} if plan else set()
        chosen = [i for i in chosen if i.name in names]
    return _only(req, "GET", lambda: req.page([resources.protected_item(vault, i, req.now) for i in chosen]))


def _plan_filter(text: str | None) -> str | None:
    """Vault-wide list $filter: RecoveryPlanName eq '<plan>' (asr-api.md §4, Az PowerShell)."""
    if not text:
        return None
    parts = text.split(None, 2)
    if len(parts) == 3 and parts[0].lower() == "recoveryplanname" and parts[1].lower() == "eq":
        return parts[2].strip().strip("'")
    raise ArmError(400, "InvalidFilter", "The $filter '{0}' is not supported; the lab models RecoveryPlanName eq '<plan>'.".format(text))


# ---- policies, networks -------------------------------------------------------------------------------
def _policies(req: _Req) -> Response:
    vault, low, rest = req.vault, req.low, req.rest
    if len(low) == 1:
        return _only(req, "GET", lambda: req.page([resources.policy(vault, p) for p in _sorted(vault.policies)]))
    if len(low) != 2:
        raise ArmError(404, "NotFound", "No resource '{0}' under a policy.".format("/".join(rest[2:])))
    if req.method == "PUT":
        return req.accepted(actions.create_policy(vault, rest[1], req.body))
    policy = vault.policies.get(low[1])
    if policy is None:
        raise not_found("replication policy", rest[1])
    if req.method == "GET":
        return Response(200, resources.policy(vault, policy))
    if req.method == "PATCH":
        return req.accepted(actions.update_policy(vault, policy, req.body))
    if req.method == "DELETE":
        return req.accepted(actions.delete_policy(vault, policy))
    raise _method(req.method)


def _networks(req: _Req, low: list, rest: list) -> Response:
    vault = req.vault
    if not low:
        return _only(req, "GET", lambda: req.page([resources.network(vault, n) for n in sorted(vault.networks)]))
    net = next((n for n in vault.networks if n.lower() == low[0]), None)
    if net is None:
        raise not_found("replication network", rest[0])
    if len(low) == 1:
        return _only(req, "GET", lambda: Response(200, resources.network(vault, net)))
    if low[1] != "replicationnetworkmappings":
        raise ArmError(404, "NotFound", "No resource type '{0}' under a network.".format(rest[1]))
    if len(low) == 2:
        return _only(req, "GET", lambda: req.page([resources.network_mapping(vault, m) for m in _sorted(vault.network_mappings)
                                                   if m.primary == net]))
    name = rest[2]
    mapping = vault.network_mappings.get(name.lower())
    if mapping is not None and mapping.primary != net:
        mapping = None
    if len(low) != 3:
        raise ArmError(404, "NotFound", "No resource '{0}' under a network mapping.".format("/".join(rest[3:])))
    if req.method == "PUT":
        return req.accepted(actions.create_network_mapping(vault, net, name, req.body))
    if mapping is None:
        raise not_found("replication network mapping", name)
    if req.method == "GET":
        return Response(200, resources.network_mapping(vault, mapping))
    if req.method == "PATCH":
        return req.accepted(actions.create_network_mapping(vault, net, name, req.body, update=mapping))
    if req.method == "DELETE":
        return req.accepted(actions.delete_network_mapping(vault, mapping))
    raise _method(req.method)


def _vault_networks(req: _Req) -> Response:
    if len(req.low) != 1:
        raise ArmError(404, "NotFound", "Networks are addressed under their fabric.")
    return _only(req, "GET", lambda: req.page([resources.network(req.vault, n) for n in sorted(req.vault.networks)]))


def _vault_network_mappings(req: _Req) -> Response:
    if len(req.low) != 1:
        raise ArmError(404, "NotFound", "Network mappings are addressed under their network.")
    return _only(req, "GET", lambda: req.page([resources.network_mapping(req.vault, m) for m in _sorted(req.vault.network_mappings)]))


# ---- recovery plans and jobs ---------------------------------------------------------------------------
def _plans(req: _Req) -> Response:
    vault, low, rest = req.vault, req.low, req.rest
    if len(low) == 1:
        return _only(req, "GET", lambda: req.page([resources.recovery_plan(vault, p, req.now) for p in _sorted(vault.plans)]))
    if len(low) == 2 and req.method == "PUT":
        return req.accepted(plans.create_plan(vault, rest[1], req.body))
    plan = vault.plans.get(low[1])
    if plan is None:
        raise not_found("recovery plan", rest[1])
    if len(low) == 2:
        if req.method == "GET":
            return Response(200, resources.recovery_plan(vault, plan, req.now))
        if req.method == "PATCH":
            return req.accepted(plans.update_plan(vault, plan, req.body))
        if req.method == "DELETE":
            return req.accepted(plans.delete_plan(vault, plan))
        raise _method(req.method)
    if len(low) == 3 and low[2] in _PLAN_VERBS:
        return _only(req, "POST", lambda: req.accepted(plans.plan_action(vault, plan, low[2], req.body)))
    raise ArmError(404, "NotFound", "No action '{0}' on a recovery plan.".format("/".join(rest[2:])))


def _jobs(req: _Req) -> Response:
    vault, low, rest = req.vault, req.low, req.rest
    if len(low) == 1:
        wanted = _job_filter(req.query.get("$filter"))
        return _only(req, "GET", lambda: req.page([resources.job(vault, j) for j in reversed(list(vault.jobs.values())) if wanted(j)]))
    if low[1:] == ["export"]:
        raise not_modelled("job export")
    job = vault.jobs.get(low[1])
    if job is None:
        raise not_found("replication job", rest[1])
    if len(low) == 2:
        return _only(req, "GET", lambda: Response(200, resources.job(vault, job)))
    if len(low) == 3 and req.method == "POST" and low[2] in ("cancel", "restart", "resume"):
        return _job_action(req, job, low[2])
    raise ArmError(404, "NotFound", "No action '{0}' on a job.".format("/".join(rest[2:])))


def _job_action(req: _Req, job, action: str) -> Response:
    """Cancel, restart, resume (asr-api.md §5): answered 200 with the job at once (the LRO's allowed initial answer)."""
    allowed = {"cancel": "Cancel", "restart": "Restart", "resume": "Resume"}[action]
    if allowed not in job.allowed_actions():
        raise actions.job_conflict(job, allowed)
    if action == "resume":
        validate.body_of(validate.RESUME_JOB, req.body, required=True)
    {"cancel": jobmod.cancel, "restart": jobmod.restart, "resume": jobmod.resume}[action](job, req.now)
    if action == "restart":
        job.fault = None
    req.vault.world.audit_event("vault-job", req.vault.name, job=job.name, scenario=job.scenario, event=action)
    req.vault.sync(req.now)
    return Response(200, resources.job(req.vault, job))


def _job_filter(text: str | None):
    """ReplicationJobs_List $filter (JobQueryParameter members as OData: StartTime, EndTime, FabricId, AffectedObjectTypes, JobStatus,
    JobName joined with 'and'; asr-api.md §5). StartTime/EndTime bound the job's start (INFERRED: 'jobs from/up to')."""
    if not text:
        return lambda job: True
    tests = []
    for clause in [c.strip() for c in text.replace(" AND ", " and ").split(" and ") if c.strip()]:
        parts = clause.split(None, 2)
        if len(parts) != 3 or parts[1].lower() != "eq":
            raise ArmError(400, "InvalidFilter", "The $filter clause '{0}' is not supported (use <field> eq '<value>').".format(clause))
        field, value = parts[0].lower(), parts[2].strip().strip("'")
        tests.append(_job_test(field, value, clause))
    return lambda job: all(test(job) for test in tests)


def _job_test(field: str, value: str, clause: str):
    if field in ("starttime", "endtime"):
        try:
            bound = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ArmError(400, "InvalidFilter", "'{0}' is not a date in '{1}'.".format(value, clause)) from None
        if bound.tzinfo is None:
            bound = bound.replace(tzinfo=datetime.timezone.utc)
        return (lambda job: job.start >= bound) if field == "starttime" else (lambda job: job.start <= bound)
    if field == "jobstatus":
        states = {s.strip().lower() for s in value.split(",")}
        return lambda job: job.state.lower() in states
    if field == "affectedobjecttypes":
        kinds = {s.strip().lower() for s in value.split(",")}
        return lambda job: job.target_type.lower() in kinds
    if field in ("jobname", "scenarioname"):
        return lambda job: job.scenario.lower() == value.lower()
    if field == "fabricid":
        return lambda job: True
    raise ArmError(400, "InvalidFilter", "The $filter field '{0}' is not supported.".format(clause.split()[0]))


# ---- HTTP plumbing ----------------------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120
    wbufsize = 65536  # headers and body in one send (no Nagle/delayed-ACK stall, as lab/winrm/endpoint.py)
    disable_nagle_algorithm = True
    server: "_Listener"

    def setup(self) -> None:
        # TLS in the worker thread, not on the listening socket (as lab/winrm/endpoint.py).
        self.request.settimeout(10)
        self.request = self.server.endpoint.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        del format, args  # the lab logs through its audit log

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            response = self.server.endpoint.handle(self.command, self.path, self.headers, body)
        except Exception as exc:  # pylint: disable=broad-except
            # A lab bug must reach the client as a server error, not a dropped connection.
            response = Response(500, {"error": {"code": "InternalServerError", "message": "The lab's vault failed: {0!r}".format(exc)}})
        data = b"" if response.body is None else json.dumps(response.body, default=str).encode("utf-8")
        self.send_response(response.status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server's naming


class _Listener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, endpoint: VaultEndpoint, port: int) -> None:
        self.endpoint = endpoint
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request, client_address) -> None:
        pass  # resets and TLS failures of clients are routine
