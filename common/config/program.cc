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
bool ExecutableBy(const struct stat& info, const ServiceConfig& service) {
  if (!service.change_identity || service.uid == 0) return (info.st_mode & 0111) != 0;
  if (info.st_uid == service.uid) return (info.st_mode & S_IXUSR) != 0;
  if (info.st_gid == service.gid) return (info.st_mode & S_IXGRP) != 0;
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
  std::string on_disk = service->chroot.empty() ? exec->value : service->chroot + exec->value;
  struct stat info {};
  if (stat(on_disk.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
      access(on_disk.c_str(), X_OK) != 0) {
    errors->Add(*exec, "\"" + on_disk + "\" is not an executable file");
    return;
  }
  if (!ExecutableBy(info, *service)) {
    errors->Add(*exec, "\"" + on_disk + "\" is not executable by uid " +
                           std::to_string(service->uid) + " gid " + std::to_string(service->gid) +
                           " (mode " + OctalMode(info.st_mode) + ")");
    return;
  }
  service->exec = exec->value;
  std::string base = exec->value.substr(exec->value.rfind('/') + 1);
  service->argv = {base};
  if (const ConfigEntry* args = Last(settings, "args")) {
    std::vector<std::string> words;
    std::string message;
    if (!SplitShellWords(args->value, &words, &message)) {
      errors->Add(*args, message + " in \"" + args->value + "\"");
      return;
    }
    service->argv.insert(service->argv.end(), words.begin(), words.end());
  }
}

}  // namespace gatehouse
