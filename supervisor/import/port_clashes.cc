#include "supervisor/import/port_clashes.h"

#include <netdb.h>

#include <string>

namespace gatehouse {
namespace {

// A `port` value as the importers write it ("echo/udp", "127.0.0.1:7", "[::1]:ssh",
// "/run/x.sock|unix"), split into the address (empty: every address), the port as a
// number where /etc/services knows the name, and the protocol.
struct Place {
  std::string host;
  std::string port;
  std::string protocol;
};

Place PlaceOf(const std::string& spec) {
  Place place;
  std::string rest = spec;
  size_t bar = rest.find('|');
  if (bar != std::string::npos) return {"", rest.substr(0, bar), rest.substr(bar + 1)};
  place.protocol = "tcp";
  size_t slash = rest.rfind('/');
  if (slash != std::string::npos && rest.compare(slash, 4, "/udp") == 0) {
    place.protocol = "udp";
    rest.erase(slash);
  }
  size_t colon = rest.rfind(':');
  if (colon != std::string::npos) {
    place.host = rest.substr(0, colon);
    rest.erase(0, colon + 1);
  }
  if (place.host == "*") place.host.clear();
  place.port = rest;
  if (servent* entry = getservbyname(rest.c_str(), place.protocol.c_str())) {
    place.port = std::to_string(ntohs(static_cast<uint16_t>(entry->s_port)));
  }
  return place;
}

bool Clash(const Place& a, const Place& b) {
  return a.port == b.port && a.protocol == b.protocol &&
         (a.host == b.host || (a.protocol != "unix" && (a.host.empty() || b.host.empty())));
}

std::vector<std::string> PortsOf(const ImportedService& service) {
  std::vector<std::string> ports;
  for (const auto& [key, value] : service.keys) {
    if (key == "port") ports.push_back(value);
  }
  return ports;
}

// The same service but for how its port is spelled.
bool Twins(const ImportedService& a, const ImportedService& b) {
  auto others = [](const ImportedService& s) {
    std::vector<std::pair<std::string, std::string>> keys;
    for (const auto& key : s.keys) {
      if (key.first != "port") keys.push_back(key);
    }
    return keys;
  };
  return others(a) == others(b);
}

}  // namespace

void CommentOutPortClashes(std::vector<ImportedService>* services) {
  for (size_t later = 0; later < services->size(); ++later) {
    ImportedService& service = (*services)[later];
    if (!service.not_runnable.empty()) continue;
    for (size_t earlier = 0; earlier < later && service.not_runnable.empty(); ++earlier) {
      const ImportedService& first = (*services)[earlier];
      if (!first.not_runnable.empty()) continue;
      for (const std::string& port : PortsOf(service)) {
        bool clash = false;
        for (const std::string& taken : PortsOf(first))
          clash = clash || Clash(PlaceOf(port), PlaceOf(taken));
        if (!clash) continue;
        service.not_runnable.push_back(
            "port " + port + " is already taken by the entry of " + first.origin +
            (Twins(first, service) ? ", an identical twin (xinetd's second bind fails too)"
                                   : " (xinetd's second bind fails too)"));
        break;
      }
    }
  }
}

}  // namespace gatehouse
