// SPIRV-Tools in-process: assemble the emitted text for Vulkan 1.2 (SPIR-V
// 1.5), validate, optimize with the performance passes, validate again.
#include <spirv-tools/libspirv.hpp>
#include <spirv-tools/optimizer.hpp>

#include <sstream>

#include "egfuse/diagnostics.hpp"
#include "egfuse/spirv.hpp"

namespace egfuse {

namespace {

std::string source_line(const std::string& text, size_t line) {
  std::istringstream in(text);
  std::string l;
  for (size_t i = 0; i <= line && std::getline(in, l); ++i) {
  }
  return l;
}

}  // namespace

std::vector<uint32_t> assemble_spirv(const std::string& text, const std::string& what, bool optimize) {
  const spv_target_env env = SPV_ENV_VULKAN_1_2;
  std::string messages;
  auto consumer = [&](spv_message_level_t, const char*, const spv_position_t& pos, const char* msg) {
    messages += what + ".spvasm:" + std::to_string(pos.line + 1) + ":" + std::to_string(pos.column + 1) + ": " + msg +
                "\n";
    if (pos.line > 0 || pos.column > 0) messages += "  " + source_line(text, pos.line) + "\n";
  };
  spvtools::SpirvTools tools(env);
  tools.SetMessageConsumer(consumer);
  std::vector<uint32_t> words;
  if (!tools.Assemble(text, &words, SPV_TEXT_TO_BINARY_OPTION_NONE))
    throw Error("spirv: assembling " + what + " failed:\n" + messages);
  spvtools::ValidatorOptions vopt;
  if (!tools.Validate(words.data(), words.size(), vopt))
    throw Error("spirv: " + what + " does not validate for vulkan1.2:\n" + messages);
  if (!optimize) return words;
  spvtools::Optimizer opt(env);
  opt.SetMessageConsumer(consumer);
  opt.RegisterPerformancePasses();
  std::vector<uint32_t> optimized;
  if (!opt.Run(words.data(), words.size(), &optimized))
    throw Error("spirv: optimizing " + what + " failed:\n" + messages);
  if (!tools.Validate(optimized.data(), optimized.size(), vopt))
    throw Error("spirv: optimized " + what + " does not validate:\n" + messages);
  return optimized;
}

}  // namespace egfuse
