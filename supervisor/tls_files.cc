#include "supervisor/tls_files.h"

#include "common/log.h"
#include "common/tls_context.h"
#include "common/tls_files.h"

namespace gatehouse {

std::optional<std::string> TlsMaterialPayload(const ServiceConfig& service) {
  if (!service.tls.enabled()) return std::nullopt;
  TlsMaterial material;
  std::string error;
  bool read = ReadTlsMaterial(service.tls, &material, &error);
  // Loaded here as the child will load them, so that only certificates and the
  // keys that match them ever reach it: never a file swapped in since --check
  // or the reload checked the config (root reads it).
  TlsContexts contexts;
  if (read && !contexts.Build(material, &error)) {
    error = service.tls.pairs.front().cert_where + ": tls_cert: " + error;
    read = false;
  }
  if (!read) {
    Log(kLogErr, service.name + ": " + error + "; its child keeps the certificates it has");
    return std::nullopt;
  }
  return EncodePayload(material);
}

}  // namespace gatehouse
