#pragma once
// PNG and JPEG files written by libpng and libjpeg themselves, so the decoders are tested
// against real encoders rather than against their own writer.

#include <cstdint>
#include <string>
#include <vector>

namespace loom::testing {

// 8-bit gray (1), RGB (3) or RGBA (4) pixels, rows top to bottom, channels last.
void write_png(const std::string& file, int64_t height, int64_t width, int64_t channels,
               const std::vector<uint8_t>& pixels);
// 16-bit gray samples.
void write_png16(const std::string& file, int64_t height, int64_t width,
                 const std::vector<uint16_t>& samples);
// A palette image: `indices` into `palette` (RGB triples).
void write_png_palette(const std::string& file, int64_t height, int64_t width,
                       const std::vector<uint8_t>& indices, const std::vector<uint8_t>& palette);
// Gray (1) or RGB (3) at `quality` (1 to 100).
void write_jpeg(const std::string& file, int64_t height, int64_t width, int64_t channels,
                const std::vector<uint8_t>& pixels, int quality = 95);

std::vector<uint8_t> read_file_bytes(const std::string& file);
void write_file_bytes(const std::string& file, const std::vector<uint8_t>& bytes);

}  // namespace loom::testing
