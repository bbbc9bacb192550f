#include "tools/signal_watcher.hpp"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace loom {

namespace {

constexpr int kInterruptedExitCode = 130;

struct WatcherState {
  std::mutex phase_mutex;  // held by the watcher while it acts, and by the phase switch
  SignalPhase phase = SignalPhase::setup;
  std::atomic<bool>* stop_flag = nullptr;
  std::atomic<int> received{0};
};

// Never destroyed: a signal may arrive while static destructors run at exit.
WatcherState& state() {
  static auto* instance = new WatcherState;
  return *instance;
}

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void act_on(int signal_number) {
  WatcherState& s = state();
  std::lock_guard lock(s.phase_mutex);
  const int count = ++s.received;
  if (s.phase == SignalPhase::setup) {
    // Nothing has been written: end here, without running destructors or atexit handlers
    // that other threads' half-done work could trip over.
    std::fprintf(stderr, "interrupted (%s); nothing was written\n", strsignal(signal_number));
    std::fflush(stderr);
    _exit(kInterruptedExitCode);
  }
  s.stop_flag->store(true);
  if (count == 1) {
    std::fprintf(stderr, "%s: stopping after this step and writing the checkpoint\n",
                 strsignal(signal_number));
  } else {
    std::fprintf(stderr, "%s: already stopping; the checkpoint is being written\n",
                 strsignal(signal_number));
  }
}

void watch() {
  const sigset_t set = stop_signal_set();
  for (;;) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) == 0) act_on(signal_number);
  }
}

}  // namespace

namespace {

void block_in_this_thread() {
  const sigset_t set = stop_signal_set();
  if (const int error = pthread_sigmask(SIG_BLOCK, &set, nullptr); error != 0) {
    std::fprintf(stderr, "failure: cannot block SIGINT and SIGTERM (%s)\n", std::strerror(error));
    std::_Exit(1);
  }
}

// As early as the program can: before main() and the static constructors of the trainer's
// own files. A signal that arrives even earlier, while the program is being loaded, ends it
// by the default action, with nothing done.
__attribute__((constructor(101))) void block_at_load() {
  block_in_this_thread();
}

}  // namespace

void block_stop_signals(std::atomic<bool>& stop_flag) {
  state().stop_flag = &stop_flag;
  block_in_this_thread();
  std::thread(watch).detach();  // inherits the mask; sigwait() takes the pending signals
}

void enter_running_phase() {
  WatcherState& s = state();
  std::lock_guard lock(s.phase_mutex);
  s.phase = SignalPhase::running;
}

int stop_signals_received() {
  return state().received.load();
}

}  // namespace loom
