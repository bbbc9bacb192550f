#include "engine/plugin/load_plugin.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/plugin/plugin.hpp"

namespace loom {

namespace {

using VersionFunction = int (*)();
using RegisterFunction = void (*)(PluginRegistrar&);

std::string last_dl_error() {
  const char* message = dlerror();
  return message ? message : "unknown error";
}

// A plugin that crashes while it loads or registers (a null pointer in a static initializer,
// an abort) would otherwise end the trainer with a bare "Segmentation fault". While the
// plugin's code runs, fatal signals print the trainer's one-line error naming the plugin and
// exit 2, as for any bad input. The message is formatted before the guard is armed: a signal
// handler may only call async-signal-safe functions such as write and _exit.
class PluginCrashGuard {
 public:
  PluginCrashGuard(const std::string& plugin, const char* stage) {
    const std::string message = "error: " + plugin + ": the plugin crashed while " + stage + " (";
    std::strncpy(message_.data(), message.c_str(), message_.size() - 1);
    struct sigaction action {};
    action.sa_handler = &PluginCrashGuard::on_fatal_signal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &action, &previous_[i]);
  }
  ~PluginCrashGuard() {
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &previous_[i], nullptr);
  }
  PluginCrashGuard(const PluginCrashGuard&) = delete;
  PluginCrashGuard& operator=(const PluginCrashGuard&) = delete;

 private:
  static constexpr std::array kSignals = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

  static void on_fatal_signal(int signal_number) {
    // The signal's name by hand: strsignal is not async-signal-safe.
    const char* name = signal_number == SIGSEGV  ? "SIGSEGV"
                       : signal_number == SIGBUS ? "SIGBUS"
                       : signal_number == SIGFPE ? "SIGFPE"
                       : signal_number == SIGILL ? "SIGILL"
                                                 : "SIGABRT";
    write_all(message_.data());
    write_all(name);
    write_all(")\n");
    _exit(2);
  }
  static void write_all(const char* text) {
    size_t left = std::strlen(text);
    while (left > 0) {
      const ssize_t count = write(STDERR_FILENO, text, left);
      if (count <= 0) return;
      text += count;
      left -= size_t(count);
    }
  }

  static inline std::array<char, 4096> message_{};
  std::array<struct sigaction, kSignals.size()> previous_{};
};

}  // namespace

void load_plugin(const std::filesystem::path& file) {
  static std::mutex mutex;
  static std::set<std::filesystem::path> loaded;
  const std::lock_guard lock(mutex);

  const std::string name = file.string();
  std::error_code error;
  if (!std::filesystem::exists(file, error)) throw InputError(name + ": plugin not found");
  expect_regular_file(file, "plugin");  // dlopen() of a FIFO would wait for a writer
  const std::filesystem::path canonical = std::filesystem::canonical(file);
  if (loaded.contains(canonical)) return;

  // RTLD_NOW: an unresolved symbol is reported here, not as a crash in the middle of a run.
  // The handle is never closed: registered ops point into the library for the whole run.
  void* library = nullptr;
  {
    const PluginCrashGuard guard(name, "loading");
    library = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
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
  PluginRegistrar registrar{OpRegistry::global(), OptimizerRegistry::global(),
                            LayerRegistry::global()};
  try {
    const PluginCrashGuard guard(name, "registering");
    register_plugin(registrar);
  } catch (const std::exception& failure) {
    throw InputError(name + ": the plugin failed to register: " + failure.what());
  } catch (...) {
    throw InputError(name + ": the plugin failed to register (a non-standard exception)");
  }
  loaded.insert(canonical);
}

}  // namespace loom
