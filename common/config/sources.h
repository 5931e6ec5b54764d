// Where settings come from, in Net::Server's order: built-in defaults, then the
// main file (global keys, [defaults], services), then services_dir/*.conf in name
// order, then the command line over all of them.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/config/settings.h"

namespace gatehouse {

struct ServiceSource {
  std::string name;
  std::string where;  // file:line of its [name]
  Settings settings;  // its own keys
};

struct ConfigSources {
  std::string main_path;  // empty: no file, the built-in echo service
  Settings global;        // global keys, the command line's already over the file's
  Settings defaults;      // [defaults]
  std::vector<ServiceSource> services;
  Settings service_overrides;      // service keys from the command line
  std::vector<std::string> files;  // as errors name them, in the order read
};

// Reads the main file: --config, else kDefaultConfigPath if it exists; with
// neither, the built-in echo service. False when the main file cannot be read.
bool ReadMainFile(const CommandLine& command_line, ConfigSources* sources, ConfigErrors* errors);

// Puts the command line's keys over the files': a global key replaces the file's
// value; a service key replaces that key in [defaults] and in every service.
void LayerCommandLine(const CommandLine& command_line, ConfigSources* sources,
                      ConfigErrors* errors);

// Adds the services of `dir`/*.conf, read in file-name order.
void ReadServicesDir(const std::string& dir, ConfigSources* sources, ConfigErrors* errors);

// One service's settings: [defaults], then its own section, then the command line.
Settings ServiceSettings(const ConfigSources& sources, const ServiceSource& service);

}  // namespace gatehouse
