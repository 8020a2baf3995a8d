# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # Connection and authentication options of every asr_* module (argument spec: plugins/module_utils/_asr.py ASR_COMMON_ARGS).
    DOCUMENTATION = r"""
options:
  subscription_id:
    description:
      - ID of the Azure subscription of the vault.
      - Falls back to the E(AZURE_SUBSCRIPTION_ID) environment variable; with the Azure CLI login (O(auth_source=cli)), to the CLI's
        default subscription (C(az account show)).
    type: str
  resource_group:
    description: Resource group of the Recovery Services vault.
    type: str
    required: true
  vault_name:
    description: Name of the Recovery Services vault.
    type: str
    required: true
  auth_source:
    description:
      - Where the credentials come from, with azure.azcollection's names.
      - V(auto) uses the service principal options O(client_id), O(secret), O(tenant) (or their environment variables) when
        O(client_id) or O(secret) is set, and the Azure CLI login otherwise.
      - V(service_principal) requires O(client_id), O(secret) and O(tenant) (options or environment variables).
      - V(env) reads only the environment, E(AZURE_CLIENT_ID), E(AZURE_SECRET) (or E(AZURE_CLIENT_SECRET)), E(AZURE_TENANT)
        (or E(AZURE_TENANT_ID)) and E(AZURE_SUBSCRIPTION_ID), and ignores the options.
      - V(cli) uses the Azure CLI login (C(az login)) of the user running the module.
      - V(msi) uses the managed identity of the machine running the module; O(client_id) selects a user-assigned identity.
      - Falls back to the E(ANSIBLE_AZURE_AUTH_SOURCE) environment variable.
    type: str
    default: auto
    choices: [auto, cli, env, msi, service_principal]
  client_id:
    description:
      - Application (client) ID of the service principal, or of the user-assigned managed identity with O(auth_source=msi).
      - Falls back to E(AZURE_CLIENT_ID).
    type: str
  secret:
    description:
      - Client secret of the service principal. Never returned or logged.
      - Falls back to E(AZURE_SECRET), then E(AZURE_CLIENT_SECRET).
    type: str
  tenant:
    description:
      - Microsoft Entra tenant (directory) ID of the service principal.
      - Falls back to E(AZURE_TENANT), then E(AZURE_TENANT_ID).
    type: str
  arm_endpoint:
    description:
      - Base URL of Azure Resource Manager; another value for a sovereign or private cloud, or the DR lab.
      - The token is requested for the ARM audience - C(https://management.azure.com/.default), or the sovereign cloud's own for
        C(management.chinacloudapi.cn) and C(management.usgovcloudapi.net). Any other URL (a private endpoint or proxy in front of
        ARM, the DR lab) keeps the public ARM audience.
      - Falls back to E(AZURE_ARM_ENDPOINT).
    type: str
    default: https://management.azure.com
  authority_host:
    description:
      - Microsoft Entra authority to get tokens from, for example C(https://login.microsoftonline.us); default the public cloud's.
      - A custom authority is used as given, without Microsoft's instance discovery (private clouds, the DR lab).
      - Falls back to E(AZURE_AUTHORITY_HOST).
    type: str
  ca_bundle:
    description:
      - Path of a PEM file with the certificate authorities to trust for TLS to O(arm_endpoint) and O(authority_host), instead of the
        system's (C(certifi)) bundle.
    type: path
  cert_validation_mode:
    description:
      - V(ignore) turns TLS certificate validation off (tests only). Falls back to E(AZURE_CERT_VALIDATION_MODE).
    type: str
    default: validate
    choices: [validate, ignore]
requirements:
  - python >= 3.10
  - azure-mgmt-recoveryservicessiterecovery >= 2.0.0
  - azure-identity
notes:
  - "The module runs where Ansible runs modules; run it on the controller (C(hosts: localhost) or C(delegate_to: localhost)),
    with a Python interpreter that has the requirements."
  - REST API version 2025-08-01 of Microsoft.RecoveryServices (Azure Site Recovery), scenario VMM cloud to VMM cloud
    (Hyper-V Replica, provider C(HyperVReplica2012R2)).
"""

    # Modules that start ASR jobs and can wait for them.
    WAIT = r"""
options:
  wait:
    description:
      - Wait until the ASR jobs started by the task leave C(NotStarted)/C(InProgress) and report their outcome.
      - With V(false), the task returns as soon as ASR accepted the request, with the job as first read.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for the jobs. On timeout the task fails with C(changed=true) and the job names; the jobs go on in the vault.
    type: int
    default: 3600
  poll_interval:
    description:
      - Longest pause, in seconds, between two reads of a job; the pauses start at 1 s and grow by half up to this value.
    type: int
    default: 15
"""

    ACTIONGROUP_ASR = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.asr) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.asr
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
    details:
      - Runs on the controller and talks to Azure Resource Manager over HTTPS; no Windows host is contacted.
"""
