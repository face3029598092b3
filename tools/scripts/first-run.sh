#!/usr/bin/env bash
# Times the README's quick start in a fresh clone: `npm ci`, `npm start` until the suite is ready, then bootstrap,
# a token and one uploaded finding through the gateway. Nx's cache and daemon are off so that the build is timed
# cold, as in a fresh clone. Needs port 8080 free, curl and jq; stops the suite and removes its data at the end.
#
# Usage (in a fresh clone): bash tools/scripts/first-run.sh [--help]
set -euo pipefail
case "${1:-}" in
  '') ;;
  -h | --help) sed -n '2,/^# Usage/s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "first-run.sh: unknown argument $1 (accepted: --help)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/../.."
export NX_SKIP_NX_CACHE=true NX_DAEMON=false
data_dir=$(mktemp -d)
log="$data_dir/start.log"
suite_pid=''
cleanup() {
  # The whole process group: npm, its shell and the suite.
  if [ -n "$suite_pid" ]; then kill -TERM -- "-$suite_pid" 2>/dev/null || true; wait "$suite_pid" 2>/dev/null || true; fi
  rm -rf "$data_dir"
}
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t0=$(now)
npm ci --loglevel=warn >/dev/null
t1=$(now)
set -m # a process group of its own, stopped as a whole
# JSON logs whatever the caller's LOG_FORMAT: the ready line below is waited for as JSON.
GATEHOUSE_DATA_DIR="$data_dir" LOG_FORMAT=json npm start >"$log" 2>&1 &
suite_pid=$!
set +m
for _ in $(seq 1 600); do
  grep -q 'standalone suite ready' "$log" && break
  kill -0 "$suite_pid" 2>/dev/null || { tail -20 "$log"; exit 1; }
  sleep 0.2
done
grep -q 'standalone suite ready' "$log" || { echo 'the suite was not ready within 120 s' >&2; exit 1; }
t2=$(now)
owner=$(GATEHOUSE_DATA_DIR="$data_dir" npm run bootstrap -- --org acme)
token=$(curl -sf -X POST http://127.0.0.1:8080/api/v1/auth/m2m/authenticate -H 'Content-Type: application/json' \
  -H "X-API-Key: $(jq -r .api_key <<<"$owner")" -d "{\"client_id\": \"$(jq -r .client_id <<<"$owner")\"}" |
  jq -r .access_token)
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8080/api/v1/findings \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"findings": [{"rule_id": "CKV_AWS_20", "title": "S3 bucket is public", "severity": "high",
                     "location": {"path": "infra/s3.tf", "start_line": 12}}]}')
t3=$(now)
[ "$status" = 201 ] || { echo "upload answered $status" >&2; exit 1; }
echo "npm ci $(elapsed "$t0" "$t1") s, npm start to ready $(elapsed "$t1" "$t2") s," \
  "bootstrap + token + upload $(elapsed "$t2" "$t3") s: clone to finding in $(elapsed "$t0" "$t3") s"
