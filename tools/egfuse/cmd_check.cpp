// `egfuse check FILE...`: parse and check rule files (and what they include).
// Prints every diagnostic; exits 1 when there is an error (or, with --werror, a
// warning). With no FILE, checks the standard rule library.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "egfuse/rule_ast.hpp"
#include "tools/egfuse/command.hpp"

namespace {

std::function<int()> setup_check(CLI::App& sub) {
  struct Options {
    std::vector<std::string> files;
    std::string format = "text";
    bool werror = false, quiet = false;
  };
  auto o = std::make_shared<Options>();
  sub.add_option("files", o->files, "rule files (default: the standard library)");
  sub.add_option("--format", o->format, "diagnostic format: text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  sub.add_flag("--werror", o->werror, "treat warnings as errors");
  sub.add_flag("-q,--quiet", o->quiet, "no summary line");
  return [o]() {
    std::vector<std::string> files = o->files.empty() ? egfuse::rules::standard_rule_files() : o->files;
    egfuse::Diagnostics diags;
    egfuse::rules::RuleSet rs = egfuse::rules::load_rules(files, diags);
    diags.sort();
    if (o->format == "json") {
      std::cout << diags.render_json();
    } else {
      std::cerr << diags.render(false);
      if (!o->quiet)
        std::cerr << rs.files.size() << " file(s), " << rs.ops.size() << " ops, " << rs.templates.size()
                  << " templates, " << rs.rules.size() << " rules: " << diags.error_count() << " error(s), "
                  << diags.warning_count() << " warning(s)\n";
    }
    if (diags.has_errors()) return 1;
    if (o->werror && diags.warning_count() > 0) return 1;
    return 0;
  };
}

}  // namespace

EGFUSE_COMMAND(check, "check", "Parse and check rule files (errors with file:line:col)", setup_check);
