#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/config/resolve.h"
#include "common/shell_words.h"

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

}  // namespace

void ResolveProgram(const Settings& settings, const std::string& where, ServiceConfig* service,
                    ConfigErrors* errors) {
  const ConfigEntry* exec = Last(settings, "exec");
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
