// Runs a fuzz target over files instead of under libFuzzer, so the normal build (GCC, no
// fuzzing runtime) replays the seed corpus and every input the fuzzer once failed on as a
// regression test. An input that escapes with anything but a clean rejection fails the run.
//
//   fuzz_config_replay FILE_OR_DIRECTORY...

#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  if (!in.eof() && !in) {
    std::cerr << file.string() << ": cannot read\n";
    return false;
  }
  try {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return true;
  } catch (const std::exception& error) {
    std::cerr << file.string() << ": escaped with " << error.what() << "\n";
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int inputs = 0;
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path root = argv[i];
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(root)) {
      for (const auto& entry : std::filesystem::directory_iterator(root)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.push_back(root);
    }
    for (const auto& file : files) {
      ++inputs;
      if (!replay(file)) ++failures;
    }
  }
  std::cout << inputs << " inputs replayed, " << failures << " failed\n";
  return inputs > 0 && failures == 0 ? 0 : 1;
}
