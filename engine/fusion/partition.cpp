// Kernel formation. Each candidate merge of two kernels is judged on the union:
// is it one codegen-able kernel (the guards of the fusion and mutation rules),
// does the kernel order stay acyclic, and does the cost model prefer it.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <unordered_set>

#include "engine/fusion/fusion_detail.hpp"

namespace egfuse::fusion_detail {

std::string_view family_name(Family f) {
  switch (f) {
    case pointwise_inline: return "pointwise-inline";
    case template_epilogue: return "template-epilogue";
    case template_prologue: return "template-prologue";
    case reduction_prologue: return "reduction-prologue";
    case reduction_epilogue: return "reduction-epilogue";
    case extern_epilogue: return "extern-epilogue";
    case horizontal: return "horizontal";
    case multi_output_epilogue: return "multi-output-epilogue";
    case multi_reduction: return "multi-reduction";
    case kNumFamilies: break;
  }
  return "?";
}

Graph clone_views_per_user(const Graph& g, std::vector<NodeId>& origin) {
  // Nodes are appended to `nodes` directly (Graph::add keeps a sorted name
  // index, quadratic on large graphs); names are kept unique here instead, and
  // nothing looks names up in the working graph.
  Graph out;
  out.name = g.name;
  out.nodes.reserve(g.size() + g.size() / 4);
  origin.clear();
  std::vector<NodeId> map(g.size(), kNoNode);
  std::vector<int> uses(g.size(), 0);
  std::unordered_set<std::string> names;
  for (auto& n : g.nodes) names.insert(n.name);
  auto append = [&](Node c, NodeId from) {
    origin.push_back(from);
    out.nodes.push_back(std::move(c));
    return NodeId(out.nodes.size() - 1);
  };
  auto cloned = [&](Op op) { return is_view(op) || op == Op::constant; };
  // A view/constant is copied at each use; the first copy keeps the name.
  std::function<NodeId(NodeId)> use = [&](NodeId n) -> NodeId {
    if (!cloned(g[n].op)) return map[n];
    Node c = g[n];
    for (auto& i : c.inputs) i = use(i);
    if (uses[n]++ > 0) {
      for (int k = uses[n];; ++k) {
        std::string cand = g[n].name + "_" + std::to_string(k);
        if (names.insert(cand).second) {
          c.name = cand;
          break;
        }
      }
    }
    return append(std::move(c), n);
  };
  for (NodeId n = 0; n < g.size(); ++n) {
    if (cloned(g[n].op)) continue;
    Node c = g[n];
    for (auto& i : c.inputs) i = use(i);
    map[n] = append(std::move(c), n);
  }
  for (auto& o : g.outputs) out.outputs.push_back({o.name, use(o.node)});
  return out;
}

namespace {

enum class Heavy : uint8_t { none, template_, extern_, reduction };

class Partitioner {
 public:
  Partitioner(const Graph& g, const TemplateRegistry& reg, const FamilySet& fam, bool multi_output,
              const ReadFilter& fusable, const ChoiceSink& choice)
      : g_(g), reg_(reg), fam_(fam), multi_output_(multi_output), fusable_(fusable), choice_(choice), N_(g.size()) {
    users_ = g.users();
    version_.resize(N_);
    for (NodeId n = 0; n < N_; ++n) version_[n] = plan_detail::version_of(g, n);
    for (auto& o : g.outputs) is_output_.insert(o.node);
    build_order_edges();
    compute_positions();
    // Initial kernels: one per node; mutation outputs with their writer; inputs none.
    group_of_.assign(N_, -1);
    for (NodeId n = 0; n < N_; ++n) {
      const Node& x = g[n];
      if (x.op == Op::input) continue;
      if (x.op == Op::mutation_output) {
        int w = group_of_[x.inputs[0]];
        members_[size_t(w)].push_back(n);
        group_of_[n] = w;
        continue;
      }
      group_of_[n] = int(members_.size());
      members_.push_back({n});
      families_.emplace_back();
    }
    mark_.assign(N_, 0);
    gmark_.assign(members_.size(), 0);
    minpos_.resize(members_.size());
    maxpos_.resize(members_.size());
    for (size_t gi = 0; gi < members_.size(); ++gi) refresh_bounds(int(gi));
  }

  Partition run() {
    vertical();
    horizontal_pass();
    Partition p;
    for (size_t gi = 0; gi < members_.size(); ++gi) {
      auto& m = members_[gi];
      if (m.empty()) continue;
      bool only_views = std::all_of(m.begin(), m.end(), [&](NodeId n) { return is_view(g_[n].op); });
      if (only_views) continue;  // left to the plan: strided alias (or a copy kernel)
      std::vector<NodeId> nodes = m;
      std::sort(nodes.begin(), nodes.end());
      p.groups.push_back({nodes, {}});
      p.families.push_back(families_[gi]);
    }
    return p;
  }

 private:
  // ---------------------------------------------------------------- setup
  void build_order_edges() {
    order_succ_.resize(N_);
    // Readers of each version (non-view nodes reading through any view chain).
    std::vector<std::vector<NodeId>> readers(N_);
    for (NodeId n = 0; n < N_; ++n) {
      if (is_view(g_[n].op)) continue;
      for (NodeId u : g_[n].inputs) {
        auto& r = readers[version_[u]];
        if (r.empty() || r.back() != n) r.push_back(n);
      }
    }
    for (NodeId t = 0; t < N_; ++t) {
      const Node& x = g_[t];
      if (x.op != Op::template_ && x.op != Op::extern_) continue;
      for (int64_t m : mutated_inputs(g_, t, reg_)) {
        NodeId v = version_[x.inputs[size_t(m)]];
        mutated_versions_of_[t].push_back(v);
        for (NodeId r : readers[v])
          if (r != t) order_succ_[r].push_back(t);
      }
    }
  }

  void compute_positions() {
    std::vector<int> indeg(N_, 0);
    for (NodeId n = 0; n < N_; ++n) {
      for (NodeId u : users_[n]) indeg[u]++;
      for (NodeId t : order_succ_[n]) indeg[t]++;
    }
    std::priority_queue<NodeId, std::vector<NodeId>, std::greater<>> ready;
    for (NodeId n = 0; n < N_; ++n)
      if (indeg[n] == 0) ready.push(n);
    pos_.assign(N_, 0);
    uint32_t next = 0;
    while (!ready.empty()) {
      NodeId n = ready.top();
      ready.pop();
      pos_[n] = next++;
      auto visit = [&](NodeId s) {
        if (--indeg[s] == 0) ready.push(s);
      };
      for (NodeId u : users_[n]) visit(u);
      for (NodeId t : order_succ_[n]) visit(t);
    }
    if (next != N_) throw Error("graph '" + g_.name + "' has a read of a version after its overwrite that cannot be ordered");
  }

  void refresh_bounds(int gi) {
    uint32_t lo = ~0u, hi = 0;
    for (NodeId n : members_[size_t(gi)]) {
      lo = std::min(lo, pos_[n]);
      hi = std::max(hi, pos_[n]);
    }
    minpos_[size_t(gi)] = lo;
    maxpos_[size_t(gi)] = hi;
  }

  // ---------------------------------------------------------------- node facts
  int64_t bytes_of(NodeId n) const { return g_[n].type.numel() * dtype_bytes(g_[n].type.dtype); }
  Heavy heavy_kind(NodeId n) const {
    Op op = g_[n].op;
    if (op == Op::template_) return Heavy::template_;
    if (op == Op::extern_) return Heavy::extern_;
    if (is_reduction(op)) return Heavy::reduction;
    return Heavy::none;
  }
  bool light(NodeId n) const { return is_pointwise(g_[n].op) || is_view(g_[n].op); }

  // Marks S (epoch-based) so membership tests are O(1).
  void mark(const std::vector<NodeId>& s) {
    ++epoch_;
    for (NodeId n : s) mark_[n] = epoch_;
  }
  bool in_s(NodeId n) const { return mark_[n] == epoch_; }
  bool materialized_in_s(NodeId n) const {
    if (g_[n].op == Op::mutation_output || is_output_.count(n)) return true;
    for (NodeId u : users_[n])
      if (!in_s(u)) return true;
    return false;
  }

  // ---------------------------------------------------------------- legality
  // Is S one codegen-able kernel? (S is marked.) The guards of the standard
  // fusion and mutation rules, applied to the whole candidate kernel.
  bool legal(const std::vector<NodeId>& s) {
    auto refuse = [&](const char* why) {
      why_ = why;
      return false;
    };
    std::vector<NodeId> heavy;
    for (NodeId n : s)
      if (heavy_kind(n) != Heavy::none) heavy.push_back(n);
    bool all_reductions = !heavy.empty() && std::all_of(heavy.begin(), heavy.end(), [&](NodeId n) {
      return heavy_kind(n) == Heavy::reduction;
    });
    if (all_reductions) return legal_reduction(s, heavy.size());
    if (heavy.size() > 1) return refuse("more than one template, extern or reduction");
    if (heavy.empty()) {
      // Pointwise kernel: every stored value has the same iteration space.
      int64_t numel = -1;
      for (NodeId n : s)
        if (!is_view(g_[n].op) && materialized_in_s(n)) {
          if (numel >= 0 && g_[n].type.numel() != numel) return refuse("stored values of different iteration spaces");
          numel = g_[n].type.numel();
        }
      return true;
    }
    NodeId h = heavy[0];
    Heavy kind = heavy_kind(h);
    // Split S around h: up (feeds h), down (fed by h), nothing else allowed.
    std::vector<NodeId> sorted = s;
    std::sort(sorted.begin(), sorted.end());
    std::set<NodeId> up, down;
    std::vector<NodeId> stack{h};
    while (!stack.empty()) {
      NodeId n = stack.back();
      stack.pop_back();
      for (NodeId i : g_[n].inputs)
        if (in_s(i) && up.insert(i).second) stack.push_back(i);
    }
    for (NodeId n : sorted) {
      if (n <= h) continue;
      for (NodeId i : g_[n].inputs)
        if (i == h || down.count(i)) {
          down.insert(n);
          break;
        }
    }
    // Besides h, its prologue and its epilogue, a heavy kernel holds only views
    // and scalar fills feeding the epilogue (e.g. a broadcast bias, read inline).
    std::vector<NodeId> others;
    for (NodeId n : sorted)
      if (n != h && !up.count(n) && !down.count(n)) others.push_back(n);
    for (NodeId n : others) {
      if (kind == Heavy::extern_) return refuse("an extern kernel takes nothing but its epilogue");
      if (!is_view(g_[n].op) && g_[n].op != Op::constant) return refuse("a computed value that is neither prologue nor epilogue");
      for (NodeId u : users_[n])
        if (!in_s(u) || up.count(u) || u == h) return refuse("a value that is neither prologue nor epilogue");
      if (is_output_.count(n)) return refuse("a value that is neither prologue nor epilogue is stored");
    }
    // Mutation: in the writer's kernel only the writer reads the old version,
    // and nothing reads the new version before the writer has finished.
    auto vit = mutated_versions_of_.find(h);
    std::vector<int64_t> muts = mutated_inputs(g_, h, reg_);
    for (NodeId n : s) {
      for (size_t i = 0; i < g_[n].inputs.size(); ++i) {
        NodeId u = g_[n].inputs[i];
        if (vit != mutated_versions_of_.end() &&
            std::find(vit->second.begin(), vit->second.end(), version_[u]) != vit->second.end()) {
          bool own = n == h && std::find(muts.begin(), muts.end(), int64_t(i)) != muts.end();
          if (!own) return refuse("reads the old version of storage the kernel overwrites");
        }
      }
    }
    std::vector<NodeId> mos, epi;
    for (NodeId n : down) (g_[n].op == Op::mutation_output && g_[n].inputs[0] == h ? mos : epi).push_back(n);
    for (NodeId n : epi)
      if (!light(n)) return refuse("a reduction, template or extern in an epilogue");
    for (NodeId n : up)
      if (!light(n)) return refuse("a reduction, template or extern in a prologue");
    // Prologue nodes are computed at the loads: no epilogue may use them. A
    // template loads each element many times, so its prologue stores nothing;
    // a reduction visits each element of its input once, so its prologue may
    // store values of that iteration space (e.g. exp(x) of a softmax).
    for (NodeId n : up) {
      for (NodeId u : users_[n])
        if (in_s(u) && u != h && !up.count(u)) return refuse("a prologue value used by the epilogue");
      if (!materialized_in_s(n)) continue;
      if (kind != Heavy::reduction || is_view(g_[n].op)) return refuse("a template prologue would store a value (templates reload their inputs)");
      if (g_[n].type.numel() != g_[g_[h].inputs[0]].type.numel()) return refuse("a stored prologue value has another iteration space than the reduction");
    }
    // The epilogue reads h's result through one index map only: an epilogue
    // mixing h at two different indices (t + t.T) needs other tiles' values.
    if (!epi.empty()) {
      std::map<NodeId, std::string> index_map{{h, ""}};
      for (NodeId n : epi) {
        const Node& x = g_[n];
        if (is_view(x.op)) {
          index_map[n] = index_map.at(x.inputs[0]) + "|" + std::string(op_name(x.op)) + print_attrs(x.attrs);
          continue;
        }
        std::optional<std::string> seen;
        for (NodeId i : x.inputs) {
          auto it = index_map.find(i);
          if (it == index_map.end()) continue;
          if (seen && *seen != it->second) return refuse("the epilogue reads the result at two different indices");
          seen = it->second;
        }
        index_map[n] = seen.value_or("");
      }
    }
    if (kind == Heavy::extern_) {
      if (!up.empty()) return refuse("nothing is fused into an extern kernel");  // never fused into
      if (epi.empty()) return true;
      if (!fam_[extern_epilogue] || mos.size() != 1) return refuse("an extern epilogue needs exactly one mutation output");
      NodeId mo = mos[0];
      NodeId target = g_[h].inputs[size_t(std::get<MutationOutputAttrs>(g_[mo].attrs).input)];
      if (is_view(g_[target].op) || !g_[target].type.contiguous()) return refuse("an extern epilogue needs the same contiguous layout");  // same layout
      for (NodeId u : users_[mo])
        if (!in_s(u)) return refuse("the mutation output has other users");  // no other users
      for (NodeId n : epi) {
        if (g_[n].type.shape != g_[mo].type.shape) return refuse("an extern epilogue has another shape");
        for (NodeId i : g_[n].inputs)
          if (i != mo && !down.count(i)) return refuse("an extern epilogue reads another buffer");  // a pointwise reader of only that buffer
      }
      return true;
    }
    if (kind == Heavy::template_) {
      const TemplateKind* k = reg_.find(std::get<TemplateAttrs>(g_[h].attrs).kind);
      if (!k) return refuse("unknown template kind");
      auto allowed = k->prologue_inputs();
      int64_t prologue_reads = 0, prologue_values = 0;
      for (size_t i = 0; i < g_[h].inputs.size(); ++i) {
        NodeId in = g_[h].inputs[i];
        if (!in_s(in)) continue;
        if (!fam_[template_prologue]) return refuse("template prologue rules are off");
        if (std::find(allowed.begin(), allowed.end(), int64_t(i)) == allowed.end()) return refuse("the input does not allow a prologue");
        prologue_values += bytes_of(in);
      }
      // Prologues may not read more than they hand the template (upcasts, not downcasts).
      std::set<NodeId> ext;
      for (NodeId n : up)
        for (NodeId i : g_[n].inputs)
          if (!in_s(i) && ext.insert(i).second) prologue_reads += bytes_of(i);
      if (prologue_reads > prologue_values) return refuse("the prologue reads more bytes than it hands the template");
      if (!epi.empty()) {
        if (!k->epilogue || !fam_[template_epilogue]) return refuse("the kind takes no epilogue");
        for (NodeId n : epi) {
          if (g_[n].type.numel() != g_[h].type.numel()) return refuse("an epilogue with another iteration space");
          for (NodeId i : g_[n].inputs)
            if (std::find(mos.begin(), mos.end(), i) != mos.end()) return refuse("the epilogue reads the template's mutation output");  // new version inside the writer
        }
        int stored = materialized_in_s(h) ? 1 : 0;
        for (NodeId n : epi)
          if (!is_view(g_[n].op) && materialized_in_s(n)) stored++;
        if (stored > 1 && (!multi_output_ || !fam_[multi_output_epilogue])) return refuse("the raw result and the epilogue would both be stored (multi-output epilogues are off)");
      }
      return true;
    }
    return refuse("unknown kernel kind");
  }

  // A reduction kernel (S marked): one or more reductions over the same rows
  // (several only with the multi-reduction family), pointwise prologues,
  // values at the full row that read the results broadcast back over it, and
  // pointwise ops on the per-row results (docs/fusion.md).
  bool legal_reduction(const std::vector<NodeId>& s, size_t reductions) {
    auto refuse = [&](const char* why) {
      why_ = why;
      return false;
    };
    if (reductions > 1 && !fam_[multi_reduction]) return refuse("several reductions in one kernel (multi-reduction is off)");
    ReductionSpace sp;
    why_str_ = analyse_reduction_kernel(g_, s, [&](NodeId n) { return in_s(n); }, &sp);
    if (!why_str_.empty()) return refuse(why_str_.c_str());
    const int64_t row_numel = sp.rows * sp.row_len;
    for (NodeId n : s) {
      const Node& x = g_[n];
      if (is_reduction(x.op)) continue;
      if (!light(n)) return refuse("a template or extern beside a reduction");
      auto l = sp.level[n];
      bool stored = materialized_in_s(n);
      if (l == ReductionSpace::free) {
        if (!is_view(x.op) && x.op != Op::constant && !fam_[reduction_prologue]) return refuse("reduction prologue rules are off");
        if (!stored) continue;
        if (is_view(x.op)) return refuse("a prologue view would be stored");
        if (x.type.numel() != row_numel) return refuse("a stored prologue value has another iteration space than the reduction");
      } else {
        if (!fam_[reduction_epilogue]) return refuse("reduction epilogue rules are off");
      }
    }
    return true;
  }

  // ---------------------------------------------------------------- ordering
  // Would the kernels in `set`, merged, depend on each other through another kernel?
  bool creates_cycle(const std::vector<int>& set) {
    uint32_t hi = 0;
    ++gepoch_;
    for (int gi : set) {
      hi = std::max(hi, maxpos_[size_t(gi)]);
      gmark_[size_t(gi)] = gepoch_;
    }
    auto in_set = [&](int gi) { return std::find(set.begin(), set.end(), gi) != set.end(); };
    std::vector<int> stack;
    auto push_succ = [&](int gi) {
      for (NodeId n : members_[size_t(gi)]) {
        auto visit = [&](NodeId s) {
          int sg = group_of_[s];
          if (sg < 0 || gmark_[size_t(sg)] == gepoch_) return;
          gmark_[size_t(sg)] = gepoch_;
          stack.push_back(sg);
        };
        for (NodeId u : users_[n]) visit(u);
        for (NodeId t : order_succ_[n]) visit(t);
      }
    };
    for (int gi : set) push_succ(gi);
    while (!stack.empty()) {
      int x = stack.back();
      stack.pop_back();
      if (minpos_[size_t(x)] > hi) continue;  // everything it reaches comes later
      for (NodeId n : members_[size_t(x)]) {
        for (NodeId u : users_[n])
          if (group_of_[u] >= 0 && in_set(group_of_[u])) return true;
        for (NodeId t : order_succ_[n])
          if (group_of_[t] >= 0 && in_set(group_of_[t])) return true;
      }
      push_succ(x);
    }
    return false;
  }

  // ---------------------------------------------------------------- cost
  // `bindings` (when given): the buffers the kernel binds, each distinct value
  // it reads from outside and each value it stores.
  double cost(const std::vector<NodeId>& s, size_t* bindings = nullptr) {  // S marked
    double bytes = 0, flops = 0;
    std::set<NodeId> ext;
    size_t stored = 0;
    for (NodeId n : s) {
      for (NodeId i : g_[n].inputs)
        if (!in_s(i) && ext.insert(i).second) bytes += double(bytes_of(i));
      if (materialized_in_s(n)) {
        bytes += double(bytes_of(n));
        ++stored;
      }
      if (is_view(g_[n].op)) continue;
      if (g_[n].op == Op::template_) {
        const TemplateKind* k = reg_.find(std::get<TemplateAttrs>(g_[n].attrs).kind);
        std::vector<TensorType> ts;
        for (NodeId i : g_[n].inputs) ts.push_back(g_[i].type);
        std::string err;
        if (k && k->flops)
          if (auto b = reg_.bind(*k, ts, err)) flops += double(k->flops->eval(b->vars));
      } else {
        flops += double(g_[n].type.numel());
      }
    }
    if (bindings) *bindings = ext.size() + stored;
    bool any_work = std::any_of(s.begin(), s.end(), [&](NodeId n) { return !is_view(g_[n].op); });
    if (!any_work) return 0;  // a strided alias
    return bytes + plan_detail::kLaunchCost + flops / plan_detail::kFlopsPerByte;
  }

  // ---------------------------------------------------------------- merging
  // Merges the kernels `parts` (producers, possibly a chain of view-only
  // kernels) into kernel c when the union is legal, acyclic and cheaper.
  bool try_merge(std::vector<int> parts, int c, Family why) {
    std::sort(parts.begin(), parts.end());
    parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
    parts.erase(std::remove(parts.begin(), parts.end(), c), parts.end());
    if (parts.empty() || c < 0) return false;
    std::vector<NodeId> s = members_[size_t(c)];
    double separate = 0;
    for (int a : parts) {
      if (a < 0) return false;
      s.insert(s.end(), members_[size_t(a)].begin(), members_[size_t(a)].end());
      mark(members_[size_t(a)]);
      separate += cost(members_[size_t(a)]);
    }
    mark(members_[size_t(c)]);
    separate += cost(members_[size_t(c)]);
    mark(s);
    if (!legal(s)) return false;
    size_t bound = 0;
    double merged = cost(s, &bound);
    if (fam_.max_buffers && bound > fam_.max_buffers) {
      why_ = "the fused kernel would bind more buffers than the limit (max_kernel_buffers)";
      return false;
    }
    if (merged >= separate) {
      why_ = "the fused kernel would cost more";
      return false;
    }
    std::vector<int> all = parts;
    all.push_back(c);
    if (creates_cycle(all)) {
      why_ = "another kernel must run between them";
      return false;
    }
    why_ = "";
    mark(s);
    auto& fc = families_[size_t(c)];
    auto add_family = [&](Family f) {
      if (std::find(fc.begin(), fc.end(), f) == fc.end()) fc.push_back(f);
    };
    for (int a : parts)
      for (Family f : families_[size_t(a)]) add_family(f);
    add_family(why);
    // A stored raw result next to a fused epilogue is the multi-output rule.
    for (NodeId n : s)
      if (g_[n].op == Op::template_ && materialized_in_s(n) &&
          std::any_of(s.begin(), s.end(), [&](NodeId e) { return e > n && is_pointwise(g_[e].op); }))
        add_family(multi_output_epilogue);
    for (int a : parts) {
      for (NodeId n : members_[size_t(a)]) group_of_[n] = c;
      members_[size_t(a)].clear();
      families_[size_t(a)].clear();
    }
    members_[size_t(c)] = std::move(s);
    refresh_bounds(c);
    return true;
  }

  bool view_only(int gi) const {
    auto& m = members_[size_t(gi)];
    return !m.empty() && std::all_of(m.begin(), m.end(), [&](NodeId n) { return is_view(g_[n].op); });
  }

  // The family of merging producer kernel a into kernel c at consumer node
  // `at` (kNoNode: unknown).
  Family family_for(int a, int c, NodeId at = kNoNode) const {
    auto heavy_of = [&](int gi) {
      for (NodeId n : members_[size_t(gi)])
        if (heavy_kind(n) != Heavy::none) return n;
      return kNoNode;
    };
    NodeId ha = heavy_of(a), hc = heavy_of(c);
    if (ha != kNoNode && hc != kNoNode && heavy_kind(ha) == Heavy::reduction && heavy_kind(hc) == Heavy::reduction)
      return multi_reduction;
    if (ha != kNoNode) {
      if (heavy_kind(ha) == Heavy::template_) return template_epilogue;
      if (heavy_kind(ha) == Heavy::extern_) return extern_epilogue;
      return reduction_epilogue;
    }
    // An operand computed into c's epilogue (at after its template or reduction) is inlining.
    if (hc != kNoNode && !(at != kNoNode && at > hc)) {
      if (heavy_kind(hc) == Heavy::template_) return template_prologue;
      if (heavy_kind(hc) == Heavy::reduction) return reduction_prologue;
    }
    return pointwise_inline;
  }

  // Did the rules make every read of u by c buf-free?
  bool read_fusable(NodeId c, NodeId u) const {
    if (!fusable_) return true;
    for (size_t i = 0; i < g_[c].inputs.size(); ++i)
      if (g_[c].inputs[i] == u && !fusable_(c, i)) return false;
    return true;
  }

  // Producer into consumer, consumers in kernel order; repeat until stable.
  // Views between them join the merge (views in prologues and epilogues).
  void vertical() {
    std::vector<NodeId> by_pos(N_);
    for (NodeId n = 0; n < N_; ++n) by_pos[pos_[n]] = n;
    for (int pass = 0; pass < 4; ++pass) {
      bool changed = false;
      for (NodeId c : by_pos) {
        if (g_[c].op == Op::input || is_view(g_[c].op)) continue;
        for (NodeId u : g_[c].inputs) {
          int cg = group_of_[c];
          if (!read_fusable(c, u)) {
            if (choice_ && pass == 0) choice_(c, u, family_for(group_of_[u] < 0 ? cg : group_of_[u], cg, c), false,
                                             "the rules keep this read materialized");
            continue;
          }
          std::vector<int> chain;
          NodeId src = u;
          while (g_[src].op != Op::input && is_view(g_[src].op) && view_only(group_of_[src]) && group_of_[src] != cg &&
                 read_fusable(src, g_[src].inputs[0])) {
            chain.push_back(group_of_[src]);
            src = g_[src].inputs[0];
          }
          if (is_view(g_[src].op) && g_[src].op != Op::input && view_only(group_of_[src]) && group_of_[src] != cg) {
            // A view whose own read the rules keep materialized: merge only the views so far.
            if (!chain.empty() && try_merge(chain, cg, family_for(chain.back(), cg, c))) changed = true;
            continue;
          }
          int a = g_[src].op == Op::input ? -1 : group_of_[src];
          if (a == cg && chain.empty()) continue;
          if (a >= 0 && a != cg) {
            Family f = family_for(a, cg, c);
            bool fused = false;
            if (fam_[f]) {
              std::vector<int> parts = chain;
              parts.push_back(a);
              fused = try_merge(parts, cg, f);
            } else {
              why_ = "the family's rules are absent";
            }
            if (choice_) choice_(c, src, f, fused, why_);
            if (fused) {
              changed = true;
              continue;
            }
          }
          // Views alone (e.g. a broadcast read inline instead of materialized).
          if (!chain.empty() && try_merge(chain, cg, family_for(chain.back(), cg, c))) changed = true;
        }
      }
      if (!changed) break;
    }
  }

  // Independent pointwise kernels with the same iteration space that read the
  // same value: one launch, one read.
  void horizontal_pass() {
    if (!fam_[horizontal]) return;
    for (NodeId s = 0; s < N_; ++s) {
      std::vector<int> readers;
      std::vector<NodeId> frontier{s};
      while (!frontier.empty()) {
        NodeId n = frontier.back();
        frontier.pop_back();
        for (NodeId u : users_[n]) {
          if (is_view(g_[u].op) && group_of_[u] >= 0 && members_[size_t(group_of_[u])].size() == 1) {
            frontier.push_back(u);
            continue;
          }
          int gu = group_of_[u];
          if (gu < 0 || gu == group_of_[s]) continue;
          bool pointwise = std::none_of(members_[size_t(gu)].begin(), members_[size_t(gu)].end(),
                                        [&](NodeId m) { return heavy_kind(m) != Heavy::none; });
          if (pointwise && std::find(readers.begin(), readers.end(), gu) == readers.end()) readers.push_back(gu);
        }
      }
      for (size_t i = 1; i < readers.size(); ++i) {
        int base = readers[0];
        if (members_[size_t(base)].empty()) break;
        try_merge({readers[i]}, base, horizontal);
      }
    }
  }

  const Graph& g_;
  const TemplateRegistry& reg_;
  FamilySet fam_;
  bool multi_output_;
  const ReadFilter& fusable_;
  const ChoiceSink& choice_;
  const char* why_ = "";
  std::string why_str_;
  size_t N_;
  std::vector<std::vector<NodeId>> users_;
  std::vector<NodeId> version_;
  std::set<NodeId> is_output_;
  std::vector<std::vector<NodeId>> order_succ_;
  std::map<NodeId, std::vector<NodeId>> mutated_versions_of_;
  std::vector<uint32_t> pos_;
  std::vector<int> group_of_;
  std::vector<std::vector<NodeId>> members_;
  std::vector<std::vector<Family>> families_;
  std::vector<uint32_t> mark_;
  uint32_t epoch_ = 0;
  std::vector<uint32_t> gmark_;
  uint32_t gepoch_ = 0;
  std::vector<uint32_t> minpos_, maxpos_;
};

}  // namespace

Partition partition(const Graph& g, const TemplateRegistry& reg, const FamilySet& families, bool multi_output,
                    const ReadFilter& fusable, const ChoiceSink& choice) {
  return Partitioner(g, reg, families, multi_output, fusable, choice).run();
}

}  // namespace egfuse::fusion_detail
