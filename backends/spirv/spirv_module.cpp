// SPIR-V assembly text builder (see spirv_module.hpp).
#include "backends/spirv/spirv_module.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>

namespace egfuse::spirv {

SpvModule::SpvModule() {
  capability("Shader");
  glsl_ = "%glsl";
}

std::string SpvModule::fresh(const char* stem) { return "%" + std::string(stem) + std::to_string(next_++); }

std::string SpvModule::type(const std::string& decl) {
  auto it = types_.find(decl);
  if (it != types_.end()) return it->second;
  std::string id = fresh("t");
  types_[decl] = id;
  global(id + " = " + decl);
  return id;
}

std::string SpvModule::c_int(int64_t v) {
  std::string key = "i" + std::to_string(v);
  auto it = consts_.find(key);
  if (it != consts_.end()) return it->second;
  std::string t = t_int();
  std::string id = fresh("ci");
  consts_[key] = id;
  global(id + " = OpConstant " + t + " " + std::to_string(int32_t(v)));
  return id;
}

std::string SpvModule::c_uint(uint32_t v) {
  std::string key = "u" + std::to_string(v);
  auto it = consts_.find(key);
  if (it != consts_.end()) return it->second;
  std::string t = t_uint();
  std::string id = fresh("cu");
  consts_[key] = id;
  global(id + " = OpConstant " + t + " " + std::to_string(v));
  return id;
}

std::string SpvModule::c_float(double v) {
  // Non-finite literals cannot be written in assembly; the largest finite f32 stands in.
  if (std::isnan(v)) v = 0;
  if (v > FLT_MAX) v = FLT_MAX;
  if (v < -FLT_MAX) v = -FLT_MAX;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", double(float(v)));
  std::string lit = buf;
  if (lit.find_first_of(".e") == std::string::npos) lit += ".0";
  std::string key = "f" + lit;
  auto it = consts_.find(key);
  if (it != consts_.end()) return it->second;
  std::string t = t_float();
  std::string id = fresh("cf");
  consts_[key] = id;
  global(id + " = OpConstant " + t + " " + lit);
  return id;
}

std::string SpvModule::c_bool(bool v) {
  std::string key = v ? "btrue" : "bfalse";
  auto it = consts_.find(key);
  if (it != consts_.end()) return it->second;
  std::string t = t_bool();
  std::string id = fresh("cb");
  consts_[key] = id;
  global(id + (v ? " = OpConstantTrue " : " = OpConstantFalse ") + t);
  return id;
}

void SpvModule::capability(const std::string& c) {
  if (std::find(caps_.begin(), caps_.end(), c) == caps_.end()) caps_.push_back(c);
}
void SpvModule::extension(const std::string& e) {
  if (std::find(exts_.begin(), exts_.end(), e) == exts_.end()) exts_.push_back(e);
}

std::string SpvModule::storage_buffer(int binding, const std::string& elem, int stride) {
  std::string arr = type("OpTypeRuntimeArray " + elem);
  if (!consts_.count("stride" + arr)) {
    consts_["stride" + arr] = arr;
    decorate("OpDecorate " + arr + " ArrayStride " + std::to_string(stride));
  }
  std::string st = type("OpTypeStruct " + arr + " ; block of " + elem);
  if (!consts_.count("block" + st)) {
    consts_["block" + st] = st;
    decorate("OpMemberDecorate " + st + " 0 Offset 0");
    decorate("OpDecorate " + st + " Block");
  }
  std::string var = fresh("buf");
  global(var + " = OpVariable " + ptr("StorageBuffer", st) + " StorageBuffer");
  decorate("OpDecorate " + var + " DescriptorSet 0");
  decorate("OpDecorate " + var + " Binding " + std::to_string(binding));
  add_interface(var);
  return var;
}

std::string SpvModule::shared_array(const std::string& elem, uint32_t n) {
  std::string arr = type("OpTypeArray " + elem + " " + c_uint(n));
  std::string var = fresh("sh");
  global(var + " = OpVariable " + ptr("Workgroup", arr) + " Workgroup");
  add_interface(var);
  return var;
}

std::string SpvModule::builtin(const std::string& name, const std::string& t) {
  auto it = builtins_.find(name);
  if (it != builtins_.end()) return it->second;
  std::string var = fresh("in");
  global(var + " = OpVariable " + ptr("Input", t) + " Input");
  decorate("OpDecorate " + var + " BuiltIn " + name);
  add_interface(var);
  std::string v = fresh("bi");
  entry_code_ += "      " + v + " = OpLoad " + t + " " + var + "\n";
  builtins_[name] = v;
  return v;
}

std::string SpvModule::ins(const std::string& t, const std::string& opcode_args) {
  std::string r = fresh();
  // opcode_args is "OpX a b": the result type goes right after the opcode.
  auto sp = opcode_args.find(' ');
  std::string opcode = opcode_args.substr(0, sp);
  std::string args = sp == std::string::npos ? "" : opcode_args.substr(sp);
  emit(r + " = " + opcode + " " + t + args);
  return r;
}

std::string SpvModule::ext(const std::string& t, const std::string& glsl_op, const std::string& args) {
  return ins(t, "OpExtInst " + glsl_ + " " + glsl_op + " " + args);
}

std::string SpvModule::label() { return fresh("L"); }

std::string SpvModule::local_var(const std::string& t, const std::string& init) {
  std::string v = fresh("var");
  entry_vars_ += "      " + v + " = OpVariable " + ptr("Function", t) + " Function\n";
  entry_code_ += "      OpStore " + v + " " + init + "\n";
  return v;
}

void SpvModule::for_range(const std::string& start, const std::string& end, const std::string& step,
                          const std::function<void(const std::string&)>& body) {
  std::string ti = t_int();
  std::string iv = local_var(ti, c_int(0));
  store(iv, start);
  std::string hdr = label(), cond = label(), blk = label(), cont = label(), merge = label();
  emit("OpBranch " + hdr);
  begin_block(hdr);
  emit("OpLoopMerge " + merge + " " + cont + " None");
  emit("OpBranch " + cond);
  begin_block(cond);
  std::string i = load(ti, iv);
  std::string c = ins(t_bool(), "OpSLessThan " + i + " " + end);
  emit("OpBranchConditional " + c + " " + blk + " " + merge);
  begin_block(blk);
  body(i);
  emit("OpBranch " + cont);
  begin_block(cont);
  std::string i2 = load(ti, iv);
  std::string n = ins(ti, "OpIAdd " + i2 + " " + step);
  store(iv, n);
  emit("OpBranch " + hdr);
  begin_block(merge);
}

void SpvModule::if_then(const std::string& cond, const std::function<void()>& then) {
  std::string t = label(), m = label();
  emit("OpSelectionMerge " + m + " None");
  emit("OpBranchConditional " + cond + " " + t + " " + m);
  begin_block(t);
  then();
  emit("OpBranch " + m);
  begin_block(m);
}

void SpvModule::barrier() {
  // Workgroup scope (2), AcquireRelease | WorkgroupMemory semantics (0x8 | 0x100).
  emit("OpControlBarrier " + c_uint(2) + " " + c_uint(2) + " " + c_uint(0x108));
}

std::string SpvModule::finish(const std::array<uint32_t, 3>& local) const {
  std::string s = "; SPIR-V\n; Generated by egfuse (backends/spirv)\n";
  for (auto& c : caps_) s += "OpCapability " + c + "\n";
  for (auto& e : exts_) s += "OpExtension \"" + e + "\"\n";
  s += "%glsl = OpExtInstImport \"GLSL.std.450\"\n";
  s += "OpMemoryModel Logical GLSL450\n";
  s += "OpEntryPoint GLCompute %main \"main\"";
  for (auto& i : interface_) s += " " + i;
  s += "\nOpExecutionMode %main LocalSize " + std::to_string(local[0]) + " " + std::to_string(local[1]) + " " +
       std::to_string(local[2]) + "\n";
  s += decorations_;
  s += globals_;
  // The function type and void are declared last among globals: they are always present.
  s += "%fn_void = OpTypeFunction " + types_.at("OpTypeVoid") + "\n";
  s += "%main = OpFunction " + types_.at("OpTypeVoid") + " None %fn_void\n";
  s += "%entry = OpLabel\n" + entry_vars_ + entry_code_;
  s += body_;
  s += "      OpReturn\nOpFunctionEnd\n";
  return s;
}

}  // namespace egfuse::spirv
