#include "supervisor/import/bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gatehouse {

bool ReadImportFile(const std::string& path, std::string* text, std::string* error) {
  // O_NONBLOCK: a FIFO must not hang the import before fstat says what it is.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  struct stat status;
  if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    close(fd);
    *error = path + ": not a regular file";
    return false;
  }
  text->clear();
  char buffer[65536];
  for (;;) {
    ssize_t got = read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      *error = path + ": " + std::strerror(errno);
      close(fd);
      return false;
    }
    if (got == 0) break;
    text->append(buffer, static_cast<size_t>(got));
    if (text->size() > kMaxImportFileBytes) {
      close(fd);
      *error = path + ": larger than 1 MiB";
      return false;
    }
  }
  close(fd);
  if (text->find('\0') != std::string::npos) {
    *error = path + ": holds a NUL byte (not a text file)";
    return false;
  }
  return true;
}

}  // namespace gatehouse
