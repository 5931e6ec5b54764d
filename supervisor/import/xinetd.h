// Reads xinetd configuration (xinetd.conf, xinetd.d/) into services for services.d.
#pragma once

#include <string>
#include <vector>

#include "supervisor/import/imported_service.h"

namespace gatehouse {

// `paths` are files or folders (read as xinetd's includedir reads them). Services are
// appended in the order read; each problem is one "FILE:LINE: message" in `errors`.
void ImportXinetd(const std::vector<std::string>& paths, std::vector<ImportedService>* services,
                  std::vector<std::string>* errors);

}  // namespace gatehouse
