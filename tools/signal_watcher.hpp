#pragma once
// SIGINT and SIGTERM without signal handlers.
//
// A handler runs on whichever thread the kernel picks, on that thread's stack: inside a
// oneDNN JIT kernel or an OpenMP worker that is the middle of code that keeps data below its
// stack pointer and of lazily bound library calls, and a frame pushed there corrupted the heap
// about one time in three. So no handler is ever installed: `block_stop_signals()` blocks both
// signals in the first thread, before any other thread exists (OpenMP's pool, Open MPI's
// progress threads and every thread after inherit the mask), and one dedicated thread receives
// them with sigwait(). No signal frame ever lands on a compute thread, and no library code runs
// in signal context.
//
// What a signal does depends on the phase the program declares:
//  - `setup` (the default; also the whole of evaluate, predict, graph, gradcheck and bench):
//    nothing of the user's has been written yet, so the process ends at once with exit code
//    130 and one line on stderr;
//  - `running` (training, after setup): the stop flag is set and the trainer finishes the
//    step, writes its checkpoint and returns; further signals only set the flag again.
// The switch to `running` and an exit in `setup` exclude each other, so a signal that arrives
// while the switch happens is either an exit before anything is written or a stop.

#include <atomic>

namespace loom {

enum class SignalPhase { setup, running };

// Call first in main(), before any thread is created. `stop_flag` is what `running` sets.
void block_stop_signals(std::atomic<bool>& stop_flag);

// Declares the phase. After enter_running() returns, no signal ends the process.
void enter_running_phase();

// Signals received so far (tests and logs).
int stop_signals_received();

}  // namespace loom
