# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_replication
short_description: Enable, change, pause, resynchronize, reverse or remove Hyper-V Replica for virtual machines
version_added: 0.1.0
description:
  - Brings the Hyper-V Replica relationship of one or more virtual machines on the target Hyper-V host to the desired
    state, deciding from the live C(ReplicationMode) and C(ReplicationState) of each VM what, if anything, to run.
  - Every VM of the task is read in one WinRM command; when a VM cannot reach the desired state from the state it is in,
    the whole task is refused before anything changes, with a message that names the state found and the step that must
    come first. Otherwise the changes for all VMs go to the host in one more WinRM command, and the VMs are read again.
  - In check mode the module reads the VMs, reports the cmdlet calls it would run in RV(vms[].actions) and the predicted
    state in RV(vms[].after), and changes nothing.
  - Run it against the host that holds the side of the relationship to act on. Relationship settings are changed on the
    primary side. Removing replication acts on the target host only; Hyper-V requires running it on the primary and on
    the Replica separately.
options:
  name:
    description:
      - Names of the virtual machines on the target host. Exact names; wildcards are refused.
    type: list
    elements: str
    required: true
    aliases: [vm_name]
  state:
    description:
      - V(present) enables replication when it is not enabled (C(Enable-VMReplication), then C(Start-VMInitialReplication)
        unless O(initial_replication=none)), changes the settings that differ from the live relationship with
        C(Set-VMReplication) (only the parameters that differ), and starts initial replication of a relationship that is
        C(ReadyForInitialReplication). On the Replica side it changes nothing and refuses settings that differ.
      - V(absent) removes the relationship on this host with C(Remove-VMReplication). Refused while a failover is under way
        (C(PreparedForFailover), C(FailedOverWaitingCompletion)).
      - V(suspended) pauses replication with C(Suspend-VMReplication) (from C(Replicating) or C(Resynchronizing)).
      - V(resumed) resumes C(Suspended), C(Error) or C(ResynchronizeSuspended) replication with C(Resume-VMReplication).
        A relationship in C(WaitingForStartResynchronize) needs O(state=resynchronized) instead, and the module says so.
      - V(resynchronized) runs C(Resume-VMReplication -Resynchronize) for a relationship in C(WaitingForStartResynchronize)
        or C(Error); a C(Suspended) one is simply resumed, and a C(ResynchronizeSuspended) one resumed where it stopped.
        No change when C(Replicating), already C(Resynchronizing), or with a resynchronization already scheduled.
      - V(reversed) runs C(Set-VMReplication -Reverse) on the host where the VM has failed over (C(FailedOverWaitingCompletion)
        or C(FailedOver)); afterwards this host holds the Primary side. Settings given with it (for example O(replica_server)
        to reverse towards another server) travel in the same call. After an unplanned failover the reversed relationship
        waits for initial replication; with O(initial_replication=network) the module starts it in one more WinRM command.
        When the VM is already the Primary here, the settings are converged as with V(present) and nothing else happens.
      - V(replica) turns a returning old primary into a Replica so that it can receive reverse replication
        (C(Set-VMReplication -AsReplica), or C(Enable-VMReplication -AsReplica) when it has no relationship left).
        Refused while the VM is not Off, so that a running copy is never silently demoted (split-brain guard).
    type: str
    default: present
    choices: [present, absent, suspended, resumed, resynchronized, reversed, replica]
  replica_server:
    description:
      - Replica server (host name, FQDN or Hyper-V Replica Broker name). Required to enable replication.
      - A short name matches the FQDN the relationship reports.
      - Only with O(state=present) or O(state=reversed), like every relationship setting below.
    type: str
  replica_port:
    description:
      - Port of the Replica server listener. When enabling and not given, V(80).
    type: int
  authentication_type:
    description:
      - How the primary authenticates to the Replica server. When enabling and not given, V(Kerberos).
      - V(Certificate) requires O(certificate_thumbprint).
    type: str
    choices: [Kerberos, Certificate]
  certificate_thumbprint:
    description:
      - Thumbprint of the certificate used with O(authentication_type=Certificate).
    type: str
  frequency:
    description:
      - Replication frequency in seconds.
    type: int
    choices: [30, 300, 900]
  recovery_history:
    description:
      - Number of additional hourly recovery points kept on the Replica, 0 to 24.
    type: int
  vss_snapshot_frequency_hours:
    description:
      - Interval, in hours, of application-consistent (VSS) recovery points; V(0) turns them off
        (C(-DisableVSSSnapshotReplication)).
      - Only with a recovery history greater than 0 (given in O(recovery_history) or already configured); refused otherwise.
    type: int
  compression:
    description:
      - Compress replication traffic.
    type: bool
  auto_resynchronize:
    description:
      - Let Hyper-V resynchronize automatically a relationship that needs it.
    type: bool
  initial_replication:
    description:
      - How initial replication starts after enabling, and for a relationship found C(ReadyForInitialReplication).
      - V(network) runs C(Start-VMInitialReplication) over the network now. V(none) leaves it to be started otherwise
        (for example from external media).
    type: str
    default: network
    choices: [network, none]
  resynchronize_start_time:
    description:
      - With O(state=resynchronized), schedule the resynchronization (C(-ResynchronizeStartTime)) instead of starting it now.
        A date and time PowerShell converts, for example V(2026-11-26T22:00:00).
    type: str
  allowed_primary_server:
    description:
      - With O(state=replica), the primary server allowed to replicate to this VM (C(-AllowedPrimaryServer)).
    type: str
  wait:
    description:
      - With O(state=present), O(state=resynchronized) or O(state=reversed), wait until initial replication or
        resynchronization has finished and every VM is C(Replicating).
      - The wait ends with a failure when a VM leaves the in-progress states for another state than C(Replicating).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true). On timeout the task fails and the operation continues on the host;
        re-running the task keeps waiting without starting anything again.
    type: int
    default: 3600
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.actiongroup_hyperv
  - site_recovery.hyperv.attributes.state_changing
notes:
  - The relationship states and transitions the module relies on are those of the Hyper-V cmdlet reference
    (C(Get-VMReplication) C(ReplicationState) values). A planned failover, an unplanned failover and its cancellation
    are the job of M(site_recovery.hyperv.vm_failover); this module reverses replication afterwards.
  - After an unplanned failover, make the returning old primary a Replica (O(state=replica) on the old primary host), then
    reverse on the failed-over host (O(state=reversed)); initial replication may be needed again, and O(state=reversed)
    starts it when the relationship is C(ReadyForInitialReplication).
seealso:
  - module: site_recovery.hyperv.vm_replication_info
  - module: site_recovery.hyperv.vm_replication_server
  - name: Enable-VMReplication
    description: Enables replication of a virtual machine.
    link: https://learn.microsoft.com/powershell/module/hyper-v/enable-vmreplication
  - name: Set-VMReplication
    description: Changes replication settings, reverses replication, makes a VM a Replica.
    link: https://learn.microsoft.com/powershell/module/hyper-v/set-vmreplication
  - name: Resume-VMReplication
    description: Resumes or resynchronizes replication.
    link: https://learn.microsoft.com/powershell/module/hyper-v/resume-vmreplication
  - name: Remove-VMReplication
    description: Removes the replication relationship on one side.
    link: https://learn.microsoft.com/powershell/module/hyper-v/remove-vmreplication
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Protect the web servers, replicating every 5 minutes with 4 hourly recovery points
  site_recovery.hyperv.vm_replication:
    name: [web01, web03]
    replica_server: hv-sec-02.contoso.com
    frequency: 300
    recovery_history: 4
    wait: true
    wait_timeout: 7200

- name: Pause replication during maintenance of the Replica host
  site_recovery.hyperv.vm_replication:
    name: [web01, web03]
    state: suspended

- name: Resynchronize after the primary host crashed
  site_recovery.hyperv.vm_replication:
    name: web01
    state: resynchronized
    wait: true

- name: After an unplanned failover, make the returning old primary a Replica (on the old primary host)
  site_recovery.hyperv.vm_replication:
    name: vmm01
    state: replica
  delegate_to: hv-pri-01.contoso.com

- name: Then reverse replication on the host the VM failed over to
  site_recovery.hyperv.vm_replication:
    name: vmm01
    state: reversed
  delegate_to: hv-sec-01.contoso.com
"""

RETURN = r"""
vms:
  description: One entry per VM of O(name), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the virtual machine.
      type: str
      sample: web01
    changed:
      description: Whether the task changed (or in check mode would change) this VM.
      type: bool
    actions:
      description: The cmdlet calls run (or, in check mode, planned) for this VM.
      type: list
      elements: str
      sample: ["Enable-VMReplication -VMName web01 -ReplicaServerName hv-sec-02 -ReplicaServerPort 80 -AuthenticationType Kerberos",
               "Start-VMInitialReplication -VMName web01"]
    before:
      description: The VM as read before the task; V(null) for a VM the host does not have.
      type: dict
      contains: &view
        power_state:
          description: Power state of the VM (C(Running), C(Off), ...).
          type: str
          sample: Running
        mode:
          description: C(None) when replication is not enabled, else C(Primary), C(Replica), C(TestReplica) or C(ExtendedReplica).
          type: str
          sample: Primary
        state:
          description: Replication state (C(Disabled) when not enabled).
          type: str
          sample: Replicating
        health:
          description: C(Normal), C(Warning), C(Critical) or C(NotApplicable).
          type: str
          sample: Normal
        primary_server:
          description: Primary server of the relationship.
          type: str
          sample: hv-pri-02.contoso.com
        replica_server:
          description: Replica server of the relationship.
          type: str
          sample: hv-sec-02.contoso.com
        replica_port:
          description: Port of the Replica server listener.
          type: int
          sample: 80
        authentication_type:
          description: C(Kerberos) or C(Certificate).
          type: str
        certificate_thumbprint:
          description: Certificate thumbprint with certificate authentication.
          type: str
        frequency_sec:
          description: Replication frequency in seconds.
          type: int
          sample: 300
        recovery_history:
          description: Additional hourly recovery points kept.
          type: int
        vss_snapshot_frequency_hours:
          description: Interval of application-consistent points, in hours (0 when off).
          type: int
        compression:
          description: Whether replication traffic is compressed.
          type: bool
        auto_resynchronize:
          description: Whether automatic resynchronization is on.
          type: bool
        resynchronize_start_time:
          description: When a scheduled resynchronization starts, ISO-8601 UTC; V(null) when none is scheduled.
          type: str
    after:
      description:
        - The VM as read after the task (after waiting, with O(wait=true)).
        - In check mode, the predicted view. Values Hyper-V decides itself, such as health, keep their value from before,
          or are V(null) when they cannot be predicted (the state after O(state=reversed)).
      type: dict
      contains: *view
"""
