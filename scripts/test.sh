#!/usr/bin/env bash
# Runs the whole egfuse test suite (what CI runs):
#   1. the gcc build: every test (unit, cli, conformance on interp + lavapipe Vulkan;
#      CUDA tests are skipped with the reason where there is no GPU);
#   2. a clang-14 build with ASan+UBSan: the unit tests again, and each libFuzzer
#      target for a bounded time (EGFUSE_FUZZ_SECONDS, default 60).
# Ends with one line "N passed, N failed, N skipped" over both builds.
set -uo pipefail
cd "$(dirname "$0")/.."
EGFUSE_EXTRA_PACKAGES="chromium" bash scripts/setup.sh --no-example || exit 1

status=0
meson test -C build --num-processes 2 --print-errorlogs || status=1

if [ "${EGFUSE_SKIP_SANITIZE:-0}" != 1 ]; then
  if [ ! -f build-san/build.ninja ]; then
    # -Werror stays with the gcc build (the project's warning contract); clang's extra
    # warnings are printed here but do not stop the sanitizer run.
    CC=clang-14 CXX=clang++-14 meson setup build-san -Dsanitize=true -Dfuzz=true -Db_lundef=false -Dwerror=false \
      -Dbuildtype=debugoptimized >/dev/null || status=1
  fi
  # Build only what the unit and fuzz suites run (not the CLI or benchmarks).
  targets=$(meson introspect build-san --tests 2>/dev/null | python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if set(t["suite"]) & {"egfuse:unit", "egfuse:fuzz", "unit", "fuzz"}:
        for arg in t["cmd"]:  # the test program, and built programs it is given (fuzzers run by sh)
            if arg.startswith("-") or " " in arg or "/" not in arg:
                continue
            rel = os.path.relpath(arg, os.path.abspath("build-san")) if os.path.isabs(arg) else arg
            if not rel.startswith("..") and "/" in rel and not rel.endswith("corpus"):
                print(rel)' | sort -u)
  if ninja -C build-san $targets >/tmp/egfuse-build-san.log 2>&1; then
    meson test -C build-san --no-rebuild --suite unit --suite fuzz --num-processes 2 --timeout-multiplier 4 \
      --print-errorlogs || status=1
  else
    tail -50 /tmp/egfuse-build-san.log
    status=1
  fi
fi

python3 - build/meson-logs/testlog.json build-san/meson-logs/testlog.json <<'PY'
import json, sys, os
passed = failed = skipped = 0
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    for line in open(path):
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
