// The language server: lifecycle, document sync and request dispatch. One
// thread; an analysis runs when a document opens or changes (after the last of
// several queued changes when they arrive together).
#include <iostream>
#include <set>

#include "egfuse/lsp.hpp"
#include "egfuse_config.h"
#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

namespace {

class Server {
 public:
  Server(std::istream& in, std::ostream& out, const LspOptions& opt)
      : reader_(in), out_(out), opt_(opt), trace_(opt.trace_path), fires_(load_fire_counts(trace_)) {}

  int run() {
    for (;;) {
      if (!reader_.more_buffered()) publish_dirty();
      Frame f = reader_.read();
      if (f.status == Frame::Status::eof) break;
      if (f.status == Frame::Status::bad_header) {
        log("bad header: " + f.error);
        send(error_response(nullptr, kParseError, "bad message header: " + f.error));
        continue;
      }
      json msg = json::parse(f.body, nullptr, false);
      if (msg.is_discarded()) {
        log("parse error");
        send(error_response(nullptr, kParseError, "message body is not valid JSON"));
        continue;
      }
      handle(msg);
      if (exit_) return shutdown_ ? 0 : 1;
    }
    return 1;  // the input ended without 'exit'
  }

 private:
  void send(const json& m) { write_frame(out_, m); }
  void log(const std::string& s) {
    if (opt_.log) *opt_.log << "egfuse lsp: " << s << "\n";
  }

  void handle(const json& msg) {
    if (!msg.is_object()) {
      send(error_response(nullptr, kInvalidRequest,
                          msg.is_array() ? "batch messages are not supported" : "a message must be a JSON object"));
      return;
    }
    json id = nullptr;
    bool has_id = msg.contains("id");
    if (has_id) {
      const json& i = msg["id"];
      if (!(i.is_number_integer() || i.is_string())) {
        send(error_response(nullptr, kInvalidRequest, "'id' must be an integer or a string"));
        return;
      }
      id = i;
    }
    auto jv = msg.find("jsonrpc");
    if (jv == msg.end() || *jv != "2.0") {
      send(error_response(id, kInvalidRequest, "'jsonrpc' must be \"2.0\""));
      return;
    }
    auto m = msg.find("method");
    if (m == msg.end()) {
      if (msg.contains("result") || msg.contains("error")) return;  // a response: we send no requests
      send(error_response(id, kInvalidRequest, "a request needs a 'method'"));
      return;
    }
    if (!m->is_string()) {
      send(error_response(id, kInvalidRequest, "'method' must be a string"));
      return;
    }
    std::string method = *m;
    json params = msg.value("params", json::object());
    if (params.is_null()) params = json::object();  // e.g. shutdown/exit with "params": null
    if (!params.is_object() && !params.is_array()) {
      if (has_id) send(error_response(id, kInvalidParams, "'params' must be an object or an array"));
      return;
    }
    log(method);
    try {
      if (has_id) {
        send(response(id, request(method, params)));
      } else {
        notify(method, params);
      }
    } catch (const RequestError& e) {
      if (has_id) send(error_response(id, e.code, e.what()));
    } catch (const json::exception& e) {
      log(method + ": " + e.what());
      if (has_id) send(error_response(id, kInvalidParams, std::string("invalid params: ") + e.what()));
    } catch (const std::exception& e) {
      log(method + ": " + e.what());
      if (has_id) send(error_response(id, kInternalError, std::string("internal error: ") + e.what()));
    }
  }

  // ------------------------------------------------------------ notifications
  void notify(const std::string& method, const json& params) {
    if (method == "exit") {
      exit_ = true;
      return;
    }
    if (!initialized_ || shutdown_) return;
    if (method == "textDocument/didOpen") {
      const json& td = params.at("textDocument");
      std::string uri = td.at("uri");
      docs_.open(uri, td.at("text").get<std::string>(), td.value("version", int64_t(0)));
      dirty_.insert(uri);
      publish_dirty();
    } else if (method == "textDocument/didChange") {
      std::string uri = params.at("textDocument").at("uri");
      TextDocument* d = docs_.find(uri);
      if (!d) throw RequestError(kInvalidParams, "didChange for a document that is not open: " + uri);
      for (const json& c : params.at("contentChanges")) {
        std::optional<Range> r;
        if (c.contains("range")) r = range_from(c.at("range"));
        d->apply_change(r, c.at("text").get<std::string>());
      }
      d->version = params.at("textDocument").value("version", d->version + 1);
      dirty_.insert(uri);
      if (!opt_.coalesce_changes) publish_dirty();
    } else if (method == "textDocument/didClose") {
      std::string uri = params.at("textDocument").at("uri");
      docs_.close(uri);
      analyses_.erase(uri);
      dirty_.erase(uri);
      send(notification("textDocument/publishDiagnostics", {{"uri", uri}, {"diagnostics", json::array()}}));
    } else if (method == "textDocument/didSave") {
      // Other documents may include the saved file: they read it from disk.
      for (auto& [uri, d] : docs_.all()) dirty_.insert(uri);
    }
    // Anything else ('initialized', '$/cancelRequest', configuration changes): nothing to do.
  }

  static Range range_from(const json& r) {
    auto pos = [](const json& p) { return Position{p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()}; };
    return {pos(r.at("start")), pos(r.at("end"))};
  }

  void publish_dirty() {
    for (auto it = dirty_.begin(); it != dirty_.end();) {
      const std::string uri = *it;
      it = dirty_.erase(it);
      if (TextDocument* d = docs_.find(uri)) {
        analyses_[uri] = analyze(*d);
        send(notification("textDocument/publishDiagnostics", publish_diagnostics(*analyses_[uri])));
      }
    }
  }

  // The current analysis of a document (brought up to date first).
  const Analysis& analysis(const json& params) {
    std::string uri = params.at("textDocument").at("uri");
    if (!docs_.find(uri)) throw RequestError(kInvalidParams, "document is not open: " + uri);
    if (dirty_.count(uri) || !analyses_.count(uri)) publish_dirty();
    return *analyses_.at(uri);
  }
  std::vector<const Analysis*> open_analyses() {
    publish_dirty();
    std::vector<const Analysis*> out;
    for (auto& [uri, a] : analyses_) out.push_back(a.get());
    return out;
  }

  // ------------------------------------------------------------ requests
  json request(const std::string& method, const json& params) {
    if (method == "initialize") {
      if (initialized_) throw RequestError(kInvalidRequest, "initialize was already received");
      initialized_ = true;
      if (params.is_object()) {
        auto io = params.find("initializationOptions");
        if (io != params.end() && io->is_object() && io->contains("trace") && (*io)["trace"].is_string()) {
          trace_ = (*io)["trace"];
          fires_ = load_fire_counts(trace_);
        }
      }
      return capabilities();
    }
    if (!initialized_) throw RequestError(kServerNotInitialized, "the server is not initialized yet");
    if (shutdown_) throw RequestError(kInvalidRequest, "the server is shutting down");
    if (method == "shutdown") {
      shutdown_ = true;
      return nullptr;
    }
    if (method == "textDocument/hover") return hover(analysis(params), position_from(params), fires_, trace_);
    if (method == "textDocument/definition") return definition(analysis(params), position_from(params));
    if (method == "textDocument/references") {
      const Analysis& a = analysis(params);
      bool decl = params.contains("context") && params["context"].value("includeDeclaration", true);
      return references(a, open_analyses(), position_from(params), decl);
    }
    if (method == "textDocument/documentSymbol") return document_symbols(analysis(params));
    if (method == "textDocument/completion") return completion(analysis(params), position_from(params));
    if (method == "textDocument/formatting") {
      analysis(params);
      return formatting(*docs_.find(params["textDocument"]["uri"]));
    }
    if (method == "textDocument/prepareRename") return prepare_rename(analysis(params), position_from(params));
    if (method == "textDocument/rename") {
      const Analysis& a = analysis(params);
      return rename(a, open_analyses(), position_from(params), params.at("newName").get<std::string>());
    }
    throw RequestError(kMethodNotFound, "method not found: " + method);
  }

  static json capabilities() {
    return {{"capabilities",
             {{"textDocumentSync", {{"openClose", true}, {"change", 2}, {"save", true}}},
              {"hoverProvider", true},
              {"definitionProvider", true},
              {"referencesProvider", true},
              {"documentSymbolProvider", true},
              {"completionProvider", {{"triggerCharacters", {"?"}}}},
              {"documentFormattingProvider", true},
              {"renameProvider", {{"prepareProvider", true}}}}},
            {"serverInfo", {{"name", "egfuse-lsp"}, {"version", EGFUSE_VERSION}}}};
  }

  FrameReader reader_;
  std::ostream& out_;
  LspOptions opt_;
  std::string trace_;
  std::map<std::string, int64_t> fires_;
  DocumentStore docs_;
  std::map<std::string, std::shared_ptr<const Analysis>> analyses_;
  std::set<std::string> dirty_;
  bool initialized_ = false, shutdown_ = false, exit_ = false;
};

}  // namespace

int run_lsp_server(std::istream& in, std::ostream& out, const LspOptions& options) {
  Server s(in, out, options);
  return s.run();
}

}  // namespace egfuse::lsp
