# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sql_ag_failover
short_description: Make a replica the primary of a SQL Server availability group, or resume its data movement
version_added: 0.1.0
description:
  - With O(state=primary), makes the replica on the target host the primary replica of the availability group
    (C(Switch-SqlAvailabilityGroup), run on the failover target as SQL Server requires).
  - "A planned failover (no data loss) is made when the target uses synchronous commit and every one of its databases
    is marked failover ready in the cluster (C(is_failover_ready)); this also works when the primary is lost and quorum
    was regained without forcing it."
  - "Otherwise only a forced failover is possible, and it can lose the transactions the target never received. The
    module forces it only with O(allow_data_loss=true). Without it the task stops before any change and says what is at
    stake: which databases are not synchronized, and their last commit times and how old they are (the possible
    data-loss window)."
  - "The module never forces a failover while the target is connected to a running primary (that would leave two
    primaries), when the target's cluster node has no quorum (force quorum first), or to a copy that is REVERTING or
    INITIALIZING (it could not start as a primary database)."
  - After the command it waits, with backoff, until the target is PRIMARY and online with its databases online,
    for at most O(timeout) seconds. After a forced failover every other replica's databases are suspended;
    RV(suspended_databases) lists those the new primary sees.
  - With O(state=resumed), resumes data movement of the suspended databases of the replica on the target host
    (C(Resume-SqlAvailabilityDatabase)), which each secondary needs after a forced failover, and waits until they move
    data again (or are SYNCHRONIZED, O(wait_synchronized=true)). Resuming a copy suspended by a forced failover
    (C(SUSPEND_FROM_PARTNER)) on a secondary rolls back the transactions it holds that never reached the new primary,
    so it also needs O(allow_data_loss=true).
  - The decision is made on the state that the instance on the target host reports (see M(site_recovery.hyperv.sql_ag_info));
    a task that finds the target already primary, or no database suspended, changes nothing.
options:
  name:
    description: Name of the availability group (case-insensitive). The instance on the target host must host a replica of it.
    type: str
    required: true
  state:
    description:
      - V(primary) makes the local replica the primary replica.
      - V(resumed) resumes data movement of the local replica's suspended databases.
    type: str
    default: primary
    choices: [primary, resumed]
  allow_data_loss:
    description:
      - With O(state=primary), allow a forced failover (C(-AllowDataLoss -Force)) when a planned one is not possible. The
        transactions committed on the old primary after the target's last commit times are lost; RV(data_loss_window) reports them.
      - With O(state=resumed), allow resuming databases that a forced failover suspended (C(SUSPEND_FROM_PARTNER)) on a
        secondary, which discards what they hold beyond the new primary's log.
    type: bool
    default: false
  databases:
    description:
      - With O(state=resumed), resume only these databases (case-insensitive); by default every suspended database of
        the local replica. A name that is not an availability database fails the task before any change.
    type: list
    elements: str
  wait_synchronized:
    description:
      - With O(state=resumed) on a synchronous-commit secondary, wait until the resumed databases are SYNCHRONIZED
        (ready for a planned failover) instead of only moving data (SYNCHRONIZING).
      - A copy only becomes SYNCHRONIZED when the primary also uses synchronous commit (M(site_recovery.hyperv.sql_ag_replica)).
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the role change (O(state=primary)) or for data movement (O(state=resumed)); V(0) does not wait.
      - The task fails when the wait ends first; SQL Server carries on, and running the task again picks up from the state it finds.
    type: int
    default: 300
  sql_instance:
    description:
      - The SQL Server instance on the target host. V(MSSQLSERVER) is the default instance; give the instance name for
        a named instance.
    type: str
    default: MSSQLSERVER
  trust_server_certificate:
    description:
      - Pass C(-TrustServerCertificate) to the SqlServer cmdlets, for an instance whose certificate the host does not trust
        (version 22 of the SqlServer module encrypts connections by default).
    type: bool
    default: false
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.state_changing
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.sql) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.sql
notes:
  - "Run it on the failover target: SQL Server fails an availability group over from the replica that is to become primary."
  - "In check mode nothing is sent to SQL Server; the result predicts the target as primary (and, for a forced failover,
    the other copies suspended)."
  - A forced failover needs quorum. After the primary site is lost, force quorum on the surviving site's cluster
    nodes first; SQL Server then refuses a planned failover until the cluster runs with a normal quorum again.
  - The account needs ALTER AVAILABILITY GROUP permission and the SqlServer PowerShell module on the target.
seealso:
  - module: site_recovery.hyperv.sql_ag_info
  - module: site_recovery.hyperv.sql_ag_replica
  - name: Perform a forced manual failover of an availability group
    description: What a forced failover does and the follow-up it needs.
    link: https://learn.microsoft.com/sql/database-engine/availability-groups/windows/perform-a-forced-manual-failover-of-an-availability-group-sql-server
  - name: Switch-SqlAvailabilityGroup
    description: The cmdlet the module fails over with.
    link: https://learn.microsoft.com/powershell/module/sqlserver/switch-sqlavailabilitygroup
  - name: Resume-SqlAvailabilityDatabase
    description: The cmdlet the module resumes data movement with.
    link: https://learn.microsoft.com/powershell/module/sqlserver/resume-sqlavailabilitydatabase
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Planned failover of VMM's database to the second primary-site node
  site_recovery.hyperv.sql_ag_failover:
    name: VMM-AG
  delegate_to: clu-pri-02

- name: Disaster - bring VMM's database up at the DR site, accepting the data-loss window
  site_recovery.hyperv.sql_ag_failover:
    name: VMM-AG
    allow_data_loss: "{{ vmm_stretch_cluster_allow_data_loss }}"
  register: ag_failover
  delegate_to: clu-sec-01

- name: Show what the forced failover may have lost
  ansible.builtin.debug:
    var: ag_failover.data_loss_window

- name: After the old primary came back, resume its databases (they were suspended by the forced failover)
  site_recovery.hyperv.sql_ag_failover:
    name: VMM-AG
    state: resumed
    allow_data_loss: true
    wait_synchronized: true
    timeout: 900
  delegate_to: clu-pri-01
"""

RETURN = r"""
failover:
  description: V(planned) or V(forced) when a failover was made (or, in check mode, would be); V(null) when the replica already was primary.
  returned: state=primary and success
  type: str
  sample: forced
data_loss_window:
  description:
    - For each database, what a failover to the target stands (or stood) to lose, from the target's state before the
      failover. The list is also returned when the task refuses to force a failover.
  returned: state=primary
  type: list
  elements: dict
  contains:
    database:
      description: Database name.
      type: str
    is_failover_ready:
      description: Whether the cluster marked the copy synchronized (no data loss).
      type: bool
    synchronization_state:
      description: The copy's synchronization state before the failover.
      type: str
    last_commit_time:
      description: Last commit the target held (UTC). Transactions the old primary committed after it are lost by a forced failover.
      type: str
    last_commit_age_seconds:
      description: Age of that commit on the host's clock when the task read it; bounds the loss when the primary committed until it failed.
      type: float
    estimated_data_loss_seconds:
      description: Difference to the primary's last commit time where the primary's row was visible (the target was primary), else V(null).
      type: float
suspended_databases:
  description:
    - After a forced failover, the other replicas' databases the new primary sees suspended. Resume each on its own replica
      with O(state=resumed) once that replica is back.
  returned: state=primary and a forced failover was made
  type: list
  elements: dict
  sample:
    - {replica: CLU-PRI-02, database: VirtualManagerDB, suspend_reason: SUSPEND_FROM_PARTNER}
resumed:
  description: Databases whose data movement was resumed (or, in check mode, would be).
  returned: state=resumed
  type: list
  elements: str
  sample: [SUSDB, VirtualManagerDB]
before:
  description: The availability group as the local instance saw it first (the shape of RV(site_recovery.hyperv.sql_ag_info#module:availability_groups) items).
  returned: when the availability group was found
  type: dict
after:
  description: The availability group as the local instance sees it after the change (in check mode, the prediction).
  returned: success
  type: dict
"""
