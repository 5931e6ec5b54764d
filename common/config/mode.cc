// How a service runs its programs: mode, what each mode needs of the other
// keys (ports, exec, builtin, access rules), and the bound on programs at once.
#include "common/config/resolve.h"

namespace gatehouse {
namespace {

// The first given, non-empty entry of the access keys: where the effective rules came from.
const ConfigEntry* AccessEntry(const Settings& settings) {
  for (const char* key : {"allow", "deny", "cidr_allow", "cidr_deny"}) {
    auto found = settings.find(key);
    if (found == settings.end()) continue;
    for (const ConfigEntry& entry : found->second) {
      if (!entry.value.empty()) return &entry;
    }
  }
  return nullptr;
}

void CheckPorts(const ServiceConfig& service, bool datagram_allowed, bool stream_allowed,
                ConfigErrors* errors) {
  const char* mode = ServiceModeName(service.program.mode);
  for (const ServicePort& port : service.ports) {
    bool datagram = port.spec.datagram();
    if (datagram && !datagram_allowed) {
      errors->Add(port.where, "port: " + port.spec.ToString() +
                                  " is a datagram socket; mode = " + mode +
                                  " serves connections (use mode = datagram, wait or builtin)");
    } else if (!datagram && !stream_allowed) {
      errors->Add(port.where, "port: " + port.spec.ToString() + " is a stream socket; mode = " +
                                  mode + " serves datagrams (udp, or path|SOCK_DGRAM|unix)");
    }
  }
}

}  // namespace

void ResolveMode(const Settings& settings, ServiceConfig* service, ConfigErrors* errors) {
  ServiceMode mode = service->program.mode;
  const ConfigEntry* builtin = Last(settings, "builtin");
  if (mode == ServiceMode::kBuiltin) {
    if (builtin == nullptr) {
      errors->Add(service->where,
                  "builtin: missing: mode = builtin needs echo, discard, daytime, chargen or time");
    }
    for (const char* key : {"exec", "args"}) {
      if (const ConfigEntry* entry = Last(settings, key)) {
        errors->Add(*entry, "mode = builtin serves in gatehouse-child itself and runs no program");
      }
    }
  } else if (builtin != nullptr) {
    errors->Add(*builtin, "needs mode = builtin (the service's mode is " +
                              std::string(ServiceModeName(mode)) + ")");
  }

  switch (mode) {
    case ServiceMode::kFork:
    case ServiceMode::kSingle:
      CheckPorts(*service, false, true, errors);
      break;
    case ServiceMode::kDatagram:
      CheckPorts(*service, true, false, errors);
      break;
    case ServiceMode::kWait:
    case ServiceMode::kBuiltin:
      break;  // either kind, even both
  }

  if (mode == ServiceMode::kWait) {
    if (const ConfigEntry* rule = AccessEntry(settings)) {
      errors->Add(*rule,
                  "mode = wait hands the listening socket to the program, which accepts its "
                  "clients itself: gatehouse cannot apply access rules to them (an empty value, "
                  "as in cidr_allow =, clears one inherited from [defaults])");
    }
    const ConfigEntry* max_servers = Last(settings, "max_servers");
    if (max_servers != nullptr && service->max_servers != 1) {
      errors->Add(*max_servers, "mode = wait runs one program; max_servers must be 1");
    }
    service->max_servers = 1;
  }

  if (mode == ServiceMode::kSingle) {
    const ConfigEntry* max_servers = Last(settings, "max_servers");
    if (max_servers != nullptr && service->max_servers != 1) {
      errors->Add(*max_servers, "mode = single runs one program at a time; max_servers must be 1");
    }
    service->max_servers = 1;
  }
}

}  // namespace gatehouse
