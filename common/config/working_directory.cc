#include <sys/stat.h>

#include <cerrno>

#include "common/config/resolve.h"

namespace gatehouse {

void ResolveWorkingDirectory(const Settings& settings, ServiceConfig* service,
                             ConfigErrors* errors) {
  const ConfigEntry* chdir = Last(settings, "chdir");
  if (chdir == nullptr) return;  // the default, "/", is there in every root
  const std::string& dir = chdir->value;
  if (dir.empty() || dir[0] != '/') {
    errors->Add(*chdir, "\"" + dir + "\" is not an absolute path");
    return;
  }
  service->program.working_directory = dir;
  // A chroot that failed to resolve has its own error; the host's path means nothing.
  if (Last(settings, "chroot") != nullptr && service->jail.chroot.empty()) return;
  std::string on_disk = service->jail.chroot + dir;
  struct stat info {};
  if (stat(on_disk.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) errors->Add(*chdir, "\"" + on_disk + "\" is not a directory");
  } else if (errno == ENOENT || errno == ENOTDIR) {
    errors->Add(*chdir, "\"" + on_disk + "\" does not exist");
  }
  // Other errors (EACCES when checked as an ordinary user): the child checks at start.
}

}  // namespace gatehouse
