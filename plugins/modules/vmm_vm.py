# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vmm_vm
short_description: Refresh, start or stop virtual machines through System Center VMM
version_added: 0.1.0
description:
  - Acts on virtual machines as a System Center Virtual Machine Manager (VMM) server knows them. It refreshes VMM's view
    of them (C(Read-SCVirtualMachine)), starts them (C(Start-SCVirtualMachine)) or stops them (C(Stop-SCVirtualMachine)),
    then waits for the VMM jobs and reports each VM before and after, with the job IDs, status and errors.
  - "One task reads every VM in one round trip, refuses the whole task before any change when a VM is unknown to VMM
    or in a state VMM would refuse, submits every VM's call in one round trip (C(-RunAsynchronously)) and polls the
    jobs (C(Get-SCJob -ID)) with backoff until they finish or O(timeout) passes."
  - With O(state=started) or O(state=stopped) and O(refresh=true), VMM's view is refreshed first, so that a VM whose
    power state changed outside VMM (for example a Hyper-V Replica failover done on the hosts) is judged on what is
    true, and a VM that already is in the desired state is left alone.
  - Run it against the VMM management server (inventory group C(vmm_servers)) or a host with the VMM console installed.
    When VMM does not answer (its service is still starting after a failover), the task fails before any change and
    says to wait with M(site_recovery.hyperv.vmm_info) until RV(site_recovery.hyperv.vmm_info#module:service.reachable).
options:
  name:
    description:
      - Names of the virtual machines, as VMM knows them (case-insensitive, no wildcards).
      - A name VMM does not know fails the task before any change, naming the VMM server and the VM.
      - With Hyper-V Replica, VMM can know a primary and a Replica VM of the same name. O(state=refreshed) refreshes
        them all; O(state=started) and O(state=stopped) need O(vm_host) to say which copy, because starting the wrong
        copy would run a Replica while its primary runs.
    type: list
    elements: str
    required: true
    aliases: [vm_name]
  state:
    description:
      - V(refreshed) refreshes VMM's view of the VMs (C(Read-SCVirtualMachine)). The task reports a change only when
        the refreshed view differs from the one before in the VM's status, power state, host, cloud or replication
        mode, state or health; times and the VM's most recent job are not compared, since every refresh changes them.
      - V(started) starts the VMs that VMM does not show as C(Running). A C(Paused) VM is refused (resume it instead).
      - V(stopped) stops the VMs as O(stop_action) says. A VM that is already C(PowerOff) is left alone.
    type: str
    required: true
    choices: [refreshed, started, stopped]
  stop_action:
    description:
      - How O(state=stopped) stops a VM; each choice is one documented parameter set of C(Stop-SCVirtualMachine).
      - V(shutdown) (C(-Shutdown)) asks the guest operating system to shut down (it needs the integration services);
        a C(Saved) VM is refused, as its guest cannot shut down.
      - V(save_state) (C(-SaveState)) saves the VM's memory state; a C(Saved) VM is left alone.
      - V(turn_off) (C(-Force)) turns the VM off like pulling the plug; a C(Saved) VM loses its saved state.
      - V(discard_saved_state) (C(-DiscardSavedState)) drops the saved state of a C(Saved) VM; a running VM is refused.
    type: str
    default: shutdown
    choices: [shutdown, save_state, turn_off, discard_saved_state]
  vm_host:
    description:
      - Act only on the VMs that VMM places on these hosts (short names or FQDNs). Needed when VMM knows several VMs
        with one name, for example the primary and the Replica copy; give the hosts of one site to act on that site's copies.
    type: list
    elements: str
  refresh:
    description:
      - With O(state=started) or O(state=stopped), refresh VMM's view of the VMs before deciding. A refresh that
        corrects VMM's view counts as a change, as with O(state=refreshed).
      - In check mode no refresh runs and the decision is made on VMM's current view.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the VMM jobs of the task. The task fails when a job fails or is still running after that
        time; the jobs keep running in VMM and a later run picks up from the state they leave.
      - V(0) submits the jobs and returns without waiting; RV(vms[].jobs) then shows them as VMM reported them at once.
    type: int
    default: 600
  vmm_server:
    description:
      - The VMM management server to connect to, passed to C(Get-SCVMMServer -ComputerName); every later VMM cmdlet of
        the task uses that connection (C(-VMMServer)).
      - The default V(localhost) fits a task that runs on the VMM server itself (inventory group C(vmm_servers)).
        Name the server here when the task runs on another host that has the VMM console installed; VMM then
        connects with the task's Windows credentials, which must not need a second hop (Kerberos delegation or CredSSP).
    type: str
    default: localhost
  vmm_port:
    description:
      - TCP port of the VMM service, passed to C(Get-SCVMMServer -TCPPort). VMM's default is 8100.
    type: int
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.state_changing
  - site_recovery.hyperv.attributes.actiongroup_vmm
notes:
  - The target host needs the VMM PowerShell module (C(VirtualMachineManager)), which the VMM server and the VMM console install.
  - In check mode nothing is submitted to VMM, not even a refresh. For O(state=refreshed) the module lists the planned
    refreshes and reports no change, because only the refresh can tell whether VMM's view is stale; for O(state=started)
    and O(state=stopped) it predicts the after-state from VMM's current view.
  - VMM refuses to start or stop a VM whose status is transient (for example C(UnderMigration)) or failed (for example
    C(UpdateFailed)); the module refuses such a VM before any change and says what to do. What VMM refuses later, in
    the job itself, is reported with the job's error.
seealso:
  - module: site_recovery.hyperv.vmm_info
  - name: Read-SCVirtualMachine
    description: Refreshes VMM's view of a VM.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/read-scvirtualmachine
  - name: Start-SCVirtualMachine
    description: Starts a VM managed by VMM.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/start-scvirtualmachine
  - name: Stop-SCVirtualMachine
    description: Stops a VM managed by VMM, with its four ways of stopping.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/stop-scvirtualmachine
  - name: Get-SCJob
    description: VMM jobs.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-scjob
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Make VMM see the VMs as the secondary hosts run them after a Hyper-V Replica failover
  site_recovery.hyperv.vmm_vm:
    name: [app01, web01, web03]
    vm_host: [hv-sec-02]
    state: refreshed

- name: Start the failed-over copies of the application tier through VMM
  site_recovery.hyperv.vmm_vm:
    name: [app01, app03]
    vm_host: [hv-sec-01, hv-sec-02, hv-sec-03]
    state: started
    timeout: 900
  register: started

- name: Shut the web tier down gracefully before a planned failover
  site_recovery.hyperv.vmm_vm:
    name: [web01, web02, web03]
    vm_host: [hv-pri-02, hv-pri-03]
    state: stopped

- name: Turn a hung VM off
  site_recovery.hyperv.vmm_vm:
    name: file01
    vm_host: [hv-pri-03]
    state: stopped
    stop_action: turn_off
"""

RETURN = r"""
vms:
  description: One entry per VMM virtual machine the task acted on (or would have), sorted by name then host.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: VM name.
      type: str
      sample: web01
    host:
      description: Host of the VM, as VMM placed it when the task started.
      type: str
      sample: hv-sec-02
    id:
      description: VMM's ID of the VM.
      type: str
    changed:
      description: Whether the VM was started or stopped, or VMM's view of it changed through a refresh.
      type: bool
    actions:
      description: The calls made (or, in check mode, planned) to change the VM or refresh it on request.
      type: list
      elements: str
      sample: ["Stop-SCVirtualMachine -VM web01 -Shutdown"]
    before:
      description: VMM's view of the VM when the task started (the keys of M(site_recovery.hyperv.vmm_info)'s RV(site_recovery.hyperv.vmm_info#module:vms)).
      type: dict
    after:
      description: VMM's view after the jobs (in check mode, the predicted view).
      type: dict
    jobs:
      description:
        - The VMM jobs of the task for this VM (a refresh job first, when one ran, then the start or stop job),
          with C(id), C(name), C(status), C(progress), C(cmdlet), C(result_name), C(result_object_id), C(start_time),
          C(end_time) and C(error).
      type: list
      elements: dict
      sample:
        - id: 2c9f7b90-1d6e-4c3f-9a51-0b5e2e7f4a10
          name: Start virtual machine
          status: Completed
          cmdlet: Start-SCVirtualMachine
          error: null
"""
