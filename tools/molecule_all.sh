#!/usr/bin/env bash
# Every role's molecule scenarios (delegated driver on localhost, against the DR lab).
set -uo pipefail
COLL=$1
rc=0; n=0
for scenario_dir in "$COLL"/roles/*/molecule; do
  [ -d "$scenario_dir" ] || continue
  role_dir=$(dirname "$scenario_dir")
  n=$((n+1))
  echo "--- molecule: $(basename "$role_dir")"
  (cd "$role_dir" && molecule test --all) || rc=1
done
[ "$n" -gt 0 ] || { echo "no molecule scenarios found"; exit 1; }
exit $rc
