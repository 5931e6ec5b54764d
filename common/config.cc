#include "common/config.h"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

#include "common/config_keys.h"
#include "common/control_bytes.h"
#include "common/ini_file.h"
#include "common/parse_number.h"
#include "common/shell_words.h"

namespace gatehouse {
namespace {

// Keys gatehouse sets itself in every program's environment.
const std::set<std::string>& ReservedEnvNames() {
  static const std::set<std::string> names = {
      "PROTO",         "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP",     "TCPLOCALPORT",
      "TCPREMOTEHOST", "REMOTE_HOST", "UNIXREMOTEPID", "UNIXREMOTEEUID", "UNIXREMOTEEGID"};
  return names;
}

// Entries of one scope (global, [defaults] or a service) by key, in order.
using Settings = std::map<std::string, std::vector<ConfigEntry>>;

struct Errors {
  std::vector<std::string>* list;
  // Messages quote config text: escaped, so a value cannot drive the terminal.
  void Add(const ConfigEntry& entry, const std::string& message) {
    list->push_back(EscapeControlBytes(entry.where + ": " + entry.key + ": " + message));
  }
  void Add(const std::string& where, const std::string& message) {
    list->push_back(EscapeControlBytes(where + ": " + message));
  }
};

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (name.empty() || name[0] == '/' || dir == ".") return name;
  return dir + "/" + name;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

// Adds `entries` of a `scope` section to `settings`, folding continuation lines
// and catching a scalar key given twice.
void Collect(const std::vector<ConfigEntry>& entries, KeyScope scope, const std::string& scope_name,
             Settings* settings, Errors* errors) {
  for (const ConfigEntry& entry : entries) {
    const ConfigKey* key = FindConfigKey(entry.key);
    if (key == nullptr) {
      errors->Add(entry, "unknown key in " + scope_name);
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

bool ParseBool(const ConfigEntry& entry, bool* value, Errors* errors) {
  std::string text = entry.value;
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  if (text == "1" || text == "yes" || text == "on" || text == "true") {
    *value = true;
  } else if (text == "0" || text == "no" || text == "off" || text == "false" || text.empty()) {
    *value = false;
  } else {
    errors->Add(entry, "\"" + entry.value + "\" is not a boolean (1/0, yes/no, on/off)");
    return false;
  }
  return true;
}

bool ParseInt(const ConfigEntry& entry, int min, int max, int* value, Errors* errors) {
  if (!ParseBoundedInt(entry.value, min, max, value)) {
    errors->Add(entry, "\"" + entry.value + "\" is not a number from " + std::to_string(min) +
                           " to " + std::to_string(max));
    return false;
  }
  return true;
}

const ConfigEntry* Last(const Settings& settings, const std::string& key) {
  auto found = settings.find(key);
  if (found == settings.end() || found->second.empty()) return nullptr;
  return &found->second.back();
}

void ApplyGlobal(const Settings& settings, const std::string& config_dir, GlobalConfig* global,
                 Errors* errors) {
  if (const ConfigEntry* e = Last(settings, "services_dir")) {
    global->services_dir = JoinPath(config_dir, e->value);
  }
  if (const ConfigEntry* e = Last(settings, "log_file")) {
    global->log_file = e->value == "Sys::Syslog" ? e->value : AbsolutePath(e->value);
  }
  if (const ConfigEntry* e = Last(settings, "log_level")) {
    ParseInt(*e, 0, 4, &global->log_level, errors);
  }
  if (const ConfigEntry* e = Last(settings, "syslog_ident")) {
    if (e->value.empty() || e->value.size() > 64 ||
        e->value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789_.-/") != std::string::npos) {
      errors->Add(*e, "\"" + e->value + "\" is not a syslog ident (letters, digits, _ . - /)");
    } else {
      global->syslog_ident = e->value;
    }
  }
  if (const ConfigEntry* e = Last(settings, "syslog_facility")) {
    static const std::set<std::string> facilities = {
        "auth",   "authpriv", "cron",   "daemon", "ftp",    "kern",   "lpr",
        "mail",   "news",     "syslog", "user",   "uucp",   "local0", "local1",
        "local2", "local3",   "local4", "local5", "local6", "local7"};
    if (facilities.count(e->value) == 0) {
      errors->Add(*e,
                  "\"" + e->value + "\" is not a syslog facility (daemon, user, local0-7, ...)");
    } else {
      global->syslog_facility = e->value;
    }
  }
  if (const ConfigEntry* e = Last(settings, "syslog_logopt")) {
    std::string words = e->value;
    std::replace(words.begin(), words.end(), '|', ' ');
    std::replace(words.begin(), words.end(), ',', ' ');
    std::istringstream in(words);
    std::string word;
    while (in >> word) {
      if (word != "pid" && word != "cons" && word != "ndelay" && word != "nowait") {
        errors->Add(*e, "\"" + word + "\" is not a syslog option (pid, cons, ndelay, nowait)");
      }
    }
    global->syslog_logopt = e->value;
  }
  if (const ConfigEntry* e = Last(settings, "pid_file")) global->pid_file = AbsolutePath(e->value);
  if (const ConfigEntry* e = Last(settings, "background"))
    ParseBool(*e, &global->background, errors);
  if (const ConfigEntry* e = Last(settings, "setsid")) ParseBool(*e, &global->setsid, errors);
  if (const ConfigEntry* e = Last(settings, "shutdown_timeout")) {
    ParseInt(*e, 0, 86400, &global->shutdown_timeout, errors);
  }
}

// setresuid/setresgid read (uid_t)-1 as "leave unchanged": the largest id is one less.
constexpr uint64_t kMaxId = 4294967294;

bool AllDigits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// A numeric uid/gid: in range, and written as the kernel would print it (no
// leading zeros, so "00" cannot stand in for root unnoticed).
bool ParseId(const std::string& text, uint32_t* id) {
  uint64_t value = 0;
  if (text.size() > 1 && text[0] == '0') return false;
  if (!ParseDecimal(text, kMaxId, &value)) return false;
  *id = static_cast<uint32_t>(value);
  return true;
}

std::string BadIdMessage(const std::string& text, const char* what) {
  return "\"" + text + "\" is not a " + what + " (0 to " + std::to_string(kMaxId) +
         ", without leading zeros)";
}

// Root must be asked for by name: a user or group that is 0 only by way of
// another passwd name, a number form or a wrap-around is refused.
bool WrittenAsRoot(const std::string& text) { return text == "root" || text == "0"; }

struct UserEntry {
  uid_t uid = 0;
  std::string name;
  bool has_primary_group = false;  // false for a uid without a passwd entry
  gid_t primary_gid = 0;
};

// `text` as a user: a passwd name, or a uid (which needs no passwd entry).
bool LookUpUser(const std::string& text, UserEntry* user, std::string* error) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (AllDigits(text)) {
    uint32_t uid = 0;
    if (!ParseId(text, &uid)) {
      *error = BadIdMessage(text, "uid");
      return false;
    }
    getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &found);
    user->uid = static_cast<uid_t>(uid);
    user->name = found ? found->pw_name : text;
  } else {
    getpwnam_r(text.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
      *error = "no such user \"" + text + "\"";
      return false;
    }
    user->uid = found->pw_uid;
    user->name = found->pw_name;
  }
  user->has_primary_group = found != nullptr;
  if (found) user->primary_gid = found->pw_gid;
  return true;
}

// `text` as a group: a group name, or a gid (which needs no entry in /etc/group).
bool LookUpGroup(const std::string& text, gid_t* gid, std::string* shown, std::string* error) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (AllDigits(text)) {
    uint32_t id = 0;
    if (!ParseId(text, &id)) {
      *error = BadIdMessage(text, "gid");
      return false;
    }
    *gid = static_cast<gid_t>(id);
    getgrgid_r(*gid, &entry, buffer.data(), buffer.size(), &found);
    *shown = found ? found->gr_name : text;
    return true;
  }
  getgrnam_r(text.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    *error = "no such group \"" + text + "\"";
    return false;
  }
  *gid = found->gr_gid;
  *shown = found->gr_name;
  return true;
}

// Not root: a service may only name the user and group gatehouse runs as.
void CheckUnprivilegedIdentity(const ConfigEntry* user, const ConfigEntry* group, Errors* errors) {
  std::string message;
  if (user) {
    UserEntry found;
    bool known = LookUpUser(user->value, &found, &message);
    if (!known && AllDigits(user->value)) {
      errors->Add(*user, message);  // not a uid at all
    } else if (!known || found.uid != geteuid()) {
      errors->Add(*user, "changing user needs gatehouse to run as root (it runs as uid " +
                             std::to_string(geteuid()) + ")");
    }
  }
  if (group) {
    gid_t gid = 0;
    std::string shown;
    bool known = LookUpGroup(group->value, &gid, &shown, &message);
    if (!known && AllDigits(group->value)) {
      errors->Add(*group, message);
    } else if (!known || gid != getegid()) {
      errors->Add(*group, "changing group needs gatehouse to run as root (it runs as gid " +
                              std::to_string(getegid()) + ")");
    }
  }
}

// The service's user as root: `user`, or Net::Server's default nobody.
bool ResolveUser(const ConfigEntry* user, const std::string& where, UserEntry* found,
                 Errors* errors) {
  std::string text = user ? user->value : "nobody";
  std::string message;
  if (!LookUpUser(text, found, &message)) {
    if (user) {
      errors->Add(*user, message);
    } else {
      errors->Add(where, "user: default user \"nobody\" does not exist; set user =");
    }
    return false;
  }
  if (found->uid == 0 && !WrittenAsRoot(text)) {
    std::string what = user ? "\"" + text + "\"" : "the default user \"nobody\"";
    std::string error = what + " is uid 0; write user = root to run a service as root";
    if (user) {
      errors->Add(*user, error);
    } else {
      errors->Add(where, "user: " + error);
    }
    return false;
  }
  return true;
}

// The service's group as root: `group`; else an explicit user's primary group;
// else nogroup (or nobody), as Net::Server.
bool ResolveGroup(const ConfigEntry* group, const ConfigEntry* user, const UserEntry& found_user,
                  const std::string& where, ServiceConfig* service, Errors* errors) {
  std::string message;
  if (group) {
    if (!LookUpGroup(group->value, &service->gid, &service->group_name, &message)) {
      errors->Add(*group, message);
      return false;
    }
    if (service->gid == 0 && !WrittenAsRoot(group->value)) {
      errors->Add(*group, "\"" + group->value +
                              "\" is gid 0; write group = root to run a service in group root");
      return false;
    }
    return true;
  }
  if (user && found_user.has_primary_group) {
    service->gid = found_user.primary_gid;
    if (service->gid == 0 && !WrittenAsRoot(user->value)) {
      errors->Add(*user, "\"" + user->value +
                             "\" has primary group gid 0; set group = root if that is meant");
      return false;
    }
    gid_t ignored;
    if (!LookUpGroup(std::to_string(service->gid), &ignored, &service->group_name, &message)) {
      service->group_name = std::to_string(service->gid);
    }
    return true;
  }
  for (const char* name : {"nogroup", "nobody"}) {
    if (LookUpGroup(name, &service->gid, &service->group_name, &message)) {
      if (service->gid != 0) return true;
      errors->Add(where,
                  std::string("group: the default group \"") + name + "\" is gid 0; set group =");
      return false;
    }
  }
  errors->Add(where, "group: default group \"nogroup\" does not exist; set group =");
  return false;
}

// user/group/chroot: Net::Server's defaults (nobody/nogroup) when gatehouse is
// root; as another user, a service runs as that user and may not ask for more.
void ResolveIdentity(const Settings& settings, const std::string& where, ServiceConfig* service,
                     Errors* errors) {
  const ConfigEntry* user = Last(settings, "user");
  const ConfigEntry* group = Last(settings, "group");
  const ConfigEntry* chroot = Last(settings, "chroot");
  bool root = geteuid() == 0;

  if (chroot) {
    struct stat info {};
    if (chroot->value.empty() || chroot->value[0] != '/') {
      errors->Add(*chroot, "\"" + chroot->value + "\" is not an absolute path");
    } else if (stat(chroot->value.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      errors->Add(*chroot, "\"" + chroot->value + "\" is not a directory");
    } else if (!root) {
      errors->Add(*chroot, "chroot needs gatehouse to run as root (it runs as uid " +
                               std::to_string(geteuid()) + ")");
    } else {
      service->chroot = chroot->value;
    }
  }

  if (!root) {
    CheckUnprivilegedIdentity(user, group, errors);
    service->change_identity = false;
    service->uid = geteuid();
    service->gid = getegid();
    return;
  }

  service->change_identity = true;
  UserEntry found_user;
  if (!ResolveUser(user, where, &found_user, errors)) return;
  service->uid = found_user.uid;
  service->user_name = found_user.name;
  if (!ResolveGroup(group, user, found_user, where, service, errors)) return;

  // No supplementary groups beyond `group` (as Net::Server, and xinetd's
  // default): a user's other groups must not widen what a service may reach.
  service->supplementary_groups = {service->gid};
}

std::string OctalMode(mode_t mode) {
  char text[8];
  snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// The program's mode bits, read for the identity it will run as (gatehouse checks
// as root, for which any x bit will do; the service may be nobody).
bool ExecutableBy(const struct stat& info, const ServiceConfig& service) {
  if (!service.change_identity || service.uid == 0) return (info.st_mode & 0111) != 0;
  if (info.st_uid == service.uid) return (info.st_mode & S_IXUSR) != 0;
  if (info.st_gid == service.gid) return (info.st_mode & S_IXGRP) != 0;
  return (info.st_mode & S_IXOTH) != 0;
}

void ResolveProgram(const Settings& settings, const std::string& where, ServiceConfig* service,
                    Errors* errors) {
  const ConfigEntry* exec = Last(settings, "exec");
  if (exec == nullptr) {
    errors->Add(where, "exec: missing: the absolute path of the program to run");
    return;
  }
  if (exec->value.empty() || exec->value[0] != '/') {
    errors->Add(*exec, "\"" + exec->value + "\" is not an absolute path");
    return;
  }
  std::string on_disk = service->chroot.empty() ? exec->value : service->chroot + exec->value;
  struct stat info {};
  if (stat(on_disk.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
      access(on_disk.c_str(), X_OK) != 0) {
    errors->Add(*exec, "\"" + on_disk + "\" is not an executable file");
    return;
  }
  if (!ExecutableBy(info, *service)) {
    errors->Add(*exec, "\"" + on_disk + "\" is not executable by uid " +
                           std::to_string(service->uid) + " gid " + std::to_string(service->gid) +
                           " (mode " + OctalMode(info.st_mode) + ")");
    return;
  }
  service->exec = exec->value;
  std::string base = exec->value.substr(exec->value.rfind('/') + 1);
  service->argv = {base};
  if (const ConfigEntry* args = Last(settings, "args")) {
    std::vector<std::string> words;
    std::string message;
    if (!SplitShellWords(args->value, &words, &message)) {
      errors->Add(*args, message + " in \"" + args->value + "\"");
      return;
    }
    service->argv.insert(service->argv.end(), words.begin(), words.end());
  }
}

void ResolveEnvironment(const Settings& settings, ServiceConfig* service, Errors* errors) {
  auto env = settings.find("env");
  if (env != settings.end()) {
    for (const ConfigEntry& entry : env->second) {
      size_t equals = entry.value.find('=');
      std::string name = entry.value.substr(0, equals);
      bool valid = equals != std::string::npos && !name.empty() &&
                   !std::isdigit(static_cast<unsigned char>(name[0])) &&
                   name.find_first_not_of(
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789_") == std::string::npos;
      if (!valid) {
        errors->Add(entry, "\"" + entry.value + "\" is not NAME=value");
      } else if (ReservedEnvNames().count(name) > 0) {
        errors->Add(entry, name + " is set by gatehouse for every connection");
      } else {
        service->env.push_back(entry.value);
      }
    }
  }
}

void ResolveNetwork(const Settings& settings, const std::string& where, ServiceConfig* service,
                    Errors* errors) {
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
      if (port.spec.protocol == Protocol::kUdp || port.spec.socket_type == SOCK_DGRAM) {
        errors->Add(entry, "\"" + entry.value +
                               "\": datagram services (udp, SOCK_DGRAM) are not supported yet");
        continue;
      }
      service->ports.push_back(port);
    }
  }
  service->listen = SOMAXCONN;
  if (const ConfigEntry* e = Last(settings, "listen"))
    ParseInt(*e, 1, 65535, &service->listen, errors);
  if (const ConfigEntry* e = Last(settings, "reverse_lookups")) {
    ParseBool(*e, &service->reverse_lookups, errors);
  }
  // Each value of a list key through its parser; each bad one is an error of its own.
  auto parse_list = [&](const char* key, auto parse, auto* out) {
    auto found = settings.find(key);
    if (found == settings.end()) return;
    for (const ConfigEntry& entry : found->second) {
      typename std::remove_pointer_t<decltype(out)>::value_type item;
      std::string message;
      if (parse(entry.value, &item, &message)) {
        out->push_back(std::move(item));
      } else {
        errors->Add(entry, message);
      }
    }
  };
  parse_list("allow", ParseAddressPattern, &service->access.allow);
  parse_list("deny", ParseAddressPattern, &service->access.deny);
  parse_list("cidr_allow", ParseCidr, &service->access.cidr_allow);
  parse_list("cidr_deny", ParseCidr, &service->access.cidr_deny);
}

bool ValidServiceName(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos;
}

struct ServiceSource {
  std::string name;
  std::string where;
  Settings settings;
};

// The *.conf files of services_dir, in name order.
std::vector<std::string> ServiceFiles(const std::string& dir, Errors* errors) {
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

// The built-in service when there is no config file: Net::Server's port, /bin/cat.
ServiceSource BuiltinEcho() {
  ServiceSource echo;
  echo.name = "echo";
  echo.where = "built-in default";
  echo.settings["port"] = {
      ConfigEntry{"port", "127.0.0.1:" + std::to_string(kBuiltinEchoPort), "built-in default"}};
  echo.settings["exec"] = {ConfigEntry{"exec", "/bin/cat", "built-in default"}};
  return echo;
}

}  // namespace

bool ParseCommandLine(int argc, const char* const* argv, CommandLine* command_line,
                      std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--check" || arg == "-t") {
      command_line->check = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      command_line->help = true;
      continue;
    }
    if (arg == "--version") {
      command_line->version = true;
      continue;
    }
    std::string key, value;
    if (arg.rfind("--", 0) == 0) {
      size_t equals = arg.find('=');
      if (equals != std::string::npos) {
        key = arg.substr(2, equals - 2);
        value = arg.substr(equals + 1);
      } else {
        key = arg.substr(2);
        if (i + 1 >= argc) {
          *error = EscapeControlBytes("--" + key + " needs a value");
          return false;
        }
        value = argv[++i];
      }
    } else if (arg.find('=') != std::string::npos && arg[0] != '=') {
      key = arg.substr(0, arg.find('='));
      value = arg.substr(arg.find('=') + 1);
    } else {
      *error = EscapeControlBytes("unexpected argument \"" + arg +
                                  "\" (options are --key value, --key=value, key=value)");
      return false;
    }
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "config" || key == "conf_file") {
      command_line->config_path = value;
    } else if (FindConfigKey(key) != nullptr) {
      command_line->overrides.push_back(ConfigEntry{key, value, "command line"});
    } else {
      *error = EscapeControlBytes("unknown option --" + key + " (see gatehouse --help)");
      return false;
    }
  }
  return true;
}

bool LoadConfig(const CommandLine& command_line, Config* config, std::vector<std::string>* errors) {
  Errors errs{errors};
  size_t errors_before = errors->size();
  *config = Config{};
  GlobalConfig& global = config->global;

  std::string path = command_line.config_path;
  if (path.empty()) {
    struct stat info {};
    if (stat(kDefaultConfigPath, &info) == 0) path = kDefaultConfigPath;
  }

  Settings global_settings, defaults;
  std::vector<ServiceSource> sources;
  auto add_service_sections = [&](const std::vector<IniSection>& sections, bool main_file) {
    for (const IniSection& section : sections) {
      if (section.name.empty()) {
        if (main_file) {
          Collect(section.entries, KeyScope::kGlobal, "the global section", &global_settings,
                  &errs);
        } else {
          for (const ConfigEntry& entry : section.entries) {
            errs.Add(entry, "outside any [service] section");
          }
        }
      } else if (section.name == "defaults") {
        if (main_file) {
          Collect(section.entries, KeyScope::kService, "[defaults]", &defaults, &errs);
        } else {
          errs.Add(section.where, "[defaults] belongs in the main config file");
        }
      } else if (!ValidServiceName(section.name)) {
        errs.Add(section.where,
                 "[" + section.name + "]: a service name is 1-64 letters, digits, _ . or -");
      } else {
        auto same = std::find_if(sources.begin(), sources.end(),
                                 [&](const ServiceSource& s) { return s.name == section.name; });
        if (same != sources.end()) {
          errs.Add(section.where,
                   "[" + section.name + "]: service already defined at " + same->where);
          continue;
        }
        ServiceSource source{section.name, section.where, {}};
        Collect(section.entries, KeyScope::kService, "[" + section.name + "]", &source.settings,
                &errs);
        sources.push_back(source);
      }
    }
  };

  if (path.empty()) {
    config->builtin_default = true;
    sources.push_back(BuiltinEcho());
  } else {
    global.config_file = path;
    std::vector<IniSection> sections;
    if (!ReadIniFile(path, path, &sections, errors) && sections.empty()) return false;
    add_service_sections(sections, true);
  }

  // Command line over conf file: global keys replace, service keys replace that
  // key in [defaults] and in every service.
  Settings global_overrides, service_overrides;
  for (const ConfigEntry& entry : command_line.overrides) {
    // The bound a line in a file has; parsers (std::regex recurses per character)
    // are not built for values of any length.
    if (entry.value.size() > kMaxIniLineLength) {
      errs.Add(entry, "the value is " + std::to_string(entry.value.size()) +
                          " bytes long; the limit is " + std::to_string(kMaxIniLineLength));
      continue;
    }
    if (FindConfigKey(entry.key)->scope == KeyScope::kGlobal) {
      global_overrides[entry.key].push_back(entry);
    } else {
      service_overrides[entry.key].push_back(entry);
    }
  }
  for (auto& [key, values] : global_overrides) global_settings[key] = values;

  global.services_dir = config->builtin_default ? "" : JoinPath(DirName(path), "services.d");
  ApplyGlobal(global_settings, DirName(path), &global, &errs);
  bool services_dir_ok = true;
  if (const ConfigEntry* dir = Last(global_settings, "services_dir")) {
    struct stat info {};
    if (stat(global.services_dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      errs.Add(*dir, "\"" + global.services_dir + "\" is not a directory");
      services_dir_ok = false;
    }
  }
  if (!config->builtin_default && services_dir_ok) {
    for (const std::string& file : ServiceFiles(global.services_dir, &errs)) {
      std::string shown = JoinPath(global.services_dir, file);
      std::vector<IniSection> sections;
      ReadIniFile(shown, shown, &sections, errors);
      add_service_sections(sections, false);
    }
  }
  if (sources.empty() && errors->size() == errors_before) {
    errs.Add(path, "no services: add a [name] section to " + path + " or a *.conf file to " +
                       global.services_dir);
  }

  std::map<std::string, std::string> port_owner;  // canonical port -> "service (where)"
  for (ServiceSource& source : sources) {
    Settings settings = defaults;
    for (auto& [key, values] : source.settings) settings[key] = values;
    for (auto& [key, values] : service_overrides) settings[key] = values;

    ServiceConfig service;
    service.name = source.name;
    service.where = source.where;
    ResolveNetwork(settings, source.where, &service, &errs);
    ResolveIdentity(settings, source.where, &service, &errs);
    ResolveProgram(settings, source.where, &service, &errs);
    ResolveEnvironment(settings, &service, &errs);
    for (const ServicePort& port : service.ports) {
      std::string key = port.spec.ToString();
      auto [owner, inserted] = port_owner.emplace(key, service.name + " (" + port.where + ")");
      if (!inserted && port.spec.port != 0) {
        errs.Add(port.where, "port: " + key + " is already used by service " + owner->second);
      }
    }
    if (service.access.DeniesEveryone()) {
      config->warnings.push_back(EscapeControlBytes(
          source.where + ": [" + service.name +
          "] has deny rules but no allow rules, so it refuses every client (Net::Server's rule); "
          "add allow = .* to admit the rest"));
    }
    config->services.push_back(std::move(service));
  }
  return errors->size() == errors_before;
}

// Config text shown by --check: escaped, as in errors.
static std::string Shown(const std::string& text) { return EscapeControlBytes(text); }

std::string DescribeConfig(const Config& config) {
  std::ostringstream out;
  if (config.builtin_default) {
    out << "config: built-in default (no --config given, no " << kDefaultConfigPath << ")\n";
  } else {
    out << "config: " << Shown(config.global.config_file) << "\n";
    out << "services_dir: " << Shown(config.global.services_dir) << "\n";
  }
  const GlobalConfig& g = config.global;
  out << "log_file: " << (g.log_file.empty() ? "(stderr)" : Shown(g.log_file))
      << "  log_level: " << g.log_level << "\n";
  if (!g.pid_file.empty()) out << "pid_file: " << Shown(g.pid_file) << "\n";
  if (g.background || g.setsid) {
    out << "background: " << g.background << "  setsid: " << g.setsid << "\n";
  }
  for (const ServiceConfig& s : config.services) {
    out << "\n[" << s.name << "]  (" << Shown(s.where) << ")\n";
    for (const ServicePort& port : s.ports)
      out << "  port     " << Shown(port.spec.ToString()) << "\n";
    out << "  exec     " << Shown(s.exec) << "\n  argv    ";
    for (const std::string& word : s.argv) out << " " << Shown(QuoteShellWord(word));
    out << "\n";
    if (s.change_identity) {
      out << "  user     " << Shown(s.user_name) << " (uid " << s.uid << "), group "
          << Shown(s.group_name) << " (gid " << s.gid << ")\n";
    } else {
      out << "  user     unchanged (uid " << s.uid << ", gid " << s.gid << ")\n";
    }
    out << "  chroot   " << (s.chroot.empty() ? "(none)" : Shown(s.chroot)) << "\n";
    out << "  listen   " << s.listen << "\n";
    for (const std::string& env : s.env) out << "  env      " << Shown(env) << "\n";
    for (const AddressPattern& p : s.access.allow) out << "  allow    " << Shown(p.text) << "\n";
    for (const AddressPattern& p : s.access.deny) out << "  deny     " << Shown(p.text) << "\n";
    for (const CidrBlock& b : s.access.cidr_allow) out << "  cidr_allow " << Shown(b.text) << "\n";
    for (const CidrBlock& b : s.access.cidr_deny) out << "  cidr_deny  " << Shown(b.text) << "\n";
    if (s.reverse_lookups) out << "  reverse_lookups on\n";
  }
  return out.str();
}

}  // namespace gatehouse
