// What every LoadConfig outcome must satisfy, whatever the files held: errors
// only on failure, warnings and errors free of raw control bytes (they go to the
// log and the terminal as they are), and a loaded config that --check can print.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/control_bytes.h"
#include "tests/fuzz/fuzz_check.h"

namespace gatehouse_fuzz {

inline bool Printable(const std::string& line) {
  for (char c : line) {
    if (gatehouse::IsControlByte(c)) return false;
  }
  return !line.empty();
}

inline void LoadAndCheck(const std::string& main_file) {
  gatehouse::CommandLine command_line;
  command_line.config_path = main_file;
  gatehouse::Config config;
  std::vector<std::string> errors;
  bool loaded = gatehouse::LoadConfig(command_line, &config, &errors);
  FUZZ_CHECK(loaded == errors.empty());
  for (const std::string& error : errors) FUZZ_CHECK(Printable(error));
  for (const std::string& warning : config.warnings) FUZZ_CHECK(Printable(warning));
  if (loaded) {
    FUZZ_CHECK(!config.services.empty());
    FUZZ_CHECK(!gatehouse::DescribeConfig(config).empty());
  }
}

}  // namespace gatehouse_fuzz
