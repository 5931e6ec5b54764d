// A private folder for fuzz targets that must hand files to the code under test
// (the config loader reads paths, not buffers). Made once per process under
// $TMPDIR (Bazel's TEST_TMPDIR in the replay tests) and removed at exit.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/fuzz/fuzz_check.h"

namespace gatehouse_fuzz {

inline const std::string& FuzzTempDir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    if (base == nullptr) base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/gatehouse-fuzz.XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr);
    static std::string made;
    made = pattern;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(made, ignored);
    });
    return pattern;
  }();
  return dir;
}

// Writes `bytes` to `path` whole, replacing what was there.
inline void WriteFile(const std::string& path, const std::string& bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0);
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    FUZZ_CHECK(n > 0);
    written += static_cast<size_t>(n);
  }
  close(fd);
}

}  // namespace gatehouse_fuzz
