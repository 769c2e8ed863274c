#!/bin/sh
# The Vim syntax file loads, claims *.rules, and highlights a rule's parts.
# Usage: vim_syntax_test.sh VIM   (EGFUSE_SOURCE_ROOT set by meson)
set -eu
vim="$1"
root="${EGFUSE_SOURCE_ROOT:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' '/// doc' 'rule inline-pointwise: ?p(buf(?q), ?rest...) => ?p(?q) if pointwise(?q)' > "$tmp/t.rules"
cat > "$tmp/check.vim" <<VIM
filetype on
syntax on
edit $tmp/t.rules
redir! > $tmp/out
echo &ft
for [l, c] in [[1, 1], [2, 1], [2, 6], [2, 24], [2, 36], [2, 46]]
  echo synIDattr(synID(l, c, 1), "name")
endfor
redir END
qa!
VIM
"$vim" -u NONE -N -es --cmd "set rtp^=$root/tools/editors/vim" -S "$tmp/check.vim" || true
got=$(grep -v '^$' "$tmp/out" | tr '\n' ' ')
want="egfuse egfuseDocComment egfuseDecl egfuseDeclName egfuseVariable egfuseVariadic egfuseArrow "
if [ "$got" != "$want" ]; then
  echo "vim syntax: got '$got', expected '$want'"
  exit 1
fi
echo "vim syntax ok: $got"
