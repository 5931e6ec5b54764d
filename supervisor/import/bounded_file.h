// Reads the files an importer is given, with the same bound as config files.
#pragma once

#include <string>

namespace gatehouse {

constexpr size_t kMaxImportFileBytes = 1 << 20;

// False with a message naming `path` when it is not a regular file, cannot be read,
// is larger than kMaxImportFileBytes or holds a NUL byte.
bool ReadImportFile(const std::string& path, std::string* text, std::string* error);

}  // namespace gatehouse
