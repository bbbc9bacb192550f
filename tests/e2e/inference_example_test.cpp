// examples/inference against an installed loom: `cmake --install` into a temporary prefix, the
// example built out of the tree with find_package(loom) and again with pkg-config, and its
// classifications of an image and of CSV rows equal to `trainer predict` on the same inputs.

#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/exported_model.hpp"
#include "tests/support/image_files.hpp"
#include "tests/support/npy_writer.hpp"

namespace loom::testing {
namespace {

// The sanitizer flags of this build: an instrumented libloom needs an instrumented program.
std::string sanitizer_flags() {
  const std::string sanitizers = LOOM_SANITIZE_FLAGS;
  return sanitizers.empty() ? "" : "-fsanitize=" + sanitizers;
}

// `trainer predict` as the example prints it: index,predicted,p of the predicted class.
std::string trainer_classes(const ExportedRun& r, const std::string& input) {
  const CommandResult predicted = r.trainer("predict " + r.model + " --input " + input);
  EXPECT_EQ(predicted.exit_code, 0) << predicted.err;
  std::stringstream lines(predicted.out);
  std::string line, text;
  std::getline(lines, line);  // index,p0,p1,predicted
  while (std::getline(lines, line)) {
    std::stringstream cells(line);
    std::string index, p0, p1, predicted_class;
    std::getline(cells, index, ',');
    std::getline(cells, p0, ',');
    std::getline(cells, p1, ',');
    std::getline(cells, predicted_class, ',');
    text += index + "," + predicted_class + "," + (predicted_class == "0" ? p0 : p1) + "\n";
  }
  return text;
}

TEST(InferenceExample, BuildsAgainstTheInstalledPackageAndAgreesWithPredict) {
  const ExportedRun r;
  ASSERT_EQ(r.trainer("export " + r.run + " --output " + r.model).exit_code, 0);
  const std::string prefix = r.directory.file("prefix");
  const CommandResult installed =
      run_command("cmake --install " + std::string(LOOM_BUILD_DIR) + " --prefix " + prefix);
  ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;

  const std::string flags = sanitizer_flags();
  const std::string build = r.directory.file("classify-build");
  const CommandResult configured =
      run_command("cmake -S " + source_path("examples/inference") + " -B " + build +
                  " -DCMAKE_PREFIX_PATH=" + prefix + " -DCMAKE_BUILD_TYPE=Release" +
                  (flags.empty() ? "" : " '-DCMAKE_CXX_FLAGS=" + flags + "'"));
  ASSERT_EQ(configured.exit_code, 0) << configured.out << configured.err;
  const CommandResult built = run_command("cmake --build " + build);
  ASSERT_EQ(built.exit_code, 0) << built.out << built.err;
  const std::string with_pkg_config = r.directory.file("classify-pkg-config");
  const CommandResult compiled =
      run_command("c++ -std=c++20 " + flags + " " + source_path("examples/inference/classify.cpp") +
                  " -o " + with_pkg_config + " $(PKG_CONFIG_PATH=" + prefix +
                  "/lib/pkgconfig pkg-config --cflags --libs loom)");
  ASSERT_EQ(compiled.exit_code, 0) << compiled.out << compiled.err;

  // A bright image, and the first five samples as CSV rows of raw pixel values.
  std::vector<uint8_t> bright(64, 200);
  write_png(r.directory.file("bright.png"), 8, 8, 1, bright);
  std::string rows;
  for (int i = 0; i < 5; ++i) {
    for (int p = 0; p < 16; ++p)
      rows += (p ? "," : "") + std::to_string(r.images[size_t(i * 16 + p)]);
    rows += "\n";
  }
  write_file(r.directory.file("rows.csv"), rows);

  for (const std::string& input : {r.directory.file("bright.png"), r.directory.file("rows.csv")}) {
    const std::string expected = trainer_classes(r, input);
    ASSERT_FALSE(expected.empty());
    for (const std::string& program : {build + "/classify", with_pkg_config}) {
      const CommandResult classified = run_command(program + " " + r.model + " " + input);
      ASSERT_EQ(classified.exit_code, 0) << classified.err;
      EXPECT_EQ(classified.out, expected) << program << " " << input;
    }
  }
}

}  // namespace
}  // namespace loom::testing
