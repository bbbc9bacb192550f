#pragma once
// Samples to predict, written as text: one sample per line, its raw values (pixels 0..255,
// as the idx files hold them) separated by commas. A first line that starts with a letter
// names the columns and is skipped, as are empty lines.

#include <filesystem>
#include <string_view>

#include "engine/core/tensor_type.hpp"
#include "engine/data/sample_array.hpp"

namespace loom {

// The samples, each of `sample_shape`, as uint8. `what` names the
// file in errors about opening it ("--input"). Errors (InputError) point at the defect:
//   <file>:<line>:<column>: expected a pixel value 0..255, got '<cell>'
//   <file>:<line>: expected <n> values, got <m>
//   <file>: no samples
// A file larger than 2 GiB is refused before it is read.
SampleArray read_csv_samples(const std::filesystem::path& file, const Shape& sample_shape,
                             std::string_view what);

}  // namespace loom
