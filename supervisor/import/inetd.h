// Reads an inetd.conf into services for services.d.
#pragma once

#include <string>
#include <vector>

#include "supervisor/import/imported_service.h"

namespace gatehouse {

// Entries switched off by update-inetd (`#<off># ...`) are imported commented out.
void ImportInetd(const std::string& path, std::vector<ImportedService>* services,
                 std::vector<std::string>* errors);

}  // namespace gatehouse
