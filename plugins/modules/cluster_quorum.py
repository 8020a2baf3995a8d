# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_quorum
short_description: Force quorum on a surviving cluster node after a site loss, or start a node's cluster service
version_added: 0.1.0
description:
  - For a multi-site failover cluster that lost the site with the majority of votes, Microsoft's last resort is to
    force quorum on one node of the surviving site - stop its cluster service, start it with C(Start-ClusterNode
    -ForceQuorum) (alias C(-FixQuorum)) - and then start the other surviving nodes normally, one at a time. The cluster
    leaves forced-quorum mode by itself once a majority of votes is back.
  - V(forced) does the first step on the node the task runs on, only when all of the following hold. O(allow_forced_quorum=true) is set.
    Every node of O(lost_nodes) has been asked (C(Get-ClusterNode -Cluster <node>), a second hop from the target) and none answered
    (only C(The RPC server is unavailable) counts as lost; a node that answers in any way, even by refusing the
    session's credentials or by saying its cluster service is stopped, is up and stops the task - split-brain guard).
  - V(started) starts the node's cluster service normally, so that it joins the running cluster (a surviving node
    after quorum was forced elsewhere, or a node that comes back with its site), and waits until it is C(Up).
  - A node that already is C(Up) or C(Paused) in a running cluster is left alone (RV(action=none)).
options:
  state:
    description:
      - V(forced) - the cluster runs on this node, forcing quorum if it has none (see O(allow_forced_quorum), O(lost_nodes)).
      - V(started) - this node's cluster service runs and the node has joined the running cluster.
    type: str
    required: true
    choices: [forced, started]
  allow_forced_quorum:
    description:
      - The explicit opt-in that V(forced) needs. Forcing quorum makes this node's copy of the cluster configuration
        authoritative (changes made elsewhere can be lost) and runs the cluster without a majority of votes.
    type: bool
    default: false
  lost_nodes:
    description:
      - The nodes of the lost site (required with V(forced)). Each is asked before anything changes; one that answers
        stops the task.
      - The probe cannot tell a node that is down from one cut off by a network partition while its own site keeps
        quorum; make sure the lost site is really down (or isolated for good) before forcing.
    type: list
    elements: str
    default: []
  ignore_persistent_state:
    description:
      - With V(forced), start the node with C(-IgnorePersistentState), so the cluster's roles stay offline until brought
        online one by one (for example with M(site_recovery.hyperv.cluster_group)).
    type: bool
    default: false
  node_name:
    description: The name the cluster knows the target node by. Default the inventory host name up to its first dot.
    type: str
  node_sites:
    description: Site of each node (node name -> site name), reported with the nodes of RV(before) and RV(after).
    type: dict
  timeout:
    description: Seconds to wait for the node to be C(Up) after its cluster service was started.
    type: int
    default: 300
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
  - Microsoft's procedure also sets the votes (C(NodeWeight)) - make sure the forcing node votes, and set the votes of
    nodes that will not come back to 0 (or keep them offline) before other nodes rejoin. Node weights are properties,
    not cmdlet parameters, and this module does not change them; the nodes of RV(after) show them.
  - Microsoft documents that C(Start-ClusterNode) cannot run remotely without CredSSP. The module runs it for the node
    the task runs on only; if your nodes refuse it over WinRM, use C(ansible_winrm_transport=credssp) or C(become).
  - Run V(forced) on one node (preferably the one that last hosted the availability group primary), then V(started)
    on the other surviving nodes one at a time (C(throttle=1) or C(serial)).
seealso:
  - module: site_recovery.hyperv.cluster_info
  - module: site_recovery.hyperv.cluster_group
  - name: Start-ClusterNode
    description: Starts the cluster service on a node, optionally forcing quorum.
    link: https://learn.microsoft.com/powershell/module/failoverclusters/start-clusternode
  - name: Force a WSFC cluster to start without a quorum
    description: Microsoft's procedure for SQL Server availability groups.
    link: https://learn.microsoft.com/sql/sql-server/failover-clusters/windows/force-a-wsfc-cluster-to-start-without-a-quorum
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Force quorum on the first surviving node once the primary site is lost
  site_recovery.hyperv.cluster_quorum:
    state: forced
    allow_forced_quorum: "{{ dr_allow_forced_quorum | default(false) }}"
    lost_nodes: "{{ groups['cluster_primary_nodes'] }}"
  delegate_to: "{{ groups['cluster_secondary_nodes'] | first }}"
  run_once: true

- name: Start the other surviving nodes, one at a time
  site_recovery.hyperv.cluster_quorum:
    state: started
  throttle: 1
  when: inventory_hostname != groups['cluster_secondary_nodes'] | first
"""

RETURN = r"""
action:
  description: V(none) (the node was already a member), V(forced) (quorum forced on it) or V(joined) (its service started and it joined).
  returned: unless the task was refused
  type: str
  sample: forced
node:
  description: The node the task ran on, as the cluster names it.
  returned: always
  type: str
  sample: clu-sec-01
before:
  description:
    - The node's view before the task - C(answering) (whether its cluster service answered), C(state) (its node state,
      V(null) without an answer), C(forced_quorum), C(cluster) and C(nodes) (as in M(site_recovery.hyperv.cluster_info)).
  returned: unless the task was refused before reading
  type: dict
after:
  description: The same view after the task (in check mode, the predicted one).
  returned: unless the task was refused before reading
  type: dict
probes:
  description:
    - With V(forced), one entry per node of O(lost_nodes) - C(node), C(answered), C(result) (V(running), V(service_not_running),
      V(denied), V(unreachable), V(error)), C(state), C(message). Forcing goes ahead only if every C(result) is V(unreachable).
  returned: unless the task was refused before reading
  type: list
  elements: dict
actions:
  description: The cmdlet calls made (or, in check mode, planned), for example C(Stop-ClusterNode), C(Start-ClusterNode -ForceQuorum).
  returned: unless the task was refused before reading
  type: list
  elements: str
msg:
  description: What was done or found, or why the task was refused.
  returned: always
  type: str
"""
