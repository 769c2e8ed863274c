// The TextMate grammar (tools/editors/vscode/syntaxes/egfuse-rules.tmLanguage.json):
// every regex compiles, and a simplified TextMate scan (first match wins at
// each position, captures applied, begin/end regions entered) gives the
// expected scopes on sample lines. Usage: node grammar_test.js
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const root = process.env.EGFUSE_SOURCE_ROOT;
const grammar = JSON.parse(fs.readFileSync(
  path.join(root, 'tools/editors/vscode/syntaxes/egfuse-rules.tmLanguage.json'), 'utf8'));

// Flatten includes into a list of leaf patterns.
function expand(patterns) {
  const out = [];
  for (const p of patterns) {
    const r = p.include ? grammar.repository[p.include.slice(1)] : p;
    if (r.match || r.begin) out.push(r);
    else out.push(...expand(r.patterns));
  }
  return out;
}
const compile = (src) => new RegExp(src, 'gy');  // sticky: match exactly at lastIndex

// Returns [[text, scope], ...] for the tokens of one line.
function scan(line, patterns) {
  const leaves = expand(patterns);
  const tokens = [];
  let i = 0;
  while (i < line.length) {
    let done = false;
    for (const p of leaves) {
      const re = compile(p.match || p.begin);
      re.lastIndex = i;
      const m = re.exec(line);
      if (!m || m[0].length === 0) continue;
      if (p.match) {
        if (p.captures) {
          let at = i;
          for (let g = 1; g < m.length; ++g) {
            if (m[g] === undefined) continue;
            const start = line.indexOf(m[g], at);
            if (p.captures[g]) tokens.push([m[g], p.captures[g].name]);
            at = start + m[g].length;
          }
        } else {
          tokens.push([m[0], p.name]);
        }
        i += m[0].length;
      } else {
        // A region: inner patterns until `end` matches.
        const end = compile(p.end);
        const inner = expand(p.patterns || []);
        let j = i + m[0].length;
        for (;;) {
          end.lastIndex = j;
          const e = j < line.length ? end.exec(line) : null;
          if (j >= line.length || e) {
            i = e ? j + e[0].length : j;
            break;
          }
          let advanced = false;
          for (const q of inner) {
            const qr = compile(q.match);
            qr.lastIndex = j;
            const qm = qr.exec(line);
            if (qm && qm[0].length) {
              tokens.push([qm[0], q.name]);
              j += qm[0].length;
              advanced = true;
              break;
            }
          }
          if (!advanced) ++j;
        }
      }
      done = true;
      break;
    }
    if (!done) ++i;
  }
  return tokens;
}

function scopeOf(tokens, text) {
  const t = tokens.find(([s]) => s === text);
  return t ? t[1] : undefined;
}

// Every regex compiles.
(function walk(j) {
  if (Array.isArray(j)) return j.forEach(walk);
  if (j && typeof j === 'object') {
    for (const k of ['match', 'begin', 'end']) if (typeof j[k] === 'string') compile(j[k]);
    Object.values(j).forEach(walk);
  }
})(grammar);

let t = scan('rule inline-pointwise: ?p(buf(?q), ?rest...) => ?p(?q) if pointwise(?q) and not rank(?q) == 2',
  grammar.patterns);
assert.strictEqual(scopeOf(t, 'rule'), 'keyword.declaration.rule.egfuse-rules');
assert.strictEqual(scopeOf(t, 'inline-pointwise'), 'entity.name.function.rule.egfuse-rules');
assert.strictEqual(scopeOf(t, '?p'), 'variable.parameter.egfuse-rules');
assert.strictEqual(scopeOf(t, '?rest...'), 'variable.parameter.variadic.egfuse-rules');
assert.strictEqual(scopeOf(t, '=>'), 'keyword.operator.rewrite.egfuse-rules');
assert.strictEqual(scopeOf(t, 'buf'), 'entity.name.function.call.egfuse-rules');
assert.strictEqual(scopeOf(t, 'if'), 'keyword.control.egfuse-rules');
assert.strictEqual(scopeOf(t, 'and'), 'keyword.operator.logical.egfuse-rules');
assert.strictEqual(scopeOf(t, '=='), 'keyword.operator.comparison.egfuse-rules');
assert.strictEqual(scopeOf(t, '2'), 'constant.numeric.egfuse-rules');

t = scan('op gelu(x: T) -> T pointwise = mul(?x, 0.5) // exact', grammar.patterns);
assert.strictEqual(scopeOf(t, 'gelu'), 'entity.name.function.egfuse-rules');
assert.strictEqual(scopeOf(t, 'pointwise'), 'storage.modifier.property.egfuse-rules');
assert.strictEqual(scopeOf(t, '0.5'), 'constant.numeric.egfuse-rules');
assert.strictEqual(scopeOf(t, '// exact'), 'comment.line.double-slash.egfuse-rules');

t = scan('/// Doubles.', grammar.patterns);
assert.strictEqual(scopeOf(t, '/// Doubles.'), 'comment.line.documentation.egfuse-rules');
t = scan('include "ops.rules"', grammar.patterns);
assert.strictEqual(scopeOf(t, '"ops.rules"'), 'string.quoted.double.egfuse-rules');
t = scan('  phase simplify: ruleset extra, time 500ms', grammar.patterns);
assert.strictEqual(scopeOf(t, 'simplify'), 'entity.name.namespace.egfuse-rules');
assert.strictEqual(scopeOf(t, '500ms'), 'constant.numeric.duration.egfuse-rules');
t = scan('template mm(a: f32[M, K], b: [K, N]) -> [M, N]', grammar.patterns);
assert.strictEqual(scopeOf(t, 'mm'), 'entity.name.type.egfuse-rules');
assert.strictEqual(scopeOf(t, 'f32'), 'support.type.dtype.egfuse-rules');
assert.strictEqual(scopeOf(t, 'M'), 'variable.other.dimension.egfuse-rules');
console.log('grammar ok');
