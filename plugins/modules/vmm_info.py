# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vmm_info
short_description: Whether System Center VMM answers, and its clouds, hosts, virtual machines and recent jobs
version_added: 0.1.0
description:
  - Connects to a System Center Virtual Machine Manager (VMM) management server with C(Get-SCVMMServer) and reads its
    clouds (with their host groups and hosts), host groups, Hyper-V hosts with their state, virtual machines with their
    VMM status, power state, host, cloud and Hyper-V Replica status, and the most recent VMM jobs.
  - All the reads of one task travel to the target in a single WinRM command (C(Get-SCVMMServer), C(Get-SCCloud),
    C(Get-SCVMHostGroup), C(Get-SCVMHost), C(Get-SCVirtualMachine) and, unless O(jobs=0), C(Get-SCJob -All)).
  - A VMM service that does not answer is not a task failure. The module returns RV(service.reachable=false) with the
    error, so that a runbook can wait for VMM after failing its server over (C(until) with C(retries) and C(delay)).
    A target host that does not answer over WinRM is still reported as unreachable, as for any module.
  - Run it against the VMM management server (inventory group C(vmm_servers)) or a host with the VMM console installed.
options:
  name:
    description:
      - Names of the virtual machines to report, as VMM knows them. C(*) and C(?) are wildcards; names compare
        case-insensitively.
      - A name without wildcards that matches no virtual machine fails the task and names the missing VM.
      - When omitted, every virtual machine (of the clouds in O(cloud), if set) is reported.
      - With Hyper-V Replica both the primary and the Replica virtual machine can be known to VMM under the same name;
        both are reported, each with its RV(vms[].host).
    type: list
    elements: str
    aliases: [vm_name]
  cloud:
    description:
      - Names of the VMM clouds to report (wildcards accepted). Limits RV(clouds), RV(hosts) and RV(vms) to those clouds.
      - A name without wildcards that matches no cloud fails the task and lists the clouds VMM has.
    type: list
    elements: str
  jobs:
    description:
      - How many of the newest VMM jobs to return in RV(jobs). V(0) skips the job history.
    type: int
    default: 10
  jobs_since:
    description:
      - Return only jobs that started at or after this time, an ISO-8601 time such as V(2026-11-25T20:00:00Z)
        (without an offset it is UTC). Useful with a time an earlier task returned, for example a job's RV(jobs[].start_time).
      - Needs O(jobs) greater than 0.
    type: str
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
  - site_recovery.hyperv.attributes.info_module
  - site_recovery.hyperv.attributes.actiongroup_vmm
notes:
  - The target host needs the VMM PowerShell module (C(VirtualMachineManager)), which the VMM server and the VMM console install.
  - Host group membership of a cloud includes the hosts of nested host groups.
  - The job history is read with C(Get-SCJob -All) and filtered on the controller; on a server with a long job
    history set O(jobs=0) when the jobs are not needed.
seealso:
  - module: site_recovery.hyperv.vmm_vm
  - name: Get-SCVMMServer
    description: How the module connects to VMM.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-scvmmserver
  - name: Get-SCVirtualMachine
    description: The virtual machines as VMM knows them.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-scvirtualmachine
  - name: Get-SCJob
    description: VMM jobs.
    link: https://learn.microsoft.com/powershell/module/virtualmachinemanager/get-scjob
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Wait until VMM answers after its server VM was failed over and started
  site_recovery.hyperv.vmm_info:
    jobs: 0
  register: vmm
  until: vmm.service.reachable
  retries: 30
  delay: 20

- name: Clouds, hosts and VMs of the recovery cloud, with the jobs of the last run
  site_recovery.hyperv.vmm_info:
    cloud: Recovery-Cloud
    jobs: 50
    jobs_since: "{{ runbook_started_at }}"
  register: recovery

- name: VMs that VMM does not show as running
  ansible.builtin.debug:
    msg: "{{ recovery.vms | rejectattr('status', 'eq', 'Running') | map(attribute='name') }}"

- name: Connect to a named VMM server from a host with the VMM console
  site_recovery.hyperv.vmm_info:
    vmm_server: vmm01.contoso.com
    name: [web01, web02]
"""

RETURN = r"""
service:
  description: Whether the VMM service answered C(Get-SCVMMServer).
  returned: always
  type: dict
  contains:
    reachable:
      description: V(true) when VMM answered. When V(false), every other list is empty.
      type: bool
      sample: true
    server:
      description: The server the module asked for (O(vmm_server)).
      type: str
      sample: localhost
    error:
      description: PowerShell's error when VMM did not answer (cmdlet, fully qualified error ID, category, message), else V(null).
      type: dict
    msg:
      description: What to do when VMM did not answer, else V(null).
      type: str
server:
  description: The VMM management server, V(null) when it did not answer.
  returned: always
  type: dict
  contains:
    name:
      description: Server name.
      type: str
      sample: vmm01
    fqdn:
      description: Fully qualified domain name of the server.
      type: str
      sample: vmm01.lab.test
    requested_name:
      description: The name the connection was opened with (O(vmm_server)).
      type: str
    product_version:
      description: VMM product version.
      type: str
      sample: 10.22.1287.0
    server_interface_version:
      description: Version of VMM's server interface.
      type: str
    port:
      description: TCP port of the VMM service.
      type: int
      sample: 8100
    is_connected:
      description: Whether the connection is open.
      type: bool
    active_node:
      description: Cluster node that runs the VMM service, for a highly available VMM.
      type: str
    highly_available:
      description: Whether VMM is installed highly available on a failover cluster.
      type: bool
    user_role:
      description: VMM user role of the connection.
      type: str
clouds:
  description: VMM clouds, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Cloud name.
      type: str
      sample: Recovery-Cloud
    id:
      description: VMM ID of the cloud.
      type: str
    description:
      description: Cloud description.
      type: str
    host_groups:
      description: Host groups (paths) whose hosts provide the cloud's capacity.
      type: list
      elements: str
      sample: ["All Hosts\\Secondary"]
    hosts:
      description: Names of the hosts in those host groups (nested groups included).
      type: list
      elements: str
    vm_count:
      description: Number of virtual machines VMM places in the cloud.
      type: int
    disaster_recovery_supported:
      description: Whether the cloud is enabled for Azure Site Recovery.
      type: bool
host_groups:
  description: VMM host groups, sorted by path.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Host group name.
      type: str
    path:
      description: Host group path from C(All Hosts).
      type: str
    id:
      description: VMM ID of the host group.
      type: str
    parent:
      description: Parent host group.
      type: str
hosts:
  description: Virtualization hosts managed by VMM (of the clouds in O(cloud), if set), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Host name.
      type: str
      sample: hv-sec-01.lab.test
    fqdn:
      description: Fully qualified domain name.
      type: str
    id:
      description: VMM ID of the host.
      type: str
    host_group:
      description: Path of the host's host group.
      type: str
    cluster:
      description: Host cluster, if the host is clustered.
      type: str
    overall_state:
      description: VMM's overall state of the host, for example C(OK), C(NeedsAttention), C(NotResponding).
      type: str
    communication_state:
      description: Whether VMM reaches the host's agent, for example C(Responding), C(NotResponding).
      type: str
    virtual_server_state:
      description: State of the virtualization service on the host.
      type: str
    clouds:
      description: Clouds the host belongs to.
      type: list
      elements: str
vms:
  description: Virtual machines as VMM knows them, sorted by name then host.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: VM name.
      type: str
      sample: web01
    id:
      description: VMM's ID of the VM (differs between the primary and the Replica copy).
      type: str
    vm_id:
      description: Hyper-V's VM ID (the same for the primary and the Replica copy).
      type: str
    status:
      description: VMM's status of the VM, for example C(Running), C(PowerOff), C(Saved), C(Paused), or a transient or failed status.
      type: str
      sample: Running
    status_string:
      description: VMM's display text of the status.
      type: str
    state:
      description: Power state VMM last read from the host (C(VirtualMachineState)).
      type: str
      sample: Running
    host:
      description: Host of the VM.
      type: str
      sample: hv-pri-02
    cloud:
      description: Cloud of the VM, or V(null).
      type: str
      sample: Primary-Cloud
    is_primary:
      description: Whether VMM sees this copy as the primary VM of a Hyper-V Replica relationship.
      type: bool
    replication_mode:
      description: Hyper-V Replica mode as VMM shows it.
      type: str
    replication_state:
      description: Hyper-V Replica state as VMM shows it.
      type: str
    replication_health:
      description: Hyper-V Replica health as VMM shows it.
      type: str
    last_replication_time:
      description: Last replication as VMM shows it, ISO-8601 UTC.
      type: str
    most_recent_job_id:
      description: ID of the VM's most recent VMM job.
      type: str
jobs:
  description: The newest VMM jobs (at most O(jobs), started at or after O(jobs_since)), newest first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Job ID.
      type: str
    name:
      description: Job name.
      type: str
      sample: Start virtual machine
    status:
      description: C(Running), C(Completed), C(SucceedWithInfo), C(Failed) or C(Canceled).
      type: str
      sample: Completed
    progress:
      description: Progress as VMM shows it.
      type: str
    cmdlet:
      description: Cmdlet that started the job.
      type: str
      sample: Start-SCVirtualMachine
    result_name:
      description: Name of the object the job worked on.
      type: str
    result_object_id:
      description: VMM ID of the object the job worked on.
      type: str
    start_time:
      description: Start time, ISO-8601 UTC.
      type: str
    end_time:
      description: End time, ISO-8601 UTC, V(null) while running.
      type: str
    error:
      description: VMM's error text for a failed job.
      type: str
"""
