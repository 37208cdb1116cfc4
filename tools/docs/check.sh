#!/usr/bin/env bash
# Runs every command in the documentation: each ```bash block of README.md, docs/**/*.md and examples/**/README.md,
# file by file, in order, from the repository root (one bash process per file, `set -e`: the first failing command
# fails the file). ```console blocks are not run (they need the internet, a GPU or tools not installed here).
#
#   tools/docs/check.sh            every command as written (the long trainings and benchmarks included)
#   tools/docs/check.sh --quick    what CI runs: `train` commands stop after 3 steps, benchmark commands are skipped
#   tools/docs/check.sh FILE...    only these files
# `dotnet test` lines are never run here (CI runs the suite itself). Each file starts with an empty out/ (the docs'
# scratch folder, ignored by git), as a reader following that page would.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
quick=0
files=()
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    *) files+=("$a") ;;
  esac
done
if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <( { echo README.md; find docs examples -name '*.md' | sort; } )
fi
export PEFTSHARP_FIXTURES="${PEFTSHARP_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"

# Build the CLI once; ./peftsharp then runs the built program instead of `dotnet run` per command.
dotnet build src/PeftSharp.Cli -c Release --verbosity quiet -nologo > /tmp/peftsharp-docs-build.log 2>&1 || { cat /tmp/peftsharp-docs-build.log; exit 1; }
export PEFTSHARP_CLI_DLL="$root/src/PeftSharp.Cli/bin/Release/net10.0/PeftSharp.Cli.dll"
export PEFTSHARP_DOCS_QUICK=$quick

status=0
for f in "${files[@]}"; do
  script=$(mktemp)
  {
    echo 'set -eo pipefail'
    echo 'peftsharp_docs() { if [ "$PEFTSHARP_DOCS_QUICK" = 1 ] && [ "${1:-}" = train ]; then "$@" --max_steps=3; else "$@"; fi; }'
    # The ```bash blocks; continuation lines joined; a few programs rewritten as the header above says.
    awk '/^```bash[[:space:]]*$/ {inb=1; next} /^```/ {inb=0; next} inb {print}' "$f" \
      | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' \
      | sed -E -e 's#^([[:space:]]*)\./peftsharp #\1peftsharp_docs ./peftsharp #' \
               -e 's#^([[:space:]]*)dotnet test.*#\1echo "(dotnet test: run by CI itself)"#'
  } > "$script"
  if [ "$quick" = 1 ]; then
    sed -i -E 's#^([[:space:]]*)dotnet run (-c Release )?--project bench.*#\1echo "(benchmark: skipped in --quick)"#' "$script"
  fi
  n=$(grep -vc -e '^set -eo' -e '^peftsharp_docs()' -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$script")
  [ "$n" -eq 0 ] && { rm -f "$script"; continue; }
  rm -rf out
  start=$(date +%s)
  log=$(mktemp)
  if bash "$script" > "$log" 2>&1; then
    echo "ok    $f ($n commands, $(( $(date +%s) - start )) s)"
  else
    echo "FAIL  $f ($(( $(date +%s) - start )) s); its script: $script; the end of its output:"
    tail -n 30 "$log" | sed 's/^/      /'
    status=1
  fi
  rm -f "$log"
done
exit $status
