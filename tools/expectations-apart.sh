#!/usr/bin/env bash
# Expected verdicts move in commits of their own: fail when one commit changes both the analyzer (analyzer/)
# and a reference capture's expectations (captures/*.expected.json). Checked for the commits after BASE
# (default: the commit that introduced this check; earlier history is left as it is).
#   tools/expectations-apart.sh [BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-$(cat .ci/expectations-since)}"
if [ "$(git rev-parse --is-shallow-repository)" = true ] && ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  echo "expectations-apart: shallow clone without $base: fetch the history to check" >&2
  exit 2
fi
git cat-file -e "$base^{commit}" 2>/dev/null || { echo "expectations-apart: no commit $base" >&2; exit 2; }
bad=0
for commit in $(git rev-list --no-merges "$base..HEAD"); do
  files=$(git diff-tree --no-commit-id --name-only -r "$commit")
  if grep -q '^analyzer/' <<<"$files" && grep -q '^captures/.*\.expected\.json$' <<<"$files"; then
    echo "expectations-apart: $(git log -1 --format='%h %s' "$commit" | cut -c1-100): changes analyzer/ and expected verdicts together; move the expectations to a commit of their own, with the catalogue sentence they follow" >&2
    bad=1
  fi
done
exit $bad
