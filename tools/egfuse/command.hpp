// Subcommand registration for the egfuse CLI. Each cmd_*.cpp defines one
// subcommand and registers it with EGFUSE_COMMAND; main.cpp adds them to the
// CLI11 app in name order and runs the one chosen.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace egfuse::cli {

// setup() declares options on `sub` and returns the function that runs the
// command after parsing (its return value is the exit status).
using CommandSetup = std::function<std::function<int()>(CLI::App& sub)>;

struct CommandInfo {
  std::string name, help;
  CommandSetup setup;
};

std::vector<CommandInfo>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string help, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

#define EGFUSE_COMMAND(ident, name, help, setup) \
  static ::egfuse::cli::CommandRegistrar egfuse_command_##ident(name, help, setup)

}  // namespace egfuse::cli
