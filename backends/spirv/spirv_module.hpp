// A small SPIR-V assembly text builder: fresh ids, deduplicated types and
// constants, sections in the order the SPIR-V logical layout requires, and
// structured control flow (loops and ifs) for the lowering. Internal to
// backends/spirv.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace egfuse::spirv {

class SpvModule {
 public:
  SpvModule();

  std::string fresh(const char* stem = "v");

  // Types (deduplicated by their declaration text).
  std::string type(const std::string& decl);
  std::string t_void() { return type("OpTypeVoid"); }
  std::string t_bool() { return type("OpTypeBool"); }
  std::string t_int() { return type("OpTypeInt 32 1"); }
  std::string t_uint() { return type("OpTypeInt 32 0"); }
  std::string t_float() { return type("OpTypeFloat 32"); }
  std::string t_half() { return type("OpTypeFloat 16"); }
  std::string t_u16() { return type("OpTypeInt 16 0"); }
  std::string t_u8() { return type("OpTypeInt 8 0"); }
  std::string t_uvec3() { return type("OpTypeVector " + t_uint() + " 3"); }
  std::string t_vec(const std::string& elem, int n) { return type("OpTypeVector " + elem + " " + std::to_string(n)); }
  std::string ptr(const std::string& storage_class, const std::string& pointee) {
    return type("OpTypePointer " + storage_class + " " + pointee);
  }

  // Constants.
  std::string c_int(int64_t v);
  std::string c_uint(uint32_t v);
  std::string c_float(double v);
  std::string c_bool(bool v);

  void capability(const std::string& c);
  void extension(const std::string& e);
  void decorate(const std::string& line) { decorations_ += line + "\n"; }
  void global(const std::string& line) { globals_ += line + "\n"; }
  void add_interface(const std::string& id) { interface_.push_back(id); }

  // A storage buffer binding of runtime arrays of `elem` (with `stride` bytes).
  std::string storage_buffer(int binding, const std::string& elem, int stride);
  // A Workgroup array of `n` elements of `elem`.
  std::string shared_array(const std::string& elem, uint32_t n);
  // A built-in input variable (loaded once at function entry); returns the loaded value id.
  std::string builtin(const std::string& name, const std::string& type);

  // Function body.
  void emit(const std::string& line) { body_ += "      " + line + "\n"; }
  // "%r = <opcode> %type <args>"; returns %r.
  std::string ins(const std::string& type, const std::string& opcode_args);
  std::string ext(const std::string& type, const std::string& glsl_op, const std::string& args);
  std::string label();
  void begin_block(const std::string& lbl) { body_ += lbl + " = OpLabel\n"; }
  // A Function-storage variable declared at function entry, initialized to `init`.
  std::string local_var(const std::string& type, const std::string& init);
  std::string load(const std::string& type, const std::string& ptr_id) { return ins(type, "OpLoad " + ptr_id); }
  void store(const std::string& ptr_id, const std::string& v) { emit("OpStore " + ptr_id + " " + v); }

  // Structured control flow. for_range: for (i = start; i < end; i += step) body(i).
  void for_range(const std::string& start, const std::string& end, const std::string& step,
                 const std::function<void(const std::string&)>& body);
  void if_then(const std::string& cond, const std::function<void()>& then);
  void barrier();  // workgroup execution + memory barrier

  std::string finish(const std::array<uint32_t, 3>& local) const;

 private:
  uint32_t next_ = 0;
  std::map<std::string, std::string> types_, consts_;
  std::vector<std::string> caps_, exts_;
  std::vector<std::string> interface_;
  std::string decorations_, globals_, entry_vars_, entry_code_, body_;
  std::map<std::string, std::string> builtins_;
  std::string glsl_;
};

}  // namespace egfuse::spirv
