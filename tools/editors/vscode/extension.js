// VS Code extension for egfuse rule files: starts `egfuse lsp` and connects the
// editor's features to it through the minimal client in lsp-client.js. Only
// the built-in `vscode` module is used, so the folder works as is (no npm install).
'use strict';

const vscode = require('vscode');
const { LspClient } = require('./lsp-client');

const LANGUAGE = 'egfuse-rules';
let client = null;
let diagnostics = null;
let output = null;
const subscriptions = [];

// ------------------------------------------------------------- conversions
const toPosition = (p) => new vscode.Position(p.line, p.character);
const toRange = (r) => new vscode.Range(toPosition(r.start), toPosition(r.end));
const fromPosition = (p) => ({ line: p.line, character: p.character });
const fromRange = (r) => ({ start: fromPosition(r.start), end: fromPosition(r.end) });
const toLocation = (l) => new vscode.Location(vscode.Uri.parse(l.uri), toRange(l.range));
const docParams = (doc, pos) => ({ textDocument: { uri: doc.uri.toString() }, position: fromPosition(pos) });
const severities = [null, vscode.DiagnosticSeverity.Error, vscode.DiagnosticSeverity.Warning,
  vscode.DiagnosticSeverity.Information, vscode.DiagnosticSeverity.Hint];

function toDiagnostic(d) {
  const diag = new vscode.Diagnostic(toRange(d.range), d.message, severities[d.severity || 1]);
  diag.source = d.source;
  diag.code = d.code;
  diag.relatedInformation = (d.relatedInformation || []).map(
    (r) => new vscode.DiagnosticRelatedInformation(toLocation(r.location), r.message));
  return diag;
}

function toSymbol(s) {
  const sym = new vscode.DocumentSymbol(s.name, s.detail || '', s.kind - 1, toRange(s.range), toRange(s.selectionRange));
  sym.children = (s.children || []).map(toSymbol);
  return sym;
}

function toWorkspaceEdit(we) {
  const edit = new vscode.WorkspaceEdit();
  for (const [uri, edits] of Object.entries((we && we.changes) || {})) {
    for (const e of edits) edit.replace(vscode.Uri.parse(uri), toRange(e.range), e.newText);
  }
  return edit;
}

// ------------------------------------------------------------- document sync
const isRules = (doc) => doc.languageId === LANGUAGE;

function didOpen(doc) {
  if (!client || !isRules(doc)) return;
  client.notify('textDocument/didOpen', {
    textDocument: { uri: doc.uri.toString(), languageId: LANGUAGE, version: doc.version, text: doc.getText() },
  });
}

function didChange(event) {
  if (!client || !isRules(event.document) || event.contentChanges.length === 0) return;
  client.notify('textDocument/didChange', {
    textDocument: { uri: event.document.uri.toString(), version: event.document.version },
    contentChanges: event.contentChanges.map((c) => ({ range: fromRange(c.range), text: c.text })),
  });
}

// ------------------------------------------------------------- lifecycle
async function start(context) {
  const config = vscode.workspace.getConfiguration('egfuse');
  const args = ['lsp'];
  if (config.get('logServer')) args.push('--log');
  const trace = config.get('trace') || '';
  client = new LspClient(config.get('serverPath') || 'egfuse', args, {
    onLog: (text) => output.append(text),
    onNotification: (method, params) => {
      if (method === 'textDocument/publishDiagnostics') {
        diagnostics.set(vscode.Uri.parse(params.uri), params.diagnostics.map(toDiagnostic));
      }
    },
  });
  const folders = vscode.workspace.workspaceFolders;
  await client.initialize(folders && folders.length ? folders[0].uri.toString() : null, trace ? { trace } : {});
  vscode.workspace.textDocuments.forEach(didOpen);
}

async function stop() {
  if (!client) return;
  const c = client;
  client = null;
  diagnostics.clear();
  await c.stop();
}

function activate(context) {
  output = vscode.window.createOutputChannel('egfuse');
  diagnostics = vscode.languages.createDiagnosticCollection('egfuse');
  const selector = { language: LANGUAGE };
  const ask = (method, params) => (client ? client.request(method, params) : Promise.resolve(null));

  subscriptions.push(
    output,
    diagnostics,
    vscode.workspace.onDidOpenTextDocument(didOpen),
    vscode.workspace.onDidChangeTextDocument(didChange),
    vscode.workspace.onDidSaveTextDocument((doc) => {
      if (client && isRules(doc)) client.notify('textDocument/didSave', { textDocument: { uri: doc.uri.toString() } });
    }),
    vscode.workspace.onDidCloseTextDocument((doc) => {
      if (client && isRules(doc)) client.notify('textDocument/didClose', { textDocument: { uri: doc.uri.toString() } });
    }),
    vscode.languages.registerHoverProvider(selector, {
      async provideHover(doc, pos) {
        const h = await ask('textDocument/hover', docParams(doc, pos));
        if (!h) return null;
        return new vscode.Hover(new vscode.MarkdownString(h.contents.value), h.range ? toRange(h.range) : undefined);
      },
    }),
    vscode.languages.registerDefinitionProvider(selector, {
      async provideDefinition(doc, pos) {
        const l = await ask('textDocument/definition', docParams(doc, pos));
        return l ? toLocation(l) : null;
      },
    }),
    vscode.languages.registerReferenceProvider(selector, {
      async provideReferences(doc, pos, context) {
        const params = Object.assign(docParams(doc, pos), { context: { includeDeclaration: context.includeDeclaration } });
        return ((await ask('textDocument/references', params)) || []).map(toLocation);
      },
    }),
    vscode.languages.registerDocumentSymbolProvider(selector, {
      async provideDocumentSymbols(doc) {
        return ((await ask('textDocument/documentSymbol', { textDocument: { uri: doc.uri.toString() } })) || []).map(toSymbol);
      },
    }),
    vscode.languages.registerCompletionItemProvider(selector, {
      async provideCompletionItems(doc, pos) {
        const list = await ask('textDocument/completion', docParams(doc, pos));
        return ((list && list.items) || []).map((it) => {
          const item = new vscode.CompletionItem(it.label, it.kind - 1);
          item.detail = it.detail;
          if (it.documentation) item.documentation = new vscode.MarkdownString(it.documentation.value);
          if (it.textEdit) {
            item.range = toRange(it.textEdit.range);
            item.insertText = it.textEdit.newText;
          }
          return item;
        });
      },
    }, '?'),
    vscode.languages.registerDocumentFormattingEditProvider(selector, {
      async provideDocumentFormattingEdits(doc, options) {
        const edits = await ask('textDocument/formatting', { textDocument: { uri: doc.uri.toString() }, options });
        return (edits || []).map((e) => vscode.TextEdit.replace(toRange(e.range), e.newText));
      },
    }),
    vscode.languages.registerRenameProvider(selector, {
      async prepareRename(doc, pos) {
        const r = await ask('textDocument/prepareRename', docParams(doc, pos));
        if (!r) throw new Error('only rules, rulesets and pattern variables can be renamed');
        return { range: toRange(r.range), placeholder: r.placeholder };
      },
      async provideRenameEdits(doc, pos, newName) {
        const params = Object.assign(docParams(doc, pos), { newName });
        return toWorkspaceEdit(await ask('textDocument/rename', params));
      },
    }),
    vscode.commands.registerCommand('egfuse.restartServer', async () => {
      await stop();
      await start(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('egfuse')) {
        await stop();
        await start(context);
      }
    }),
  );
  context.subscriptions.push(...subscriptions);
  return start(context).catch((err) => {
    output.appendLine(`egfuse: the language server did not start: ${err.message}`);
    vscode.window.showWarningMessage(`egfuse: cannot start the language server (${err.message}); see the 'egfuse' output.`);
  });
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
