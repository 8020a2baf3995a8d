# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_group
short_description: Bring a failover cluster role online on a node or site, or take it offline
version_added: 0.1.0
description:
  - Makes a role (resource group) of a Windows Server failover cluster, such as the highly available VMM service, be
    online on a given node or on a node of a given site (C(Move-ClusterGroup), C(Start-ClusterGroup)), or offline
    (C(Stop-ClusterGroup)), then waits until the cluster shows it so.
  - It reads the role, the nodes and the role's preferred owners first and acts only when needed. With O(site), the
    target is the first node of that site that is C(Up), in the role's preferred-owner order; a role already online
    on a node of that site stays where it is.
  - A role that is moving or starting (C(Pending)) when the task starts is waited for before deciding, so a run
    after an interrupted one converges.
  - Refused before any change, with a message that says what to do - a target node that is not C(Up), no node of the
    site C(Up), an unknown role, and a node whose cluster service does not answer (the cluster has no quorum there, so
    force quorum first with M(site_recovery.hyperv.cluster_quorum)).
options:
  name:
    description: Name of the role (cluster group), for example C(vmm-ha).
    type: str
    required: true
  state:
    description:
      - V(online) - the role is online (on O(node), or on a node of O(site), when given).
      - V(offline) - the role is offline; the cluster keeps it offline when it re-forms (persistent state).
    type: str
    default: online
    choices: [online, offline]
  node:
    description: The node the role must be online on (V(online) only).
    type: str
  site:
    description:
      - A site the role must be online in (V(online) only). Nodes get their site from O(node_sites) or from the
        inventory variable C(site_recovery_site) of the inventory host named like the node.
    type: str
  node_sites:
    description: Site of each node (node name -> site name), overriding the inventory.
    type: dict
  cluster:
    description:
      - Act on this cluster (C(-Cluster)) instead of the target node's. Naming another node or the cluster name is a
        second hop from the WinRM session (delegable credentials needed).
    type: str
  timeout:
    description:
      - Seconds to wait for the role to reach the desired state (the cmdlets run with C(-Wait 0); the module polls
        C(Get-ClusterGroup) with backoff). The task fails when the role is not there by then; the cluster keeps working
        on it, and a new run picks up from what it finds.
      - V(0) starts the change and returns at once.
    type: int
    default: 600
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.state_changing
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.cluster) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.cluster
notes:
  - The target must be a node of the cluster with quorum (C(Up)); a role can only go to a node that is C(Up).
  - Moving the VMM role takes it offline on the old node first, so VMM does not answer for a few minutes (its
    service starts on the new node); wait for it with M(site_recovery.hyperv.vmm_info).
  - In check mode nothing is changed; RV(group_after) is the predicted role.
seealso:
  - module: site_recovery.hyperv.cluster_info
  - module: site_recovery.hyperv.cluster_quorum
  - name: Move-ClusterGroup
    description: Moves a clustered role to another node.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/move-clustergroup
  - name: Start-ClusterGroup
    description: Brings a clustered role online.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/start-clustergroup
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Run VMM at the secondary site
  site_recovery.hyperv.cluster_group:
    name: vmm-ha
    site: secondary
  delegate_to: "{{ groups['cluster_secondary_nodes'] | first }}"

- name: Move VMM back to its first node
  site_recovery.hyperv.cluster_group:
    name: vmm-ha
    node: clu-pri-01
    timeout: 900

- name: Take a role offline
  site_recovery.hyperv.cluster_group:
    name: reporting
    state: offline
"""

RETURN = r"""
group:
  description:
    - The role before the task - C(name), C(owner_node), C(state), C(group_type), C(is_core), C(preferred_owners),
      C(resources) (as in M(site_recovery.hyperv.cluster_info)'s RV(site_recovery.hyperv.cluster_info#module:groups)).
  returned: when the role could be read
  type: dict
group_after:
  description: The role after the task (in check mode, the predicted role).
  returned: when the task changed (or would change) the role
  type: dict
nodes:
  description: The nodes with C(name), C(state), C(site), C(node_weight) and C(dynamic_weight), as read before the change.
  returned: when the role could be read
  type: list
  elements: dict
actions:
  description: The cmdlet calls made (or, in check mode, planned).
  returned: always
  type: list
  elements: str
  sample: ["Move-ClusterGroup -Name 'vmm-ha' -Node clu-sec-01"]
msg:
  description: What was done or found, or why the task failed.
  returned: always
  type: str
"""
