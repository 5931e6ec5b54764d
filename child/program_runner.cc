#include "child/program_runner.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "child/exec_stage.h"
#include "child/program_environment.h"
#include "common/exec_interpreter.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

std::vector<char*> PointerArray(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// exec's ENOENT for a file that is there means a missing interpreter (the ELF
// loader, or a script's #! program): said in the words --check uses.
std::string ExplainMissingInterpreter(const ServiceDefinition& service, const std::string& error) {
  const std::string& path = service.program.exec;
  struct stat file {};
  if (error != path + ": " + std::strerror(ENOENT) || stat(path.c_str(), &file) != 0) return error;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ExecInterpreter interpreter = fd ? ReadExecInterpreter(fd.get()) : ExecInterpreter{};
  struct stat found {};
  if (interpreter.kind == ExecInterpreter::Kind::kNone ||
      stat(interpreter.path.c_str(), &found) == 0) {
    return error;
  }
  std::string where =
      service.jail.chroot.empty() ? "" : ", which is not inside chroot " + service.jail.chroot;
  return "exec: " + path + " needs " + interpreter.path + where;
}

// This process's hard limit for `resource`: a program can be given no more
// (the child has no CAP_SYS_RESOURCE), and asking for more fails its exec stage.
uint64_t HardLimit(int resource) {
  rlimit current{};
  if (getrlimit(resource, &current) != 0) return RLIM_INFINITY;
  return current.rlim_max;
}

}  // namespace

pid_t StartProgram(const ServiceDefinition& service, const ConnectionInfo& connection,
                   int connection_fd, int null_fd, UniqueFd* stderr_read, std::string* error) {
  ProgramLaunch launch;
  launch.stdin_fd = connection_fd;
  launch.stdout_fd = connection_fd;
  launch.env = ProgramEnvironment(service, connection);
  return StartProgramWith(service, launch, null_fd, stderr_read, error);
}

pid_t StartProgram(const ServiceDefinition& service, const ConnectionInfo& connection,
                   ProgramStdio stdio, int null_fd, UniqueFd* stderr_read, std::string* error) {
  ProgramLaunch launch;
  launch.stdin_fd = stdio.stdin_fd;
  launch.stdout_fd = stdio.stdout_fd;
  launch.env = ProgramEnvironment(service, connection);
  return StartProgramWith(service, launch, null_fd, stderr_read, error);
}

pid_t StartProgramWith(const ServiceDefinition& service, ProgramLaunch& launch, int null_fd,
                       UniqueFd* stderr_read, std::string* error) {
  const ProgramSpec& program = service.program;
  ExecPlan plan;
  plan.fds[0] = launch.stdin_fd;
  plan.fds[1] = launch.stdout_fd;
  UniqueFd stderr_write;
  switch (program.stderr_target) {
    case StderrTarget::kLog: {
      // Both ends close-on-exec: the program gets the write end only as its fd 2, and
      // its writes block when the child falls behind (the read end alone is non-blocking).
      int stderr_pipe[2];
      if (pipe2(stderr_pipe, O_CLOEXEC) != 0) {
        int err = errno;
        *error = ErrnoMessage("pipe2", "stderr of " + program.exec, err);
        return err == EMFILE || err == ENFILE ? kNoFdForStderr : -1;
      }
      stderr_write.reset(stderr_pipe[1]);
      stderr_read->reset(stderr_pipe[0]);
      plan.fds[2] = stderr_write.get();
      break;
    }
    case StderrTarget::kClient:
      plan.fds[2] = launch.stdout_fd;
      break;
    case StderrTarget::kNull:
      plan.fds[2] = null_fd;
      break;
  }

  std::vector<std::string> argv_strings = program.argv;
  std::vector<char*> argv = PointerArray(argv_strings);
  std::vector<char*> envp = PointerArray(launch.env);
  plan.extra_fds = launch.extra_fds.data();
  plan.extra_fd_count = static_cast<int>(launch.extra_fds.size());
  if (launch.own_pid_entry >= 0) {
    std::string& entry = launch.env[static_cast<size_t>(launch.own_pid_entry)];
    size_t at = entry.find('=') + 1;
    entry.resize(std::max(entry.size(), at + kOwnPidSlotBytes));  // room, whatever it held
    envp[static_cast<size_t>(launch.own_pid_entry)] = entry.data();
    plan.own_pid_slot = entry.data() + at;
  }
  plan.path = program.exec.c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_directory = program.working_directory.c_str();
  for (auto [resource, value] : {std::pair<int, uint64_t>{RLIMIT_AS, program.rlimit_as},
                                 {RLIMIT_CPU, program.rlimit_cpu},
                                 {RLIMIT_NOFILE, program.rlimit_nofile},
                                 {RLIMIT_NPROC, program.rlimit_nproc},
                                 {RLIMIT_FSIZE, program.rlimit_fsize},
                                 {RLIMIT_CORE, program.rlimit_core}}) {
    if (value == ProgramSpec::kUnchanged) continue;
    uint64_t limit = value == ProgramSpec::kUnlimited ? RLIM_INFINITY : value;
    limit = std::min<uint64_t>(limit, HardLimit(resource));
    plan.limits[plan.limit_count++] = {resource, limit, limit};
  }
  // Without rlimit_nofile, the soft limit gatehouse was started with (it raised
  // its own, and so its children's, to the hard limit).
  if (program.rlimit_nofile == ProgramSpec::kUnchanged && program.start_nofile_soft != 0) {
    uint64_t hard = HardLimit(RLIMIT_NOFILE);
    plan.limits[plan.limit_count++] = {RLIMIT_NOFILE,
                                       std::min<uint64_t>(program.start_nofile_soft, hard), hard};
  }
  plan.nice = program.nice;
  plan.umask = program.umask;

  pid_t pid = RunExecStage(plan, error);
  if (pid < 0) {
    stderr_read->reset();
    *error = ExplainMissingInterpreter(service, *error);
  }
  return pid;
}

}  // namespace gatehouse
