// Dispatch: each plan kernel goes to the lowering of its kind, decided from
// what its body holds (a template, a reduction, or only pointwise work).
#include "backends/ptx/lower.hpp"

namespace egfuse {

std::string_view ptx_target_name(PtxTarget t) { return t == PtxTarget::sm_90a ? "sm_90a" : "sm_80"; }

PtxKernel emit_ptx_kernel(const Plan& p, int ki, const TemplateRegistry& reg, const PtxEmitOptions& opt) {
  const PlanKernel& kern = p.kernels.at(size_t(ki));
  const Graph& g = kern.body;
  const Node* templ = nullptr;
  bool reduction = false;
  for (auto& n : g.nodes) {
    if (n.op == Op::template_) templ = &n;
    if (is_reduction(n.op)) reduction = true;
    if (n.op == Op::extern_)
      throw Error("PTX: kernel '" + kern.name + "' calls extern kernel '" + std::get<ExternAttrs>(n.attrs).kernel +
                  "', which this backend does not implement");
  }
  if (templ) {
    const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(templ->attrs).kind);
    if (!kind) throw Error("PTX: kernel '" + kern.name + "' uses unknown template kind");
    if (kind->impl == "gemm" || kind->impl == "addmm" || kind->impl == "gemm_accumulate")
      return ptx::lower_gemm(p, ki, reg, opt);
    if (kind->impl == "index_copy" || kind->impl == "index_copy_pair") return ptx::lower_index_copy(p, ki, reg, opt);
    throw Error("PTX: kernel '" + kern.name + "': template impl '" + kind->impl + "' is not implemented");
  }
  if (reduction) return ptx::lower_reduction(p, ki, opt);
  return ptx::lower_pointwise(p, ki, opt);
}

std::vector<PtxKernel> emit_ptx(const Plan& p, const TemplateRegistry& reg, const PtxEmitOptions& opt) {
  std::vector<PtxKernel> out;
  for (size_t i = 0; i < p.kernels.size(); ++i) out.push_back(emit_ptx_kernel(p, int(i), reg, opt));
  return out;
}

}  // namespace egfuse
