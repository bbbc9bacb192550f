#pragma once
// NumPy's .npy format (a magic string, a version, a header dict with 'descr', 'fortran_order'
// and 'shape', then the raw C-order data) and .npz archives of them (a zip file, stored or
// deflated). A .npy array in native byte order is memory-mapped, not read: a training set
// larger than memory trains, its pages read on demand and dropped by the kernel as needed.

#include <filesystem>
#include <string>

#include "engine/data/source.hpp"

namespace loom {

SourceData read_npy_source(const NpySource& source, const SourceContext& context);
SourceSize inspect_npy_source(const NpySource& source);
SourceData read_npz_source(const NpzSource& source, const SourceContext& context);
SourceSize inspect_npz_source(const NpzSource& source);

}  // namespace loom
