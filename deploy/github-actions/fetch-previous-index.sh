#!/usr/bin/env bash
# Fetch the published index.json + index.json.sig into DIR so that `skillport validate|build
# --previous-index DIR/index.json` checks version bumps and serials against what is live.
#
#   PREVIOUS_INDEX_URL    URL of the published index.json (empty: nothing to fetch, not an error)
#   ORIGIN_CURL_HEADERS   optional header lines for the origin, one per line (kept out of the logs)
#   SKILLPORT_SIGNING_KEYS  when empty (e.g. a pull request from a fork) nothing is fetched
#
# Writes `path=DIR/index.json` (or `path=` when there is no previous index) to $GITHUB_OUTPUT.
# A 404 means "first publish" and is fine; any other failure stops the job, because building
# without the live index would skip the "bump the version" check.
set -euo pipefail

dir="${1:-previous}"
out="${GITHUB_OUTPUT:-/dev/stdout}"

if [ -z "${PREVIOUS_INDEX_URL:-}" ]; then
  echo "::notice::SKILLPORT_PREVIOUS_INDEX_URL is not set: version bumps are checked against Git history only"
  echo "path=" >> "$out"
  exit 0
fi
if [ -z "${SKILLPORT_SIGNING_KEYS:-}" ]; then
  echo "::notice::no signing keys in this run (pull request from a fork?): the published index is not checked"
  echo "path=" >> "$out"
  exit 0
fi

mkdir -p "$dir"
headers="$(mktemp)"
trap 'rm -f "$headers"' EXIT
chmod 600 "$headers"
printf '%s\n' "${ORIGIN_CURL_HEADERS:-}" | sed '/^[[:space:]]*$/d' > "$headers"

fetch() {  # fetch URL FILE -> prints the HTTP status
  curl -sS --retry 3 --max-time 60 -H "@$headers" -o "$2" -w '%{http_code}' "$1" || echo "000"
}

status="$(fetch "$PREVIOUS_INDEX_URL" "$dir/index.json")"
if [ "$status" = "404" ]; then
  echo "::notice::no index published at $PREVIOUS_INDEX_URL yet (first publish)"
  rm -f "$dir/index.json"
  echo "path=" >> "$out"
  exit 0
fi
if [ "$status" != "200" ]; then
  echo "::error::fetching $PREVIOUS_INDEX_URL answered HTTP $status; check SKILLPORT_PREVIOUS_INDEX_URL and SKILLPORT_ORIGIN_CURL_HEADERS"
  exit 1
fi
status="$(fetch "$PREVIOUS_INDEX_URL.sig" "$dir/index.json.sig")"
if [ "$status" != "200" ]; then
  echo "::error::fetching $PREVIOUS_INDEX_URL.sig answered HTTP $status (the index is published without its signature?)"
  exit 1
fi
echo "path=$dir/index.json" >> "$out"
