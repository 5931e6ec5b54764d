#include <sys/socket.h>

#include "common/config/resolve.h"
#include "common/port_spec.h"

namespace gatehouse {

void ResolveNetwork(const Settings& settings, const std::string& where, ServiceConfig* service,
                    ConfigErrors* errors) {
  std::string host = "*";
  if (const ConfigEntry* e = Last(settings, "host")) host = e->value;
  Protocol protocol = Protocol::kTcp;
  if (const ConfigEntry* e = Last(settings, "proto")) {
    if (!ParseProtocol(e->value, &protocol)) {
      errors->Add(*e, "\"" + e->value + "\" is not a protocol (tcp, udp or unix)");
    }
  }
  auto ports = settings.find("port");
  if (ports == settings.end() || ports->second.empty()) {
    errors->Add(where, "port: missing: a service needs at least one port");
  } else {
    for (const ConfigEntry& entry : ports->second) {
      ServicePort port;
      port.where = entry.where;
      std::string message;
      if (!ParsePortSpec(entry.value, host, protocol, &port.spec, &message)) {
        errors->Add(entry, message);
        continue;
      }
      service->ports.push_back(port);
    }
  }
}

}  // namespace gatehouse
