// The config loader (common/config.h LoadConfig) on a main file and a services.d
// folder. The input is split at lines holding only "%%": the first part is
// gatehouse.conf, each further part services.d/NN.conf (in input order, which is
// the loader's name order). Checks in config_check.h.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuzz/config_check.h"
#include "tests/fuzz/fuzz_temp_dir.h"

namespace {

constexpr size_t kMaxServiceFiles = 16;

std::vector<std::string> SplitFiles(const std::string& input) {
  const std::string delimiter = "\n%%\n";
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() < kMaxServiceFiles) {
    size_t at = input.find(delimiter, start);
    if (at == std::string::npos) break;
    parts.push_back(input.substr(start, at - start + 1));  // keeps the line's newline
    start = at + delimiter.size();
  }
  parts.push_back(input.substr(start));
  return parts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string dir = gatehouse_fuzz::FuzzTempDir();
  static const std::string services_dir = dir + "/services.d";
  std::error_code ignored;
  std::filesystem::remove_all(services_dir, ignored);
  std::filesystem::create_directory(services_dir);

  std::vector<std::string> parts =
      SplitFiles(std::string(reinterpret_cast<const char*>(data), size));
  gatehouse_fuzz::WriteFile(dir + "/gatehouse.conf", parts[0]);
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string name = (i < 10 ? "/0" : "/") + std::to_string(i) + ".conf";
    gatehouse_fuzz::WriteFile(services_dir + name, parts[i]);
  }
  gatehouse_fuzz::LoadAndCheck(dir + "/gatehouse.conf");
  return 0;
}
