// E-graph core: hash-consing, union-find, deferred rebuilding (egg's
// "rebuilding" worklists), proof-forest bookkeeping, terms.
#include "egfuse/egraph.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "egfuse/trace.hpp"

namespace egfuse::eg {

// ---------------------------------------------------------------- symbols
SymbolTable::SymbolTable(std::string_view first) { intern(first); }

Sym SymbolTable::intern(std::string_view s) {
  auto it = index_.find(s);
  if (it != index_.end()) return it->second;
  names_.push_back(std::make_unique<std::string>(s));
  Sym id = Sym(names_.size() - 1);
  index_.emplace(std::string_view(*names_.back()), id);
  return id;
}

std::optional<Sym> SymbolTable::find(std::string_view s) const {
  auto it = index_.find(s);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------- terms
std::string number_text(double v) {
  if (v == 0) return "0";
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string to_string(const Term& t) {
  std::string head = t.is_number ? number_text(t.number) : t.op + t.attrs;
  if (t.args.empty()) return head;
  std::string s = "(" + head;
  for (auto& a : t.args) s += " " + to_string(a);
  return s + ")";
}

namespace {
struct TermParser {
  std::string_view s;
  size_t i = 0;
  [[noreturn]] void fail(const std::string& what) {
    throw Error("term:1:" + std::to_string(i + 1) + ": " + what + "\n  " + std::string(s) + "\n  " +
                std::string(i, ' ') + "^");
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  std::string atom() {
    size_t b = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != '(' && s[i] != ')') {
      if (s[i] == '{') {
        int depth = 0;
        do {
          if (s[i] == '{') ++depth;
          if (s[i] == '}') --depth;
          ++i;
        } while (i < s.size() && depth > 0);
        if (depth > 0) fail("expected '}' closing the attributes");
        continue;
      }
      ++i;
    }
    if (i == b) fail("expected an op, symbol or number");
    return std::string(s.substr(b, i - b));
  }
  static Term leaf(const std::string& a) {
    Term t;
    char* end = nullptr;
    double v = std::strtod(a.c_str(), &end);
    bool numeric = (std::isdigit(static_cast<unsigned char>(a[0])) || a[0] == '.' ||
                    ((a[0] == '-' || a[0] == '+') && a.size() > 1 &&
                     (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.')));
    if (numeric && end && *end == 0) {
      t.is_number = true;
      t.number = v == 0 ? 0.0 : v;
      t.op = number_text(t.number);
      return t;
    }
    size_t brace = a.find('{');
    t.op = a.substr(0, brace);
    if (brace != std::string::npos) t.attrs = a.substr(brace);
    return t;
  }
  Term term() {
    ws();
    if (i >= s.size()) fail("expected a term");
    if (s[i] == ')') fail("unexpected ')'");
    if (s[i] != '(') return leaf(atom());
    ++i;
    ws();
    if (i < s.size() && s[i] == '(') fail("expected an op name after '('");
    Term t = leaf(atom());
    if (t.is_number) fail("a number cannot be applied");
    for (;;) {
      ws();
      if (i >= s.size()) fail("expected ')'");
      if (s[i] == ')') {
        ++i;
        return t;
      }
      t.args.push_back(term());
    }
  }
};
}  // namespace

Term parse_term(std::string_view text) {
  TermParser p{text};
  Term t = p.term();
  p.ws();
  if (p.i != text.size()) p.fail("unexpected text after the term");
  return t;
}

// ---------------------------------------------------------------- construction
EGraph::EGraph(EGraphOptions opts) : opts_(opts) {
  numbers_.reserve(16);
  read_sets_.push_back({});
  types_.push_back({});
  read_union_cache_.assign(1024, {~0ull, 0});
  memo_.assign(1024, {0, kNoId});
  for (const char* name : {"+", "-", "*", "/", "add", "sub", "mul", "div", "neg"}) op_info(op(name)).fold = builtin_fold(name);
}
EGraph::~EGraph() = default;

uint32_t EGraph::number_index(double v) {
  if (v == 0) v = 0;  // -0 and 0 are one literal
  uint64_t bits = std::bit_cast<uint64_t>(v);
  auto it = number_index_.find(bits);
  if (it != number_index_.end()) return it->second;
  numbers_.push_back(v);
  number_index_.emplace(bits, uint32_t(numbers_.size() - 1));
  return uint32_t(numbers_.size() - 1);
}

std::optional<uint32_t> EGraph::find_number(double v) const {
  if (v == 0) v = 0;
  auto it = number_index_.find(std::bit_cast<uint64_t>(v));
  if (it == number_index_.end()) return std::nullopt;
  return it->second;
}

OpInfo& EGraph::op_info(Sym s) {
  if (op_info_.size() <= s) op_info_.resize(s + 1);
  if (!op_info_[s]) op_info_[s] = std::make_unique<OpInfo>();
  return *op_info_[s];
}

uint32_t EGraph::intern_rule(std::string name, std::string location) {
  for (size_t i = 0; i < rule_names_.size(); ++i)
    if (rule_names_[i].first == name && rule_names_[i].second == location) return uint32_t(i);
  rule_names_.emplace_back(std::move(name), std::move(location));
  return uint32_t(rule_names_.size() - 1);
}

inline uint64_t EGraph::hash_node(Sym op, uint32_t payload, std::span<const Id> ch) const {
  // The hot helpers here are `inline`: the library is built with -fPIC, where
  // an ordinary member function could be interposed and is never inlined.
  // FxHash-style mixing: fast, and good enough with the final avalanche.
  constexpr uint64_t k = 0x9E3779B97F4A7C15ull;
  uint64_t h = (uint64_t(op) << 32 | payload) * k;
  for (Id c : ch) h = (std::rotl(h, 5) ^ c) * k;
  h ^= uint64_t(ch.size());
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

inline Id EGraph::memo_find(uint64_t h, Sym op, uint32_t payload, std::span<const Id> ch) const {
  size_t mask = memo_.size() - 1;
  uint32_t h32 = uint32_t(h);
  for (size_t i = h32 & mask;; i = (i + 1) & mask) {
    const MemoSlot& s = memo_[i];
    if (s.node == kNoId) return kNoId;
    if (s.hash != h32) continue;
    const NodeRec& r = nodes_[s.node];
    if (r.op == op && r.payload == payload && r.arity == ch.size() &&
        std::equal(ch.begin(), ch.end(), children_.begin() + r.child_off))
      return s.node;
  }
}

void EGraph::memo_grow() {
  std::vector<MemoSlot> old(memo_.size() * 2, {0, kNoId});
  old.swap(memo_);
  size_t mask = memo_.size() - 1;
  for (const MemoSlot& s : old) {
    if (s.node == kNoId) continue;
    size_t i = s.hash & mask;
    while (memo_[i].node != kNoId) i = (i + 1) & mask;
    memo_[i] = s;
  }
}

inline void EGraph::memo_insert(uint64_t h, Id n) {
  if ((memo_count_ + 1) * 2 > memo_.size()) memo_grow();  // load factor at most 1/2: short probe chains
  size_t mask = memo_.size() - 1;
  size_t i = uint32_t(h) & mask;
  while (memo_[i].node != kNoId) i = (i + 1) & mask;
  memo_[i] = {uint32_t(h), n};
  ++memo_count_;
}

void EGraph::memo_erase(Id n) {
  NodeRef nd = node(n);
  uint32_t h32 = uint32_t(hash_node(nd.op, nd.payload, nd.children));
  size_t mask = memo_.size() - 1;
  size_t i = h32 & mask;
  for (;; i = (i + 1) & mask) {
    if (memo_[i].node == kNoId) return;  // not in the memo (a dead duplicate)
    if (memo_[i].node == n) break;
  }
  // Backward-shift deletion keeps probe chains intact without tombstones.
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (memo_[j].node == kNoId) break;
    size_t k = memo_[j].hash & mask;
    bool movable = (i <= j) ? (k <= i || k > j) : (k <= i && k > j);
    if (movable) {
      memo_[i] = memo_[j];
      i = j;
    }
  }
  memo_[i] = {0, kNoId};
  --memo_count_;
}

inline Id EGraph::new_id(Sym op, std::span<const Id> children, uint32_t payload) {
  Id id = Id(nodes_.size());
  nodes_.push_back({op, payload, uint32_t(children_.size()), uint32_t(children.size()), 0});
  for (Id c : children) children_.push_back(c);
  uf_.push_back(id);
  slot_of_.push_back(~0u);
  if (opts_.explanations) proof_.push_back({});
  return id;
}

void EGraph::new_class(Id id) {
  uint32_t s;
  if (!free_slots_.empty()) {
    s = free_slots_.back();
    free_slots_.pop_back();
  } else {
    s = class_slots_++;
    if ((s >> kChunkBits) >= class_chunks_.size()) class_chunks_.push_back(std::make_unique<EClass[]>(size_t(1) << kChunkBits));
  }
  slot_of_[id] = s;
  EClass& c = class_slot(s);
  c.nodes.clear();
  c.nodes.push_back(id);
  c.parents.clear();
  ++live_classes_;
  NodeRef nd = node(id);
  for (size_t i = 0; i < nd.children.size(); ++i) {
    Id ch = nd.children[i];
    bool seen = false;
    for (size_t j = 0; j < i; ++j) seen |= nd.children[j] == ch;
    if (!seen) slot(ch).parents.push_back(id);
  }
  c.data = make(id);
  if (Trace* tr = trace(); tr && tr->options().matches)
    tr->event("add").num("id", id).str("op", op_name(nd.op)).num("arity", int64_t(nd.children.size()));
  modify(id);
}

Id EGraph::add(Sym op, std::span<const Id> children, uint32_t payload) {
  if (opts_.explanations) return find(add_uncanonical(op, children, payload));
  Id small[8];
  std::vector<Id> big;
  Id* canon = small;
  if (children.size() > 8) {
    big.resize(children.size());
    canon = big.data();
  }
  for (size_t i = 0; i < children.size(); ++i) canon[i] = find_mut(children[i]);
  std::span<const Id> ch(canon, children.size());
  uint64_t h = hash_node(op, payload, ch);
  Id m = memo_find(h, op, payload, ch);
  if (m != kNoId) return find(m);
  Id id = new_id(op, ch, payload);
  memo_insert(h, id);
  new_class(id);
  return find(id);
}

std::optional<Id> EGraph::lookup(Sym op, std::span<const Id> children, uint32_t payload) const {
  std::vector<Id> canon;
  canon.reserve(children.size());
  for (Id c : children) canon.push_back(find(c));
  Id m = memo_find(hash_node(op, payload, canon), op, payload, canon);
  if (m == kNoId) return std::nullopt;
  return find(m);
}

Id EGraph::add_uncanonical(Sym op, std::span<const Id> children, uint32_t payload) {
  if (!opts_.explanations) return add(op, children, payload);
  uint64_t key = hash_node(op, payload, children);
  auto& bucket = uncanon_[key];
  for (Id x : bucket) {
    const NodeRec& r = nodes_[x];
    if (r.op == op && r.payload == payload && r.arity == children.size() &&
        std::equal(children.begin(), children.end(), orig_children_.begin() + orig_off_[x]))
      return x;
  }
  std::vector<Id> raw(children.begin(), children.end());
  std::vector<Id> canon;
  canon.reserve(raw.size());
  for (Id c : raw) canon.push_back(find_mut(c));
  uint64_t h = hash_node(op, payload, canon);
  Id m = memo_find(h, op, payload, canon);
  Id id = new_id(op, m == kNoId ? std::span<const Id>(canon) : std::span<const Id>(raw), payload);
  orig_off_.push_back(uint32_t(orig_children_.size()));
  orig_children_.insert(orig_children_.end(), raw.begin(), raw.end());
  uncanon_[key].push_back(id);
  if (m != kNoId) {
    // An alias of an existing e-node: equal to it by congruence of its children.
    uf_[id] = find(m);
    proof_union(id, m, {Justification::congruence});
    return id;
  }
  memo_insert(h, id);
  new_class(id);
  return id;
}

std::span<const Id> EGraph::original_children(Id n) const {
  if (!opts_.explanations) return node(n).children;
  return std::span<const Id>(orig_children_.data() + orig_off_[n], nodes_[n].arity);
}

Id EGraph::add_term(const Term& t) {
  std::vector<Id> kids;
  kids.reserve(t.args.size());
  for (auto& a : t.args) kids.push_back(add_term(a));
  if (t.is_number) return opts_.explanations ? add_uncanonical(kNumOp, {}, number_index(t.number)) : add_number(t.number);
  Sym o = op(t.op);
  uint32_t a = attrs(t.attrs);
  return opts_.explanations ? add_uncanonical(o, kids, a) : add(o, kids, a);
}

std::optional<Id> EGraph::lookup_term(const Term& t) const {
  std::vector<Id> kids;
  for (auto& a : t.args) {
    auto k = lookup_term(a);
    if (!k) return std::nullopt;
    kids.push_back(*k);
  }
  if (t.is_number) {
    double v = t.number == 0 ? 0.0 : t.number;
    auto it = number_index_.find(std::bit_cast<uint64_t>(v));
    if (it == number_index_.end()) return std::nullopt;
    return lookup(kNumOp, {}, it->second);
  }
  auto o = ops_.find(t.op);
  auto a = attrs_.find(t.attrs);
  if (!o || !a) return std::nullopt;
  return lookup(*o, kids, *a);
}

// ---------------------------------------------------------------- union and rebuild
void EGraph::proof_union(Id a, Id b, Justification why) {
  // Make `a` the root of its proof tree (reversing the edges on the way,
  // which flips the direction of each rule edge), then hang it below b.
  Id prev = kNoId;
  Justification pj{};
  for (Id cur = a; cur != kNoId;) {
    ProofEdge next = proof_[cur];
    proof_[cur] = {prev, pj};
    prev = cur;
    pj = next.why;
    pj.backward = !pj.backward;
    cur = next.next;
  }
  proof_[a] = {b, why};
}

bool EGraph::merge(Id a, Id b, Justification why) {
  Id ra = find_mut(a), rb = find_mut(b);
  if (ra == rb) return false;
  if (opts_.explanations) proof_union(a, b, why);
  // The class with more parents stays root: fewer parents to re-canonicalize.
  if (slot(ra).parents.size() < slot(rb).parents.size() ||
      (slot(ra).parents.size() == slot(rb).parents.size() && rb < ra))
    std::swap(ra, rb);
  if (Trace* tr = trace()) {
    auto e = tr->event("union");
    e.num("a", a).num("b", b).num("root", ra);
    static const char* kinds[] = {"none", "rule", "congruence", "constant_fold", "user"};
    e.str("why", kinds[why.kind]);
    if (why.kind == Justification::by_rule && why.rule < rule_names_.size()) {
      e.str("rule", rule_names_[why.rule].first).str("loc", rule_names_[why.rule].second);
      if (why.backward) e.boolean("backward", true);
    }
  }
  uf_[rb] = ra;
  uint32_t sb = slot_of_[rb];
  EClass& A = slot(ra);
  EClass& B = class_slot(sb);
  pending_.insert(pending_.end(), B.parents.begin(), B.parents.end());
  ClassData before_b = B.data;
  bool changed_a = merge_data(A.data, B.data);
  bool changed_b = !(A.data == before_b);
  if (changed_a) analysis_pending_.insert(analysis_pending_.end(), A.parents.begin(), A.parents.end());
  if (changed_b) analysis_pending_.insert(analysis_pending_.end(), B.parents.begin(), B.parents.end());
  A.nodes.append(B.nodes.data(), B.nodes.size());
  A.parents.append(B.parents.data(), B.parents.size());
  B.nodes.release();
  B.parents.release();
  free_slots_.push_back(sb);
  --live_classes_;
  dirty_.push_back(ra);
  modify(ra);
  return true;
}

size_t EGraph::rebuild() {
  size_t congruences = 0;
  while (!pending_.empty() || !analysis_pending_.empty()) {
    while (!pending_.empty()) {
      Id n = pending_.back();
      pending_.pop_back();
      NodeRec& r = nodes_[n];
      if (r.dead) continue;  // its live twin is a parent of the same classes
      // A node listed twice, or whose children were canonicalized already,
      // keeps its hash-cons entry: nothing to do.
      bool stale = false;
      for (uint32_t i = 0; i < r.arity && !stale; ++i) stale = uf_[children_[r.child_off + i]] != children_[r.child_off + i];
      if (!stale) continue;
      memo_erase(n);
      for (uint32_t i = 0; i < r.arity; ++i) children_[r.child_off + i] = find_mut(children_[r.child_off + i]);
      NodeRef nd = node(n);
      uint64_t h = hash_node(nd.op, nd.payload, nd.children);
      Id m = memo_find(h, nd.op, nd.payload, nd.children);
      if (m == kNoId) {
        memo_insert(h, n);
      } else {
        // n is now a duplicate of m: it leaves the class lists (rebuild_classes).
        nodes_[n].dead = 1;
        if (find(m) != find(n)) {
          merge(m, n, {Justification::congruence});
          ++congruences;
        }
      }
      dirty_.push_back(find(n));
    }
    while (!analysis_pending_.empty()) {
      Id n = analysis_pending_.back();
      analysis_pending_.pop_back();
      Id c = find_mut(n);
      ClassData d = make(n);
      EClass& cls = slot(c);
      if (merge_data(cls.data, d)) {
        analysis_pending_.insert(analysis_pending_.end(), cls.parents.begin(), cls.parents.end());
        modify(c);
      }
    }
  }
  rebuild_classes();
  if (Trace* tr = trace())
    tr->event("rebuild").num("congruence", int64_t(congruences)).num("nodes", int64_t(num_nodes()))
        .num("classes", int64_t(num_classes()));
  return congruences;
}

void EGraph::rebuild_classes() {
  // Each dirty class once (a mark per class slot instead of sorting dirty_);
  // the order does not matter, every class is handled on its own.
  if (class_mark_.size() < class_slots_) class_mark_.resize(class_slots_, 0);
  size_t w = 0;
  for (Id d : dirty_) {
    Id c = find_mut(d);
    uint32_t s = slot_of_[c];
    if (class_mark_[s]) continue;
    class_mark_[s] = 1;
    dirty_[w++] = c;
  }
  dirty_.resize(w);
  for (Id c : dirty_) {
    class_mark_[slot_of_[c]] = 0;
    // Drop duplicates (dead nodes) and order by (op, id): one op's nodes form
    // a contiguous range. The keys make the sort cheap (no node comparisons).
    EClass& cls = slot(c);
    sort_keys_.clear();
    for (Id n : cls.nodes)
      if (!nodes_[n].dead) sort_keys_.push_back(uint64_t(nodes_[n].op) << 32 | n);
    if (!std::is_sorted(sort_keys_.begin(), sort_keys_.end())) std::sort(sort_keys_.begin(), sort_keys_.end());
    cls.nodes.resize(sort_keys_.size());
    for (size_t i = 0; i < sort_keys_.size(); ++i) cls.nodes[i] = Id(sort_keys_[i]);
    // Parents are not deduplicated (as in egg): a duplicate only costs one
    // more re-canonicalization, sorting them every rebuild costs more.
  }
  dirty_.clear();
  for (auto& v : by_op_) v.clear();
  for (Id c = 0; c < uf_.size(); ++c) {
    if (uf_[c] != c) continue;
    const EClass& cls = slot(c);
    Sym prev = ~0u;
    for (Id n : cls.nodes) {
      Sym o = nodes_[n].op;
      if (o == prev) continue;
      prev = o;
      if (by_op_.size() <= o) by_op_.resize(o + 1);
      by_op_[o].push_back(c);
    }
  }
}

size_t EGraph::num_listed_nodes() const {
  size_t n = 0;
  for (Id c = 0; c < uf_.size(); ++c)
    if (uf_[c] == c) n += slot(c).nodes.size();
  return n;
}

std::vector<Id> EGraph::classes() const {
  std::vector<Id> out;
  out.reserve(live_classes_);
  for (Id c = 0; c < uf_.size(); ++c)
    if (uf_[c] == c) out.push_back(c);
  return out;
}

std::span<const Id> EGraph::class_nodes(Id c) const { return slot(find(c)).nodes; }
std::span<const Id> EGraph::class_parents(Id c) const { return slot(find(c)).parents; }

std::span<const Id> EGraph::class_nodes_with_op(Id c, Sym op) const {
  const IdList& ns = slot(c).nodes;
  const Id* lo = std::partition_point(ns.begin(), ns.end(), [&](Id n) { return nodes_[n].op < op; });
  const Id* hi = lo;
  while (hi != ns.end() && nodes_[*hi].op == op) ++hi;
  return std::span<const Id>(lo, size_t(hi - lo));
}

std::span<const Id> EGraph::classes_with_op(Sym op) const {
  if (op >= by_op_.size()) return {};
  return by_op_[op];
}

// ---------------------------------------------------------------- inspection
size_t EGraph::memory_bytes() const {
  size_t b = nodes_.capacity() * sizeof(NodeRec) + children_.capacity() * sizeof(Id) + uf_.capacity() * sizeof(Id) +
             slot_of_.capacity() * sizeof(uint32_t) + class_chunks_.size() * (sizeof(EClass) << kChunkBits) +
             memo_.capacity() * sizeof(MemoSlot) + free_slots_.capacity() * sizeof(uint32_t);
  for (uint32_t i = 0; i < class_slots_; ++i) {
    const EClass& c = class_slot(i);
    if (c.nodes.capacity() > 2) b += c.nodes.capacity() * sizeof(Id);
    if (c.parents.capacity() > 2) b += c.parents.capacity() * sizeof(Id);
  }
  for (const auto& v : by_op_) b += v.capacity() * sizeof(Id);
  b += proof_.capacity() * sizeof(ProofEdge) + orig_children_.capacity() * sizeof(Id) +
       orig_off_.capacity() * sizeof(uint32_t);
  for (const auto& r : read_sets_) b += r.capacity() * sizeof(uint32_t) + sizeof(r);
  return b;
}

std::string EGraph::check_invariants() const {
  if (!clean()) return "e-graph not rebuilt";
  size_t listed = 0;
  for (Id c : classes()) {
    const EClass& cls = slot(c);
    for (size_t i = 0; i < cls.nodes.size(); ++i) {
      Id n = cls.nodes[i];
      if (find(n) != c) return "node " + std::to_string(n) + " listed in class " + std::to_string(c) + " but finds " + std::to_string(find(n));
      NodeRef nd = node(n);
      for (Id ch : nd.children)
        if (find(ch) != ch) return "node " + std::to_string(n) + " has a non-canonical child";
      Id m = memo_find(hash_node(nd.op, nd.payload, nd.children), nd.op, nd.payload, nd.children);
      if (m == kNoId) return "node " + std::to_string(n) + " missing from the hash-cons";
      if (find(m) != c) return "congruence broken: node " + std::to_string(n) + " in class " + std::to_string(c) + " equals node " + std::to_string(m) + " of class " + std::to_string(find(m));
      if (m != n || nodes_[n].dead) return "duplicate node " + std::to_string(n) + " in class " + std::to_string(c);
      if (i > 0) {
        Id p = cls.nodes[i - 1];
        if (nodes_[n].op < nodes_[p].op || (nodes_[n].op == nodes_[p].op && n < p))
          return "class " + std::to_string(c) + " not ordered by (op, id)";
      }
      ++listed;
    }
  }
  if (!opts_.prune_folded && listed != memo_count_)
    return "hash-cons holds " + std::to_string(memo_count_) + " nodes, classes list " + std::to_string(listed);
  return "";
}

Term EGraph::node_term(Id n) const {
  Term t;
  const NodeRec& r = nodes_[n];
  if (r.op == kNumOp) {
    t.is_number = true;
    t.number = numbers_[r.payload];
    t.op = number_text(t.number);
    return t;
  }
  t.op = ops_.name(r.op);
  t.attrs = attrs_.name(r.payload);
  for (Id c : original_children(n)) t.args.push_back(node_term(c));
  return t;
}

Term EGraph::smallest_term(Id c) const {
  // Bellman-Ford over classes: size of the smallest term of each class.
  std::vector<Id> cls = classes();
  std::vector<uint64_t> best(uf_.size(), ~0ull);
  std::vector<Id> pick(uf_.size(), kNoId);
  for (bool changed = true; changed;) {
    changed = false;
    for (Id k : cls) {
      for (Id n : slot(k).nodes) {
        uint64_t s = 1;
        for (Id ch : node(n).children) {
          uint64_t b = best[find(ch)];
          s = b == ~0ull ? ~0ull : std::min<uint64_t>(s + b, ~0ull >> 2);
          if (s == ~0ull) break;
        }
        if (s < best[k]) {
          best[k] = s;
          pick[k] = n;
          changed = true;
        }
      }
    }
  }
  std::function<Term(Id)> build = [&](Id k) {
    Id n = pick[find(k)];
    Term t;
    const NodeRec& r = nodes_[n];
    if (r.op == kNumOp) {
      t.is_number = true;
      t.number = numbers_[r.payload];
      t.op = number_text(t.number);
      return t;
    }
    t.op = ops_.name(r.op);
    t.attrs = attrs_.name(r.payload);
    for (Id ch : node(n).children) t.args.push_back(build(ch));
    return t;
  };
  return build(c);
}

}  // namespace egfuse::eg
