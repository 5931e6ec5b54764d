#include "supervisor/tls_files.h"

#include "common/log.h"
#include "common/tls_files.h"

namespace gatehouse {

std::optional<std::string> TlsMaterialPayload(const ServiceConfig& service) {
  if (!service.tls.enabled()) return std::nullopt;
  TlsMaterial material;
  std::string error;
  if (!ReadTlsMaterial(service.tls, &material, &error)) {
    Log(kLogErr, service.name + ": " + error + "; its child keeps the certificates it has");
    return std::nullopt;
  }
  return EncodePayload(material);
}

}  // namespace gatehouse
