// The VS Code extension's LSP client (tools/editors/vscode/lsp-client.js)
// against the real server: start `egfuse lsp`, open a file with an error, get
// its diagnostic, fix it, hover, complete, shut down with exit status 0.
// Usage: node client_test.js EGFUSE_EXE   (EGFUSE_SOURCE_ROOT set by meson)
'use strict';

const assert = require('assert');
const path = require('path');
const root = process.env.EGFUSE_SOURCE_ROOT;
const { LspClient } = require(path.join(root, 'tools/editors/vscode/lsp-client.js'));

async function main() {
  const exe = process.argv[2];
  const published = [];
  let wake = null;
  const client = new LspClient(exe, ['lsp'], {
    onNotification: (method, params) => {
      if (method === 'textDocument/publishDiagnostics') published.push(params);
      if (wake) wake();
    },
    onLog: (text) => process.stderr.write(text),
  });
  const nextDiagnostics = async (count) => {
    const deadline = Date.now() + 10000;
    while (published.length < count) {
      if (Date.now() > deadline) throw new Error('no diagnostics published');
      await new Promise((r) => { wake = r; setTimeout(r, 100); });
    }
    return published[count - 1];
  };

  const init = await client.initialize(null, {});
  assert.strictEqual(init.capabilities.hoverProvider, true);
  assert.strictEqual(init.serverInfo.name, 'egfuse-lsp');

  const uri = 'file:///tmp/egfuse-client-test.rules';
  const broken = 'op add(a: T, b: T) -> T pointwise\nop twice(x: T) -> T pointwise = add(?x, ?x)\nrule r: twice(?y) => add(?y, ?z)\n';
  client.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'egfuse-rules', version: 1, text: broken } });
  let d = await nextDiagnostics(1);
  assert.ok(d.diagnostics.length >= 1, 'the unbound ?z is reported');
  assert.strictEqual(d.diagnostics[0].severity, 1);
  assert.strictEqual(d.diagnostics.length, 1, JSON.stringify(d.diagnostics));
  assert.strictEqual(d.diagnostics[0].range.start.line, 2);

  // Fix it with an incremental edit: ?z -> ?y.
  const col = broken.split('\n')[2].indexOf('?z');
  client.notify('textDocument/didChange', {
    textDocument: { uri, version: 2 },
    contentChanges: [{ range: { start: { line: 2, character: col }, end: { line: 2, character: col + 2 } }, text: '?y' }],
  });
  d = await nextDiagnostics(2);
  assert.strictEqual(d.version, 2);
  assert.deepStrictEqual(d.diagnostics, []);

  const hover = await client.request('textDocument/hover', { textDocument: { uri }, position: { line: 2, character: 10 } });
  assert.ok(hover.contents.value.includes('op twice(x: T) -> T pointwise'), hover.contents.value);

  const completion = await client.request('textDocument/completion', { textDocument: { uri }, position: { line: 2, character: 28 } });
  assert.ok(completion.items.some((i) => i.label === 'twice'));

  const bad = client.request('no/such/method', {});
  await assert.rejects(bad, (err) => err.code === -32601);

  const code = await client.stop();
  assert.strictEqual(code, 0);
  console.log('vscode client ok');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
