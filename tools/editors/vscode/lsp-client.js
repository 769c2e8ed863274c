// A minimal Language Server Protocol client: starts a server process and
// speaks JSON-RPC with Content-Length framing over its stdio. Plain Node.js,
// no dependencies, no VS Code API (extension.js does the editor side), so it
// can be tested on its own (tests/lsp/client_test.js).
'use strict';

const { spawn } = require('child_process');

class LspClient {
  // command: executable; args: its arguments; onNotification(method, params);
  // onLog(text): the server's stderr and protocol problems.
  constructor(command, args, { onNotification = () => {}, onLog = () => {} } = {}) {
    this.nextId = 1;
    this.pending = new Map();
    this.buffer = Buffer.alloc(0);
    this.onNotification = onNotification;
    this.onLog = onLog;
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
    this.proc.on('error', (err) => {
      this.onLog(`cannot start ${command}: ${err.message}`);
      this.failAll(err);
    });
    this.proc.on('exit', () => this.failAll(new Error('the language server exited')));
    this.proc.stdout.on('data', (chunk) => this.receive(chunk));
    this.proc.stderr.on('data', (chunk) => this.onLog(chunk.toString()));
  }

  failAll(err) {
    for (const { reject } of this.pending.values()) reject(err);
    this.pending.clear();
  }

  send(message) {
    const body = Buffer.from(JSON.stringify(Object.assign({ jsonrpc: '2.0' }, message)), 'utf8');
    if (!this.proc.stdin.writable) return;
    this.proc.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.proc.stdin.write(body);
  }

  request(method, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ id, method, params });
    });
  }

  notify(method, params) {
    this.send({ method, params });
  }

  receive(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.buffer.slice(0, headerEnd).toString('ascii');
      const match = /Content-Length:\s*(\d+)/i.exec(header);
      if (!match) {
        this.onLog(`bad header from server: ${header}`);
        this.buffer = this.buffer.slice(headerEnd + 4);
        continue;
      }
      const length = Number(match[1]);
      if (this.buffer.length < headerEnd + 4 + length) return;
      const body = this.buffer.slice(headerEnd + 4, headerEnd + 4 + length).toString('utf8');
      this.buffer = this.buffer.slice(headerEnd + 4 + length);
      let message;
      try {
        message = JSON.parse(body);
      } catch (err) {
        this.onLog(`bad JSON from server: ${err.message}`);
        continue;
      }
      this.dispatch(message);
    }
  }

  dispatch(message) {
    if (message.id !== undefined && message.method === undefined) {
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.error) {
        const err = new Error(message.error.message);
        err.code = message.error.code;
        waiter.reject(err);
      } else {
        waiter.resolve(message.result);
      }
    } else if (message.method !== undefined && message.id === undefined) {
      this.onNotification(message.method, message.params);
    } else if (message.method !== undefined) {
      // A request from the server: none is expected; answer so it does not wait.
      this.send({ id: message.id, error: { code: -32601, message: 'not supported by this client' } });
    }
  }

  async initialize(rootUri, initializationOptions) {
    const result = await this.request('initialize', {
      processId: process.pid,
      rootUri,
      initializationOptions,
      capabilities: {
        textDocument: {
          synchronization: { didSave: true },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          completion: { completionItem: { snippetSupport: false } },
          rename: { prepareSupport: true },
          documentSymbol: { hierarchicalDocumentSymbolSupport: true },
          publishDiagnostics: { relatedInformation: true },
        },
      },
    });
    this.notify('initialized', {});
    return result;
  }

  async stop() {
    try {
      await Promise.race([this.request('shutdown', null), new Promise((r) => setTimeout(r, 2000))]);
      this.notify('exit', null);
    } catch (err) {
      // already gone
    }
    this.proc.stdin.end();
    return this.exited;
  }
}

module.exports = { LspClient };
