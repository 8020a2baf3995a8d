#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: asr_replication_policy
short_description: Hyper-V Replica replication policy of a Recovery Services vault (VMM cloud to VMM cloud)
version_added: 0.1.0
description:
  - Creates, updates or removes a replication policy of the provider C(HyperVReplica2012R2) (Hyper-V Replica between two VMM
    clouds, Windows Server 2012 R2 and later hosts) - C(PUT), C(PATCH) or C(DELETE .../replicationPolicies/<name>).
  - Only the settings given are compared with the policy; an existing policy with other settings is updated (C(PATCH) with all
    its settings, the given ones changed). Settings not given take the defaults below when the policy is created.
  - A policy is used through a cloud pairing, see M(site_recovery.hyperv.asr_container_mapping).
options:
  name:
    description: Name of the policy.
    type: str
    required: true
  state:
    description:
      - V(present) - the policy exists with the settings given.
      - V(absent) - the policy does not exist. Refused while a cloud pairing uses it (remove the pairing first).
    type: str
    choices: [present, absent]
    default: present
  replication_frequency:
    description: Seconds between replications (C(replicationFrequencyInSeconds)); created with V(300).
    type: int
    choices: [30, 300, 900]
  recovery_points:
    description:
      - Additional recovery points kept, one per hour (C(recoveryPoints)), V(0) to V(24); created with V(0) (only the latest point).
    type: int
  app_consistent_frequency:
    description:
      - Hours between application-consistent (VSS) snapshots (C(applicationConsistentSnapshotFrequencyInHours)), V(0) (none) to
        V(12); created with V(0). Above V(0) only with O(recovery_points) above V(0).
    type: int
  compression:
    description: Compress the replicated data (C(compression) C(Enable)/C(Disable)); created with V(false).
    type: bool
  initial_replication_method:
    description:
      - V(over_network) copies the VM over the network (C(OverNetwork)); V(offline) through exported media (C(Offline)), which needs
        O(offline_export_path) and O(offline_import_path). Created with V(over_network).
    type: str
    choices: [over_network, offline]
  online_replication_start_time:
    description:
      - With O(initial_replication_method=over_network), the time of day the initial replication starts, C(HH:MM:SS) such as
        V(22:00:00); not set - immediately.
    type: str
  offline_export_path:
    description: With O(initial_replication_method=offline), the path on the primary host the initial copy is exported to.
    type: str
  offline_import_path:
    description: With O(initial_replication_method=offline), the path on the recovery host it is imported from.
    type: str
  replication_port:
    description:
      - Port of the Hyper-V Replica listener on the recovery hosts (C(replicationPort)); created with V(8083) for Kerberos and
        V(8084) for certificate authentication.
    type: int
  authentication:
    description: How the hosts authenticate (C(allowedAuthenticationType) 1 or 2); created with V(kerberos).
    type: str
    choices: [kerberos, certificate]
  allow_replica_deletion:
    description:
      - Delete the replica VM on the recovery site when protection is disabled (C(replicaDeletion) C(Required); read back as
        C(replicaDeletionOption=OnRecoveryCloud)); created with V(false).
    type: bool
extends_documentation_fragment:
  - site_recovery.hyperv.asr
  - site_recovery.hyperv.asr.wait
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.state_changing
  - site_recovery.hyperv.asr.actiongroup_asr
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff has the policy's settings (option names) before and after.
seealso:
  - module: site_recovery.hyperv.asr_container_mapping
  - name: Set up disaster recovery of Hyper-V VMs to a secondary site
    description: Microsoft's replication policy settings for VMM to VMM.
    link: https://learn.microsoft.com/azure/site-recovery/hyper-v-vmm-disaster-recovery
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Policy - 5 minute replication, 4 hourly points, app-consistent every 2 hours
  site_recovery.hyperv.asr_replication_policy:
    name: pol-hvr-5min
    replication_frequency: 300
    recovery_points: 4
    app_consistent_frequency: 2
    compression: true
    authentication: kerberos
    replication_port: 8083
  delegate_to: localhost
  module_defaults:
    group/site_recovery.hyperv.asr: "{{ site_recovery_vault }}"

- name: Remove an unused policy
  site_recovery.hyperv.asr_replication_policy:
    name: pol-old
    state: absent
    resource_group: rg-dr
    vault_name: vault-dr
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description: What the task did or found.
  returned: always
  type: str
policy:
  description: The policy as read after the task (V(null) when absent); in check mode, the prediction.
  returned: always
  type: dict
  contains:
    name:
      description: Policy name.
      type: str
    id:
      description: ARM id.
      type: str
    provider:
      description: C(HyperVReplica2012R2).
      type: str
    settings:
      description: The settings with this module's option names (C(replication_frequency), C(recovery_points), ...).
      type: dict
job:
  description: The ASR job of the change (see RV(site_recovery.hyperv.asr_job_info#module:jobs)); V(null) when nothing ran.
  returned: always
  type: dict
request:
  description: The request body sent, or that would be sent in check mode; V(null) for none.
  returned: always
  type: dict
"""

import re

from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr import AsrError, AsrModule
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_jobs import run_one
from ansible_collections.site_recovery.hyperv.plugins.module_utils._asr_resources import (
    POLICY_PROVIDER, policy_input, policy_settings, policy_view, props, same_id)

SETTINGS = ["replication_frequency", "recovery_points", "app_consistent_frequency", "compression", "initial_replication_method",
            "online_replication_start_time", "offline_export_path", "offline_import_path", "replication_port", "authentication",
            "allow_replica_deletion"]
CREATE_DEFAULTS = {"replication_frequency": 300, "recovery_points": 0, "app_consistent_frequency": 0, "compression": False,
                   "initial_replication_method": "over_network", "authentication": "kerberos", "allow_replica_deletion": False}
GROUP = "replication_policies"


def main():
    asr = AsrModule(
        dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            replication_frequency=dict(type="int", choices=[30, 300, 900]),
            recovery_points=dict(type="int"),
            app_consistent_frequency=dict(type="int"),
            compression=dict(type="bool"),
            initial_replication_method=dict(type="str", choices=["over_network", "offline"]),
            online_replication_start_time=dict(type="str"),
            offline_export_path=dict(type="str"),
            offline_import_path=dict(type="str"),
            replication_port=dict(type="int"),
            authentication=dict(type="str", choices=["kerberos", "certificate"]),
            allow_replica_deletion=dict(type="bool"),
        ),
        wait_options=True,
    )
    asr.run(run)


def desired_settings(params, current):
    """current settings (or the creation defaults) overlaid with the given options; validated."""
    settings = dict(current) if current else dict({key: None for key in SETTINGS}, **CREATE_DEFAULTS)
    for key in SETTINGS:
        if params.get(key) is not None:
            settings[key] = params[key]
    if settings.get("replication_port") is None:
        settings["replication_port"] = 8084 if settings["authentication"] == "certificate" else 8083
    validate(settings)
    return settings


def validate(settings):
    if not 0 <= (settings["recovery_points"] or 0) <= 24:
        raise AsrError("recovery_points must be 0 to 24, got %s." % settings["recovery_points"])
    if not 0 <= (settings["app_consistent_frequency"] or 0) <= 12:
        raise AsrError("app_consistent_frequency must be 0 (none) to 12 hours, got %s." % settings["app_consistent_frequency"])
    if settings["app_consistent_frequency"] and not settings["recovery_points"]:
        raise AsrError("app_consistent_frequency needs recovery_points above 0: application-consistent snapshots are kept as additional "
                       "recovery points.")
    if not 1 <= settings["replication_port"] <= 65535:
        raise AsrError("replication_port must be a TCP port, got %s." % settings["replication_port"])
    start = settings.get("online_replication_start_time")
    if start and not re.match(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$", start):
        raise AsrError("online_replication_start_time must be a time of day HH:MM:SS, got %r." % start)
    if settings["initial_replication_method"] == "offline":
        if start:
            raise AsrError("online_replication_start_time applies to initial_replication_method=over_network only.")
        if not (settings.get("offline_export_path") and settings.get("offline_import_path")):
            raise AsrError("initial_replication_method=offline needs offline_export_path and offline_import_path.")


def run(asr):
    params = asr.params
    vault = asr.vault
    name = params["name"]
    policy = vault.get_or_none("reading replication policy %s" % name, GROUP, "get", name)
    before = policy_view(policy) if policy else None
    if before and before["provider"] != POLICY_PROVIDER:
        raise AsrError("Replication policy %s exists for provider %s, not %s; this module manages Hyper-V Replica (VMM to VMM) policies only."
                       % (name, before["provider"], POLICY_PROVIDER))
    if params["state"] == "absent":
        return absent(asr, vault, policy, before)
    current = policy_settings(props(policy).get("providerSpecificDetails")) if policy else None
    wanted = desired_settings(params, current)
    if current == wanted:
        return result(asr, False, "Replication policy %s exists with these settings." % name, before, before, None, None)
    body = {"properties": {"providerSpecificInput": policy_input(wanted)}} if not policy else {
        "properties": {"replicationProviderSettings": policy_input(wanted)}}
    changes = sorted(key for key in SETTINGS if (current or {}).get(key) != wanted[key])
    msg = ("Create replication policy %s." % name) if not policy else ("Update replication policy %s (%s)." % (name, ", ".join(changes)))
    predicted = {"name": name, "id": (policy or {}).get("id"), "friendly_name": name, "provider": POLICY_PROVIDER, "settings": wanted}
    if asr.check_mode:
        return result(asr, True, "Check mode, nothing sent: " + msg, before, predicted, None, body)
    job = run_one(vault, "%s replication policy %s" % ("updating" if policy else "creating", name), GROUP,
                  "begin_update" if policy else "begin_create", [name, body], "UpdatePolicy" if policy else "CreatePolicy", params)
    after = policy_view(vault.get("reading replication policy %s" % name, GROUP, "get", name, missing="replication policy %s" % name))
    return result(asr, True, msg, before, after, job, body)


def absent(asr, vault, policy, before):
    name = asr.params["name"]
    if policy is None:
        return result(asr, False, "Replication policy %s does not exist." % name, None, None, None, None)
    mappings = vault.list("listing the cloud pairings", "replication_protection_container_mappings", "list")
    users = [m for m in mappings if same_id(props(m).get("policyId"), policy["id"])]
    if users:
        raise AsrError("Replication policy %s is used by the cloud pairing(s) %s; remove them first (site_recovery.hyperv.asr_container_mapping "
                       "state=absent)." % (name, ", ".join("%s -> %s" % (props(m).get("sourceProtectionContainerFriendlyName"),
                                                                         props(m).get("targetProtectionContainerFriendlyName")) for m in users)))
    msg = "Remove replication policy %s." % name
    if asr.check_mode:
        return result(asr, True, "Check mode, nothing sent: " + msg, before, None, None, None)
    job = run_one(vault, "removing replication policy %s" % name, GROUP, "begin_delete", [name], "DeletePolicy", asr.params)
    return result(asr, True, msg, before, None, job, None)


def result(asr, changed, msg, before, after, job, body):
    out = {"changed": changed, "msg": msg, "policy": after, "job": job, "request": body}
    if asr.module._diff:
        out["diff"] = {"before": (before or {}).get("settings") or {}, "after": (after or {}).get("settings") or {}}
    return out


if __name__ == "__main__":
    main()
