#include "engine/plugin/load_plugin.hpp"

#include <dlfcn.h>

#include <mutex>
#include <set>
#include <string>

#include "engine/core/error.hpp"
#include "engine/plugin/plugin.hpp"

namespace loom {

namespace {

using VersionFunction = int (*)();
using RegisterFunction = void (*)(PluginRegistrar&);

std::string last_dl_error() {
  const char* message = dlerror();
  return message ? message : "unknown error";
}

}  // namespace

void load_plugin(const std::filesystem::path& file) {
  static std::mutex mutex;
  static std::set<std::filesystem::path> loaded;
  const std::lock_guard lock(mutex);

  const std::string name = file.string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    throw InputError(name + ": plugin not found");
  }
  const std::filesystem::path canonical = std::filesystem::canonical(file);
  if (loaded.contains(canonical)) return;

  // RTLD_NOW: an unresolved symbol is reported here, not as a crash in the middle of a run.
  // The handle is never closed: registered ops point into the library for the whole run.
  void* library = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) throw InputError(name + ": cannot load the plugin: " + last_dl_error());

  const auto version = reinterpret_cast<VersionFunction>(dlsym(library, "loom_plugin_api_version"));
  const auto register_plugin =
      reinterpret_cast<RegisterFunction>(dlsym(library, "loom_plugin_register"));
  if (!version || !register_plugin) {
    throw InputError(name + ": not a loom plugin: it does not export " +
                     std::string(!version ? "loom_plugin_api_version" : "loom_plugin_register") +
                     " (define it with LOOM_PLUGIN from engine/plugin/plugin.hpp)");
  }
  if (const int built_for = version(); built_for != LOOM_PLUGIN_API_VERSION) {
    throw InputError(name + ": the plugin was built for plugin API version " +
                     std::to_string(built_for) + ", this engine has version " +
                     std::to_string(LOOM_PLUGIN_API_VERSION) + ": rebuild it");
  }
  PluginRegistrar registrar{OpRegistry::global(), OptimizerRegistry::global()};
  try {
    register_plugin(registrar);
  } catch (const std::exception& failure) {
    throw InputError(name + ": the plugin failed to register: " + failure.what());
  } catch (...) {
    throw InputError(name + ": the plugin failed to register (a non-standard exception)");
  }
  loaded.insert(canonical);
}

}  // namespace loom
