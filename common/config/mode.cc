// How a service runs its programs: mode and the bound on programs at once.
#include "common/config/resolve.h"

namespace gatehouse {

const char* ServiceModeName(ServiceMode mode) {
  return mode == ServiceMode::kSingle ? "single" : "fork";
}

void ResolveMode(const Settings& settings, ServiceConfig* service, ConfigErrors* errors) {
  if (service->mode != ServiceMode::kSingle) return;
  const ConfigEntry* max_servers = Last(settings, "max_servers");
  if (max_servers != nullptr && service->max_servers != 1) {
    errors->Add(*max_servers, "mode = single runs one program at a time; max_servers must be 1");
  }
  service->max_servers = 1;
}

}  // namespace gatehouse
