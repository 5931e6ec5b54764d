// Reads one INI file with Debian's inih, adding what its build leaves out: line
// numbers (inih is built without INI_HANDLER_LINENO), a clear error for lines over
// its 200-byte buffer (inih would silently split them), and the checks a file
// that root reads needs: a regular file only (a FIFO would hang, /dev/zero never
// ends), at most kMaxConfigFileBytes, no NUL bytes, nothing after a [section]'s ].
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace gatehouse {

// inih's buffer holds a line, its newline and a NUL.
inline constexpr size_t kMaxIniLineLength = 198;
// Per file; far above any real config, small enough that root never reads a
// runaway file into memory.
inline constexpr size_t kMaxConfigFileBytes = 1024 * 1024;

struct IniSection {
  std::string name;   // "" for keys before the first [section]
  std::string where;  // "file:line" of the [name] header
  std::vector<ConfigEntry> entries;
};

// `shown_path` is the name used in messages. False with errors ("file:line: ...",
// control bytes escaped) when the file cannot be read or has bad lines; sections
// are filled either way.
bool ReadIniFile(const std::string& path, const std::string& shown_path,
                 std::vector<IniSection>* sections, std::vector<std::string>* errors);

}  // namespace gatehouse
