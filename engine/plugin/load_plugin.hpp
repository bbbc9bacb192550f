#pragma once
// Loading plugins (see plugin.hpp). Every failure is an InputError that names the file and
// says what was wrong: missing file, not a shared library, missing entry points, built for
// another plugin API version, a name registered twice, or an exception during registration.

#include <filesystem>

namespace loom {

// Loads a plugin once: loading the same file again (by its canonical path) does nothing.
void load_plugin(const std::filesystem::path& file);

}  // namespace loom
