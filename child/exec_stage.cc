#include "child/exec_stage.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/sys_error.h"

namespace gatehouse {
namespace {

// The stage's own stack: it needs little (no allocation, a few calls deep). One
// is enough and is kept: CLONE_VFORK holds this single-threaded child until the
// stage has exec'd or exited, so two stages never run at once.
constexpr size_t kStackBytes = 64 * 1024;
// The kernel's sigset (64 signals on most architectures), for the raw calls
// that reach signals 32 and 33 as well, which glibc's wrappers refuse.
constexpr size_t kKernelSigsetBytes = (_NSIG - 1) / 8;

enum class Step { kNone, kSession, kFds, kWorkingDirectory, kLimits, kNice, kExec };

// Shared with the stage (CLONE_VM): it writes here only when a step fails.
struct Stage {
  const ExecPlan* plan;
  Step failed_step;
  int failed_errno;
};

[[noreturn]] void Fail(Stage* stage, Step step) {
  stage->failed_errno = errno;
  stage->failed_step = step;
  _exit(127);
}

// A signal to SIG_DFL through the kernel directly. An all-zero kernel
// sigaction is SIG_DFL, no flags, empty mask on every architecture.
void DefaultDisposition(int signal) {
  unsigned long zeroed[8] = {};
  syscall(SYS_rt_sigaction, signal, zeroed, nullptr, kKernelSigsetBytes);
}

void SetKernelMask(const unsigned char (&mask)[kKernelSigsetBytes],
                   unsigned char (*previous)[kKernelSigsetBytes]) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, previous, kKernelSigsetBytes);
}

// Places the plan's fds on 0, 1 and 2 and its extra fds on 3, 4, ... (without
// close-on-exec) and closes every other fd, whatever flag it carries.
bool PlaceFds(const ExecPlan& plan) {
  constexpr int kMaxTargets = 3 + kMaxExtraFds;
  int count = 3 + plan.extra_fd_count;
  if (plan.extra_fd_count < 0 || count > kMaxTargets) {
    errno = EINVAL;
    return false;
  }
  int sources[kMaxTargets];
  for (int target = 0; target < count; ++target) {
    sources[target] = target < 3 ? plan.fds[target] : plan.extra_fds[target - 3];
    // A source below `count` could be overwritten by an earlier dup2, or be its
    // own target (where dup2 would leave close-on-exec set): move it up first.
    if (sources[target] < count) {
      sources[target] = fcntl(sources[target], F_DUPFD_CLOEXEC, count);
      if (sources[target] < 0) return false;
    }
  }
  for (int target = 0; target < count; ++target) {
    if (dup2(sources[target], target) != target) return false;
  }
  // Everything of ours is close-on-exec already; this makes it hold for fds a
  // library opened without the flag. Kernels before 5.9 lack it: CLOEXEC remains.
  if (syscall(SYS_close_range, static_cast<unsigned>(count), ~0U, 0U) != 0 && errno != ENOSYS) {
    return false;
  }
  return true;
}

// Writes this process's own pid into the plan's slot (LISTEN_PID): decimal,
// NUL-ended, without allocating. getpid() through the kernel, so it is the pid
// the program will have, in its PID namespace.
void WriteOwnPid(char* slot) {
  long pid = syscall(SYS_getpid);
  char digits[kOwnPidSlotBytes];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + pid % 10);
    pid /= 10;
  } while (pid > 0 && n < static_cast<int>(kOwnPidSlotBytes) - 1);
  for (int i = 0; i < n; ++i) slot[i] = digits[n - 1 - i];
  slot[n] = '\0';
}

// The stage itself, in the new process. Signals stay blocked (the child's mask,
// all blocked by RunExecStage) until every handler is gone: the child's
// handlers must never run on this shared memory.
int StageMain(void* argument) {
  auto* stage = static_cast<Stage*>(argument);
  const ExecPlan& plan = *stage->plan;
  for (int signal = 1; signal < _NSIG; ++signal) {
    if (signal != SIGKILL && signal != SIGSTOP) DefaultDisposition(signal);
  }
  if (setsid() < 0) Fail(stage, Step::kSession);
  if (!PlaceFds(plan)) Fail(stage, Step::kFds);
  if (plan.own_pid_slot != nullptr) WriteOwnPid(plan.own_pid_slot);
  if (chdir(plan.working_directory) != 0) Fail(stage, Step::kWorkingDirectory);
  for (int i = 0; i < plan.limit_count; ++i) {
    rlimit limit{plan.limits[i].soft, plan.limits[i].hard};
    if (setrlimit(plan.limits[i].resource, &limit) != 0) Fail(stage, Step::kLimits);
  }
  if (plan.nice != 0 && setpriority(PRIO_PROCESS, 0, plan.nice) != 0) Fail(stage, Step::kNice);
  umask(plan.umask);
  const unsigned char empty[kKernelSigsetBytes] = {};
  SetKernelMask(empty, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  Fail(stage, Step::kExec);
}

char* StageStackTop(std::string* error) {
  static char* top = nullptr;
  if (top != nullptr) return top;
  long page = sysconf(_SC_PAGESIZE);
  size_t bytes = kStackBytes + static_cast<size_t>(page);
  void* memory =
      mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (memory == MAP_FAILED) {
    *error = ErrnoMessage("mmap", "exec stage stack", errno);
    return nullptr;
  }
  // A guard page below it: an overflow faults instead of writing our heap.
  mprotect(memory, static_cast<size_t>(page), PROT_NONE);
  top = static_cast<char*>(memory) + bytes;  // the stack grows down (x86-64, arm64)
  return top;
}

std::string FailureMessage(const ExecPlan& plan, Step step, int err) {
  switch (step) {
    case Step::kSession:
      return ErrnoMessage("setsid", plan.path, err);
    case Step::kFds:
      return ErrnoMessage("dup2",
                          (plan.extra_fd_count > 0 ? "stdin, stdout, stderr, listening sockets of "
                                                   : "stdin, stdout, stderr of ") +
                              std::string(plan.path),
                          err);
    case Step::kWorkingDirectory:
      return ErrnoMessage("chdir", plan.working_directory, err);
    case Step::kLimits:
      return ErrnoMessage("setrlimit", std::string("rlimit_* of ") + plan.path, err);
    case Step::kNice:
      return ErrnoMessage("setpriority", "nice " + std::to_string(plan.nice), err);
    default:
      return std::string(plan.path) + ": " + std::strerror(err);
  }
}

}  // namespace

pid_t RunExecStage(const ExecPlan& plan, std::string* error) {
  char* stack_top = StageStackTop(error);
  if (stack_top == nullptr) return -1;
  Stage stage{&plan, Step::kNone, 0};

  unsigned char all[kKernelSigsetBytes];
  unsigned char previous[kKernelSigsetBytes];
  std::memset(all, 0xff, sizeof all);
  SetKernelMask(all, &previous);
  pid_t pid = clone(StageMain, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &stage);
  int clone_errno = errno;
  SetKernelMask(previous, nullptr);

  if (pid < 0) {
    *error = ErrnoMessage("clone", plan.path, clone_errno);
    return -1;
  }
  if (stage.failed_step != Step::kNone) {
    // Ours to reap: its exit must not be reported as a program's.
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    *error = FailureMessage(plan, stage.failed_step, stage.failed_errno);
    return -1;
  }
  return pid;
}

}  // namespace gatehouse
