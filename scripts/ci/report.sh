#!/usr/bin/env bash
# Reports a CI result for a protocol branch to Baton's webhook, signed like the provider
# would sign it, so the run moves on (success: the step completes or goes to QA; failure:
# the step fails and the run is blocked).
#
#   scripts/ci/report.sh success|failure
#
# Environment:
#   BATON_API_BASE         Baton's base URL, e.g. https://baton.example.com (required)
#   BATON_WEBHOOK_TOKEN    the webhook secret Baton checks (BATON_WEBHOOK_TOKEN there too)
#   BATON_API_TOKEN        bearer token, sent when set (webhooks do not need it)
#   BATON_PROTOCOL_RUN_ID  the run to report on; else the run is found by branch
#   BATON_BRANCH           the branch; else the CI's own variable, else `git rev-parse`
# Under GitLab CI (GITLAB_CI set) a pipeline hook goes to /webhooks/gitlab
# (X-Gitlab-Token, X-Gitlab-Signature-256); elsewhere a GitHub `status` event goes to
# /webhooks/github (X-Hub-Signature-256).
set -euo pipefail

result="${1:-}"
case "$result" in
  success|failure) ;;
  *) echo "usage: $0 success|failure" >&2; exit 2 ;;
esac
base="${BATON_API_BASE:?set BATON_API_BASE to the Baton base URL}"
branch="${BATON_BRANCH:-${GITHUB_HEAD_REF:-${CI_COMMIT_REF_NAME:-${GITHUB_REF_NAME:-}}}}"
if [ -z "$branch" ]; then
  branch="$(git rev-parse --abbrev-ref HEAD)"
fi
token="${BATON_WEBHOOK_TOKEN:-}"

hmac_hex() { # key, reads the message from stdin
  if command -v openssl >/dev/null; then
    openssl dgst -sha256 -hmac "$1" | sed 's/^.*= //'
  else
    python3 -c 'import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())' "$1"
  fi
}
json_string() { # a JSON string literal of $1 (backslashes and quotes escaped)
  local s="${1//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

b="$(json_string "$branch")"
query=""
if [ -n "${BATON_PROTOCOL_RUN_ID:-}" ]; then
  query="?protocol_run_id=${BATON_PROTOCOL_RUN_ID}"
fi
headers=(-H "Content-Type: application/json")
if [ -n "${BATON_API_TOKEN:-}" ]; then
  headers+=(-H "Authorization: Bearer ${BATON_API_TOKEN}")
fi

if [ -n "${GITLAB_CI:-}" ]; then
  status="success"; [ "$result" = failure ] && status="failed"
  body="{\"object_kind\":\"pipeline\",\"object_attributes\":{\"status\":\"$status\",\"ref\":$b}}"
  url="${base%/}/webhooks/gitlab${query}"
  if [ -n "$token" ]; then
    headers+=(-H "X-Gitlab-Token: $token" -H "X-Gitlab-Signature-256: sha256=$(printf '%s' "$body" | hmac_hex "$token")")
  fi
else
  body="{\"state\":\"$result\",\"branches\":[{\"name\":$b}],\"ref\":$b}"
  url="${base%/}/webhooks/github${query}"
  headers+=(-H "X-GitHub-Event: status")
  if [ -n "$token" ]; then
    headers+=(-H "X-Hub-Signature-256: sha256=$(printf '%s' "$body" | hmac_hex "$token")")
  fi
fi

curl --fail-with-body --silent --show-error -X POST "${headers[@]}" --data-binary "$body" "$url"
echo
