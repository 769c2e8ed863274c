// The e-class analyses: constant value (folding), symbol-ness, pointwise-ness,
// the set of storage versions read, and the tensor type slot. make() computes
// the data of one e-node from its children, merge_data() joins two classes'
// data (a lattice join, so rebuilding reaches a fixed point), modify() adds
// the literal of a constant class.
#include <algorithm>
#include <cmath>

#include "egfuse/egraph.hpp"

namespace egfuse::eg {

std::function<std::optional<double>(std::span<const double>)> builtin_fold(std::string_view name) {
  using V = std::span<const double>;
  auto finite = [](double r) -> std::optional<double> {
    if (!std::isfinite(r)) return std::nullopt;
    return r == 0 ? 0.0 : r;
  };
  if (name == "+" || name == "add")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 2) return std::nullopt;
      return finite(v[0] + v[1]);
    };
  if (name == "-" || name == "sub")
    return [=](V v) -> std::optional<double> {
      if (v.size() == 1) return finite(-v[0]);
      if (v.size() != 2) return std::nullopt;
      return finite(v[0] - v[1]);
    };
  if (name == "*" || name == "mul")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 2) return std::nullopt;
      return finite(v[0] * v[1]);
    };
  if (name == "/" || name == "div")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 2 || v[1] == 0) return std::nullopt;
      return finite(v[0] / v[1]);
    };
  if (name == "pow")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 2) return std::nullopt;
      return finite(std::pow(v[0], v[1]));
    };
  if (name == "neg")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 1) return std::nullopt;
      return finite(-v[0]);
    };
  if (name == "abs")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 1) return std::nullopt;
      return finite(std::fabs(v[0]));
    };
  if (name == "max" || name == "min")
    return [=, mx = name == "max"](V v) -> std::optional<double> {
      if (v.size() != 2) return std::nullopt;
      return finite(mx ? std::max(v[0], v[1]) : std::min(v[0], v[1]));
    };
  if (name == "sqrt")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 1 || v[0] < 0) return std::nullopt;
      return finite(std::sqrt(v[0]));
    };
  if (name == "exp")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 1) return std::nullopt;
      return finite(std::exp(v[0]));
    };
  if (name == "log" || name == "ln")
    return [=](V v) -> std::optional<double> {
      if (v.size() != 1 || v[0] <= 0) return std::nullopt;
      return finite(std::log(v[0]));
    };
  return {};
}

ClassData EGraph::make(Id n) {
  const NodeRec& r = nodes_[n];
  ClassData d;
  if (r.op == kNumOp) {
    d.constant = numbers_[r.payload];
    d.flags = ClassData::kConst | ClassData::kHasLiteral;
    return d;
  }
  const OpInfo* info = find_op_info(r.op);
  if (r.arity == 0 && !(info && info->storage_leaf)) d.flags |= ClassData::kSymbol;
  if (info && info->pointwise) d.flags |= ClassData::kPointwise;
  // One pass over the children: their constants (for folding) and read sets.
  const bool fold = info && info->fold && r.arity > 0 && r.arity <= 8;
  const bool propagate_reads = !(info && (info->storage_leaf || info->materialize));
  double vals[8];
  bool all_const = fold;
  for (uint32_t i = 0; i < r.arity; ++i) {
    const ClassData& c = slot(find(children_[r.child_off + i])).data;
    if (all_const) {
      all_const = c.has_const();
      vals[i] = c.constant;
    }
    if (propagate_reads && c.reads) d.reads = d.reads ? union_read_sets(d.reads, c.reads) : c.reads;
  }
  if (all_const) {
    if (auto v = info->fold(std::span<const double>(vals, r.arity))) {
      d.constant = *v;
      d.flags |= ClassData::kConst;
    }
  }
  if (info && info->storage_leaf) d.reads = intern_read_set({n});  // a new storage version: reading it reads only itself
  if (hooks_.make) hooks_.make(*this, n, d);
  return d;
}

bool EGraph::merge_data(ClassData& into, const ClassData& from) {
  bool changed = false;
  if (!into.has_const() && from.has_const()) {
    into.constant = from.constant;
    into.flags |= ClassData::kConst;
    changed = true;
  }
  uint8_t flags = into.flags | (from.flags & (ClassData::kSymbol | ClassData::kPointwise | ClassData::kHasLiteral));
  if (flags != into.flags) {
    into.flags = flags;
    changed = true;
  }
  if (!into.type && from.type) {
    into.type = from.type;
    changed = true;
  }
  if (from.reads && from.reads != into.reads) {
    uint32_t u = into.reads ? union_read_sets(into.reads, from.reads) : from.reads;
    if (u != into.reads) {
      into.reads = u;
      changed = true;
    }
  }
  if (hooks_.merge_user && hooks_.merge_user(into.user, from.user)) changed = true;
  return changed;
}

void EGraph::modify(Id c) {
  if (in_modify_) return;  // the literal added below is folded already
  c = find(c);
  ClassData& d = slot(c).data;
  if (opts_.fold_constants && d.has_const() && !(d.flags & ClassData::kHasLiteral)) {
    in_modify_ = true;
    double value = d.constant;
    if (opts_.explanations) {
      // Justify with the folded node itself: op(literals) = literal.
      const IdList& cn = slot(c).nodes;
      for (Id n : std::vector<Id>(cn.begin(), cn.end())) {
        NodeRef nd = node(n);
        const OpInfo* info = find_op_info(nd.op);
        if (!info || !info->fold || nd.children.empty()) continue;
        std::vector<Id> lits;
        std::vector<double> vals;
        for (Id ch : nd.children) {
          const ClassData& cd = slot(find(ch)).data;
          if (!cd.has_const()) break;
          vals.push_back(cd.constant);
          lits.push_back(add_uncanonical(kNumOp, {}, number_index(cd.constant)));
          if (find(lits.back()) != find(ch)) merge(ch, lits.back(), {Justification::constant_fold});
        }
        if (lits.size() != nd.children.size()) continue;
        auto v = info->fold(vals);
        if (!v) continue;
        Id folded = add_uncanonical(nd.op, lits, nd.payload);
        Id lit = add_uncanonical(kNumOp, {}, number_index(*v));
        merge(folded, lit, {Justification::constant_fold});
        break;
      }
    } else {
      Id lit = add_number(value);
      merge(c, lit, {Justification::constant_fold});
    }
    in_modify_ = false;
    c = find(c);
  }
  if (opts_.prune_folded && slot(c).data.has_const()) {
    // As egg's math example: after every union into a constant class, keep
    // only its leaves, so the result does not depend on the order of unions.
    IdList& ns = slot(c).nodes;
    ns.resize(size_t(std::remove_if(ns.begin(), ns.end(), [&](Id n) { return nodes_[n].arity != 0; }) - ns.begin()));
  }
  if (hooks_.modify) hooks_.modify(*this, c);
}

// ---------------------------------------------------------------- types and read sets
uint32_t EGraph::intern_type(const TensorType& t) {
  auto& bucket = type_index_[to_string(t)];
  if (bucket) return bucket;
  types_.push_back(t);
  bucket = uint32_t(types_.size() - 1);
  return bucket;
}

const TensorType* EGraph::type(Id c) const {
  uint32_t t = data(c).type;
  return t ? &types_[t] : nullptr;
}

void EGraph::set_type(Id c, const TensorType& t) { data_mut(c).type = intern_type(t); }

uint32_t EGraph::intern_read_set(std::vector<uint32_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  if (v.empty()) return 0;
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint32_t x : v) h = (h ^ x) * 0x100000001b3ull;
  auto& bucket = read_set_index_[h];
  for (uint32_t i : bucket)
    if (read_sets_[i] == v) return i;
  read_sets_.push_back(std::move(v));
  bucket.push_back(uint32_t(read_sets_.size() - 1));
  return uint32_t(read_sets_.size() - 1);
}

uint32_t EGraph::union_read_sets(uint32_t a, uint32_t b) {
  if (a == b || b == 0) return a;
  if (a == 0) return b;
  if (a > b) std::swap(a, b);
  uint64_t key = uint64_t(a) << 32 | b;
  auto& slot_ = read_union_cache_[(key * 0x9E3779B97F4A7C15ull) >> 54];
  if (slot_.first == key) return slot_.second;
  std::vector<uint32_t> u;
  std::set_union(read_sets_[a].begin(), read_sets_[a].end(), read_sets_[b].begin(), read_sets_[b].end(),
                 std::back_inserter(u));
  uint32_t r = intern_read_set(std::move(u));
  slot_ = {key, r};
  return r;
}

}  // namespace egfuse::eg
