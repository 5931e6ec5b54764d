// Only root configures root, for what LoadConfig reads: the main file, the
// services_dir and its *.conf files, and the folders log_file and pid_file are
// made in (common/config/trusted_path.h has the rule). @FILE texts and the
// chroot are checked where their keys are read.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/config/settings.h"
#include "common/config/sources.h"

namespace gatehouse {

// An error per file or folder anyone else can change. With `main_is_copy`
// (--check FILE), findings about where the main file itself lies are warnings.
void CheckSourcesTrusted(const ConfigSources& sources, const GlobalConfig& global,
                         bool main_is_copy, ConfigErrors* errors,
                         std::vector<std::string>* warnings);

}  // namespace gatehouse
