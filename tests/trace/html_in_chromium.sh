#!/usr/bin/env bash
# Compiles examples/mlp.graph with a trace, writes the HTML report, loads it in
# headless Chromium and checks that it renders with no console errors and that
# its pictures (SVG) and tables are present.
set -u
egfuse=$1
root=${EGFUSE_SOURCE_ROOT:?}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then echo "SKIP: chromium is not installed (apt-get install chromium)"; exit 77; fi
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
"$egfuse" compile "$root/examples/mlp.graph" --trace "$dir/t.jsonl" >/dev/null || { echo "compile failed"; exit 1; }
"$egfuse" trace html "$dir/t.jsonl" -o "$dir/report.html" || { echo "html failed"; exit 1; }
"$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$dir/profile" --enable-logging=stderr --v=0 \
  --virtual-time-budget=2000 --dump-dom "file://$dir/report.html" >"$dir/dom.html" 2>"$dir/console.log"
rc=$?
[ $rc -eq 0 ] || { echo "chromium exited $rc"; cat "$dir/console.log"; exit 1; }
if grep -E "CONSOLE|Uncaught|SyntaxError" "$dir/console.log"; then echo "console errors"; exit 1; fi
for want in '<svg' 'id="rules-table"' 'id="kernels-table"' 'id="pic-plan"' 'id="pic-input"' 'id="pic-egraph"' 'template-epilogue'; do
  grep -q -- "$want" "$dir/dom.html" || { echo "rendered page lacks $want"; exit 1; }
done
n=$(grep -o '<svg' "$dir/dom.html" | wc -l)
[ "$n" -ge 3 ] || { echo "expected 3 pictures, found $n"; exit 1; }
echo "report renders in $("$browser" --version 2>/dev/null) with $n pictures and no console errors"
