#pragma once
// A seeded generator whose streams are identical on every platform and standard library
// (std::uniform_real_distribution and std::shuffle are implementation-defined).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <sstream>
#include <string>

namespace loom {

__extension__ using uint128 = unsigned __int128;  // __extension__: GCC and Clang have it

// The seed of stream `stream` under `seed`: distinct streams of one seed, and one stream of
// distinct seeds, start far apart (a multiple of the golden ratio's 64-bit fraction).
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  return seed * 0x9e3779b97f4a7c15ULL + stream;
}

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  // Uniform integer in [0, bound), unbiased (Lemire's rejection method).
  uint64_t below(uint64_t bound) {
    const uint64_t threshold = -bound % bound;
    while (true) {
      const uint64_t draw = engine_();
      const uint128 product = static_cast<uint128>(draw) * bound;
      if (static_cast<uint64_t>(product) >= threshold) return static_cast<uint64_t>(product >> 64);
    }
  }

  // Standard normal by Box-Muller (no cached second value, so the stream stays simple).
  double normal();

  // The generator's whole state as text, and back (checkpoints resume the exact stream).
  std::string state() const {
    std::ostringstream out;
    out << engine_;
    return out.str();
  }
  // False (and the generator unchanged) for text that is not such a state: anything but
  // decimal words that fit 64 bits, or a state of zeros, from which the generator would draw
  // zeros forever (and below() would never return).
  [[nodiscard]] bool restore(const std::string& state) {
    const bool words_only = !state.empty() && std::ranges::all_of(state, [](char c) {
      return (c >= '0' && c <= '9') || c == ' ';
    });
    if (!words_only) return false;
    std::istringstream words(state);
    for (std::string word; words >> word;) {
      if (word.size() > 20 || (word.size() == 20 && word > "18446744073709551615")) return false;
    }
    std::istringstream in(state);
    std::mt19937_64 restored;
    in >> restored;
    if (in.fail() || !(in >> std::ws).eof()) return false;
    std::mt19937_64 probe = restored;
    bool draws_something = false;
    for (size_t i = 0; i < std::mt19937_64::state_size && !draws_something; ++i) {
      draws_something = probe() != 0;
    }
    if (!draws_something) return false;
    engine_ = restored;
    return true;
  }

  template <typename T>
  void shuffle(std::span<T> items) {
    for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

inline double Random::normal() {
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace loom
