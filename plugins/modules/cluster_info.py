# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_info
short_description: A failover cluster's nodes, roles and quorum, as one of its nodes sees them
version_added: 0.1.0
description:
  - Reads, on the cluster node the task runs on, the Windows Server failover cluster it belongs to - the cluster
    (C(Get-Cluster)), its nodes with their state and vote (C(Get-ClusterNode)), its roles (resource groups) with their
    owner node, state, resources and preferred owners (C(Get-ClusterGroup), C(Get-ClusterResource),
    C(Get-ClusterOwnerNode)) and its quorum configuration (C(Get-ClusterQuorum)) - and says whether the cluster has
    quorum, and whether it runs in forced-quorum mode.
  - The reads of one task travel in one WinRM command (two when O(preferred_owners=true)).
  - A node whose cluster service does not answer is not a task failure. That is what a node of a surviving site shows
    after its cluster lost quorum (the cluster service keeps waiting for quorum, and every cluster cmdlet fails with
    C(ClusterEndpointNotRegistered)), and what a node whose cluster service is stopped shows. The module then returns
    RV(quorum.has_quorum=false), RV(node.cluster_service=not_answering) and empty RV(nodes) and RV(groups), so that a
    runbook can decide to force quorum (M(site_recovery.hyperv.cluster_quorum)).
  - With O(probe_nodes), it also asks other nodes whether they answer (C(Get-ClusterNode -Cluster <node>), a second
    hop from the target), as M(site_recovery.hyperv.cluster_quorum) does before forcing quorum.
options:
  cluster:
    description:
      - Read this cluster (C(-Cluster)) instead of the one of the node the task runs on. Naming another node or the
        cluster name is a second hop from the WinRM session, which needs delegable credentials (CredSSP or Kerberos
        delegation); without them Windows refuses it.
    type: str
  node_name:
    description:
      - The name the cluster knows the target node by. Default the inventory host name up to its first dot.
    type: str
  node_sites:
    description:
      - Site of each node (node name -> site name), for RV(nodes[].site) and RV(node.site).
      - Nodes not listed get the inventory variable C(site_recovery_site) of the inventory host of the same name, if any.
    type: dict
  probe_nodes:
    description:
      - Nodes to ask whether they answer, each on its own; the node the task runs on is skipped. See RV(probes).
    type: list
    elements: str
    default: []
  preferred_owners:
    description:
      - Read each role's preferred owners (C(Get-ClusterOwnerNode -Group), a second WinRM command).
    type: bool
    default: true
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.info_module
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.cluster) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.cluster
notes:
  - The target must be a node of the cluster with the Failover Clustering tools (C(FailoverClusters) module).
  - Dynamic quorum is not taken into account in RV(quorum.votes); every node's C(NodeWeight) counts, plus the witness.
seealso:
  - module: site_recovery.hyperv.cluster_quorum
  - module: site_recovery.hyperv.cluster_group
  - name: Get-ClusterNode
    description: Nodes of a failover cluster.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/get-clusternode
  - name: Get-ClusterQuorum
    description: Quorum configuration of a failover cluster.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/get-clusterquorum
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Read the cluster from every node of the secondary site
  site_recovery.hyperv.cluster_info:
    probe_nodes: "{{ groups['cluster_primary_nodes'] }}"
  register: cluster
  delegate_to: "{{ item }}"
  loop: "{{ groups['cluster_secondary_nodes'] }}"

- name: Wait until the VMM role is online
  site_recovery.hyperv.cluster_info:
  register: cluster
  until: >-
    cluster.quorum.has_quorum and
    (cluster.groups | selectattr('name', 'equalto', 'vmm-ha') | map(attribute='state') | first) == 'Online'
  retries: 30
  delay: 10
"""

RETURN = r"""
cluster:
  description: The cluster, or V(null) when the node's cluster service does not answer.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: drclu
    domain:
      description: DNS domain of the cluster.
      type: str
    id:
      description: Cluster ID.
      type: str
    forced_quorum:
      description: Whether the cluster runs in forced-quorum mode (its C(FixQuorum) property).
      type: bool
    dynamic_quorum:
      description: Whether dynamic quorum is on (C(DynamicQuorum)).
      type: bool
node:
  description: The node the task ran on.
  returned: always
  type: dict
  contains:
    name:
      description: Node name.
      type: str
      sample: clu-sec-01
    state:
      description:
        - C(Up), C(Down), C(Paused) or C(Joining), as the cluster reports it.
        - V(null) when its cluster service does not answer (stopped, or running and waiting for quorum; the node cannot
          tell which without the cluster).
      type: str
    site:
      description: Site of the node (O(node_sites) or the inventory), or V(null).
      type: str
    member:
      description: Whether the node is a member (C(Up) or C(Paused)) of a running cluster.
      type: bool
    cluster_service:
      description: V(answering), or V(not_answering) (no cluster with quorum runs on this node).
      type: str
    reason:
      description: The cluster error when the service does not answer.
      type: str
nodes:
  description: Every node of the cluster; empty when the node's cluster service does not answer.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
    id:
      description: Node ID.
      type: str
    state:
      description: C(Up), C(Down), C(Paused) or C(Joining).
      type: str
    site:
      description: Site of the node (O(node_sites) or the inventory variable C(site_recovery_site)), or V(null).
      type: str
    node_weight:
      description: The node's vote (C(NodeWeight)), 1 or 0.
      type: int
    dynamic_weight:
      description: C(DynamicWeight).
      type: int
    drain_status:
      description: C(DrainStatus).
      type: str
groups:
  description:
    - Every role (resource group) with C(name), C(owner_node), C(state) (C(Online), C(Offline), C(PartialOnline),
      C(Pending), C(Failed)), C(group_type), C(is_core), C(preferred_owners) (in order; empty when none are set or
      O(preferred_owners=false)) and C(resources) (C(name), C(state), C(resource_type)).
    - Empty when the node's cluster service does not answer.
  returned: always
  type: list
  elements: dict
quorum:
  description: Quorum of the cluster as this node sees it.
  returned: always
  type: dict
  contains:
    has_quorum:
      description: Whether a cluster with quorum (maybe forced) runs on this node.
      type: bool
    forced:
      description: Whether that quorum is forced (C(FixQuorum)).
      type: bool
    type:
      description: C(QuorumType) of C(Get-ClusterQuorum), for example C(Majority).
      type: str
    witness:
      description: The quorum (witness) resource, or V(null) without a witness.
      type: str
      sample: File Share Witness
    witness_state:
      description: State of the witness resource.
      type: str
    votes:
      description:
        - C(total) votes configured (node weights plus the witness), C(present) (of members and an online witness) and
          C(needed) for a majority; V(null) without an answer.
      type: dict
      sample: {total: 5, present: 2, needed: 3}
    reason:
      description: Why there is no quorum view (the cluster error), when RV(quorum.has_quorum=false).
      type: str
probes:
  description:
    - One entry per node of O(probe_nodes) with C(node), C(answered) (whether the node is up in any way), C(result),
      C(state) and C(message).
    - C(result) is V(running) (its cluster service answered, with C(state)), V(service_not_running) (the host answers
      but its cluster service does not), V(denied) (it refused the session's credentials on the second hop, so it is
      up), V(unreachable) (the RPC server is unavailable) or V(error).
  returned: always
  type: list
  elements: dict
msg:
  description: A one-line summary.
  returned: always
  type: str
"""
