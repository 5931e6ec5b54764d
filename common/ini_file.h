// Reads one INI file with Debian's inih, adding what its build leaves out: line
// numbers (inih is built without INI_HANDLER_LINENO) and a clear error for lines
// over its 200-byte buffer (inih would silently split them).
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace gatehouse {

// inih's buffer holds a line, its newline and a NUL.
inline constexpr size_t kMaxIniLineLength = 198;

struct IniSection {
  std::string name;   // "" for keys before the first [section]
  std::string where;  // "file:line" of the [name] header
  std::vector<ConfigEntry> entries;
};

// `shown_path` is the name used in messages. False with errors ("file:line: ...")
// when the file cannot be read or has bad lines; sections are filled either way.
bool ReadIniFile(const std::string& path, const std::string& shown_path,
                 std::vector<IniSection>* sections, std::vector<std::string>* errors);

}  // namespace gatehouse
