// Files NumPy itself wrote (np.save, np.savez, np.savez_compressed; big-endian, float16,
// Fortran order, complex and object arrays), read back by the engine's readers. Skipped only
// when /usr/bin/python3 has no numpy (tools/setup.sh installs Debian's python3-numpy).

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/npy.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

using testing::expect_input_error;
using testing::run_command;
using testing::TemporaryDirectory;

constexpr const char* kTypes[] = {"bool",  "uint8",  "int8",  "uint16",  "int16",   "uint32",
                                  "int32", "uint64", "int64", "float16", "float32", "float64"};

// Element i of every array is i·7 mod 11, minus 3 for signed and float types, modulo 2 for
// bool: small integers every dtype holds exactly.
double expected_value(const std::string& type, int64_t i) {
  const int64_t value = i * 7 % 11;
  if (type == "bool") return double(value % 2);
  if (type.starts_with("uint")) return double(value);
  return double(value - 3);
}

const char* kScript = R"(
import numpy as np, sys
out = sys.argv[1]
for name in %s:
    i = np.arange(24).reshape(4, 3, 2) * 7 %% 11
    a = (i %% 2 if name == 'bool' else i if name.startswith('uint') else i - 3).astype(name)
    np.save(f'{out}/{name}.npy', a)
    if a.dtype.itemsize > 1:
        np.save(f'{out}/{name}_big.npy', a.astype(a.dtype.newbyteorder('>')))
x = (np.arange(24).reshape(4, 3, 2) * 7 %% 11 - 3).astype(np.float32)
y = np.array([2, 0, 1, 2], dtype=np.int64)
np.savez(f'{out}/plain.npz', x_train=x, y_train=y)
np.savez_compressed(f'{out}/packed.npz', x_train=x, y_train=y)
np.save(f'{out}/fortran.npy', np.asfortranarray(np.ones((3, 4), dtype=np.float32)))
np.save(f'{out}/complex.npy', np.ones(3, dtype=np.complex64))
np.save(f'{out}/object.npy', np.array([1, 'a'], dtype=object), allow_pickle=True)
)";

class NumpyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run_command("/usr/bin/python3 -c 'import numpy' 2>/dev/null").exit_code != 0) {
      GTEST_SKIP() << "/usr/bin/python3 has no numpy (tools/setup.sh installs python3-numpy)";
    }
    std::string types = "[";
    for (const char* type : kTypes) types += std::string("'") + type + "',";
    char script[4096];
    std::snprintf(script, sizeof script, kScript, (types + "]").c_str());
    TemporaryDirectory scripts;
    testing::write_file(scripts.file("make.py"), script);
    const auto result =
        run_command("/usr/bin/python3 " + scripts.file("make.py") + " " + dir_.path());
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }

  static void expect_values(const SampleArray& array, const std::string& type) {
    ASSERT_EQ(array.count(), 4) << type;
    ASSERT_EQ(array.sample_shape(), (Shape{3, 2})) << type;
    EXPECT_EQ(element_name(array.type()), type);
    for (int64_t i = 0; i < 24; ++i) {
      ASSERT_EQ(array.value(i / 6, i % 6), expected_value(type, i)) << type << " element " << i;
    }
    std::vector<float> floats(6);
    array.to_float(3, 1.f, floats.data());
    EXPECT_EQ(floats[5], float(expected_value(type, 23))) << type;
  }

  SampleArray read(const std::string& name) {
    return read_npy_source({.features = dir_.file(name), .targets = {}},
                           {.targets_required = false})
        .features;
  }

  TemporaryDirectory dir_;
};

TEST_F(NumpyFiles, EveryDtypeInBothByteOrders) {
  for (const std::string type : kTypes) {
    expect_values(read(type + ".npy"), type);
    if (type != "bool" && type != "uint8" && type != "int8") {
      expect_values(read(type + "_big.npy"), type);
    }
  }
}

TEST_F(NumpyFiles, SavezStoredAndCompressed) {
  for (const std::string name : {"plain.npz", "packed.npz"}) {
    const NpzSource source{.file = dir_.file(name), .features = "x_train", .targets = "y_train"};
    const SourceData data = read_npz_source(source, {.where = "t.yaml"});
    expect_values(data.features, "float32");
    ASSERT_TRUE(data.targets);
    EXPECT_EQ(data.targets->value(0, 0), 2.0) << name;
    EXPECT_EQ(data.targets->value(3, 0), 2.0) << name;
    EXPECT_EQ(inspect_npz_source(source).samples, 4) << name;
  }
  EXPECT_EQ(inspect_npz_source(
                {.file = dir_.file("plain.npz"), .features = "x_train", .targets = "y_train"})
                .bytes,
            0);  // stored members are mapped
}

TEST_F(NumpyFiles, WhatIsNotACOrderNumericArrayIsRefused) {
  expect_input_error([&] { read("fortran.npy"); }, {"fortran.npy", "Fortran"});
  expect_input_error([&] { read("complex.npy"); }, {"complex.npy", "'<c8'", "complex"});
  expect_input_error([&] { read("object.npy"); }, {"object.npy", "'|O'", "objects"});
}

}  // namespace
}  // namespace loom
