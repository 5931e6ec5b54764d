// Paths in config values: relative to the main file's folder (services_dir) or
// to the working directory at start (log_file, pid_file), as Net::Server does.
#pragma once

#include <string>

namespace gatehouse {

std::string DirName(const std::string& path);
// `name` under `dir` unless it is absolute (or dir is ".").
std::string JoinPath(const std::string& dir, const std::string& name);
// `path` made absolute against the current directory.
std::string AbsolutePath(const std::string& path);

}  // namespace gatehouse
