// The egfuse command line: dispatches to the registered subcommands.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>

#include "egfuse/diagnostics.hpp"
#include "egfuse_config.h"
#include "tools/egfuse/command.hpp"

namespace egfuse::cli {
std::vector<CommandInfo>& command_registry() {
  static std::vector<CommandInfo> registry;
  return registry;
}
}  // namespace egfuse::cli

int main(int argc, char** argv) {
  using namespace egfuse::cli;
  CLI::App app{"egfuse: a rule-driven fusion engine for tensor programs (PTX and SPIR-V backends)"};
  app.set_version_flag("--version", std::string("egfuse ") + EGFUSE_VERSION);
  app.require_subcommand(1);
  auto commands = command_registry();
  std::sort(commands.begin(), commands.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::map<std::string, std::function<int()>> runners;
  for (auto& c : commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners[c.name] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto* sub : app.get_subcommands())
      if (sub->parsed()) return runners.at(sub->get_name())();
  } catch (const egfuse::Error& e) {
    std::cerr << "egfuse: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "egfuse: internal error: " << e.what() << "\n";
    return 70;
  }
  return 1;
}
