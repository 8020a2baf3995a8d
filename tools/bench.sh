#!/usr/bin/env bash
# Benchmark: the status playbook against the 1,000-VM scale lab (20 Hyper-V hosts, 2,000 VM copies).
# Prints wall-clock times; nothing asserts on them.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VENV=${VENV:-$ROOT/.venv}
bash "$ROOT/tools/bootstrap.sh"
export PATH="$VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH=$VENV/collections NO_PROXY=127.0.0.1,localhost
STATE=$(mktemp -d)
cd "$ROOT"
python -m lab up scale --state-dir "$STATE" >/dev/null
trap 'python -m lab down --state-dir "$STATE" >/dev/null; rm -rf "$STATE"' EXIT
for forks in 5 20; do
  start=$(date +%s%N)
  ansible-playbook -f "$forks" -i "$STATE/inventory.yml" site_recovery.hyperv.status >/dev/null
  end=$(date +%s%N)
  printf 'status, 20 hosts / 2,000 VM copies, forks=%-3s %d ms\n' "$forks" "$(( (end - start) / 1000000 ))"
done
printf 'cmdlet calls audited: %s\n' "$(grep -c '"kind": "cmdlet"' "$STATE/audit.jsonl")"
