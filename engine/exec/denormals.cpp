#include "engine/exec/denormals.hpp"

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace loom {

namespace {

#if defined(__x86_64__) || defined(__i386__)
// MXCSR bit 15 flushes subnormal results to zero, bit 6 reads subnormal inputs as zero.
constexpr unsigned kFlushBits = 0x8040;

bool set_on_this_thread(bool flush) {
  const unsigned state = _mm_getcsr();
  _mm_setcsr(flush ? state | kFlushBits : state & ~kFlushBits);
  return true;
}

bool this_thread_flushes() {
  return (_mm_getcsr() & kFlushBits) == kFlushBits;
}
#elif defined(__aarch64__)
// FPCR bit 24 (FZ) flushes subnormal inputs and results to zero.
constexpr unsigned long kFlushBit = 1ul << 24;

unsigned long read_fpcr() {
  unsigned long fpcr;
  asm volatile("mrs %0, fpcr" : "=r"(fpcr));
  return fpcr;
}

bool set_on_this_thread(bool flush) {
  const unsigned long fpcr = flush ? read_fpcr() | kFlushBit : read_fpcr() & ~kFlushBit;
  asm volatile("msr fpcr, %0" : : "r"(fpcr));
  return true;
}

bool this_thread_flushes() {
  return (read_fpcr() & kFlushBit) != 0;
}
#else
bool set_on_this_thread(bool) {
  return false;
}

bool this_thread_flushes() {
  return false;
}
#endif

}  // namespace

// Every thread of the pool as large as it now is sets its own control register.
bool set_flush_denormals(bool flush) {
  if (!set_on_this_thread(flush)) return false;
#pragma omp parallel num_threads(omp_get_max_threads())
  set_on_this_thread(flush);
  return true;
}

bool flushes_denormals() {
  return this_thread_flushes();
}

}  // namespace loom
