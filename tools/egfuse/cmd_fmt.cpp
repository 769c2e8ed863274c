// `egfuse fmt FILE...`: rewrite rule files in canonical layout (idempotent,
// keeps comments). --check only reports files that are not formatted and exits
// 1; --stdout prints the formatted text instead of writing it.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "egfuse/rule_ast.hpp"
#include "tools/egfuse/command.hpp"

namespace {

std::function<int()> setup_fmt(CLI::App& sub) {
  struct Options {
    std::vector<std::string> files;
    bool check = false, to_stdout = false;
  };
  auto o = std::make_shared<Options>();
  sub.add_option("files", o->files, "rule files")->required();
  sub.add_flag("--check", o->check, "exit 1 if a file is not formatted (nothing is written)");
  sub.add_flag("--stdout", o->to_stdout, "print the formatted text to stdout");
  return [o]() {
    int status = 0;
    for (auto& path : o->files) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::cerr << path << ": error: cannot open file\n";
        status = 1;
        continue;
      }
      std::stringstream ss;
      ss << in.rdbuf();
      std::string text = ss.str();
      egfuse::Diagnostics diags;
      auto formatted = egfuse::rules::format_rules(path, text, diags);
      if (!formatted) {
        diags.sort();
        std::cerr << diags.render(false);
        status = 1;
        continue;
      }
      if (o->to_stdout) {
        std::cout << *formatted;
      } else if (o->check) {
        if (*formatted != text) {
          std::cout << path << ": not formatted (run: egfuse fmt " << path << ")\n";
          status = 1;
        }
      } else if (*formatted != text) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << *formatted;
        if (!out) {
          std::cerr << path << ": error: cannot write file\n";
          status = 1;
        }
      }
    }
    return status;
  };
}

}  // namespace

EGFUSE_COMMAND(fmt, "fmt", "Format rule files in canonical layout (--check to verify)", setup_fmt);
