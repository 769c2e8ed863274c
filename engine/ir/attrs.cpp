// Node attributes: one Boost.Hana reflection of each attribute struct drives
// printing, parsing (build_attrs), hashing and the field-name tables. Adding a
// field to a struct in ir.hpp and to its adapter below is all it takes.
#include <boost/hana.hpp>

#include <charconv>
#include <functional>
#include <set>

#include "egfuse/ir.hpp"

BOOST_HANA_ADAPT_STRUCT(egfuse::NoAttrs);
BOOST_HANA_ADAPT_STRUCT(egfuse::InputAttrs, is_mutable);
BOOST_HANA_ADAPT_STRUCT(egfuse::ConstantAttrs, value);
BOOST_HANA_ADAPT_STRUCT(egfuse::CastAttrs, to);
BOOST_HANA_ADAPT_STRUCT(egfuse::ReshapeAttrs, shape);
BOOST_HANA_ADAPT_STRUCT(egfuse::PermuteAttrs, perm);
BOOST_HANA_ADAPT_STRUCT(egfuse::ExpandAttrs, shape);
BOOST_HANA_ADAPT_STRUCT(egfuse::SliceAttrs, dim, start, end, step);
BOOST_HANA_ADAPT_STRUCT(egfuse::ReduceAttrs, axes, keepdim);
BOOST_HANA_ADAPT_STRUCT(egfuse::TemplateAttrs, kind);
BOOST_HANA_ADAPT_STRUCT(egfuse::MutationOutputAttrs, input);
BOOST_HANA_ADAPT_STRUCT(egfuse::ExternAttrs, kernel, mutates, out_dtype, out_shape);

namespace egfuse {
namespace hana = boost::hana;

namespace {

// ---- printing one value
std::string print_value(int64_t v) { return std::to_string(v); }
std::string print_value(bool v) { return v ? "true" : "false"; }
std::string print_value(DType v) { return std::string(dtype_name(v)); }
std::string print_value(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a float literal
  return s;
}
std::string print_value(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
std::string print_value(const std::vector<int64_t>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}

// ---- hashing one value
void mix(size_t& h, size_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); }
size_t hash_value(int64_t v) { return std::hash<int64_t>{}(v); }
size_t hash_value(bool v) { return v ? 1 : 2; }
size_t hash_value(DType v) { return size_t(v) + 101; }
size_t hash_value(double v) { return std::hash<double>{}(v); }
size_t hash_value(const std::string& v) { return std::hash<std::string>{}(v); }
size_t hash_value(const std::vector<int64_t>& v) {
  size_t h = v.size();
  for (auto x : v) mix(h, std::hash<int64_t>{}(x));
  return h;
}

// ---- converting one parsed value; returns an error text or ""
std::string kind_name(const AttrValue& a) {
  switch (a.v.index()) {
    case 0: return "an integer";
    case 1: return "a number";
    case 2: return "a boolean";
    case 3: return "a name or string";
    default: return "a list";
  }
}
std::string convert(const AttrValue& a, int64_t& out) {
  if (auto* i = std::get_if<int64_t>(&a.v)) { out = *i; return ""; }
  return "expected an integer, got " + kind_name(a);
}
std::string convert(const AttrValue& a, bool& out) {
  if (auto* b = std::get_if<bool>(&a.v)) { out = *b; return ""; }
  return "expected true or false, got " + kind_name(a);
}
std::string convert(const AttrValue& a, double& out) {
  if (auto* d = std::get_if<double>(&a.v)) { out = *d; return ""; }
  if (auto* i = std::get_if<int64_t>(&a.v)) { out = double(*i); return ""; }
  return "expected a number, got " + kind_name(a);
}
std::string convert(const AttrValue& a, DType& out) {
  if (auto* s = std::get_if<std::string>(&a.v)) {
    if (auto d = parse_dtype(*s)) { out = *d; return ""; }
    return "unknown dtype '" + *s + "' (expected f32, f16, bf16, i32, i64 or bool)";
  }
  return "expected a dtype name, got " + kind_name(a);
}
std::string convert(const AttrValue& a, std::string& out) {
  if (auto* s = std::get_if<std::string>(&a.v)) { out = *s; return ""; }
  return "expected a name or string, got " + kind_name(a);
}
std::string convert(const AttrValue& a, std::vector<int64_t>& out) {
  if (auto* l = std::get_if<std::vector<int64_t>>(&a.v)) { out = *l; return ""; }
  return "expected a list of integers like [1, 2], got " + kind_name(a);
}

template <class S>
std::string print_struct(const S& s) {
  std::string out;
  const S defaults{};
  hana::for_each(hana::accessors<S>(), [&](auto acc) {
    auto name = hana::to<const char*>(hana::first(acc));
    const auto& v = hana::second(acc)(s);
    if (v == hana::second(acc)(defaults)) return;  // canonical form omits defaults
    out += (out.empty() ? "{" : ", ") + std::string(name) + "=" + print_value(v);
  });
  return out.empty() ? out : out + "}";
}

template <class S>
size_t hash_struct(const S& s) {
  size_t h = 0;
  hana::for_each(hana::members(s), [&](const auto& v) { mix(h, hash_value(v)); });
  return h;
}

template <class S>
std::vector<std::string> field_names() {
  std::vector<std::string> out;
  hana::for_each(hana::keys(S{}), [&](auto k) { out.push_back(hana::to<const char*>(k)); });
  return out;
}

template <class S>
S build_struct(const std::vector<AttrEntry>& entries, const std::string& op, Diagnostics& diags) {
  S s{};
  std::set<std::string> seen;
  for (const AttrEntry& e : entries) {
    bool known = false;
    hana::for_each(hana::accessors<S>(), [&](auto acc) {
      if (e.key != hana::to<const char*>(hana::first(acc))) return;
      known = true;
      std::string err = convert(e.value, hana::second(acc)(s));
      if (!err.empty()) diags.error(e.value.span, "E-attr-value", "attribute '" + e.key + "' of " + op + ": " + err);
    });
    if (!known) {
      auto names = field_names<S>();
      std::string list;
      for (auto& n : names) list += (list.empty() ? "" : ", ") + n;
      diags.error(e.key_span, "E-attr-unknown",
                  op + " has no attribute '" + e.key + "'" + (list.empty() ? " (it takes none)" : " (expected one of: " + list + ")"));
    } else if (!seen.insert(e.key).second) {
      diags.error(e.key_span, "E-attr-duplicate", "attribute '" + e.key + "' given twice");
    }
  }
  return s;
}

// The attrs struct of each op (its index in the Attrs variant).
size_t attrs_index(Op op) {
  switch (op_class(op)) {
    case OpClass::input: return 1;
    case OpClass::constant: return 2;
    case OpClass::cast: return 3;
    case OpClass::view:
      return op == Op::reshape ? 4 : op == Op::permute ? 5 : op == Op::expand ? 6 : 7;
    case OpClass::reduce: return 8;
    case OpClass::template_: return 9;
    case OpClass::mutation_output: return 10;
    case OpClass::extern_: return 11;
    default: return 0;
  }
}

template <size_t I = 0>
Attrs default_of(size_t index) {
  if constexpr (I < std::variant_size_v<Attrs>) {
    if (index == I) return Attrs(std::in_place_index<I>);
    return default_of<I + 1>(index);
  } else {
    return NoAttrs{};
  }
}

}  // namespace

size_t attrs_index_for(Op op) { return attrs_index(op); }
Attrs default_attrs(Op op) { return default_of(attrs_index(op)); }

std::string print_attrs(const Attrs& a) {
  return std::visit([](const auto& s) { return print_struct(s); }, a);
}

size_t hash_attrs(const Attrs& a) {
  size_t h = a.index();
  mix(h, std::visit([](const auto& s) { return hash_struct(s); }, a));
  return h;
}

std::vector<std::string> attr_field_names(Op op) {
  return std::visit([](const auto& s) { return field_names<std::decay_t<decltype(s)>>(); }, default_attrs(op));
}

Attrs build_attrs(Op op, const std::vector<AttrEntry>& entries, SourceSpan, Diagnostics& diags) {
  std::string name(op_name(op));
  return std::visit([&](const auto& s) -> Attrs { return build_struct<std::decay_t<decltype(s)>>(entries, name, diags); },
                    default_attrs(op));
}

}  // namespace egfuse
