// Case collection, the parallel driver and JUnit XML output. The checks of one
// case live in check_case.cpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "egfuse/conform.hpp"

namespace egfuse::conform {
namespace fs = std::filesystem;

static std::vector<std::string> collect(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (auto& p : paths) {
    if (fs::is_directory(p)) {
      for (auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".case") out.push_back(e.path().string());
    } else {
      out.push_back(p);  // a missing file is reported by run_case
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<CaseResult> run_cases(const std::vector<std::string>& paths, const RunConfig& cfg) {
  auto files = collect(paths);
  std::vector<CaseResult> results(files.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < files.size();) {
      auto t0 = std::chrono::steady_clock::now();
      try {
        results[i] = run_case(files[i], cfg);
      } catch (const std::exception& e) {
        results[i].name = fs::path(files[i]).stem().string();
        results[i].path = files[i];
        results[i].status = CaseResult::Status::failed;
        results[i].failures.push_back(std::string("internal error: ") + e.what());
      }
      results[i].seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  };
  int jobs = std::max(1, std::min<int>(cfg.jobs, int(files.size())));
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  return results;
}

static std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string junit_xml(const std::vector<CaseResult>& results) {
  size_t failed = 0, skipped = 0;
  double total = 0;
  for (auto& r : results) {
    failed += r.status == CaseResult::Status::failed;
    skipped += r.status == CaseResult::Status::skipped;
    total += r.seconds;
  }
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  os << "<testsuites>\n<testsuite name=\"egfuse-conform\" tests=\"" << results.size() << "\" failures=\"" << failed
     << "\" skipped=\"" << skipped << "\" time=\"" << total << "\">\n";
  for (auto& r : results) {
    os << "  <testcase classname=\"" << xml_escape(fs::path(r.path).parent_path().string()) << "\" name=\""
       << xml_escape(r.name) << "\" time=\"" << r.seconds << "\"";
    if (r.status == CaseResult::Status::passed) {
      os << "/>\n";
      continue;
    }
    os << ">\n";
    if (r.status == CaseResult::Status::skipped) {
      os << "    <skipped message=\"" << xml_escape(r.skip_reason) << "\"/>\n";
    } else {
      std::string all;
      for (auto& f : r.failures) all += f + "\n";
      os << "    <failure message=\"" << xml_escape(r.failures.empty() ? "failed" : r.failures[0]) << "\">"
         << xml_escape(all) << "</failure>\n";
    }
    os << "  </testcase>\n";
  }
  os << "</testsuite>\n</testsuites>\n";
  return os.str();
}

}  // namespace egfuse::conform
