// Patterns compiled to a matching machine (egg's "machine" search), and the
// instantiation of right-hand sides.
#include <algorithm>
#include <deque>
#include <map>

#include "egfuse/rewrite.hpp"

namespace egfuse::eg {

namespace {
using P = rules::Pattern;

[[noreturn]] void bad(const P& p, const std::string& what) { throw Error(p.span.where() + ": " + what); }

// Attribute text without spaces, for comparisons: "[1, 2]" == "[1,2]".
std::string squash(std::string_view s) {
  std::string o;
  for (char c : s)
    if (c != ' ') o += c;
  return o;
}

}  // namespace

// "{k=v, k2=[1, 2]}" -> (k, v) pairs, values squashed.
static std::vector<std::pair<std::string, std::string>> parse_attr_text(std::string_view t) {
  std::vector<std::pair<std::string, std::string>> out;
  if (t.size() < 2 || t.front() != '{') return out;
  t = t.substr(1, t.size() - 2);
  int depth = 0;
  size_t b = 0;
  for (size_t i = 0; i <= t.size(); ++i) {
    if (i < t.size() && (t[i] == '[' || t[i] == '(' || t[i] == '{')) ++depth;
    if (i < t.size() && (t[i] == ']' || t[i] == ')' || t[i] == '}')) --depth;
    if (i == t.size() || (t[i] == ',' && depth == 0)) {
      std::string item = squash(t.substr(b, i - b));
      size_t eq = item.find('=');
      if (eq != std::string::npos) out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
      b = i + 1;
    }
  }
  return out;
}

std::optional<std::string> attr_value(const EGraph& g, uint32_t payload, std::string_view key) {
  for (auto& [k, v] : parse_attr_text(g.attrs_text(payload)))
    if (k == key) return v;
  return std::nullopt;
}

static std::string canonical_attrs(const std::vector<std::pair<std::string, std::string>>& attrs) {
  if (attrs.empty()) return "";
  std::string s = "{";
  for (size_t i = 0; i < attrs.size(); ++i) s += (i ? ", " : "") + attrs[i].first + "=" + attrs[i].second;
  return s + "}";
}

// ---------------------------------------------------------------- compile
CompiledPattern CompiledPattern::compile(const rules::Pattern& root, EGraph& g, std::vector<VarInfo>& vars) {
  CompiledPattern cp;
  std::map<std::string, uint32_t> seen;  // var name -> register (pair start for varargs/op vars)
  auto var_slot = [&](const std::string& name, VarKind k, const P& at) -> std::pair<uint32_t, bool> {
    for (auto& v : vars)
      if (v.name == name) {
        if (v.kind != k) bad(at, "?" + name + " is used both as a term, an op and a varargs variable");
        return {v.slot, false};
      }
    uint32_t slot = 0;
    for (auto& v : vars) slot = std::max(slot, v.slot + (v.kind == VarKind::term ? 1u : 2u));
    vars.push_back({name, k, slot});
    return {slot, true};
  };
  cp.nregs_ = 1;
  if (root.kind == P::Kind::var) {
    auto [slot, fresh] = var_slot(root.name, VarKind::term, root);
    (void)fresh;
    cp.var_regs_.push_back({slot, 0});
    seen[root.name] = 0;
  } else if (root.kind == P::Kind::varargs) {
    bad(root, "a varargs variable cannot be a whole pattern");
  }
  std::deque<std::pair<const P*, uint32_t>> todo;
  if (root.kind != P::Kind::var) {
    todo.push_back({&root, 0});
    if (root.kind == P::Kind::number) {
      cp.root_kind = RootKind::op;
      cp.root_op = kNumOp;
    } else if (!(root.kind == P::Kind::apply && root.op_is_var)) {
      cp.root_kind = RootKind::op;
      cp.root_op = g.op(root.name);
    }
  }
  while (!todo.empty()) {
    auto [p, reg] = todo.front();
    todo.pop_front();
    Instr in{};
    in.in = reg;
    if (p->kind == P::Kind::number) {
      in.kind = Instr::bind;
      in.op = kNumOp;
      in.payload = g.number_index(p->number);
      cp.prog_.push_back(in);
      continue;
    }
    if (p->kind == P::Kind::symbol) {
      in.kind = Instr::bind;
      in.op = g.op(p->name);
      cp.prog_.push_back(in);
      continue;
    }
    if (p->kind != P::Kind::apply) bad(*p, "unexpected pattern kind");
    size_t fixed = p->args.size();
    const P* va = nullptr;
    for (size_t i = 0; i < p->args.size(); ++i)
      if (p->args[i].kind == P::Kind::varargs) {
        if (i + 1 != p->args.size()) bad(p->args[i], "a varargs variable must be the last argument");
        va = &p->args[i];
        fixed = i;
      }
    in.arity = uint32_t(fixed);
    in.varargs = va != nullptr;
    in.out = cp.nregs_;
    cp.nregs_ += uint32_t(fixed);
    if (!p->attrs.empty()) {
      in.attr_check = int32_t(cp.attr_checks_.size());
      auto req = p->attrs;
      for (auto& kv : req) kv.second = squash(kv.second);
      cp.attr_checks_.push_back(std::move(req));
      cp.attr_cache_.emplace_back();
    }
    if (p->op_is_var) {
      in.kind = Instr::bind_opvar;
      auto it = seen.find("op:" + p->name);
      auto [slot, fresh] = var_slot(p->name, VarKind::op, *p);
      (void)fresh;
      if (it != seen.end()) {
        in.bound = true;
        in.aux = it->second;
      } else {
        in.aux = cp.nregs_;
        cp.nregs_ += 2;
        seen["op:" + p->name] = in.aux;
        cp.var_regs_.push_back({slot, in.aux});
        cp.var_regs_.push_back({slot + 1, in.aux + 1});
      }
    } else {
      in.kind = Instr::bind;
      in.op = g.op(p->name);
      in.preg = cp.nregs_++;  // the full payload, also when some attributes are required
      cp.payload_regs_.push_back({in.op, in.preg});
    }
    if (va) {
      in.va = cp.nregs_;
      cp.nregs_ += 2;
    }
    cp.prog_.push_back(in);
    if (va) {
      auto [slot, fresh] = var_slot(va->name, VarKind::varargs, *va);
      (void)fresh;
      auto it = seen.find("va:" + va->name);
      if (it != seen.end()) {
        Instr cmp{};
        cmp.kind = Instr::compare_varargs;
        cmp.aux = it->second;
        cmp.va = in.va;
        cp.prog_.push_back(cmp);
      } else {
        seen["va:" + va->name] = in.va;
        cp.var_regs_.push_back({slot, in.va});
        cp.var_regs_.push_back({slot + 1, in.va + 1});
      }
    }
    for (size_t i = 0; i < fixed; ++i) {
      const P& c = p->args[i];
      uint32_t r = in.out + uint32_t(i);
      if (c.kind == P::Kind::var) {
        auto it = seen.find(c.name);
        if (it == seen.end()) {
          auto [slot, fresh] = var_slot(c.name, VarKind::term, c);
          (void)fresh;
          seen[c.name] = r;
          cp.var_regs_.push_back({slot, r});
        } else {
          Instr cmp{};
          cmp.kind = Instr::compare;
          cmp.in = it->second;
          cmp.out = r;
          cp.prog_.push_back(cmp);
        }
      } else {
        todo.push_back({&c, r});
      }
    }
  }
  for (auto& v : vars) cp.nslots_ = std::max(cp.nslots_, v.slot + (v.kind == VarKind::term ? 1u : 2u));
  return cp;
}

std::optional<uint32_t> CompiledPattern::payload_reg_for(Sym op) const {
  for (auto& [o, r] : payload_regs_)
    if (o == op) return r;
  return std::nullopt;
}

bool CompiledPattern::attrs_match(const EGraph& g, int32_t check, uint32_t payload) const {
  auto& cache = attr_cache_[size_t(check)];
  if (cache.size() <= payload) cache.resize(payload + 1, 0);
  if (cache[payload]) return cache[payload] == 1;
  auto have = parse_attr_text(g.attrs_text(payload));
  bool ok = true;
  for (auto& [k, v] : attr_checks_[size_t(check)]) {
    bool found = false;
    for (auto& [hk, hv] : have)
      if (hk == k) found = hv == v;
    ok = ok && found;
  }
  cache[payload] = ok ? 1 : 2;
  return ok;
}

// ---------------------------------------------------------------- search
template <class F>
bool CompiledPattern::run(const EGraph& g, size_t pc, Id* regs, F& yield) const {
  for (; pc < prog_.size(); ++pc) {
    const Instr& in = prog_[pc];
    switch (in.kind) {
      case Instr::compare:
        if (regs[in.in] != regs[in.out]) return true;
        continue;
      case Instr::compare_varargs: {
        NodeRef a = g.node(regs[in.aux]), o = g.node(regs[in.va]);
        auto sa = a.children.subspan(regs[in.aux + 1]);
        auto so = o.children.subspan(regs[in.va + 1]);
        if (!std::equal(sa.begin(), sa.end(), so.begin(), so.end())) return true;
        continue;
      }
      case Instr::bind: {
        auto ns = g.class_nodes_with_op(regs[in.in], in.op);
        for (Id n : ns) {
          NodeRef nd = g.node(n);
          if (in.varargs ? nd.children.size() < in.arity : nd.children.size() != in.arity) continue;
          if (in.payload != ~0u && nd.payload != in.payload) continue;
          if (in.attr_check >= 0 && !attrs_match(g, in.attr_check, nd.payload)) continue;
          for (uint32_t i = 0; i < in.arity; ++i) regs[in.out + i] = nd.children[i];
          if (in.preg != ~0u) regs[in.preg] = nd.payload;
          if (in.varargs) {
            regs[in.va] = n;
            regs[in.va + 1] = in.arity;
          }
          if (!run(g, pc + 1, regs, yield)) return false;
        }
        return true;
      }
      case Instr::bind_opvar: {
        for (Id n : g.class_nodes(regs[in.in])) {
          NodeRef nd = g.node(n);
          if (nd.op == kNumOp) continue;
          if (in.varargs ? nd.children.size() < in.arity : nd.children.size() != in.arity) continue;
          if (in.bound ? (regs[in.aux] != nd.op || regs[in.aux + 1] != nd.payload) : false) continue;
          if (in.attr_check >= 0 && !attrs_match(g, in.attr_check, nd.payload)) continue;
          if (!in.bound) {
            regs[in.aux] = nd.op;
            regs[in.aux + 1] = nd.payload;
          }
          for (uint32_t i = 0; i < in.arity; ++i) regs[in.out + i] = nd.children[i];
          if (in.varargs) {
            regs[in.va] = n;
            regs[in.va + 1] = in.arity;
          }
          if (!run(g, pc + 1, regs, yield)) return false;
        }
        return true;
      }
    }
  }
  return yield(regs);
}

bool CompiledPattern::search_class(const EGraph& g, Id c, std::span<Id> regs,
                                   const std::function<bool(std::span<const Id>)>& yield) const {
  regs[0] = g.find(c);
  auto f = [&](Id* r) { return yield(std::span<const Id>(r, nregs_)); };
  return run(g, 0, regs.data(), f);
}

void CompiledPattern::fill_subst(std::span<const Id> regs, Id* subst) const {
  for (auto& [slot, reg] : var_regs_) subst[slot] = regs[reg];
}

std::vector<Id> CompiledPattern::candidates(const EGraph& g) const {
  if (root_kind == RootKind::op) {
    auto s = g.classes_with_op(root_op);
    return std::vector<Id>(s.begin(), s.end());
  }
  return g.classes();
}

RuleMatches search(const EGraph& g, const CompiledRule& r, size_t limit) {
  RuleMatches m;
  const CompiledPattern& p = r.lhs;
  m.stride = p.num_slots();
  m.reg_stride = uint32_t(r.kept_regs.size());
  std::vector<Id> regs(p.num_regs() + 1, kNoId);
  Id cls = kNoId;
  std::vector<Id> one(m.stride, kNoId);
  auto f = [&](Id* rg) {
    m.classes.push_back(cls);
    p.fill_subst(std::span<const Id>(rg, p.num_regs()), one.data());
    for (Id x : one) m.substs.push_back(x);
    for (uint32_t k : r.kept_regs) m.regs.push_back(rg[k]);
    return m.classes.size() < limit;
  };
  auto visit = [&](Id c) {
    cls = c;
    regs[0] = c;
    return p.run(g, 0, regs.data(), f);
  };
  if (p.root_kind == CompiledPattern::RootKind::op) {
    for (Id c : g.classes_with_op(p.root_op))
      if (!visit(c)) break;
  } else {
    for (Id c : g.classes())
      if (!visit(c)) break;
  }
  return m;
}

// ---------------------------------------------------------------- instantiation
std::vector<CompiledPattern::Build> CompiledPattern::compile_build(const rules::Pattern& p, EGraph& g,
                                                                   const std::vector<VarInfo>& vars,
                                                                   const CompiledPattern* lhs, bool same_side) {
  std::vector<Build> out;
  auto find_var = [&](const P& at, VarKind k) -> const VarInfo& {
    for (auto& v : vars)
      if (v.name == at.name) {
        if (v.kind != k && !(k == VarKind::term && v.kind == VarKind::op))
          bad(at, "?" + at.name + " is used with a different kind than on the left side");
        return v;
      }
    bad(at, "?" + at.name + " is not bound by the left side");
  };
  std::function<int32_t(const P&)> walk = [&](const P& q) -> int32_t {
    Build b{};
    switch (q.kind) {
      case P::Kind::var: {
        const VarInfo& v = find_var(q, VarKind::term);
        if (v.kind == VarKind::op) bad(q, "?" + q.name + " is an op variable; apply it to arguments");
        b.kind = Build::var;
        b.slot = v.slot;
        break;
      }
      case P::Kind::varargs:
        bad(q, "a varargs variable can only be an argument");
      case P::Kind::number:
        b.kind = Build::num;
        b.payload = g.number_index(q.number);
        break;
      case P::Kind::symbol:
        b.kind = Build::apply;
        b.op = g.op(q.name);
        break;
      case P::Kind::apply: {
        for (auto& a : q.args) {
          if (a.kind == P::Kind::varargs) {
            const VarInfo& v = find_var(a, VarKind::varargs);
            b.args.push_back(-1 - int32_t(v.slot));
          } else {
            b.args.push_back(walk(a));
          }
        }
        if (q.op_is_var) {
          const VarInfo& v = find_var(q, VarKind::op);
          b.kind = Build::opvar_apply;
          b.slot = v.slot;
        } else {
          b.kind = Build::apply;
          b.op = g.op(q.name);
          if (!q.attrs.empty() && !same_side) b.payload = g.attrs(canonical_attrs(q.attrs));
          else if (lhs) {
            if (auto r = lhs->payload_reg_for(b.op)) b.payload_reg = *r;
          }
        }
        break;
      }
    }
    out.push_back(std::move(b));
    return int32_t(out.size() - 1);
  };
  walk(p);
  return out;
}

namespace {
// Runs a build program; `add` returns kNoId to give up (lookups). Small
// programs use stack buffers, so instantiation allocates nothing and stays
// reentrant (an analysis hook may instantiate while another does).
template <class Add>
Id run_build(const EGraph& g, std::span<const CompiledPattern::Build> prog, std::span<const Id> subst,
             std::span<const Id> regs, Add&& add) {
  using B = CompiledPattern::Build;
  constexpr size_t kSmall = 16;
  Id small_vals[kSmall], small_kids[kSmall];
  std::vector<Id> big_vals, big_kids;
  Id* vals = small_vals;
  if (prog.size() > kSmall) {
    big_vals.resize(prog.size());
    vals = big_vals.data();
  }
  Id v = kNoId;
  for (size_t i = 0; i < prog.size(); ++i) {
    const B& b = prog[i];
    switch (b.kind) {
      case B::var:
        v = subst[b.slot];
        break;
      case B::num:
        v = add(kNumOp, std::span<const Id>(), b.payload);
        break;
      case B::apply:
      case B::opvar_apply: {
        size_t n = 0;
        for (int32_t a : b.args) {
          if (a >= 0) ++n;
          else {
            uint32_t slot = uint32_t(-1 - a);
            n += g.node(subst[slot]).children.size() - subst[slot + 1];
          }
        }
        Id* kids = small_kids;
        if (n > kSmall) {
          big_kids.resize(n);
          kids = big_kids.data();
        }
        size_t k = 0;
        for (int32_t a : b.args) {
          if (a >= 0) {
            kids[k++] = vals[size_t(a)];
          } else {
            uint32_t slot = uint32_t(-1 - a);
            auto rest = g.node(subst[slot]).children.subspan(subst[slot + 1]);
            for (Id c : rest) kids[k++] = c;
          }
        }
        Sym op = b.kind == B::apply ? b.op : subst[b.slot];
        uint32_t payload = b.kind == B::opvar_apply ? subst[b.slot + 1]
                           : b.payload_reg != ~0u ? regs[b.payload_reg]
                                                  : b.payload;
        // `kids` is local: add() may reenter run_build safely.
        v = add(op, std::span<const Id>(kids, n), payload);
        break;
      }
    }
    if (v == kNoId) return kNoId;
    vals[i] = v;
  }
  return v;
}
}  // namespace

Id instantiate(EGraph& g, std::span<const CompiledPattern::Build> prog, std::span<const Id> subst,
               std::span<const Id> regs, bool uncanonical) {
  if (uncanonical)
    return run_build(g, prog, subst, regs,
                     [&](Sym op, std::span<const Id> ch, uint32_t payload) { return g.add_uncanonical(op, ch, payload); });
  return run_build(g, prog, subst, regs, [&](Sym op, std::span<const Id> ch, uint32_t payload) { return g.add(op, ch, payload); });
}

std::optional<Id> lookup_instance(const EGraph& g, std::span<const CompiledPattern::Build> prog,
                                  std::span<const Id> subst, std::span<const Id> regs) {
  Id r = run_build(g, prog, subst, regs, [&](Sym op, std::span<const Id> ch, uint32_t payload) {
    auto m = g.lookup(op, ch, payload);
    return m ? *m : kNoId;
  });
  if (r == kNoId) return std::nullopt;
  return r;
}

}  // namespace egfuse::eg
