// probe: a tiny static program for privilege tests. It runs inside an empty
// chroot (hence static), says "pid N" on stdout, then echoes lines until EOF.
#include <unistd.h>

#include <cstdio>

int main() {
  std::printf("pid %d\n", static_cast<int>(getpid()));
  std::fflush(stdout);
  char buffer[4096];
  ssize_t n;
  while ((n = read(0, buffer, sizeof buffer)) > 0) {
    if (write(1, buffer, static_cast<size_t>(n)) != n) return 1;
  }
  return 0;
}
