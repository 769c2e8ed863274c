// Loading a JSON-lines trace. A small scanner for the flat objects the engine
// writes (nested values are kept as raw text), fast enough for 10^6 events;
// every malformed line is an error naming the file and line.
#include <charconv>
#include <fstream>
#include <sstream>

#include "egfuse/diagnostics.hpp"
#include "egfuse/trace_query.hpp"

namespace egfuse::trace {
namespace {

struct Scanner {
  std::string_view s;
  size_t i = 0;
  std::string err;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
  }
  bool fail(std::string m) {
    if (err.empty()) err = std::move(m) + " at column " + std::to_string(i + 1);
    return false;
  }
  bool string_token() {  // s[i] == '"'
    ++i;
    while (i < s.size()) {
      if (s[i] == '\\') {
        i += 2;
        continue;
      }
      if (s[i] == '"') {
        ++i;
        return true;
      }
      ++i;
    }
    return fail("unterminated string");
  }
  bool value() {
    ws();
    if (i >= s.size()) return fail("expected a value");
    char c = s[i];
    if (c == '"') return string_token();
    if (c == '{' || c == '[') {
      char open = c, close = c == '{' ? '}' : ']';
      int depth = 0;
      while (i < s.size()) {
        if (s[i] == '"') {
          if (!string_token()) return false;
          continue;
        }
        if (s[i] == open || s[i] == '{' || s[i] == '[') ++depth;
        else if (s[i] == close || s[i] == '}' || s[i] == ']') {
          if (--depth == 0) {
            ++i;
            return true;
          }
        }
        ++i;
      }
      return fail(std::string("unclosed '") + open + "'");
    }
    if (c == 't' && s.substr(i, 4) == "true") return i += 4, true;
    if (c == 'f' && s.substr(i, 5) == "false") return i += 5, true;
    if (c == 'n' && s.substr(i, 4) == "null") return i += 4, true;
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t b = i;
      ++i;
      while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' ||
                              s[i] == 'E' || s[i] == '+' || s[i] == '-'))
        ++i;
      return i > b;
    }
    return fail(std::string("unexpected character '") + c + "'");
  }
};

std::string decode_string(std::string_view raw) {
  if (raw.size() < 2 || raw.front() != '"') return std::string(raw);
  std::string out;
  for (size_t i = 1; i + 1 < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    char n = raw[++i];
    switch (n) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'u': {
        unsigned v = 0;
        std::from_chars(raw.data() + i + 1, raw.data() + i + 5, v, 16);
        i += 4;
        if (v < 0x80) out += char(v);
        else if (v < 0x800) { out += char(0xC0 | (v >> 6)); out += char(0x80 | (v & 0x3F)); }
        else { out += char(0xE0 | (v >> 12)); out += char(0x80 | ((v >> 6) & 0x3F)); out += char(0x80 | (v & 0x3F)); }
        break;
      }
      default: out += n;
    }
  }
  return out;
}

}  // namespace

TraceFile TraceFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open trace file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return from_text(path, ss.str());
}

TraceFile TraceFile::from_text(std::string path, std::string text) {
  TraceFile t;
  t.path_ = std::move(path);
  t.text_ = std::make_shared<std::string>(std::move(text));
  std::string_view all = *t.text_;
  size_t pos = 0;
  uint32_t line = 0;
  t.events_.reserve(all.size() / 80);
  t.fields_.reserve(all.size() / 16);
  auto where = [&](uint32_t l) { return t.path_ + ":" + std::to_string(l) + ": "; };
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    bool last_unterminated = end == std::string_view::npos;
    if (last_unterminated) end = all.size();
    std::string_view s = all.substr(pos, end - pos);
    ++line;
    size_t base = pos;
    pos = end + 1;
    if (s.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Scanner sc{s};
    sc.ws();
    if (sc.i >= s.size() || s[sc.i] != '{')
      throw Error(where(line) + "expected a JSON object ('{'), found '" + std::string(s.substr(0, 20)) + "'");
    ++sc.i;
    Event e{line, uint32_t(t.fields_.size()), 0, {}, 0};
    bool closed = false;
    while (true) {
      sc.ws();
      if (sc.i < s.size() && s[sc.i] == '}') {
        ++sc.i;
        closed = true;
        break;
      }
      if (sc.i >= s.size() || s[sc.i] != '"') {
        sc.fail("expected a key string");
        break;
      }
      size_t kb = sc.i + 1;
      if (!sc.string_token()) break;
      size_t ke = sc.i - 1;
      sc.ws();
      if (sc.i >= s.size() || s[sc.i] != ':') {
        sc.fail("expected ':' after a key");
        break;
      }
      ++sc.i;
      sc.ws();
      size_t vb = sc.i;
      if (!sc.value()) break;
      t.fields_.push_back({uint32_t(base + kb), uint32_t(base + vb), uint32_t(sc.i - vb), uint16_t(ke - kb)});
      ++e.nfields;
      sc.ws();
      if (sc.i < s.size() && s[sc.i] == ',') {
        ++sc.i;
        continue;
      }
      if (sc.i < s.size() && s[sc.i] == '}') continue;
      sc.fail("expected ',' or '}'");
      break;
    }
    if (!closed) {
      std::string why = sc.err.empty() ? "unterminated object" : sc.err;
      if (last_unterminated) why += " (the trace looks truncated: its last line is incomplete)";
      throw Error(where(line) + why);
    }
    std::string_view kind = t.raw(e, "ev");
    if (kind.size() < 2 || kind.front() != '"') throw Error(where(line) + "event has no \"ev\" kind");
    e.kind = kind.substr(1, kind.size() - 2);
    e.iter = t.num(e, "iter", 0);
    if (t.events_.empty()) {
      if (e.kind != "header" || t.str(e, "schema") != "egfuse-trace")
        throw Error(where(line) + "not an egfuse trace: the first line must be the header "
                                  "{\"ev\":\"header\",\"schema\":\"egfuse-trace\",\"version\":1}");
      t.version_ = int(t.num(e, "version", 0));
      if (t.version_ != 1)
        throw Error(where(line) + "trace schema version " + std::to_string(t.version_) +
                    " is not supported (this egfuse reads version 1)");
    }
    t.events_.push_back(e);
  }
  if (t.events_.empty()) throw Error(t.path_ + ": empty trace (expected a header line)");
  return t;
}

std::string_view TraceFile::raw(const Event& e, std::string_view key) const {
  const std::string& txt = *text_;
  for (uint32_t i = e.first_field; i < e.first_field + e.nfields; ++i) {
    const Field& f = fields_[i];
    if (f.key_len == key.size() && txt.compare(f.key_off, f.key_len, key) == 0)
      return std::string_view(txt).substr(f.val_off, f.val_len);
  }
  return {};
}

std::string TraceFile::str(const Event& e, std::string_view key) const { return decode_string(raw(e, key)); }

int64_t TraceFile::num(const Event& e, std::string_view key, int64_t dflt) const {
  auto r = raw(e, key);
  int64_t v = dflt;
  if (!r.empty()) std::from_chars(r.data(), r.data() + r.size(), v);
  return v;
}

double TraceFile::real(const Event& e, std::string_view key, double dflt) const {
  auto r = raw(e, key);
  if (r.empty()) return dflt;
  try {
    return std::stod(std::string(r));
  } catch (...) {
    return dflt;
  }
}

bool TraceFile::boolean(const Event& e, std::string_view key) const { return raw(e, key) == "true"; }

std::vector<std::string> TraceFile::str_list(const Event& e, std::string_view key) const {
  std::vector<std::string> out;
  auto r = raw(e, key);
  Scanner sc{r};
  if (r.empty() || r[0] != '[') return out;
  sc.i = 1;
  while (sc.i < r.size()) {
    sc.ws();
    if (sc.i < r.size() && r[sc.i] == '"') {
      size_t b = sc.i;
      if (!sc.string_token()) break;
      out.push_back(decode_string(r.substr(b, sc.i - b)));
    } else {
      ++sc.i;
    }
  }
  return out;
}

}  // namespace egfuse::trace
