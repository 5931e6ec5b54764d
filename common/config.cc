#include "common/config.h"

#include <map>

#include "common/config/keys.h"
#include "common/config/paths.h"
#include "common/config/resolve.h"
#include "common/config/settings.h"
#include "common/config/sources.h"
#include "common/control_bytes.h"

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
                             ConfigErrors* errors) {
  Settings settings = ServiceSettings(sources, source);
  ServiceConfig service;
  service.name = source.name;
  service.where = source.where;
  ApplyKeys(KeyScope::kService, settings, KeyTarget{nullptr, &service, ""}, errors);
  ResolveNetwork(settings, source.where, &service, errors);
  ResolveIdentity(settings, source.where, &service, errors);
  ResolveProgram(settings, source.where, &service, errors);
  ResolveWorkingDirectory(settings, &service, errors);
  return service;
}

// One listener per port across all services (port 0 excepted: the kernel picks).
void CheckPortsUnique(const std::vector<ServiceConfig>& services, ConfigErrors* errors) {
  std::map<std::string, std::string> owner_of;  // canonical port -> "service (where)"
  for (const ServiceConfig& service : services) {
    for (const ServicePort& port : service.ports) {
      std::string key = port.spec.ToString();
      auto [owner, inserted] = owner_of.emplace(key, service.name + " (" + port.where + ")");
      if (!inserted && port.spec.port != 0) {
        errors->Add(port.where, "port: " + key + " is already used by service " + owner->second);
      }
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

}  // namespace

bool LoadConfig(const CommandLine& command_line, Config* config, std::vector<std::string>* errors) {
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
  for (const ServiceSource& source : sources.services) {
    config->services.push_back(ResolveService(sources, source, &errs));
  }
  DistinctDynamicUids(&config->services);
  CheckPortsUnique(config->services, &errs);
  WarnDenyOnly(config);
  return errs.None();
}

}  // namespace gatehouse
