# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vm_failover
short_description: Hyper-V Replica failover of virtual machines (planned, unplanned, test), completion and cancel
version_added: 0.1.0
description:
  - Takes one or more virtual machines of the target Hyper-V host through the Hyper-V Replica failover steps;
    prepare a planned failover on the primary host, fail over on the Replica host to a chosen recovery point, complete
    the failover, cancel it, or run and clean up a test failover.
  - Each step reads the live state first and does nothing when the VM is already there, so a re-run after a crash
    converges. When one VM of the task cannot take the step, nothing is changed for any VM of the task.
  - B(Split-brain guard.) Before O(state=failed_over) on a Replica VM, the module asks the primary server named in the
    replication relationship, from the Replica host, about the primary copy (C(Get-VMHost -ComputerName) and
    C(Get-VM -ComputerName), one batch for all primary servers of the task).
    When the server answers, its answer decides; the failover goes ahead only when the primary copy is prepared
    (O(state=prepared)) and off, i.e. a planned failover; it is refused when the primary copy runs (or is saved,
    paused, starting), when it is off but was not prepared (prepare it first; no data loss, and Hyper-V then locks
    it against starting), and when the server has no VM with that ID (it may run elsewhere).
    When the server does not answer (unreachable, or the question is denied), the state of the primary copy is
    unknown and the module refuses unless the caller states it with O(primary_state) (V(unreachable) or V(off)).
    Silence is never taken to mean the primary is lost.
  - B(Second hop.) The Replica host asks with the task's credentials. Over WinRM with NTLM, or Kerberos without
    delegation, that second hop is denied, so in most estates the question fails and the caller must observe the
    primary itself, for example with M(site_recovery.hyperv.vm_replication_info) run against the primary hosts
    through their own connections (unreachable there means unreachable), and pass O(primary_state). With Kerberos
    constrained delegation (or CredSSP) from the Replica hosts to the primary hosts, the module's own question works.
  - O(force=true) skips the guard. The module never starts a VM; use M(site_recovery.hyperv.vm_power) for that.
  - Every step is one C(Start-VMFailover), C(Complete-VMFailover) or C(Stop-VMFailover) call per VM, sent for all VMs in
    one WinRM command with C(-Confirm:$false) (the module has already made the checks); the module then re-reads the
    host until every VM has reached the desired state.
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
      - V(prepared) starts a planned failover on the B(primary) host (C(Start-VMFailover -Prepare)), which ships the
        changes not yet replicated. The primary copy must be off; shut it down first with
        M(site_recovery.hyperv.vm_power) O(site_recovery.hyperv.vm_power#module:state=stopped). Done when the primary
        reports C(PreparedForFailover), in which Hyper-V locks it against starting.
      - V(failed_over) fails the B(Replica) VM over (C(Start-VMFailover)) to the recovery point chosen with
        O(recovery_point) or O(recovery_point_before). Done when the Replica VM reports C(FailedOverWaitingCompletion)
        or C(FailedOver), or when this host already holds the primary copy (failed over and reversed). Subject to
        the split-brain guard described above.
      - V(completed) completes the failover of a failed-over Replica VM (C(Complete-VMFailover)). B(Irreversible) -
        Hyper-V keeps the recovery point failed over to and deletes all the other recovery points, and the failover
        can no longer be cancelled. Refused unless the VM is C(FailedOverWaitingCompletion); nothing to do when it
        is C(FailedOver) already or this host holds the primary copy.
      - V(cancelled) cancels with C(Stop-VMFailover), whichever of the three cases applies. On the primary host, a
        prepared planned failover (replication restarts). On the Replica host, a failover not yet completed; the
        VM is turned off and the failover disk discarded, so everything the VM wrote since the failover is lost, and
        the module refuses when the VM is not off unless O(force=true). On the Replica host, a test failover (the
        test VM is deleted). Refused after C(Complete-VMFailover), which Microsoft documents cannot be cancelled.
      - V(test) starts a test failover on the Replica host (C(Start-VMFailover -AsTest)), which creates a test VM
        named C(<VM> - Test) from the chosen recovery point; replication goes on. Nothing to do when a test VM exists.
      - V(test_cleanup) ends a test failover (C(Stop-VMFailover)) and deletes the test VM; nothing to do when there is none.
    type: str
    required: true
    choices: [prepared, failed_over, completed, cancelled, test, test_cleanup]
  recovery_point:
    description:
      - Recovery point to fail over to, for O(state=failed_over) and O(state=test). When neither this nor
        O(recovery_point_before) is set, V(latest).
      - V(latest) is the newest point; the module calls C(Start-VMFailover -VMName), which uses it.
      - V(latest_app_consistent) is the newest application-consistent point (snapshot type C(AppConsistentReplica)).
      - Any other value is the name or the ID of a recovery point, as M(site_recovery.hyperv.vm_replication_info)
        reports them with O(site_recovery.hyperv.vm_replication_info#module:recovery_points=true). A value that
        matches no point of a VM fails the task, listing the points available.
      - The point is resolved when the task reads the host (C(Get-VMSnapshot)); the module passes that recovery point
        object to C(Start-VMFailover -VMRecoverySnapshot). The point used is returned in RV(vms[].recovery_point).
    type: str
  recovery_point_before:
    description:
      - Fail over to the newest recovery point taken at or before this time, for O(state=failed_over) and
        O(state=test); for example the last point before a corruption was noticed.
      - ISO-8601 time such as V(2026-11-25T18:00:00Z); a time without offset is UTC.
      - Mutually exclusive with O(recovery_point).
    type: str
  primary_state:
    description:
      - With O(state=failed_over), what the caller knows about the primary copy, used by the split-brain guard when
        the primary server does not answer (unreachable, or the second hop from the Replica host is denied).
      - V(unreachable) or V(off) let the unplanned failover go ahead in that case; when not set, the module refuses.
      - V(running) refuses the failover when the primary server does not answer (unless O(force=true)).
      - When the primary server answers, its answer decides, whatever this option says.
    type: str
    choices: [running, "off", unreachable]
  force:
    description:
      - With O(state=failed_over), skip the split-brain guard; fail over even when the primary server answers and the
        primary copy runs, or when it cannot be asked. Only when you know the primary copy is down and will stay down.
      - With O(state=cancelled), cancel the failover of a Replica VM that is running, accepting that it is turned off
        and that everything it wrote since the failover is lost.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait, after the cmdlets ran, until every VM reports the desired state. The host is re-read with
        a backoff from 0.5 s to 10 s.
      - On timeout the task fails, says which VMs are not there yet, and reports C(changed=true).
    type: int
    default: 600
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.actiongroup_hyperv
attributes:
  check_mode:
    support: full
    details:
      - Reads the VMs, asks the primary servers (split-brain guard), applies the same refusals, resolves the recovery point, and reports the
        planned cmdlet calls and the predicted replication state without changing anything.
  diff_mode:
    support: full
  idempotent:
    description: When run twice in a row with the same arguments, the second run reports no change.
    support: full
notes:
  - "Order of a planned failover (both sites up, no data loss): M(site_recovery.hyperv.vm_power) O(site_recovery.hyperv.vm_power#module:state=stopped)
    on the primary host, O(state=prepared) on the primary host, O(state=failed_over) on the Replica host, reverse
    replication with M(site_recovery.hyperv.vm_replication) on the Replica host, then M(site_recovery.hyperv.vm_power)
    O(site_recovery.hyperv.vm_power#module:state=started) on the Replica host."
  - "Order of an unplanned failover (primary site lost): O(state=failed_over) on the Replica host (chosen recovery point),
    M(site_recovery.hyperv.vm_power) O(site_recovery.hyperv.vm_power#module:state=started), check the workload, then
    O(state=completed), or O(state=cancelled) and O(state=failed_over) again to another recovery point."
  - O(state=cancelled) on the primary host does not ask the Replica host. If the Replica VM was failed over meanwhile,
    cancel that failover on the Replica host first.
seealso:
  - module: site_recovery.hyperv.vm_power
  - module: site_recovery.hyperv.vm_replication_info
  - name: Start-VMFailover
    description: Microsoft's reference of the cmdlet that prepares, runs and tests a failover.
    link: https://learn.microsoft.com/powershell/module/hyper-v/start-vmfailover
  - name: Complete-VMFailover
    description: Completes a failover and removes the other recovery points.
    link: https://learn.microsoft.com/powershell/module/hyper-v/complete-vmfailover
  - name: Stop-VMFailover
    description: Cancels a failover, a prepared planned failover or a test failover.
    link: https://learn.microsoft.com/powershell/module/hyper-v/stop-vmfailover
  - name: Get-VMSnapshot
    description: Lists the recovery points of a Replica VM.
    link: https://learn.microsoft.com/powershell/module/hyper-v/get-vmsnapshot
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
# Planned failover of app01 from hv-pri-02 to hv-sec-02 (both sites up): order matters.
- name: Shut down the primary copy
  site_recovery.hyperv.vm_power:
    name: app01
    state: stopped
  delegate_to: hv-pri-02

- name: Prepare the planned failover on the primary host
  site_recovery.hyperv.vm_failover:
    name: app01
    state: prepared
  delegate_to: hv-pri-02

- name: Fail over on the Replica host
  site_recovery.hyperv.vm_failover:
    name: app01
    state: failed_over
  delegate_to: hv-sec-02

- name: Reverse replication, so that the Replica VM becomes the primary
  site_recovery.hyperv.vm_replication:
    name: app01
    state: reversed
  delegate_to: hv-sec-02

- name: Start it at the secondary site
  site_recovery.hyperv.vm_power:
    name: app01
    state: started
    wait_for_heartbeat: true
  delegate_to: hv-sec-02

# Unplanned failover after the primary site is lost.
- name: Fail the SQL VMs over to their newest application-consistent point
  site_recovery.hyperv.vm_failover:
    name: [sql01]
    state: failed_over
    recovery_point: latest_app_consistent
  register: failover
  delegate_to: hv-sec-02

- name: Start them
  site_recovery.hyperv.vm_power:
    name: [sql01]
    state: started
    wait_for_heartbeat: true
  delegate_to: hv-sec-02

- name: Commit to the recovery point (deletes the other recovery points, cannot be undone)
  site_recovery.hyperv.vm_failover:
    name: [sql01]
    state: completed
  delegate_to: hv-sec-02

- name: Fail a web server over to the last point before the corruption was noticed
  site_recovery.hyperv.vm_failover:
    name: web01
    state: failed_over
    recovery_point_before: "2026-11-25T18:00:00Z"
  delegate_to: hv-sec-02

# Test failover (fire drill): replication goes on meanwhile.
- name: Create the test VM
  site_recovery.hyperv.vm_failover:
    name: app02
    state: test
  delegate_to: hv-sec-03

- name: Remove the test VM
  site_recovery.hyperv.vm_failover:
    name: app02
    state: test_cleanup
  delegate_to: hv-sec-03
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
      sample: sql01
    changed:
      description: Whether a cmdlet was (or, in check mode, would be) run for this VM.
      type: bool
    actions:
      description: The cmdlet calls run (or planned, in check mode) for this VM.
      type: list
      elements: str
      sample: ["Start-VMFailover -VMRecoverySnapshot 'sql01 - Application-consistent Replica - (11/25/2026 - 4:00:00 PM)' (sql01)"]
    note:
      description: What the module found or did, in words (for example why nothing was needed).
      type: str
      sample: "Unplanned failover: the primary server hv-pri-02.lab.test did not answer."
    before:
      description: The VM as read before any change; V(null) when the host has no such VM.
      type: dict
      contains:
        name:
          description: Name of the VM.
          type: str
        id:
          description: VM ID (the same on the primary and the Replica host).
          type: str
        state:
          description: Power state (C(Running), C(Off), ...).
          type: str
          sample: Off
        replication_mode:
          description: C(Primary), C(Replica), C(ExtendedReplica), C(TestReplica) or C(None).
          type: str
          sample: Replica
        replication_state:
          description: Replication state, for example C(Replicating), C(PreparedForFailover), C(FailedOverWaitingCompletion), C(FailedOver).
          type: str
          sample: Replicating
        replication_health:
          description: C(Normal), C(Warning), C(Critical) or C(NotApplicable).
          type: str
        primary_server:
          description: Primary server of the relationship.
          type: str
          sample: hv-pri-02.lab.test
        replica_server:
          description: Replica server of the relationship.
          type: str
          sample: hv-sec-02.lab.test
        test_vm:
          description: Name of the test failover VM, V(null) when there is none.
          type: str
    after:
      description:
        - The VM as read after the change, with the same keys as RV(vms[].before).
        - In check mode, the prediction (the replication state the task would reach).
      type: dict
    recovery_point:
      description:
        - The recovery point used (or, in check mode, that would be used); V(null) when no failover was started.
        - For V(latest), the newest point the host listed when the task read it.
      returned: when O(state) is V(failed_over) or V(test)
      type: dict
      contains:
        name:
          description: Checkpoint name.
          type: str
        id:
          description: Checkpoint ID.
          type: str
        type:
          description: C(Replica), C(AppConsistentReplica) or C(SyncedReplica).
          type: str
        creation_time:
          description: Time of the point, ISO-8601 UTC.
          type: str
    primary_check:
      description:
        - Outcome of the split-brain guard for this VM; V(null) when it did not run (O(force=true), or nothing to fail over).
      returned: when O(state=failed_over)
      type: dict
      contains:
        server:
          description: Primary server asked.
          type: str
        answered:
          description: Whether it answered (host or VM found).
          type: bool
        error:
          description: Error of the check, when it could not run.
          type: str
        vm_state:
          description: Power state of the primary copy, when found.
          type: str
        replication_state:
          description: Replication state of the primary copy, when found.
          type: str
    recovery_points_deleted:
      description: Recovery points that C(Complete-VMFailover) deleted (empty in check mode and when nothing was done).
      returned: when O(state=completed)
      type: list
      elements: dict
"""
