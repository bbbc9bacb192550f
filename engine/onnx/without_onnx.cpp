// Built instead of the importer and exporter when libonnx-dev was not found (cmake
// -DLOOM_ONNX=OFF, or the package missing): naming an ONNX file gets one line saying how to
// get support.

#include "engine/core/error.hpp"
#include "engine/onnx/onnx_import.hpp"

namespace loom {

namespace {

[[noreturn]] void refuse(const std::string& what) {
  throw InputError(what +
                   "this loom was built without ONNX support; install libonnx-dev "
                   "(tools/setup.sh does) and build again");
}

}  // namespace

ImportedModel import_onnx(const std::filesystem::path& file, const ImportOptions&) {
  refuse(file.string() + ": ");
}

std::string export_onnx(const ImportedModel&, const std::map<std::string, std::string>&) {
  refuse("");
}

bool is_exported_onnx(const std::filesystem::path&) {
  return false;
}

std::vector<std::string> onnx_supported_ops() {
  return {};
}

}  // namespace loom
