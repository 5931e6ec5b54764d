#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/config/resolve.h"
#include "common/exec_interpreter.h"
#include "common/shell_words.h"
#include "common/unique_fd.h"

namespace gatehouse {
namespace {

std::string OctalMode(mode_t mode) {
  char text[8];
  snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// The program's mode bits, read for the identity it will run as (gatehouse checks
// as root, for which any x bit will do; the service may be nobody).
bool ExecutableBy(const struct stat& info, const JailSpec& jail) {
  if (!jail.change_identity || jail.uid == 0) return (info.st_mode & 0111) != 0;
  if (info.st_uid == jail.uid) return (info.st_mode & S_IXUSR) != 0;
  if (info.st_gid == jail.gid) return (info.st_mode & S_IXGRP) != 0;
  return (info.st_mode & S_IXOTH) != 0;
}

// `path` opened as a process chrooted to `root` would find it: an absolute
// symbolic link inside the jail (/lib64/ld-linux-x86-64.so.2 is one) must
// resolve inside the jail, not on the host.
UniqueFd OpenInsideRoot(const std::string& root, const std::string& path) {
  UniqueFd dir(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return UniqueFd();
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) {
    // Before Linux 5.6: the host's view, right unless the jail has absolute links.
    fd = open((root + "/" + path).c_str(), O_RDONLY | O_CLOEXEC);
  }
  return UniqueFd(static_cast<int>(fd));
}

// The kernel needs a program's ELF interpreter (or a script's, and that one's
// loader in turn) inside the chroot: without it exec fails with ENOENT about a
// file that exists. Follows at most the kernel's own four levels. False with an
// error when something is missing.
bool CheckRunsInsideChroot(const ConfigEntry& exec, const std::string& chroot,
                           ConfigErrors* errors) {
  std::string file = exec.value;
  for (int depth = 0; depth < 5; ++depth) {
    UniqueFd fd = OpenInsideRoot(chroot, file);
    if (!fd) return true;  // unreadable here: the checks above have spoken for exec itself
    ExecInterpreter needs = ReadExecInterpreter(fd.get());
    if (needs.kind == ExecInterpreter::Kind::kNone) return true;
    if (!OpenInsideRoot(chroot, needs.path)) {
      std::string who =
          file == exec.value ? file : file + " (the interpreter of " + exec.value + ")";
      errors->Add(exec, who + " needs " + needs.path + ", which is not inside chroot " + chroot);
      return false;
    }
    file = needs.path;
  }
  return true;
}

}  // namespace

void ResolveProgram(const Settings& settings, const std::string& where, ServiceConfig* service,
                    ConfigErrors* errors) {
  const ConfigEntry* exec = Last(settings, "exec");
  if (service->program.mode == ServiceMode::kBuiltin) return;  // ResolveMode refuses exec there
  if (exec == nullptr) {
    errors->Add(where, "exec: missing: the absolute path of the program to run");
    return;
  }
  if (exec->value.empty() || exec->value[0] != '/') {
    errors->Add(*exec, "\"" + exec->value + "\" is not an absolute path");
    return;
  }
  std::string on_disk =
      service->jail.chroot.empty() ? exec->value : service->jail.chroot + exec->value;
  struct stat info {};
  if (stat(on_disk.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
      access(on_disk.c_str(), X_OK) != 0) {
    errors->Add(*exec, "\"" + on_disk + "\" is not an executable file");
    return;
  }
  if (!ExecutableBy(info, service->jail)) {
    errors->Add(*exec, "\"" + on_disk + "\" is not executable by uid " +
                           std::to_string(service->jail.uid) + " gid " +
                           std::to_string(service->jail.gid) + " (mode " + OctalMode(info.st_mode) +
                           ")");
    return;
  }
  if (!service->jail.chroot.empty()) {
    if (!CheckRunsInsideChroot(*exec, service->jail.chroot, errors)) return;
  }
  service->program.exec = exec->value;
  std::string base = exec->value.substr(exec->value.rfind('/') + 1);
  service->program.argv = {base};
  if (const ConfigEntry* args = Last(settings, "args")) {
    std::vector<std::string> words;
    std::string message;
    if (!SplitShellWords(args->value, &words, &message)) {
      errors->Add(*args, message + " in \"" + args->value + "\"");
      return;
    }
    service->program.argv.insert(service->program.argv.end(), words.begin(), words.end());
  }
}

}  // namespace gatehouse
