#include "common/default_signals.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

namespace gatehouse {

void DefaultSignals() {
  constexpr size_t kKernelSigsetBytes = (_NSIG - 1) / 8;
  unsigned long zeroed[8] = {};  // SIG_DFL, no flags, an empty mask
  for (int signal = 1; signal < _NSIG; ++signal) {
    if (signal != SIGKILL && signal != SIGSTOP) {
      syscall(SYS_rt_sigaction, signal, zeroed, nullptr, kKernelSigsetBytes);
    }
  }
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, zeroed, nullptr, kKernelSigsetBytes);
}

}  // namespace gatehouse
