#include "common/config/sources.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/config/foreign_keys.h"
#include "common/config/keys.h"
#include "common/config/paths.h"
#include "common/ini_file.h"

namespace gatehouse {
namespace {

// Adds `entries` of a `scope` section to `settings`, folding continuation lines
// and catching a scalar key given twice or a key out of its place.
void Collect(const std::vector<ConfigEntry>& entries, KeyScope scope, const std::string& scope_name,
             Settings* settings, ConfigErrors* errors) {
  for (const ConfigEntry& entry : entries) {
    const ConfigKey* key = FindConfigKey(entry.key);
    if (key == nullptr) {
      std::string hint = ForeignKeyHint(entry.key, entry.value);
      errors->Add(entry, "unknown key in " + scope_name + (hint.empty() ? "" : "; " + hint));
      continue;
    }
    if (key->scope != scope) {
      errors->Add(entry, key->scope == KeyScope::kGlobal
                             ? "is a global key; put it in the main file before any [section]"
                             : "is a service key; put it in [defaults] or a [service] section");
      continue;
    }
    std::vector<ConfigEntry>& values = (*settings)[entry.key];
    if (key->kind == KeyKind::kScalar && !values.empty()) {
      if (entry.continuation) {
        values.back().value += "\n" + entry.value;  // as in a shell script (args)
      } else {
        errors->Add(entry, "given twice (first at " + values.front().where + ")");
      }
      continue;
    }
    values.push_back(entry);
  }
}

bool ValidServiceName(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos;
}

// Sorts the sections of one file into global keys, [defaults] and services.
void AddSections(const std::vector<IniSection>& sections, bool main_file, ConfigSources* sources,
                 ConfigErrors* errors) {
  for (const IniSection& section : sections) {
    if (section.name.empty()) {
      if (main_file) {
        Collect(section.entries, KeyScope::kGlobal, "the global section", &sources->global, errors);
      } else {
        for (const ConfigEntry& entry : section.entries) {
          errors->Add(entry, "outside any [service] section");
        }
      }
    } else if (section.name == "defaults") {
      if (main_file) {
        Collect(section.entries, KeyScope::kService, "[defaults]", &sources->defaults, errors);
      } else {
        errors->Add(section.where, "[defaults] belongs in the main config file");
      }
    } else if (!ValidServiceName(section.name)) {
      errors->Add(section.where,
                  "[" + section.name + "]: a service name is 1-64 letters, digits, _ . or -");
    } else {
      auto same = std::find_if(sources->services.begin(), sources->services.end(),
                               [&](const ServiceSource& s) { return s.name == section.name; });
      if (same != sources->services.end()) {
        errors->Add(section.where,
                    "[" + section.name + "]: service already defined at " + same->where);
        continue;
      }
      ServiceSource service{section.name, section.where, {}};
      Collect(section.entries, KeyScope::kService, "[" + section.name + "]", &service.settings,
              errors);
      sources->services.push_back(std::move(service));
    }
  }
}

// The built-in service when there is no config file: Net::Server's port, /bin/cat.
ServiceSource BuiltinEcho() {
  const char* where = "built-in default";
  ServiceSource echo{"echo", where, {}};
  echo.settings["port"] = {
      ConfigEntry{"port", "127.0.0.1:" + std::to_string(kBuiltinEchoPort), where}};
  echo.settings["exec"] = {ConfigEntry{"exec", "/bin/cat", where}};
  return echo;
}

// The *.conf files of `dir`, in name order.
std::vector<std::string> ServiceFileNames(const std::string& dir, ConfigErrors* errors) {
  std::vector<std::string> files;
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) {
    if (errno != ENOENT) errors->Add(dir, std::string("services_dir: ") + std::strerror(errno));
    return files;
  }
  while (dirent* entry = readdir(handle)) {
    std::string name = entry->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".conf") == 0 && name[0] != '.') {
      files.push_back(name);
    }
  }
  closedir(handle);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

bool ReadMainFile(const CommandLine& command_line, ConfigSources* sources, ConfigErrors* errors) {
  std::string path = command_line.config_path;
  if (path.empty()) {
    struct stat info {};
    if (stat(kDefaultConfigPath, &info) == 0) path = kDefaultConfigPath;
  }
  sources->main_path = path;
  if (path.empty()) {
    sources->services.push_back(BuiltinEcho());
    return true;
  }
  sources->files.push_back(path);
  std::vector<IniSection> sections;
  if (!ReadIniFile(path, path, &sections, errors->list()) && sections.empty()) return false;
  AddSections(sections, true, sources, errors);
  return true;
}

void LayerCommandLine(const CommandLine& command_line, ConfigSources* sources,
                      ConfigErrors* errors) {
  Settings global_overrides;
  for (const ConfigEntry& entry : command_line.overrides) {
    // The bound a line in a file has; parsers (std::regex recurses per character)
    // are not built for values of any length.
    if (entry.value.size() > kMaxIniLineLength) {
      errors->Add(entry, "the value is " + std::to_string(entry.value.size()) +
                             " bytes long; the limit is " + std::to_string(kMaxIniLineLength));
      continue;
    }
    const ConfigKey* key = FindConfigKey(entry.key);
    if (key == nullptr) continue;  // ParseCommandLine let through known keys only
    Settings& layer =
        key->scope == KeyScope::kGlobal ? global_overrides : sources->service_overrides;
    layer[entry.key].push_back(entry);
  }
  for (auto& [key, values] : global_overrides) sources->global[key] = values;
}

void ReadServicesDir(const std::string& dir, ConfigSources* sources, ConfigErrors* errors) {
  for (const std::string& file : ServiceFileNames(dir, errors)) {
    std::string shown = JoinPath(dir, file);
    sources->files.push_back(shown);
    std::vector<IniSection> sections;
    ReadIniFile(shown, shown, &sections, errors->list());
    AddSections(sections, false, sources, errors);
  }
}

Settings ServiceSettings(const ConfigSources& sources, const ServiceSource& service) {
  Settings settings = sources.defaults;
  for (auto& [key, values] : service.settings) settings[key] = values;
  for (auto& [key, values] : sources.service_overrides) settings[key] = values;
  return settings;
}

}  // namespace gatehouse
