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

// A UNIX socket's peer is named by the kernel (SO_PEERCRED), not by a header;
// a datagram has no stream to start with one; and in mode = wait the program
// accepts by itself, so the supervisor reads no header.
void ResolveProxyProtocol(const Settings& settings, ServiceConfig* service, ConfigErrors* errors) {
  const ConfigEntry* entry = Last(settings, "proxy_protocol");
  if (entry == nullptr || service->proxy_protocol == ProxyProtocol::kOff) return;
  if (service->program.mode == ServiceMode::kWait) {
    errors->Add(*entry,
                "mode = wait: the program accepts its clients itself, gatehouse reads no "
                "PROXY header for it");
    return;
  }
  for (const ServicePort& port : service->ports) {
    if (port.spec.protocol == Protocol::kUnix && !port.spec.datagram()) {
      errors->Add(*entry, "a UNIX socket service takes no PROXY header (port " +
                              port.spec.ToString() + " at " + port.where + ")");
      return;
    }
    if (port.spec.datagram()) {
      errors->Add(*entry, "a datagram takes no PROXY header (port " + port.spec.ToString() +
                              " at " + port.where + ")");
      return;
    }
  }
  if (service->proxy_from.empty()) {
    errors->Add(*entry,
                "needs proxy_from = the load balancer's addresses: a header from any peer lets "
                "any client claim any address and pass cidr_deny and deny");
  }
}

}  // namespace gatehouse
