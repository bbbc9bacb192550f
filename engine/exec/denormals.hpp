#pragma once
// Flush-to-zero for float32 subnormals (|x| < 1.18e-38) on the threads that run kernels.
//
// Why: x86 cores take a microcode assist, tens to a hundred cycles, for each arithmetic
// operation on a subnormal. Optimizer state decays into that range: RMSprop's velocity of a
// weight whose input pixel is almost always 0 shrinks by rho = 0.9 a step, and passes through
// the subnormals after about 800 steps. On the book MLP (Intel Xeon, AVX-512, 1 thread) the
// rmsprop update took 1.55 ms a step with subnormals and 0.37 ms without them.
//
// TensorFlow, and so Keras, runs its kernels with flush-to-zero and denormals-are-zero;
// PyTorch keeps IEEE subnormals unless torch.set_flush_denormal(True). The trainer flushes
// unless a config says `trainer.flush_denormals: false`.

namespace loom {

// Sets (or clears) flush-to-zero and denormals-are-zero on the calling thread and on every
// thread of OpenMP's pool. Threads OpenMP creates later copy the calling thread's setting
// (Linux copies the floating-point control state into a new thread).
// Returns false where the CPU family has no such mode known to this build (nothing changed).
bool set_flush_denormals(bool flush);

// Whether the calling thread flushes subnormals now.
bool flushes_denormals();

}  // namespace loom
