#include "supervisor/import/inetd.h"

#include <netdb.h>

#include <algorithm>

#include "supervisor/import/bounded_file.h"
#include "supervisor/import/root_daemons.h"
#include "supervisor/import/service_mode.h"

namespace gatehouse {
namespace {

std::vector<std::string> Columns(const std::string& text) {
  std::vector<std::string> words;
  size_t start = 0;
  while ((start = text.find_first_not_of(" \t\r", start)) != std::string::npos) {
    size_t end = text.find_first_of(" \t\r", start);
    if (end == std::string::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    start = end;
  }
  return words;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

ImportedService Convert(const std::vector<std::string>& c, const std::string& origin,
                        bool disabled) {
  ImportedService out;
  out.origin = origin;
  if (disabled) out.not_runnable.push_back("switched off in inetd.conf (#<off>#)");
  // Column 1: service or host:service (or a path for unix).
  std::string service = c[0], host;
  size_t colon = service.rfind(':');
  if (colon != std::string::npos && c[2] != "unix") {
    host = service.substr(0, colon);
    service = service.substr(colon + 1);
  }
  out.name = c[2] == "unix" ? BaseName(service) : service;
  const std::string& socket_type = c[1];
  const std::string& proto = c[2];
  bool udp = proto.rfind("udp", 0) == 0;
  if (proto.rfind("rpc", 0) == 0) {
    out.not_runnable.push_back("protocol " + proto + ": RPC services are not supported");
  }
  if (socket_type == "dgram" || udp) {
    out.datagram = true;
  } else if (socket_type != "stream") {
    out.not_runnable.push_back("socket type " + socket_type + ": no equivalent");
  }
  if (proto == "unix") {
    out.Key("port", service + (out.datagram ? "|SOCK_DGRAM|unix" : "|unix"));
  } else {
    std::string spec = service;
    if (host == "*") host.clear();
    if (!host.empty())
      spec = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + spec;
    if (proto == "tcp6" && host.empty()) spec = "[::]:" + spec;
    if (udp) spec += "/udp";
    bool numeric =
        std::all_of(service.begin(), service.end(), [](char d) { return d >= '0' && d <= '9'; });
    if (!numeric && !getservbyname(service.c_str(), udp ? "udp" : "tcp")) {
      out.not_runnable.push_back("no port: \"" + service + "\" is not in /etc/services");
    }
    out.Key("port", spec);
  }
  // Column 4: wait|nowait[.max] (openbsd-inetd: at most max starts a minute).
  std::string wait = c[3].substr(0, c[3].find('.'));
  if (wait != "wait" && wait != "nowait") {
    out.not_runnable.push_back("column 4 \"" + c[3] + "\" is neither wait nor nowait");
  }
  if (c[3].find('.') != std::string::npos) {
    out.Note("no equivalent: " + c[3] + " (starts a minute); cps = RATE WAIT is per second");
  }
  if (c[5] == "internal") {
    // Served inside gatehouse-child as the service's own user: column 5's user
    // (root, for inetd's own built-ins) and wait have no meaning here.
    ImportInternalService(out.name, &out);
    return out;
  }
  ImportProgramMode(out.datagram, wait == "wait", &out);
  // Column 5: user[.group] or user:group.
  size_t separator = c[4].find_first_of(".:");
  out.Key("user", c[4].substr(0, separator));
  std::string group = separator == std::string::npos ? "" : c[4].substr(separator + 1);
  std::string exec = c[5];
  std::vector<std::string> argv(c.begin() + 6, c.end());
  // tcpd runs argv[0] itself after checking hosts.allow; gatehouse's rules do that job.
  if (BaseName(exec) == "tcpd" && !argv.empty()) {
    out.Note("tcpd dropped: it ran " + argv[0] +
             (out.wait ? "; mode = wait takes no access rules (the program accepts its clients "
                         "itself): filter with a firewall"
                       : "; move hosts.allow/hosts.deny rules to cidr_allow/cidr_deny"));
    exec = argv[0][0] == '/' ? argv[0] : "/usr/sbin/" + argv[0];
  }
  out.Key("exec", exec);
  if (!argv.empty() && BaseName(argv[0]) != BaseName(exec)) {
    out.Note("argv[0] was " + argv[0] + "; gatehouse passes " + BaseName(exec));
  }
  std::string args;
  for (size_t i = 1; i < argv.size(); ++i) {
    args += (args.empty() ? "" : " ") + EscapeArgWord(argv[i]);
  }
  if (!args.empty()) out.Key("args", args);
  if (!group.empty()) out.Key("group", group);
  ImportRootPrivileges(&out);
  if (exec[0] != '/') out.not_runnable.push_back("exec " + exec + " is not an absolute path");
  return out;
}

}  // namespace

void ImportInetd(const std::string& path, std::vector<ImportedService>* services,
                 std::vector<std::string>* errors) {
  std::string text, error;
  if (!ReadImportFile(path, &text, &error)) {
    errors->push_back(error);
    return;
  }
  size_t line_number = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    std::string origin = path + ":" + std::to_string(++line_number);
    if (std::any_of(line.begin(), line.end(), [](char ch) {
          return (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\r') || ch == 0x7f;
        })) {
      errors->push_back(origin + ": a control byte in the line; line skipped");
      continue;
    }
    static const std::string kOff = "#<off>#";
    bool disabled = line.rfind(kOff, 0) == 0;
    if (disabled) line = line.substr(kOff.size());
    std::vector<std::string> columns = Columns(line);
    if (columns.empty() || columns[0][0] == '#') continue;
    if (columns.size() < 6) {
      errors->push_back(origin + ": expected service socket_type protocol wait user server [args]");
      continue;
    }
    services->push_back(Convert(columns, origin, disabled));
  }
}

}  // namespace gatehouse
