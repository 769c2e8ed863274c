// Running a plan on the interpreter: storages are flat arrays, each buffer a
// (possibly strided) window into one; each kernel body is evaluated as a small
// graph over the buffers it reads and its results are stored into the buffers
// it writes. Aliases share storage, so in-place writes are seen by later reads.
#include <map>

#include "egfuse/interp.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/strided.hpp"
#include "engine/plan/plan_build.hpp"

namespace egfuse {

namespace {


}  // namespace

std::map<std::string, Tensor> evaluate_plan(const Plan& p, std::map<std::string, Tensor>& inputs,
                                            const TemplateRegistry& reg) {
  std::map<int, std::vector<double>> storage;
  for (auto& b : p.buffers) {
    auto& s = storage[b.storage];
    s.resize(std::max<size_t>(s.size(), size_t(plan_detail::storage_extent(b.type))), 0.0);
  }
  auto gather = [&](int b) {
    auto& buf = p.buffers[size_t(b)];
    Tensor t(TensorType{buf.type.dtype, buf.type.shape, {}, 0});
    auto& s = storage.at(buf.storage);
    for_each_element(buf.type, [&](int64_t i, int64_t pos) { t.data[size_t(i)] = s[size_t(pos)]; });
    return t;
  };
  auto scatter = [&](int b, const Tensor& t) {
    auto& buf = p.buffers[size_t(b)];
    if (t.type.shape != buf.type.shape)
      throw Error("plan buffer '" + buf.name + "' has shape " + shape_string(buf.type.shape) + " but receives " +
                  shape_string(t.type.shape));
    auto& s = storage.at(buf.storage);
    for_each_element(buf.type, [&](int64_t i, int64_t pos) { s[size_t(pos)] = round_to(buf.type.dtype, t.data[size_t(i)]); });
  };

  for (int b : p.inputs) {
    auto& buf = p.buffers[size_t(b)];
    auto it = inputs.find(buf.name);
    if (it == inputs.end()) throw Error("evaluate_plan: no value for input '" + buf.name + "'");
    scatter(b, it->second);
  }
  for (auto& k : p.kernels) {
    std::map<std::string, Tensor> args;
    auto body_inputs = k.body.inputs();
    if (body_inputs.size() != k.reads.size())
      throw Error("kernel " + k.name + ": body inputs and reads differ in number");
    for (size_t i = 0; i < body_inputs.size(); ++i) args[k.body[body_inputs[i]].name] = gather(k.reads[i]);
    auto results = evaluate(k.body, args, reg);
    for (size_t j = 0; j < k.writes.size(); ++j) scatter(k.writes[j], results.at(k.body.outputs[j].name));
  }
  std::map<std::string, Tensor> out;
  for (auto& [name, b] : p.outputs) out[name] = gather(b);
  for (int b : p.inputs)
    if (p.buffers[size_t(b)].is_mutable_input) inputs[p.buffers[size_t(b)].name] = gather(b);
  return out;
}

}  // namespace egfuse
