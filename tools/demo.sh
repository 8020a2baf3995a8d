#!/usr/bin/env bash
# The README's first command: bootstrap, start the standalone DR lab (with its Recovery Services vault), lose its
# primary site, run the main job (site_recovery.hyperv.failover_unplanned) against it - the VMM server VM by
# Hyper-V Replica, then the workload VMs by the vault's recovery plan - show the status, stop the lab. All on 127.0.0.1.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VENV=${VENV:-$ROOT/.venv}
bash "$ROOT/tools/bootstrap.sh"
export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV"
export ANSIBLE_COLLECTIONS_PATH=$VENV/collections NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
STATE=${LAB_STATE_DIR:-$ROOT/.lab/demo}
cd "$ROOT"
python -m lab up standalone --engine asr --state-dir "$STATE"
trap 'python -m lab down --state-dir "$STATE"' EXIT
echo "--- disaster: the primary site is lost"
python -m lab fault site-down primary --state-dir "$STATE"
# The inventory says site_recovery_engine: asr - the vault's recovery plan full-estate (three boot groups: data,
# apps, web) fails the workloads over once VMM answers again. For the collection's own Hyper-V Replica plans, start
# the lab without --engine asr and pass -e @roles/workloads/files/example_plans.yml.
ansible-playbook -i "$STATE/inventory.yml" site_recovery.hyperv.failover_unplanned -e "site_recovery_evidence_dir=$STATE/evidence"
echo "--- the estate afterwards (the primary site's hosts are unreachable)"
ansible-playbook -i "$STATE/inventory.yml" site_recovery.hyperv.status
echo "--- evidence record: $(ls "$STATE"/evidence/*.json); audit log: $STATE/audit.jsonl"
