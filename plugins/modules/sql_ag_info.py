# -*- coding: utf-8 -*-
# Copyright: (c) 2026, site_recovery.hyperv contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sql_ag_info
short_description: State of SQL Server Always On availability groups as one replica's instance sees it
version_added: 0.1.0
description:
  - Reads the availability groups that the SQL Server instance on the target host takes part in, with every replica
    it can see (role, operational and connected state, availability mode, failover mode, synchronization health) and
    every database copy (synchronization state and health, suspension and its reason, failover readiness, end-of-log
    LSN, last commit time, secondary lag).
  - It estimates the possible data-loss window of each copy. Where the primary's rows are visible, the window is the
    difference between the primary's last commit time and the copy's, which Microsoft documents as an approximation
    of the RPO. Everywhere, it also reports the age of each copy's last commit on the host's clock.
  - "The SqlServer module has no cmdlet that reads availability groups, so the module runs five fixed queries with
    C(Invoke-Sqlcmd), all in one round trip: C(sys.availability_groups), C(sys.availability_replicas),
    C(sys.dm_hadr_availability_replica_states), C(sys.dm_hadr_database_replica_states) and
    C(sys.dm_hadr_database_replica_cluster_states)."
  - "What an instance can see depends on its role, as SQL Server documents it: the primary returns rows for every
    replica and database copy, while a secondary or RESOLVING replica returns only its own. The module reports this
    instead of guessing: RV(availability_groups[].complete_view) is false and the other replicas' copies show
    RV(availability_groups[].replicas[].databases[].visible=false). Failover readiness comes from the cluster's store,
    so it is known for every replica on every instance, and it keeps its last value when the primary or quorum is lost."
  - Run it on a cluster node whose default (or named, O(sql_instance)) instance hosts an availability replica.
options:
  name:
    description:
      - Name of one availability group to report (case-insensitive). The task fails when the instance hosts no replica
        of it, and names the availability groups it does host.
      - When omitted, every availability group of the instance is reported.
    type: str
  sql_instance:
    description:
      - The SQL Server instance on the target host. V(MSSQLSERVER) is the default instance; give the instance name for
        a named instance.
      - The module connects to it locally with the task's Windows credentials (C(Invoke-Sqlcmd -ServerInstance localhost)),
        so no second hop is needed.
    type: str
    default: MSSQLSERVER
  trust_server_certificate:
    description:
      - Pass C(-TrustServerCertificate) to the SqlServer cmdlets. Version 22 of the SqlServer module encrypts connections
        by default and then refuses a server certificate it cannot validate, such as the self-signed certificate SQL
        Server creates for itself; set this to V(true) for such an instance, or give the instance a trusted certificate.
    type: bool
    default: false
extends_documentation_fragment:
  - site_recovery.hyperv.attributes
  - site_recovery.hyperv.attributes.windows_action
  - site_recovery.hyperv.attributes.info_module
attributes:
  action_group:
    description: Use C(group/site_recovery.hyperv.sql) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - site_recovery.hyperv.sql
notes:
  - The target needs the SqlServer PowerShell module (C(Invoke-Sqlcmd)) and the VIEW SERVER STATE and VIEW ANY DEFINITION
    permissions for the task's account.
  - "Without quorum the instance cannot talk to the cluster: C(sys.availability_replicas) then returns only the local
    replica, without its availability and failover mode, and those values are V(null) in the result."
seealso:
  - module: site_recovery.hyperv.sql_ag_failover
  - module: site_recovery.hyperv.sql_ag_replica
  - name: sys.dm_hadr_database_replica_states
    description: The per-database states the module reports, and what they mean on a primary and on a secondary.
    link: https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-database-replica-states-transact-sql
  - name: sys.dm_hadr_availability_replica_states
    description: Replica roles, operational and connected states.
    link: https://learn.microsoft.com/sql/relational-databases/system-dynamic-management-views/sys-dm-hadr-availability-replica-states-transact-sql
  - name: Invoke-Sqlcmd
    description: The cmdlet the module reads with.
    link: https://learn.microsoft.com/powershell/module/sqlserver/invoke-sqlcmd
author:
  - Site Recovery Hyper-V maintainers (@site-recovery-hyperv)
"""

EXAMPLES = r"""
---
- name: Read VMM's availability group from the DR node
  site_recovery.hyperv.sql_ag_info:
    name: VMM-AG
  register: ag

- name: Stop when the DR replica would lose more than five minutes of VMM's database
  ansible.builtin.assert:
    that: >-
      ag.availability_groups[0].replicas | selectattr('is_local') | map(attribute='databases') | first
      | map(attribute='last_commit_age_seconds') | max < 300
    fail_msg: The DR replica's copy of VMM's database is more than five minutes old.

- name: Wait until the old primary's databases are SYNCHRONIZED again (before a planned failback)
  site_recovery.hyperv.sql_ag_info:
    name: VMM-AG
  register: ag
  until: >-
    ag.availability_groups[0].replicas | selectattr('is_local') | map(attribute='databases') | first
    | rejectattr('synchronization_state', 'eq', 'SYNCHRONIZED') | list | length == 0
  retries: 30
  delay: 10
"""

RETURN = r"""
sql_instance:
  description: The instance the module read.
  returned: always
  type: str
  sample: MSSQLSERVER
host_time:
  description:
    - The host's UTC clock when it answered (ISO-8601).
    - RV(availability_groups[].replicas[].databases[].last_commit_age_seconds) is measured against it.
  returned: always
  type: str
  sample: "2026-11-25T20:09:12.1234560Z"
availability_groups:
  description: The availability groups of the instance (only the one named by O(name), when given), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the availability group.
      type: str
      sample: VMM-AG
    group_id:
      description: The availability group's ID.
      type: str
    local_replica:
      description: Server name of the replica this instance hosts.
      type: str
      sample: CLU-SEC-01
    local_role:
      description: Role of the local replica, C(PRIMARY), C(SECONDARY) or C(RESOLVING).
      type: str
      sample: RESOLVING
    local_operational_state:
      description:
        - Operational state of the local replica, for example C(ONLINE), C(PENDING_FAILOVER), C(OFFLINE) (the availability
          group lacks a primary) or C(FAILED_NO_QUORUM) (the local cluster node has no quorum).
      type: str
      sample: FAILED_NO_QUORUM
    complete_view:
      description: Whether this instance sees every replica and database copy, which only the primary does.
      type: bool
    primary_replica:
      description: Server name of the replica this instance sees as primary; V(null) when it sees none (on a secondary, or without a primary).
      type: str
    databases:
      description: Names of the availability databases.
      type: list
      elements: str
      sample: [SUSDB, VirtualManagerDB]
    replicas:
      description: Every replica of the availability group, sorted by replica ID.
      type: list
      elements: dict
      contains:
        server_name:
          description:
            - The replica's server name (C(sys.availability_replicas.replica_server_name)).
            - V(null) for another replica when the instance has no quorum.
          type: str
        replica_id:
          description: The replica's ID.
          type: str
        is_local:
          description: Whether this instance hosts the replica.
          type: bool
        role:
          description:
            - C(PRIMARY), C(SECONDARY) or C(RESOLVING).
            - V(null) for a replica this instance does not see (it is not the primary) or that is not connected.
          type: str
        operational_state:
          description: Operational state (local replica only).
          type: str
        connected_state:
          description: C(CONNECTED) or C(DISCONNECTED); on a secondary, its link to the primary.
          type: str
        recovery_health:
          description: C(ONLINE) when every local database is online, else C(ONLINE_IN_PROGRESS) (local replica only).
          type: str
        synchronization_health:
          description: Rollup of the databases' synchronization health, C(HEALTHY), C(PARTIALLY_HEALTHY) or C(NOT_HEALTHY).
          type: str
        availability_mode:
          description: C(SYNCHRONOUS_COMMIT) or C(ASYNCHRONOUS_COMMIT); V(null) without quorum.
          type: str
        failover_mode:
          description: C(AUTOMATIC) or C(MANUAL); V(null) without quorum.
          type: str
        planned_failover_ready:
          description:
            - Whether a planned failover (without data loss) to this replica is possible as far as SQL Server's state
              shows it, that is synchronous commit and every database marked failover ready in the cluster; V(null) when unknown.
            - SQL Server also refuses a planned failover while the cluster runs in forced-quorum mode, which SQL Server's
              views do not show.
          type: bool
        databases:
          description: The replica's copy of each availability database.
          type: list
          elements: dict
          contains:
            name:
              description: Database name.
              type: str
            visible:
              description: Whether this instance returned a row for the copy; the state fields are V(null) when it did not.
              type: bool
            synchronization_state:
              description: C(NOT SYNCHRONIZING), C(SYNCHRONIZING), C(SYNCHRONIZED), C(REVERTING) or C(INITIALIZING).
              type: str
            synchronization_health:
              description: C(HEALTHY), C(PARTIALLY_HEALTHY) or C(NOT_HEALTHY), judged against the replica's availability mode.
              type: str
            database_state:
              description: State of the database (as C(sys.databases)), for example C(ONLINE) or C(RECOVERY_PENDING); V(null) for another replica's copy.
              type: str
            is_suspended:
              description: Whether data movement is suspended for the copy.
              type: bool
            suspend_reason:
              description: Why, for example C(SUSPEND_FROM_USER), or C(SUSPEND_FROM_PARTNER) after a forced failover.
              type: str
            is_failover_ready:
              description: Whether the cluster marks the copy synchronized, ready for a failover without data loss.
              type: bool
            is_joined:
              description: Whether the copy is joined to the availability group; V(null) without quorum.
              type: bool
            end_of_log_lsn:
              description: End of the copy's log (a log-block ID). Across secondaries, the highest value has the least data loss.
              type: int
            last_commit_time:
              description: Time of the last commit the copy holds (UTC, ISO-8601).
              type: str
            secondary_lag_seconds:
              description: Seconds the copy runs behind the primary while it synchronizes, as the primary reports it.
              type: int
            estimated_data_loss_seconds:
              description:
                - Difference between the primary's last commit time and the copy's, V(0) for the primary's own copy;
                  roughly what a failover to this copy would lose. V(null) where the primary's row is not visible.
              type: float
            last_commit_age_seconds:
              description:
                - Seconds between the copy's last commit and the host's clock. When the primary is lost this bounds what a
                  forced failover to this copy can lose, if the primary committed until it failed.
              type: float
"""
