// Writes imported services as one services.d file: a section per service, those that
// cannot run yet commented out whole. A draft for `gatehouse --check`, which may still
// find what the importer cannot see (a missing exec, an unknown user).
#pragma once

#include <string>
#include <vector>

#include "supervisor/import/imported_service.h"

namespace gatehouse {

// `services` keep their order. Section names are made valid ([A-Za-z0-9_.-], 1-64)
// and unique: a datagram twin becomes NAME-udp, any other repeat NAME-2, NAME-3...
std::string WriteServicesD(const std::vector<ImportedService>& services, const std::string& tool);

}  // namespace gatehouse
