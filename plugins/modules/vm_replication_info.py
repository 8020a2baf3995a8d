# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_replication_info
short_description: Hyper-V Replica state of the virtual machines on a Hyper-V host
version_added: 0.1.0
description:
  - Reads the virtual machines of the target Hyper-V host with their power state and their Hyper-V Replica
    relationship (mode, state, health, primary and Replica server, frequency, last replication) and, on request,
    the recovery points kept on the Replica side.
  - All the reads of one task travel to the host in a single WinRM command (C(Get-VM), C(Get-VMReplication),
    C(Measure-VMReplication) and, with O(recovery_points=true), C(Get-VMSnapshot)).
  - Run it against the host that holds the virtual machines, primary or Replica side.
options:
  name:
    description:
      - Names of the virtual machines to report. Wildcards are accepted as C(Get-VM -Name) accepts them.
      - Every name must match a virtual machine on the host; a name that matches none fails the task
        and names the missing VM.
      - When omitted, every virtual machine of the host is reported.
    type: list
    elements: str
    aliases: [vm_name]
  recovery_points:
    description:
      - Also return the recovery points (replica checkpoints) of each virtual machine, newest first.
      - Recovery points exist only on the Replica side of a relationship.
    type: bool
    default: false
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.info_module
  - site_recovery.hyperv.attributes.actiongroup_hyperv
seealso:
  - name: Get-VMReplication
    description: The cmdlet whose output this module reports.
    link: https://learn.microsoft.com/powershell/module/hyper-v/get-vmreplication
  - name: Measure-VMReplication
    description: Replication statistics and health details.
    link: https://learn.microsoft.com/powershell/module/hyper-v/measure-vmreplication
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Replication overview of every VM on the Replica host
  site_recovery.hyperv.vm_replication_info:
  register: replication

- name: Show VMs whose replication is not healthy
  ansible.builtin.debug:
    msg: "{{ replication.vms | selectattr('replication') | rejectattr('replication.health', 'eq', 'Normal') | map(attribute='name') }}"

- name: Recovery points of the VMM server VM, to choose one for an unplanned failover
  site_recovery.hyperv.vm_replication_info:
    name: vmm01
    recovery_points: true
  register: vmm_points
"""

RETURN = r"""
host_time:
  description:
    - The host's UTC clock when it answered, ISO-8601. RV(vms[].replication.lag_seconds) is measured against it, so a
      controller whose clock is off does not distort the lag.
  returned: always
  type: str
  sample: "2026-11-25T20:09:12.1234560Z"
vms:
  description: The virtual machines of the host, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the virtual machine.
      type: str
      sample: vmm01
    id:
      description: Virtual machine ID (the same on the primary and the Replica side).
      type: str
      sample: 3f2b8d0e-5a61-4c1e-9d3b-7a3e0f6c2b11
    state:
      description: Power state (C(Running), C(Off), C(Saved), ...).
      type: str
      sample: Running
    status:
      description: Operational status text that Hyper-V reports.
      type: str
      sample: Operating normally
    computer_name:
      description: Name of the Hyper-V host as the host reports it.
      type: str
      sample: HV-PRI-01
    replication:
      description:
        - The Hyper-V Replica relationship of the VM on this host, or V(null) when replication is not enabled.
      type: dict
      contains:
        mode:
          description: C(Primary), C(Replica), C(TestReplica) or C(ExtendedReplica).
          type: str
          sample: Primary
        state:
          description: Replication state, for example C(Replicating), C(PreparedForFailover), C(FailedOverWaitingCompletion).
          type: str
          sample: Replicating
        health:
          description: C(Normal), C(Warning), C(Critical) or C(NotApplicable).
          type: str
          sample: Normal
        health_details:
          description: Reasons Hyper-V gives for the health, from C(Measure-VMReplication).
          type: list
          elements: str
        primary_server:
          description: Primary server of the relationship.
          type: str
          sample: hv-pri-01.lab.test
        replica_server:
          description: Replica server of the relationship.
          type: str
          sample: hv-sec-01.lab.test
        replica_port:
          description: Port of the Replica server listener.
          type: int
          sample: 80
        authentication_type:
          description: C(Kerberos) or C(Certificate).
          type: str
        frequency_sec:
          description: Replication frequency in seconds (30, 300 or 900).
          type: int
          sample: 300
        recovery_history:
          description: Number of additional hourly recovery points kept.
          type: int
        vss_snapshot_frequency_hours:
          description: Interval of application-consistent recovery points, in hours (0 when off).
          type: int
        last_replication_time:
          description: When the last replication cycle was applied, ISO-8601 UTC.
          type: str
          sample: "2026-11-25T20:05:00.000Z"
        lag_seconds:
          description:
            - Seconds since the last applied replication cycle, on the host's clock (RV(host_time)) - the most data a
              failover at this moment would lose (the RPO actually achieved). Null when the VM has never replicated.
            - Compare it with RV(vms[].replication.frequency_sec) to see whether replication keeps up.
          type: int
          sample: 245
        last_replication_type:
          description: Kind of the last cycle (C(Regular), C(ApplicationConsistent), C(Planned)).
          type: str
        pending_replication_size:
          description: Bytes not yet replicated.
          type: int
        average_replication_latency_seconds:
          description: Average replication latency in the monitoring window, in seconds.
          type: float
        successful_replication_count:
          description: Successful cycles in the monitoring window.
          type: int
        missed_replication_count:
          description: Missed cycles in the monitoring window.
          type: int
    recovery_points:
      description: Recovery points of the VM, newest first. Only with O(recovery_points=true).
      type: list
      elements: dict
      returned: when O(recovery_points=true)
      contains:
        name:
          description: Checkpoint name.
          type: str
        id:
          description: Checkpoint ID; pass it to choose this point for a failover.
          type: str
        type:
          description: C(Replica) (standard point), C(AppConsistentReplica) or C(SyncedReplica).
          type: str
        creation_time:
          description: Time of the point, ISO-8601 UTC.
          type: str
"""
