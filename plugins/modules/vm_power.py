# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_power
short_description: Start, shut down, turn off or save Hyper-V virtual machines, without split brain
version_added: 0.1.0
description:
  - Brings one or more virtual machines of the target Hyper-V host to a power state, started (C(Start-VM)),
    shut down gracefully (C(Stop-VM)), turned off (C(Stop-VM -TurnOff)) or saved (C(Save-VM)).
  - Idempotent on the power state; a VM already in the desired state is left alone.
  - Refuses to start a Hyper-V Replica copy that has not been failed over (that would run a second copy of the VM beside
    the primary copy, a split brain) and a primary copy prepared for a planned failover (Hyper-V locks it against
    starting). Use M(site_recovery.hyperv.vm_failover) first.
  - When one VM of the task cannot reach the desired state, nothing is changed for any VM of the task.
  - All VMs of the task are read in one WinRM command and changed in one more; the module then re-reads the host
    until each VM is in the desired state (and, with O(wait_for_heartbeat=true), its guest answers heartbeats).
options:
  name:
    description:
      - Names of the virtual machines on the target host. Exact names; wildcards are refused.
      - A name that matches no VM fails the task before anything is changed.
    type: list
    elements: str
    required: true
    aliases: [vm_name]
  state:
    description:
      - V(started) starts the VM (C(Start-VM)); a paused VM is resumed.
      - V(stopped) shuts the guest operating system down gracefully (C(Stop-VM)); the guest must be running.
      - V(turned_off) cuts the power (C(Stop-VM -TurnOff)), like pulling the plug; a saved state is discarded.
      - V(saved) saves the memory to disk and stops the VM (C(Save-VM)).
    type: str
    required: true
    choices: [started, stopped, turned_off, saved]
  force:
    description:
      - With O(state=stopped), pass C(-Force) to C(Stop-VM), so that the shutdown goes ahead without the prompt
        Hyper-V raises when the guest has applications with unsaved data (they get five minutes) or is locked.
      - Ignored for the other states.
    type: bool
    default: false
  wait_for_heartbeat:
    description:
      - With O(state=started), wait until Hyper-V reports an OK heartbeat from the guest
        (C(OkApplicationsHealthy), C(OkApplicationsUnknown) or C(OkApplicationsCritical)), which needs the
        guest's heartbeat integration service.
      - Also waits for a VM that was already running, so a re-run after a crash converges.
      - Ignored for the other states.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the VMs to reach the desired state (and heartbeat). The host is re-read with a backoff
        from 0.5 s to 10 s.
      - On timeout the task fails, says which VMs are not there yet, and reports C(changed=true) when a cmdlet ran.
    type: int
    default: 300
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.actiongroup_hyperv
attributes:
  check_mode:
    support: full
    details:
      - Reads the VMs, applies the same refusals, and reports the planned cmdlet calls and the predicted power state.
  diff_mode:
    support: full
  idempotent:
    description: When run twice in a row with the same arguments, the second run reports no change.
    support: full
seealso:
  - module: site_recovery.hyperv.vm_failover
  - module: site_recovery.hyperv.vm_replication_info
  - name: Start-VM
    description: Microsoft's reference of the cmdlet that starts a VM.
    link: https://learn.microsoft.com/powershell/module/hyper-v/start-vm
  - name: Stop-VM
    description: Shuts down, turns off or saves a VM.
    link: https://learn.microsoft.com/powershell/module/hyper-v/stop-vm
  - name: Save-VM
    description: Saves a VM.
    link: https://learn.microsoft.com/powershell/module/hyper-v/save-vm
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Shut down the primary copy before a planned failover
  site_recovery.hyperv.vm_power:
    name: [app01, web01]
    state: stopped

- name: Start the failed-over VMM server and wait until its guest answers
  site_recovery.hyperv.vm_power:
    name: vmm01
    state: started
    wait_for_heartbeat: true
    timeout: 600

- name: Pull the plug on a hung VM
  site_recovery.hyperv.vm_power:
    name: web03
    state: turned_off
"""

RETURN = r"""
vms:
  description: One entry per VM of O(name), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the VM.
      type: str
      sample: vmm01
    changed:
      description: Whether a cmdlet was (or, in check mode, would be) run for this VM.
      type: bool
    actions:
      description: The cmdlet calls run (or planned, in check mode) for this VM.
      type: list
      elements: str
      sample: ["Start-VM -Name vmm01"]
    before:
      description: The VM as read before any change; V(null) when the host has no such VM.
      type: dict
      contains:
        name:
          description: Name of the VM.
          type: str
        id:
          description: VM ID.
          type: str
        state:
          description: Power state (C(Running), C(Off), C(Saved), C(Paused), ...).
          type: str
          sample: Off
        heartbeat:
          description: Heartbeat status Hyper-V reports, V(null) when the VM is not running.
          type: str
          sample: OkApplicationsHealthy
        replication_mode:
          description: Hyper-V Replica mode of this copy (C(None), C(Primary), C(Replica), C(TestReplica), C(ExtendedReplica)).
          type: str
          sample: Replica
        replication_state:
          description: Hyper-V Replica state of this copy.
          type: str
          sample: FailedOverWaitingCompletion
    after:
      description:
        - The VM as read after the change, with the same keys as RV(vms[].before).
        - In check mode, the prediction (the power state the task would reach).
      type: dict
elapsed_seconds:
  description: Seconds the task took, waiting included.
  returned: success, not in check mode
  type: float
  sample: 41.5
"""
