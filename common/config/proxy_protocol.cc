// PROXY protocol keys that depend on others: the header is a TCP thing.
#include "common/config/resolve.h"

namespace gatehouse {

const char* ProxyProtocolName(ProxyProtocol protocol) {
  switch (protocol) {
    case ProxyProtocol::kV1:
      return "v1";
    case ProxyProtocol::kV2:
      return "v2";
    case ProxyProtocol::kAny:
      return "any";
    case ProxyProtocol::kOff:
      break;
  }
  return "off";
}

// A UNIX socket's peer is named by the kernel (SO_PEERCRED), not by a header.
// The modes to come that hand the listener to the program (wait) or carry
// datagrams must refuse proxy_protocol here too: the supervisor reads no header
// for them.
void ResolveProxyProtocol(const Settings& settings, ServiceConfig* service, ConfigErrors* errors) {
  const ConfigEntry* entry = Last(settings, "proxy_protocol");
  if (entry == nullptr || service->proxy_protocol == ProxyProtocol::kOff) return;
  for (const ServicePort& port : service->ports) {
    if (port.spec.protocol == Protocol::kUnix) {
      errors->Add(*entry, "a UNIX socket service takes no PROXY header (port " +
                              port.spec.ToString() + " at " + port.where + ")");
      return;
    }
  }
}

}  // namespace gatehouse
