// Assembling PTX without a GPU: nvJitLink in process (errors carry PTX line
// numbers, -verbose reports registers and shared memory), else the toolkit's
// ptxas as a subprocess.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "egfuse/ptx.hpp"
#include "egfuse_config.h"

#if EGFUSE_HAVE_NVJITLINK
#include <nvJitLink.h>
#endif

namespace egfuse {

namespace {

// "ptxas info    : Function properties for k0" / "Compiling entry function 'k0'" / "Used 40 registers, ..."
std::vector<PtxResources> parse_resources(const std::string& log) {
  std::vector<PtxResources> out;
  std::istringstream in(log);
  std::string line;
  static const std::regex entry_re("(Compiling entry function|Function properties for) '?([A-Za-z_0-9$]+)'?");
  static const std::regex used_re("Used ([0-9]+) registers");
  static const std::regex smem_re("([0-9]+) bytes smem");
  static const std::regex stack_re("([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, entry_re)) {
      if (out.empty() || out.back().entry != m[2].str()) out.push_back({m[2].str()});
      continue;
    }
    if (out.empty()) continue;
    if (std::regex_search(line, m, used_re)) out.back().registers = std::stoi(m[1].str());
    if (std::regex_search(line, m, smem_re)) out.back().shared_bytes = std::stoi(m[1].str());
    if (std::regex_search(line, m, stack_re)) {
      out.back().stack_bytes = std::stoi(m[1].str());
      out.back().spill_bytes = std::stoi(m[2].str());
    }
  }
  return out;
}

std::string ptxas_path() {
  return std::string(EGFUSE_CUDA_DIR) + "/bin/ptxas";
}

PtxCheckResult check_with_ptxas(const std::string& ptx, PtxTarget target) {
  PtxCheckResult r;
  r.tool = "ptxas";
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/egfuse-ptx-XXXXXX";
  if (!mkdtemp(tmpl)) {
    r.log = "cannot create a temporary directory";
    return r;
  }
  fs::path dir = tmpl;
  {
    std::ofstream f(dir / "m.ptx");
    f << ptx;
  }
  std::string cmd = ptxas_path() + " -arch=" + std::string(ptx_target_name(target)) + " -v -o " +
                    (dir / "m.cubin").string() + " " + (dir / "m.ptx").string() + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    r.log = "cannot run " + ptxas_path();
    return r;
  }
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.log.append(buf.data(), n);
  int status = pclose(pipe);
  r.ok = status == 0;
  if (r.ok) {
    std::ifstream f(dir / "m.cubin", std::ios::binary);
    r.cubin.assign(std::istreambuf_iterator<char>(f), {});
    r.resources = parse_resources(r.log);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return r;
}

}  // namespace

bool ptx_checker_available(std::string& why) {
#if EGFUSE_HAVE_NVJITLINK
  (void)why;
  return true;
#else
  if (access(ptxas_path().c_str(), X_OK) == 0) return true;
  why = "neither nvJitLink nor " + ptxas_path() + " is available";
  return false;
#endif
}

PtxCheckResult check_ptx(const std::string& ptx, PtxTarget target) {
#if EGFUSE_HAVE_NVJITLINK
  if (!std::getenv("EGFUSE_USE_PTXAS")) {
    PtxCheckResult r;
    r.tool = "nvJitLink";
    std::string arch = "-arch=" + std::string(ptx_target_name(target));
    const char* opts[] = {arch.c_str(), "-verbose"};
    nvJitLinkHandle h;
    if (nvJitLinkCreate(&h, 2, opts) != NVJITLINK_SUCCESS) return check_with_ptxas(ptx, target);
    nvJitLinkResult res = nvJitLinkAddData(h, NVJITLINK_INPUT_PTX, ptx.data(), ptx.size(), "egfuse.ptx");
    if (res == NVJITLINK_SUCCESS) res = nvJitLinkComplete(h);
    size_t n = 0;
    if (nvJitLinkGetErrorLogSize(h, &n) == NVJITLINK_SUCCESS && n > 1) {
      std::string s(n, '\0');
      nvJitLinkGetErrorLog(h, s.data());
      s.resize(n - 1);
      r.log += s;
    }
    if (nvJitLinkGetInfoLogSize(h, &n) == NVJITLINK_SUCCESS && n > 1) {
      std::string s(n, '\0');
      nvJitLinkGetInfoLog(h, s.data());
      s.resize(n - 1);
      r.log += s;
    }
    if (res == NVJITLINK_SUCCESS) {
      r.ok = true;
      if (nvJitLinkGetLinkedCubinSize(h, &n) == NVJITLINK_SUCCESS) {
        r.cubin.resize(n);
        nvJitLinkGetLinkedCubin(h, r.cubin.data());
      }
      r.resources = parse_resources(r.log);
    }
    nvJitLinkDestroy(&h);
    return r;
  }
#endif
  return check_with_ptxas(ptx, target);
}

}  // namespace egfuse
