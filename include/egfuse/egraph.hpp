// The e-graph: hash-consed e-nodes, union-find e-classes, egg-style deferred
// rebuilding, and a fixed set of e-class analyses.
//
// An e-node is (op symbol, payload, children). The op is an interned string, so
// any user-declared op works. The payload is an interned attribute string
// (IR attributes in canonical print_attrs form, 0 = none) or, for numeric
// literals (op kNumOp), the index of the number in the number table.
//
// Every e-node gets an Id when it is first added; that Id is also the e-class
// it started in. find() gives the current canonical e-class. Ids are dense and
// allocated in order, and no container is iterated in hash order, so the same
// inputs give the same e-graph run after run.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "egfuse/ir.hpp"

namespace egfuse::eg {

using Id = uint32_t;
using Sym = uint32_t;
inline constexpr Id kNoId = ~Id(0);
inline constexpr Sym kNumOp = 0;  // numeric literal; payload = number index

class Trace;

// Interned strings; symbol 0 of the op table is "<num>", of the attribute table "".
class SymbolTable {
 public:
  explicit SymbolTable(std::string_view first);
  Sym intern(std::string_view s);
  std::optional<Sym> find(std::string_view s) const;
  const std::string& name(Sym s) const { return *names_[s]; }
  size_t size() const { return names_.size(); }

 private:
  std::vector<std::unique_ptr<std::string>> names_;  // stable addresses for the index keys
  std::unordered_map<std::string_view, Sym> index_;   // lookup only, never iterated
};

// A growable array of ids with room for two inline: most e-classes hold one
// or two nodes and parents, so they need no allocation. 16 bytes.
class IdList {
 public:
  IdList() : size_(0), cap_(kInline) {}
  ~IdList() { release(); }
  IdList(IdList&& o) noexcept { steal(o); }
  IdList& operator=(IdList&& o) noexcept {
    if (this != &o) {
      release();
      steal(o);
    }
    return *this;
  }
  IdList(const IdList&) = delete;
  IdList& operator=(const IdList&) = delete;

  Id* data() { return cap_ > kInline ? heap_ : inl_; }
  const Id* data() const { return cap_ > kInline ? heap_ : inl_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }
  Id* begin() { return data(); }
  Id* end() { return data() + size_; }
  const Id* begin() const { return data(); }
  const Id* end() const { return data() + size_; }
  Id& operator[](size_t i) { return data()[i]; }
  Id operator[](size_t i) const { return data()[i]; }
  operator std::span<const Id>() const { return {data(), size_}; }

  void push_back(Id x) {
    if (size_ == cap_) grow(size_ + 1);
    data()[size_++] = x;
  }
  void append(const Id* p, size_t n) {
    if (size_ + n > cap_) grow(size_ + n);
    if (n) std::memcpy(data() + size_, p, n * sizeof(Id));
    size_ += uint32_t(n);
  }
  void resize(size_t n) {  // new elements are uninitialized
    if (n > cap_) grow(n);
    size_ = uint32_t(n);
  }
  void clear() { size_ = 0; }
  void release() {
    if (cap_ > kInline) std::free(heap_);
    size_ = 0;
    cap_ = kInline;
  }

 private:
  static constexpr uint32_t kInline = 2;
  void grow(size_t need) {
    size_t cap = cap_ * 2 > need ? cap_ * 2 : need;
    Id* p = static_cast<Id*>(std::malloc(cap * sizeof(Id)));
    if (!p) throw std::bad_alloc();
    if (size_) std::memcpy(p, data(), size_ * sizeof(Id));
    if (cap_ > kInline) std::free(heap_);
    heap_ = p;
    cap_ = uint32_t(cap);
  }
  void steal(IdList& o) {
    size_ = o.size_;
    cap_ = o.cap_;
    if (cap_ > kInline) heap_ = o.heap_;
    else std::memcpy(inl_, o.inl_, sizeof inl_);
    o.size_ = 0;
    o.cap_ = kInline;
  }
  union {
    Id inl_[kInline];
    Id* heap_;
  };
  uint32_t size_, cap_;
};

// A read-only view of one e-node.
struct NodeRef {
  Sym op;
  uint32_t payload;
  std::span<const Id> children;
};

// A term as a tree: input to the e-graph, output of extraction and explanations.
struct Term {
  std::string op;             // op name; for a number its canonical text
  std::string attrs;          // canonical attribute text ("" none)
  bool is_number = false;
  double number = 0;
  std::vector<Term> args;
  bool operator==(const Term&) const = default;
};
std::string to_string(const Term&);  // (op a b) s-expression; leaves bare; attrs as op{...}
// Parses an s-expression term: (f a b), numbers, symbols, op{attrs}(...) not needed:
// f{k=v} is accepted as a head. Throws egfuse::Error with the column on bad input.
Term parse_term(std::string_view text);
std::string number_text(double v);  // shortest text that reads back exactly

// ---------------------------------------------------------------- analysis
// The per-class analysis data: a fixed struct, so the hot path makes and
// merges it without virtual calls. Extensions use the hooks below.
struct ClassData {
  enum : uint8_t { kConst = 1, kSymbol = 2, kPointwise = 4, kHasLiteral = 8 };
  double constant = 0;   // valid when flags & kConst
  uint32_t type = 0;     // index into EGraph::types() (0 = unknown)
  uint32_t reads = 0;    // index into EGraph::read_sets() (0 = reads no storage version)
  uint32_t user = 0;     // a slot an extension owns (merged by AnalysisHooks::merge_user)
  uint8_t flags = 0;
  bool has_const() const { return flags & kConst; }
  bool is_symbol() const { return flags & kSymbol; }
  bool pointwise() const { return flags & kPointwise; }
  bool operator==(const ClassData&) const = default;
};

// Per-op properties, from rule-file op declarations or set by the embedder.
struct OpInfo {
  bool pointwise = false, reduction = false, view = false, commutative = false;
  bool storage_leaf = false;  // a leaf that defines a storage version (graph input, mutation output)
  bool materialize = false;   // buf: its kernel runs first, so reads do not propagate through it
  // Template buffers (from template declarations): a template node's children
  // are its inputs in declaration order.
  bool is_template = false, epilogue = false;
  std::vector<int32_t> mutated_inputs, prologue_inputs;
  std::vector<std::string> input_names;
  std::function<std::optional<double>(std::span<const double>)> fold;  // constant folding
};

// Hooks an embedder (the fusion layer) installs to extend the analysis. Each is
// optional; an empty one costs one branch.
struct AnalysisHooks {
  // Called after the generic make() of a new node: may fill type, reads, user.
  std::function<void(const class EGraph&, Id node, ClassData&)> make;
  // Merge of the user slot; returns true when `into` changed.
  std::function<bool(uint32_t& into, uint32_t from)> merge_user;
  // Called after a class's data changed (egg's modify): may add nodes and union.
  std::function<void(class EGraph&, Id cls)> modify;
};

struct EGraphOptions {
  bool explanations = false;   // keep a proof forest (costs memory per node)
  bool fold_constants = true;  // add the literal to every class with a constant value
  bool prune_folded = false;   // egg's math example: drop non-leaf nodes of constant classes
};

// Why two classes were merged (for explanations and the trace).
struct Justification {
  enum Kind : uint8_t { none, by_rule, congruence, constant_fold, user } kind = none;
  uint32_t rule = 0;           // index into EGraph::rule_names() for kind by_rule
  bool backward = false;       // rule applied right to left
};

// The built-in folding function for an arithmetic op name (+ - * / pow neg
// abs max min sqrt exp log and the IR names add sub mul div ...), or an empty
// function. New EGraphs fold + - * / add sub mul div neg by default.
std::function<std::optional<double>(std::span<const double>)> builtin_fold(std::string_view name);

class EGraph {
 public:
  explicit EGraph(EGraphOptions opts = {});
  ~EGraph();
  EGraph(const EGraph&) = delete;
  EGraph& operator=(const EGraph&) = delete;

  // ---- symbols
  Sym op(std::string_view name) { return ops_.intern(name); }
  const std::string& op_name(Sym s) const { return ops_.name(s); }
  const SymbolTable& ops() const { return ops_; }
  uint32_t attrs(std::string_view canonical) { return attrs_.intern(canonical); }
  const std::string& attrs_text(uint32_t a) const { return attrs_.name(a); }
  double number(uint32_t payload) const { return numbers_[payload]; }
  uint32_t number_index(double v);
  std::optional<uint32_t> find_number(double v) const;  // without adding

  OpInfo& op_info(Sym s);
  const OpInfo* find_op_info(Sym s) const { return s < op_info_.size() ? op_info_[s].get() : nullptr; }
  AnalysisHooks& hooks() { return hooks_; }

  // ---- building
  Id add(Sym op, std::span<const Id> children, uint32_t payload = 0);
  Id add(Sym op, std::initializer_list<Id> children, uint32_t payload = 0) {
    return add(op, std::span<const Id>(children.begin(), children.size()), payload);
  }
  Id add_number(double v) { return add(kNumOp, {}, number_index(v)); }
  Id add_symbol(std::string_view name) { return add(op(name), {}); }
  Id add_term(const Term& t);
  // The e-node exactly as given (children not canonicalized): with explanations
  // on, a new id whose proof of equality with its canonical twin is congruence.
  Id add_uncanonical(Sym op, std::span<const Id> children, uint32_t payload = 0);
  std::optional<Id> lookup(Sym op, std::span<const Id> children, uint32_t payload = 0) const;
  std::optional<Id> lookup_term(const Term& t) const;

  // ---- union-find
  Id find(Id id) const {
    while (uf_[id] != id) id = uf_[id];
    return id;
  }
  Id find_mut(Id id) {
    Id root = find(id);
    while (uf_[id] != root) { Id next = uf_[id]; uf_[id] = root; id = next; }
    return root;
  }
  // Merges the classes of a and b (the given ids, not only their roots, are
  // recorded in the proof forest). Returns true when they were different.
  bool merge(Id a, Id b, Justification why = {});
  // Restores the congruence and hash-cons invariants and the analyses.
  // Returns the number of unions done by congruence.
  size_t rebuild();
  bool clean() const { return pending_.empty() && analysis_pending_.empty() && dirty_.empty(); }

  // ---- inspection (valid after rebuild())
  size_t num_nodes() const { return memo_count_; }  // distinct canonical e-nodes
  size_t num_classes() const { return live_classes_; }
  size_t num_listed_nodes() const;  // sum of class node lists (egg's total_number_of_nodes)
  size_t num_ids() const { return uf_.size(); }
  NodeRef node(Id n) const {
    const NodeRec& r = nodes_[n];
    return {r.op, r.payload, std::span<const Id>(children_.data() + r.child_off, r.arity)};
  }
  // Canonical class ids in increasing order.
  std::vector<Id> classes() const;
  bool is_class(Id c) const { return uf_[c] == c; }
  // Nodes of a class, ordered by (op, id), without duplicates.
  std::span<const Id> class_nodes(Id c) const;
  std::span<const Id> class_parents(Id c) const;
  // Nodes of class c with op `op` (a sub-range of class_nodes).
  std::span<const Id> class_nodes_with_op(Id c, Sym op) const;
  // Classes that contain a node with op `op`, in increasing order.
  std::span<const Id> classes_with_op(Sym op) const;
  const ClassData& data(Id c) const { return slot(find(c)).data; }
  ClassData& data_mut(Id c) { return slot(find(c)).data; }

  // Types and read sets referenced by ClassData.
  uint32_t intern_type(const TensorType& t);
  const TensorType* type(Id c) const;
  void set_type(Id c, const TensorType& t);
  uint32_t intern_read_set(std::vector<uint32_t> sorted_versions);
  std::span<const uint32_t> read_set(uint32_t index) const { return read_sets_[index]; }
  uint32_t union_read_sets(uint32_t a, uint32_t b);

  // ---- explanations (see explain.hpp)
  const EGraphOptions& options() const { return opts_; }
  uint32_t intern_rule(std::string name, std::string location);
  const std::vector<std::pair<std::string, std::string>>& rule_names() const { return rule_names_; }
  struct ProofEdge {
    Id next = kNoId;  // parent in the proof forest
    Justification why;
  };
  const std::vector<ProofEdge>& proof_forest() const { return proof_; }
  std::span<const Id> original_children(Id n) const;  // children as first added (explanations on)

  // ---- trace (may be null; not owned)
  void set_trace(Trace* t) { trace_ = t; }
#ifdef EGFUSE_EGRAPH_NO_TRACE
  // A build without any trace hook (bench_egraph_notrace measures what the
  // hooks cost when the trace is off): every event site folds away.
  Trace* trace() const { return nullptr; }
#else
  Trace* trace() const { return trace_; }
#endif

  // Bytes held by the e-graph's containers (capacity), for the memory figure.
  size_t memory_bytes() const;
  // Checks every invariant (hash-cons, congruence, class lists); returns "" or a message.
  std::string check_invariants() const;

  // A term for class c: the smallest-by-size representative (for printing).
  Term smallest_term(Id c) const;
  Term node_term(Id n) const;  // the term a node id was built from (explanations on: original children)

 private:
  struct NodeRec {
    Sym op;
    uint32_t payload;
    uint32_t child_off;
    uint32_t arity : 31;
    uint32_t dead : 1;  // a duplicate found by rebuild: out of the hash-cons and the class lists
  };
  struct EClass {
    IdList nodes, parents;
    ClassData data;
  };
  // Class slots live in fixed-size chunks: indexing is a shift and a mask,
  // and references stay valid while classes are added.
  static constexpr uint32_t kChunkBits = 12;
  EClass& class_slot(uint32_t s) { return class_chunks_[s >> kChunkBits][s & ((1u << kChunkBits) - 1)]; }
  const EClass& class_slot(uint32_t s) const { return class_chunks_[s >> kChunkBits][s & ((1u << kChunkBits) - 1)]; }
  EClass& slot(Id root) { return class_slot(slot_of_[root]); }
  const EClass& slot(Id root) const { return class_slot(slot_of_[root]); }

  Id new_id(Sym op, std::span<const Id> children, uint32_t payload);
  void new_class(Id id);
  uint64_t hash_node(Sym op, uint32_t payload, std::span<const Id> ch) const;
  // memo: open addressing, linear probing, backward-shift deletion.
  Id memo_find(uint64_t h, Sym op, uint32_t payload, std::span<const Id> ch) const;
  void memo_insert(uint64_t h, Id n);
  void memo_erase(Id n);
  void memo_grow();
  ClassData make(Id n);
  bool merge_data(ClassData& into, const ClassData& from);
  void modify(Id c);
  void proof_union(Id a, Id b, Justification why);
  void rebuild_classes();

  EGraphOptions opts_;
  SymbolTable ops_{"<num>"}, attrs_{""};
  std::vector<double> numbers_;
  std::unordered_map<uint64_t, uint32_t> number_index_;  // bit pattern -> index; lookup only
  std::vector<std::unique_ptr<OpInfo>> op_info_;
  AnalysisHooks hooks_;

  std::vector<NodeRec> nodes_;      // per id
  std::vector<Id> children_;        // arena; canonicalized in place by rebuild
  std::vector<Id> uf_;              // per id
  std::vector<uint32_t> slot_of_;   // per id: class slot (valid for roots)
  std::vector<std::unique_ptr<EClass[]>> class_chunks_;
  uint32_t class_slots_ = 0;  // slots handed out so far
  std::vector<uint32_t> free_slots_;
  size_t live_classes_ = 0;
  struct MemoSlot {
    uint32_t hash;
    Id node;
  };
  std::vector<MemoSlot> memo_;
  size_t memo_count_ = 0;

  std::vector<Id> pending_, analysis_pending_, dirty_;
  std::vector<std::vector<Id>> by_op_;  // op -> classes, rebuilt by rebuild()

  std::vector<TensorType> types_;
  std::unordered_map<std::string, uint32_t> type_index_;                 // lookup only
  std::unordered_map<uint64_t, std::vector<uint32_t>> read_set_index_;   // lookup only
  std::vector<std::vector<uint32_t>> read_sets_;
  std::vector<std::pair<uint64_t, uint32_t>> read_union_cache_;  // small direct-mapped cache

  // explanations
  std::vector<ProofEdge> proof_;
  std::vector<Id> orig_children_;     // arena of original children
  std::vector<uint32_t> orig_off_;    // per id
  std::unordered_map<uint64_t, std::vector<Id>> uncanon_;  // exact-node hash -> ids; lookup only
  std::vector<std::pair<std::string, std::string>> rule_names_;

  Trace* trace_ = nullptr;
  std::vector<uint64_t> sort_keys_;
  std::vector<uint8_t> class_mark_;  // per class slot: listed in dirty_ (rebuild_classes)
  bool in_modify_ = false;
  friend class Explainer;
};

}  // namespace egfuse::eg
