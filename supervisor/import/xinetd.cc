#include "supervisor/import/xinetd.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "supervisor/import/address_rules.h"
#include "supervisor/import/bounded_file.h"
#include "supervisor/import/root_daemons.h"
#include "supervisor/import/service_mode.h"

namespace gatehouse {
namespace {

// Bounds, so that an include loop or a huge folder cannot run away.
constexpr int kMaxIncludeDepth = 8;
constexpr size_t kMaxFiles = 4096;

struct Attribute {
  std::string key;
  std::string op;  // "=", "+=" or "-="
  std::vector<std::string> values;
  std::string origin;  // FILE:LINE
};

struct Block {
  bool defaults = false;
  std::string name;
  std::string origin;
  std::vector<Attribute> attributes;
};

struct Reader {
  std::vector<Block> blocks;
  std::vector<std::string>* errors;
  size_t files = 0;
};

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  size_t start = 0;
  while (true) {
    start = text.find_first_not_of(" \t\r", start);
    if (start == std::string::npos) break;
    size_t end = text.find_first_of(" \t\r", start);
    if (end == std::string::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    start = end;
  }
  return words;
}

bool HasControlByte(const std::string& line) {
  return std::any_of(line.begin(), line.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t' && c != '\r') || u == 0x7f;
  });
}

void ReadPath(const std::string& path, int depth, Reader* reader);

// xinetd's includedir skips names with a '.' or ending in '~' (editor and package files).
void ReadFolder(const std::string& folder, int depth, Reader* reader, bool skip_dotted) {
  DIR* dir = opendir(folder.c_str());
  if (!dir) {
    reader->errors->push_back(folder + ": cannot read the folder");
    return;
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (skip_dotted && (name.find('.') != std::string::npos || name.back() == '~')) continue;
    names.push_back(name);
    if (names.size() > kMaxFiles) break;
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) ReadPath(folder + "/" + name, depth, reader);
}

void ReadFile(const std::string& path, int depth, Reader* reader) {
  if (++reader->files > kMaxFiles) {
    reader->errors->push_back(path + ": more than 4096 files; the rest are not read");
    return;
  }
  std::string text, error;
  if (!ReadImportFile(path, &text, &error)) {
    reader->errors->push_back(error);
    return;
  }
  Block* open = nullptr;    // the block whose { } we are inside
  bool want_brace = false;  // a header was read; its { comes next
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    std::string origin = path + ":" + std::to_string(line_number);
    if (HasControlByte(line)) {
      reader->errors->push_back(origin + ": a control byte in the line; line skipped");
      continue;
    }
    std::vector<std::string> words = Words(line);
    if (words.empty() || words[0][0] == '#') continue;
    if (want_brace) {
      if (words[0] != "{") {
        reader->errors->push_back(origin + ": expected { after the service line");
        reader->blocks.pop_back();
        want_brace = false;
        // Read the line again as a header.
      } else {
        want_brace = false;
        open = &reader->blocks.back();
        words.erase(words.begin());
        if (words.empty()) continue;
      }
    }
    if (!open) {
      if (words[0] == "includedir" || words[0] == "include") {
        if (words.size() != 2) {
          reader->errors->push_back(origin + ": " + words[0] + ": expected one path");
        } else if (depth >= kMaxIncludeDepth) {
          reader->errors->push_back(origin + ": " + words[0] +
                                    ": nested too deep (an include loop?)");
        } else if (words[0] == "includedir") {
          ReadFolder(words[1], depth + 1, reader, true);
        } else {
          ReadPath(words[1], depth + 1, reader);
        }
        continue;
      }
      Block block;
      if (words[0] == "defaults" && words.size() <= 2) {
        block.defaults = true;
      } else if (words[0] == "service" && words.size() >= 2 && words[1] != "{") {
        block.name = words[1];
      } else {
        reader->errors->push_back(origin +
                                  ": expected service NAME, defaults, include or includedir");
        continue;
      }
      block.origin = origin;
      reader->blocks.push_back(block);
      size_t brace = block.defaults ? 1 : 2;
      if (words.size() > brace && words[brace] == "{") {
        open = &reader->blocks.back();
      } else {
        want_brace = true;
      }
      continue;
    }
    if (words[0] == "}") {
      open = nullptr;
      continue;
    }
    // key = value, key += value, key -= value; the operator may touch neither side.
    size_t op_at = line.find('=');
    if (op_at == std::string::npos) {
      reader->errors->push_back(origin + ": expected KEY = VALUE");
      continue;
    }
    Attribute attribute;
    attribute.origin = origin;
    size_t key_end = op_at;
    attribute.op = "=";
    if (key_end > 0 && (line[key_end - 1] == '+' || line[key_end - 1] == '-')) {
      attribute.op = std::string(1, line[key_end - 1]) + "=";
      --key_end;
    }
    std::vector<std::string> key_words = Words(line.substr(0, key_end));
    if (key_words.size() != 1) {
      reader->errors->push_back(origin + ": expected KEY = VALUE");
      continue;
    }
    attribute.key = key_words[0];
    attribute.values = Words(line.substr(op_at + 1));
    open->attributes.push_back(attribute);
  }
  if (open || want_brace) {
    reader->errors->push_back(path + ":" + std::to_string(line_number) +
                              ": the last block has no closing }");
    if (want_brace) reader->blocks.pop_back();
  }
}

void ReadPath(const std::string& path, int depth, Reader* reader) {
  struct stat status;
  if (stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) {
    ReadFolder(path, depth, reader, true);
  } else {
    ReadFile(path, depth, reader);
  }
}

std::string Join(const std::vector<std::string>& words) {
  std::string joined;
  for (const std::string& word : words) joined += (joined.empty() ? "" : " ") + word;
  return joined;
}

bool IsYes(const std::vector<std::string>& values) {
  return values.size() == 1 && (values[0] == "yes" || values[0] == "YES");
}

bool IsNumber(const std::string& text, long low, long high) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  long value = std::stol(text);
  return value >= low && value <= high;
}

struct Resolved {
  std::vector<std::string> values;
  std::string origin;
  bool present = false;
};

// Defaults first, then the service's own lines: = replaces, += adds, -= removes.
std::map<std::string, Resolved> Resolve(const Block* defaults, const Block& service,
                                        ImportedService* out) {
  std::map<std::string, Resolved> resolved;
  auto apply = [&](const Attribute& attribute, bool from_defaults) {
    Resolved& r = resolved[attribute.key];
    r.present = true;
    r.origin = attribute.origin;
    if (attribute.op == "=") {
      r.values = attribute.values;
    } else if (attribute.op == "+=") {
      r.values.insert(r.values.end(), attribute.values.begin(), attribute.values.end());
    } else {
      for (const std::string& value : attribute.values) {
        r.values.erase(std::remove(r.values.begin(), r.values.end(), value), r.values.end());
      }
    }
    if (attribute.op != "=" && !from_defaults) {
      out->Note(attribute.key + " " + attribute.op + " " + Join(attribute.values) + " (" +
                attribute.origin + "): " + (attribute.op == "+=" ? "added to" : "taken from") +
                " the defaults' list");
    }
  };
  if (defaults) {
    for (const Attribute& attribute : defaults->attributes) apply(attribute, true);
  }
  for (const Attribute& attribute : service.attributes) apply(attribute, false);
  return resolved;
}

void ConvertAccess(std::map<std::string, Resolved>& keys, ImportedService* out,
                   std::vector<std::string>* errors) {
  if (out->wait) {
    bool any = false;
    for (const char* key : {"only_from", "no_access"}) {
      if (!keys.count(key)) continue;
      out->Note(std::string("not imported: ") + key + " = " + Join(keys[key].values));
      any = true;
    }
    if (any) {
      out->Note(
          "(mode = wait: the program accepts its clients itself, so gatehouse cannot check "
          "them and --check refuses access rules; filter with a firewall)");
    }
    return;
  }
  std::vector<ImportedAddressRule> rules;
  bool allows = false, denies = false, reverse = false;
  if (keys.count("only_from") && keys["only_from"].values.empty()) {
    out->Note("only_from with no value: xinetd refuses every peer");
    out->Key("deny", ".*");
    return;
  }
  for (const char* key : {"only_from", "no_access"}) {
    if (!keys.count(key)) continue;
    bool deny = std::string(key) == "no_access";
    for (const std::string& entry : keys[key].values) {
      std::string error;
      size_t before = rules.size();
      if (!ConvertAddressEntry(entry, deny, &rules, &error)) {
        errors->push_back(keys[key].origin + ": " + key + ": " + error);
        out->Note(std::string("not imported: ") + key + " entry " + entry);
        continue;
      }
      for (size_t i = before; i < rules.size(); ++i) {
        (deny ? denies : allows) = true;
        reverse = reverse || rules[i].key == "allow" || rules[i].key == "deny";
      }
    }
  }
  if (denies && !allows) {
    // gatehouse (as Net::Server) refuses whatever no allow rule admits; xinetd's
    // no_access alone admits the rest.
    out->Note("no_access alone admits everyone else in xinetd: hence the cidr_allow of all");
    rules.push_back({"cidr_allow", "0.0.0.0/0"});
    rules.push_back({"cidr_allow", "::/0"});
  }
  if (allows && denies) {
    out->Note("a peer both allowed and denied is refused (xinetd: the more specific rule wins)");
  }
  if (reverse) out->Key("reverse_lookups", "1");
  for (const ImportedAddressRule& rule : rules) out->Key(rule.key, rule.value);
}

// instances, per_source and cps bound how often xinetd starts programs.
void ConvertLimits(std::map<std::string, Resolved>& keys, ImportedService* out) {
  auto values = [&](const std::string& key) {
    return keys.count(key) ? keys[key].values : std::vector<std::string>{};
  };
  auto first = [&](const std::string& key) {
    return keys.count(key) && !keys[key].values.empty() ? keys[key].values[0] : std::string();
  };
  if (out->wait) {
    // One program takes every client itself: there are no starts to bound.
    for (const char* key : {"instances", "per_source", "cps"}) {
      if (keys.count(key)) {
        out->Note(std::string("no effect in mode = wait: ") + key + " = " + Join(values(key)));
      }
    }
    return;
  }
  if (out->datagram) {
    // Datagrams have no connections to count or pause (docs/configuration.md, mode = datagram).
    for (const char* key : {"per_source", "cps"}) {
      if (keys.count(key)) {
        out->Note(std::string("no effect on datagrams: ") + key + " = " + Join(values(key)) + " (" +
                  keys[key].origin + ")");
        keys.erase(key);
      }
    }
  }
  std::string instances = first("instances");
  if (IsNumber(instances, 1, 65535)) {
    out->Key("max_servers", instances);
  } else if (!instances.empty() && instances != "UNLIMITED") {
    out->Note("no equivalent: instances = " + instances + " (max_servers takes 1-65535)");
  }
  std::string per_source = first("per_source");
  if (IsNumber(per_source, 1, 1000000)) {
    out->Key("per_source", per_source);
  } else if (!per_source.empty() && per_source != "UNLIMITED") {
    out->Note("no equivalent: per_source = " + per_source);
  }
  std::vector<std::string> cps = values("cps");
  if (cps.size() == 2 && IsNumber(cps[0], 1, 1000000) && IsNumber(cps[1], 1, 1000000)) {
    out->Key("cps", cps[0] + " " + cps[1]);
  } else if (keys.count("cps")) {
    out->Note("no equivalent: cps = " + Join(cps) + " (gatehouse takes RATE WAIT)");
  }
}

ImportedService Convert(const Block* defaults, const Block& service,
                        std::vector<std::string>* errors) {
  ImportedService out;
  out.name = service.name;
  out.origin = service.origin;
  std::map<std::string, Resolved> keys = Resolve(defaults, service, &out);
  auto values = [&](const std::string& key) {
    return keys.count(key) ? keys[key].values : std::vector<std::string>{};
  };
  auto first = [&](const std::string& key) {
    return keys.count(key) && !keys[key].values.empty() ? keys[key].values[0] : std::string();
  };

  if (IsYes(values("disable"))) out.not_runnable.push_back("disable = yes");
  bool internal = false;
  for (const std::string& type : values("type")) {
    if (type == "INTERNAL") {
      internal = true;
    } else if (type == "RPC") {
      out.not_runnable.push_back("type = RPC: RPC services are not supported");
    } else if (type == "TCPMUX" || type == "TCPMUXPLUS") {
      out.not_runnable.push_back("type = " + type + ": no equivalent");
    }
  }
  if (keys.count("id")) out.Note("id = " + Join(values("id")));
  std::string socket_type = first("socket_type");
  std::string protocol = first("protocol");
  if (socket_type == "dgram" || protocol == "udp") {
    out.datagram = true;
  } else if (!socket_type.empty() && socket_type != "stream") {
    out.not_runnable.push_back("socket_type = " + socket_type + ": no equivalent");
  } else if (!protocol.empty() && protocol != "tcp") {
    out.not_runnable.push_back("protocol = " + protocol + ": no equivalent");
  }

  // Where to listen: port or the service's name in /etc/services, on bind's address.
  std::string port = first("port");
  if (port.empty()) {
    if (getservbyname(service.name.c_str(), out.datagram ? "udp" : "tcp")) {
      port = service.name;
    } else {
      out.not_runnable.push_back("no port: \"" + service.name +
                                 "\" is not in /etc/services and the service has no port");
    }
  }
  std::string host = first("bind").empty() ? first("interface") : first("bind");
  if (!port.empty()) {
    std::string spec = port;
    if (!host.empty())
      spec = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
    if (out.datagram) spec += "/udp";
    out.Key("port", spec);
  }

  if (internal) {
    // Served inside gatehouse-child as the service's own user: xinetd's user = root
    // and wait = yes (of the UDP twin) have no meaning here.
    ImportInternalService(service.name, &out);
  } else {
    ImportProgramMode(out.datagram, IsYes(values("wait")), &out);
    std::string server = first("server");
    if (server.empty()) {
      out.not_runnable.push_back("no server");
    } else {
      out.Key("exec", server);
      std::string args;
      for (const std::string& word : values("server_args")) {
        args += (args.empty() ? "" : " ") + EscapeArgWord(word);
      }
      if (!args.empty()) out.Key("args", args);
    }
    if (!first("user").empty()) out.Key("user", first("user"));
    if (!first("group").empty()) out.Key("group", first("group"));
    ImportRootPrivileges(&out);
  }
  ConvertAccess(keys, &out, errors);

  ConvertLimits(keys, &out);
  for (const std::string& item : values("env")) {
    size_t equals = item.find('=');
    bool name_ok = equals != std::string::npos && equals > 0 &&
                   std::all_of(item.begin(), item.begin() + equals, [](char c) {
                     return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9');
                   });
    if (name_ok) {
      out.Key("env", item);
    } else {
      out.Note("no equivalent: env " + item + " (not NAME=value)");
    }
  }
  if (keys.count("passenv")) {
    out.Note("passenv = " + Join(values("passenv")) +
             ": nothing is inherited in gatehouse; write env = NAME=value");
  }
  if (IsNumber(first("nice"), 0, 19) || (first("nice").size() > 1 && first("nice")[0] == '-' &&
                                         IsNumber(first("nice").substr(1), 1, 20))) {
    out.Key("nice", first("nice"));
  }
  if (IsNumber(first("umask"), 0, 777)) out.Key("umask", first("umask"));
  std::map<std::string, std::string> rlimit_names = {
      {"rlimit_as", "rlimit_as"}, {"rlimit_cpu", "rlimit_cpu"}, {"rlimit_files", "rlimit_nofile"}};
  for (const auto& rlimit : rlimit_names) {
    std::string value = first(rlimit.first);
    if (value.empty()) continue;
    out.Key(rlimit.second, value == "UNLIMITED" ? "infinity" : value);
  }

  static const char* const kHandled[] = {
      "disable",   "type",      "id",         "socket_type", "protocol", "wait",    "port",
      "bind",      "interface", "server",     "server_args", "user",     "group",   "only_from",
      "no_access", "instances", "per_source", "cps",         "env",      "passenv", "nice",
      "umask",     "rlimit_as", "rlimit_cpu", "rlimit_files"};
  std::string defaults_logging;
  for (const auto& key : keys) {
    if (std::find(std::begin(kHandled), std::end(kHandled), key.first) != std::end(kHandled)) {
      continue;
    }
    bool from_service = std::any_of(service.attributes.begin(), service.attributes.end(),
                                    [&](const Attribute& a) { return a.key == key.first; });
    if (!from_service && key.first.rfind("log_", 0) == 0) {
      defaults_logging +=
          (defaults_logging.empty() ? "" : ", ") + key.first + " = " + Join(key.second.values);
      continue;
    }
    out.Note("no equivalent: " + key.first + " = " + Join(key.second.values));
  }
  if (!defaults_logging.empty()) {
    out.Note("dropped from the defaults: " + defaults_logging +
             " (gatehouse writes its own log: log_file, log_level)");
  }
  return out;
}

}  // namespace

void ImportXinetd(const std::vector<std::string>& paths, std::vector<ImportedService>* services,
                  std::vector<std::string>* errors) {
  Reader reader;
  reader.errors = errors;
  for (const std::string& path : paths) ReadPath(path, 0, &reader);
  // xinetd's defaults apply to every service wherever they stand.
  const Block* defaults = nullptr;
  for (const Block& block : reader.blocks) {
    if (block.defaults) defaults = &block;
  }
  for (const Block& block : reader.blocks) {
    if (!block.defaults) services->push_back(Convert(defaults, block, errors));
  }
}

}  // namespace gatehouse
