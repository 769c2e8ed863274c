#!/usr/bin/env bash
# Runs --check-rules on a file with one wrong and one right rule: the wrong one
# must be reported UNSOUND with a counterexample, the right one OK, exit 1.
egfuse=$1 rules=$2
out=$("$egfuse" conform --check-rules "$rules"); rc=$?
echo "$out"
[ $rc -eq 1 ] || { echo "expected exit 1, got $rc"; exit 1; }
grep -q "^UNSOUND exp-add-wrong (.*unsound.rules:6): on inputs of shapes" <<<"$out" || { echo "wrong rule not caught"; exit 1; }
grep -q "^OK exp-add-right " <<<"$out" || { echo "right rule not accepted"; exit 1; }
grep -q "^1 sound, 1 unsound, 0 skipped$" <<<"$out" || { echo "bad summary"; exit 1; }
