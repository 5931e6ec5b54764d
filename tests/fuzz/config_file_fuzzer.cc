// The config loader (common/config.h LoadConfig) on one main file holding the
// fuzz input; its default services.d beside it does not exist. Checks in
// config_check.h.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/config_check.h"
#include "tests/fuzz/fuzz_temp_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string main_file = gatehouse_fuzz::FuzzTempDir() + "/gatehouse.conf";
  gatehouse_fuzz::WriteFile(main_file, std::string(reinterpret_cast<const char*>(data), size));
  gatehouse_fuzz::LoadAndCheck(main_file);
  return 0;
}
