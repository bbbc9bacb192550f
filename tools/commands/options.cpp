// `trainer options [NAME]`: what a config may write for optimizers, learning-rate schedules,
// metrics, callbacks and plugin layers, printed from the schemas the config reads them with (so the
// listing cannot drift from what is accepted). Plugins named with --plugin add theirs.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/describe_options.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"

namespace loom {

namespace {

struct OptionsFlags {
  std::string name;  // empty: everything
  std::vector<std::string> plugins;
};

int list_options(const OptionsFlags& flags) {
  for (const std::string& plugin : flags.plugins) load_plugin(plugin);
  const std::string text =
      flags.name.empty() ? describe_all_options() : describe_options_of(flags.name);
  std::fputs(text.c_str(), stdout);
  return kSucceeded;
}

}  // namespace

Command options_command() {
  const auto flags = std::make_shared<OptionsFlags>();
  return {.name = "options",
          .description =
              "list every optimizer, schedule, metric and callback with its options "
              "(type, default, range), or one of them by NAME",
          .add_flags =
              [flags](CLI::App& command) {
                command.add_option("name", flags->name,
                                   "an optimizer, schedule, metric or callback, e.g. rmsprop");
                command.add_option("--plugin", flags->plugins,
                                   "load ops and optimizers from this shared library first "
                                   "(repeatable)");
              },
          .run = [flags](Communicator&) { return list_options(*flags); }};
}

}  // namespace loom
