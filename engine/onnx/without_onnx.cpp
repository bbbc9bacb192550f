// Built instead of the importer when libonnx-dev was not found (cmake -DLOOM_ONNX=OFF, or
// the package missing): a config that names an ONNX file gets one line saying how to get it.

#include "engine/core/error.hpp"
#include "engine/onnx/onnx_import.hpp"

namespace loom {

ImportedModel import_onnx(const std::filesystem::path& file, const ImportOptions&) {
  throw InputError(file.string() +
                   ": this loom was built without ONNX support; install libonnx-dev "
                   "(tools/setup.sh does) and build again");
}

std::vector<std::string> onnx_supported_ops() {
  return {};
}

bool onnx_available() {
  return false;
}

}  // namespace loom
