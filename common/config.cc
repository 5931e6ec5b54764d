#include "common/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>

#include "common/config/keys.h"
#include "common/config/paths.h"
#include "common/config/privileges.h"
#include "common/config/resolve.h"
#include "common/config/settings.h"
#include "common/config/sources.h"
#include "common/config/trusted_sources.h"
#include "common/control_bytes.h"
#include "common/tls_files.h"

namespace gatehouse {
namespace {

// Global keys over their built-in defaults. services_dir defaults to the
// services.d beside the main file; one given stays empty unless it is a directory.
void ResolveGlobal(const ConfigSources& sources, Config* config, ConfigErrors* errors) {
  GlobalConfig& global = config->global;
  global.config_file = sources.main_path;
  config->builtin_default = sources.main_path.empty();
  std::string config_dir = DirName(sources.main_path);
  if (!config->builtin_default && Last(sources.global, "services_dir") == nullptr) {
    global.services_dir = JoinPath(config_dir, "services.d");
  }
  ApplyKeys(KeyScope::kGlobal, sources.global, KeyTarget{&global, nullptr, config_dir}, errors);
}

void RequireSomeService(const ConfigSources& sources, const Config& config, ConfigErrors* errors) {
  if (sources.services.empty() && errors->None()) {
    errors->Add(sources.main_path, "no services: add a [name] section to " + sources.main_path +
                                       " or a *.conf file to " + config.global.services_dir);
  }
}

ServiceConfig ResolveService(const ConfigSources& sources, const ServiceSource& source,
                             ConfigErrors* errors, std::vector<std::string>* warnings) {
  Settings settings = ServiceSettings(sources, source);
  ServiceConfig service;
  service.name = source.name;
  service.where = source.where;
  ApplyKeys(KeyScope::kService, settings,
            KeyTarget{nullptr, &service, DirName(sources.main_path), warnings}, errors);
  ResolveNetwork(settings, source.where, &service, errors);
  ResolveIdentity(settings, source.where, &service, errors);
  ResolveProgram(settings, source.where, &service, errors);
  ResolveMode(settings, &service, errors);
  ResolveWorkingDirectory(settings, &service, errors);
  ResolveProxyProtocol(settings, &service, errors);
  ResolveUnixSocket(settings, source.settings, &service, errors, warnings);
  ResolveTls(settings, &service, errors);
  if (const ConfigEntry* max_servers = Last(settings, "max_servers")) {
    service.max_servers_where = max_servers->where;
  }
  return service;
}

// Address families a literal host binds, as bits (1: IPv4, 2: IPv6; "*": both),
// and whether it is a wildcard. A host name gives 0: what it resolves to is
// only known at bind time, which reports a clash itself.
struct HostFamilies {
  int families = 0;
  bool wildcard = false;
};

HostFamilies FamiliesOf(const std::string& host) {
  if (host == "*") return {3, true};
  unsigned char address[16];
  if (inet_pton(AF_INET, host.c_str(), address) == 1) return {1, host == "0.0.0.0"};
  if (inet_pton(AF_INET6, host.c_str(), address) == 1) return {2, host == "::"};
  return {};
}

// Two specs the kernel will not bind side by side: the same port and protocol,
// one a wildcard and the other an address of its family (gatehouse's UDP
// sockets take no SO_REUSEADDR, and a listening TCP socket refuses it).
bool Overlap(const PortSpec& a, const PortSpec& b) {
  if (a.protocol == Protocol::kUnix || a.protocol != b.protocol || a.port == 0 ||
      a.port != b.port) {
    return false;
  }
  HostFamilies first = FamiliesOf(a.host), second = FamiliesOf(b.host);
  return (first.wildcard || second.wildcard) && (first.families & second.families) != 0;
}

// One listener per port across all services (port 0 excepted: the kernel picks),
// and no wildcard beside an address on the same port.
void CheckPortsUnique(const std::vector<ServiceConfig>& services, ConfigErrors* errors) {
  std::map<std::string, std::string> owner_of;  // canonical port -> "service (where)"
  std::vector<std::pair<const ServicePort*, std::string>> seen;  // port, its service
  for (const ServiceConfig& service : services) {
    for (const ServicePort& port : service.ports) {
      std::string key = port.spec.ToString();
      auto [owner, inserted] = owner_of.emplace(key, service.name + " (" + port.where + ")");
      if (!inserted && port.spec.port != 0) {
        errors->Add(port.where, "port: " + key + " is already used by service " + owner->second);
        continue;
      }
      for (const auto& [other, other_service] : seen) {
        if (!Overlap(port.spec, other->spec)) continue;
        errors->Add(port.where, "port: " + key + " cannot be bound beside " +
                                    other->spec.ToString() + " of service " + other_service + " (" +
                                    other->where +
                                    "): a wildcard address takes the port "
                                    "on every address of its family");
        break;
      }
      seen.emplace_back(&port, service.name);
    }
  }
}

// The certificate and key files, as the supervisor will read them for the child.
void CheckTlsFiles(Config* config, ConfigErrors* errors) {
  for (const ServiceConfig& service : config->services) {
    std::vector<std::string> found, warnings;
    CheckTlsFiles(service.tls, &found, &warnings);
    for (const std::string& error : found) errors->list()->push_back(EscapeControlBytes(error));
    for (const std::string& warning : warnings) {
      config->warnings.push_back(EscapeControlBytes(warning));
    }
  }
}

void WarnDenyOnly(Config* config) {
  for (const ServiceConfig& service : config->services) {
    if (!service.access.DeniesEveryone()) continue;
    config->warnings.push_back(EscapeControlBytes(
        service.where + ": [" + service.name +
        "] has deny rules but no allow rules, so it refuses every client (Net::Server's rule); "
        "add allow = .* to admit the rest"));
  }
}

// A chroot without /dev has no place for the service's /dev/log (child/dev_log.h).
void WarnChrootWithoutDev(Config* config) {
  for (const ServiceConfig& service : config->services) {
    const JailSpec& jail = service.jail;
    if (!jail.dev_log || jail.chroot.empty() || service.program.mode == ServiceMode::kBuiltin) {
      continue;
    }
    struct stat info {};
    std::string dev = jail.chroot + "/dev";
    if (stat(dev.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) continue;
    config->warnings.push_back(EscapeControlBytes(
        service.where + ": [" + service.name + "] dev_log: the chroot has no " + dev +
        " directory, so its programs get no /dev/log (their syslog messages are lost); "
        "create it, or say dev_log = no"));
  }
}

// Where an error points: the rank of its file among `files` (1 for the first
// read; 0 for none) and its line (0 for the file as a whole).
std::pair<size_t, uint64_t> ErrorPlace(const std::vector<std::string>& files,
                                       const std::string& error) {
  std::pair<size_t, uint64_t> place{0, 0};
  size_t matched = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string prefix = EscapeControlBytes(files[i]) + ":";
    if (prefix.size() <= matched || error.compare(0, prefix.size(), prefix) != 0) continue;
    matched = prefix.size();
    uint64_t line = 0;
    size_t at = prefix.size();
    while (at < error.size() && at - prefix.size() < 18 &&
           std::isdigit(static_cast<unsigned char>(error[at]))) {
      line = line * 10 + static_cast<uint64_t>(error[at++] - '0');
    }
    place = {i + 1, at < error.size() && error[at] == ':' ? line : 0};
  }
  return place;
}

// Errors are found concern by concern (keys, values, then each Resolve step);
// a reader fixes them top to bottom, so they are shown by file (in the order
// read) and line. Errors that name no file line (the command line, a folder)
// come first, in the order found.
void SortByPlace(const std::vector<std::string>& files, std::vector<std::string>* errors,
                 size_t first) {
  std::vector<std::pair<std::pair<size_t, uint64_t>, std::string>> placed;
  for (size_t i = first; i < errors->size(); ++i) {
    placed.emplace_back(ErrorPlace(files, (*errors)[i]), std::move((*errors)[i]));
  }
  std::stable_sort(placed.begin(), placed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < placed.size(); ++i) (*errors)[first + i] = std::move(placed[i].second);
}

}  // namespace

bool LoadConfig(const CommandLine& command_line, Config* config, std::vector<std::string>* errors) {
  size_t first_error = errors->size();
  ConfigErrors errs(errors);
  *config = Config{};
  ConfigSources sources;
  if (!ReadMainFile(command_line, &sources, &errs)) return false;
  LayerCommandLine(command_line, &sources, &errs);
  ResolveGlobal(sources, config, &errs);
  if (!config->builtin_default && !config->global.services_dir.empty()) {
    ReadServicesDir(config->global.services_dir, &sources, &errs);
  }
  RequireSomeService(sources, *config, &errs);
  CheckSourcesTrusted(sources, config->global, command_line.check_copy, &errs, &config->warnings);
  for (const ServiceSource& source : sources.services) {
    config->services.push_back(ResolveService(sources, source, &errs, &config->warnings));
  }
  DistinctDynamicUids(&config->services);
  for (ServiceConfig& service : config->services) ResolveLoginEnvironment(&service);
  CheckPortsUnique(config->services, &errs);
  CheckTlsFiles(config, &errs);
  WarnDenyOnly(config);
  WarnChrootWithoutDev(config);
  WarnPrivileges(config);
  SortByPlace(sources.files, errors, first_error);
  return errs.None();
}

}  // namespace gatehouse
