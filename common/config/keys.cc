#include "common/config/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <set>
#include <sstream>

#include "common/access_rules.h"
#include "common/config/paths.h"
#include "common/config/privileges.h"
#include "common/config/trusted_path.h"
#include "common/control_bytes.h"
#include "common/parse_number.h"
#include "common/sys_error.h"
#include "common/unique_fd.h"

namespace gatehouse {
namespace {

std::string Quoted(const std::string& value) { return "\"" + value + "\""; }

std::string UntrustedFileMessage(const std::string& path, const std::string& finding) {
  return Quoted(path) + ": " + finding + TrustRuleReason("reads it");
}

bool ParseBool(const std::string& value, bool* out, std::string* error) {
  std::string text = value;
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text == "1" || text == "yes" || text == "on" || text == "true") {
    *out = true;
  } else if (text == "0" || text == "no" || text == "off" || text == "false" || text.empty()) {
    *out = false;
  } else {
    *error = Quoted(value) + " is not a boolean (1/0, yes/no, on/off)";
    return false;
  }
  return true;
}

template <int kMin, int kMax>
bool ParseNumber(const std::string& value, int* out, std::string* error) {
  if (!ParseBoundedInt(value, kMin, kMax, out)) {
    *error = Quoted(value) + " is not a number from " + std::to_string(kMin) + " to " +
             std::to_string(kMax);
    return false;
  }
  return true;
}

// Seconds from 0 to kMax, into a field the wire carries as a u32.
template <int kMax>
bool ParseSeconds(const std::string& value, uint32_t* out, std::string* error) {
  int seconds = 0;
  if (!ParseNumber<0, kMax>(value, &seconds, error)) return false;
  *out = static_cast<uint32_t>(seconds);
  return true;
}

// --- global keys ---

bool ParseServicesDir(const std::string& value, const KeyTarget& target, std::string* error) {
  std::string dir = JoinPath(target.config_dir, value);
  struct stat info {};
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    *error = Quoted(dir) + " is not a directory";
    return false;
  }
  target.global->services_dir = dir;
  return true;
}

bool ParseLogFile(const std::string& value, const KeyTarget& target, std::string*) {
  target.global->log_file = value == "Sys::Syslog" ? value : AbsolutePath(value);
  return true;
}

bool ParseLogLevel(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<0, 4>(value, &target.global->log_level, error);
}

bool ParseSyslogIdent(const std::string& value, const KeyTarget& target, std::string* error) {
  if (value.empty() || value.size() > 64 ||
      value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789_.-/") != std::string::npos) {
    *error = Quoted(value) + " is not a syslog ident (letters, digits, _ . - /)";
    return false;
  }
  target.global->syslog_ident = value;
  return true;
}

bool ParseSyslogFacility(const std::string& value, const KeyTarget& target, std::string* error) {
  static const std::set<std::string> facilities = {
      "auth",   "authpriv", "cron",   "daemon", "ftp",    "kern",   "lpr",
      "mail",   "news",     "syslog", "user",   "uucp",   "local0", "local1",
      "local2", "local3",   "local4", "local5", "local6", "local7"};
  if (facilities.count(value) == 0) {
    *error = Quoted(value) + " is not a syslog facility (daemon, user, local0-7, ...)";
    return false;
  }
  target.global->syslog_facility = value;
  return true;
}

bool ParseSyslogLogopt(const std::string& value, const KeyTarget& target, std::string* error) {
  std::string words = value;
  std::replace(words.begin(), words.end(), '|', ' ');
  std::replace(words.begin(), words.end(), ',', ' ');
  std::istringstream in(words);
  std::string word;
  while (in >> word) {
    if (word != "pid" && word != "cons" && word != "ndelay" && word != "nowait") {
      *error = Quoted(word) + " is not a syslog option (pid, cons, ndelay, nowait)";
      return false;
    }
  }
  target.global->syslog_logopt = value;
  return true;
}

bool ParsePidFile(const std::string& value, const KeyTarget& target, std::string*) {
  target.global->pid_file = AbsolutePath(value);
  return true;
}

bool ParseBackground(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseBool(value, &target.global->background, error);
}

bool ParseSetsid(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseBool(value, &target.global->setsid, error);
}

bool ParseShutdownTimeout(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<0, 86400>(value, &target.global->shutdown_timeout, error);
}

bool ParseUpgradeTimeout(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<1, 3600>(value, &target.global->upgrade_timeout, error);
}

// --- service keys ---

bool ParseListen(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<1, 65535>(value, &target.service->listen, error);
}

bool ParseReverseLookups(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseBool(value, &target.service->reverse_lookups, error);
}

bool ParsePrivateNetwork(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseBool(value, &target.service->jail.private_network, error);
}

bool ParseDevLog(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseBool(value, &target.service->jail.dev_log, error);
}

template <typename Item, bool (*kParse)(const std::string&, Item*, std::string*),
          std::vector<Item> AccessRules::*kList>
bool ParseAccessRule(const std::string& value, const KeyTarget& target, std::string* error) {
  Item item;
  if (!kParse(value, &item, error)) return false;
  (target.service->access.*kList).push_back(std::move(item));
  return true;
}

// Names gatehouse sets itself in every program's environment.
const std::set<std::string>& ReservedEnvNames() {
  static const std::set<std::string> names = [] {
    std::set<std::string> set = {
        "PROTO",         "TCPREMOTEIP",   "TCPREMOTEPORT", "TCPLOCALIP",     "TCPLOCALPORT",
        "TCPREMOTEHOST", "REMOTE_HOST",   "UNIXREMOTEPID", "UNIXREMOTEEUID", "UNIXREMOTEEGID",
        "UDPREMOTEIP",   "UDPREMOTEPORT", "UDPLOCALIP",    "UDPLOCALPORT",   "UDPREMOTEHOST"};
    set.insert(std::begin(kTlsEnvNames), std::end(kTlsEnvNames));  // a TLS connection's
    return set;
  }();
  return names;
}

bool ParseEnv(const std::string& value, const KeyTarget& target, std::string* error) {
  size_t equals = value.find('=');
  std::string name = value.substr(0, equals);
  bool valid = equals != std::string::npos && !name.empty() &&
               !std::isdigit(static_cast<unsigned char>(name[0])) &&
               name.find_first_not_of(
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789_") == std::string::npos;
  if (!valid) {
    *error = Quoted(value) + " is not NAME=value";
    return false;
  }
  if (ReservedEnvNames().count(name) > 0) {
    bool tls = name.rfind("SSL_", 0) == 0;
    *error = name + " is set by gatehouse for every " + (tls ? "TLS connection" : "connection");
    return false;
  }
  target.service->program.env.push_back(value);
  return true;
}

bool ParseStderr(const std::string& value, const KeyTarget& target, std::string* error) {
  for (StderrTarget choice : {StderrTarget::kLog, StderrTarget::kClient, StderrTarget::kNull}) {
    if (value == StderrTargetName(choice)) {
      target.service->program.stderr_target = choice;
      return true;
    }
  }
  *error = Quoted(value) + " is not log, client or null";
  return false;
}

// A key that is one of two words, each standing for a value of `Enum`.
template <typename Enum>
bool ParseEitherWord(const std::string& value, const char* first, Enum first_value,
                     const char* second, Enum second_value, Enum* out, std::string* error) {
  if (value == first) {
    *out = first_value;
  } else if (value == second) {
    *out = second_value;
  } else {
    *error = Quoted(value) + " is not " + first + " or " + second;
    return false;
  }
  return true;
}

bool ParseReloadPrograms(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseEitherWord(value, "keep", ReloadPrograms::kKeep, "end", ReloadPrograms::kEnd,
                         &target.service->reload_programs, error);
}

bool ParseKillGrace(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseSeconds<kMaxKillGrace>(value, &target.service->program.kill_grace, error);
}

bool ParseMode(const std::string& value, const KeyTarget& target, std::string* error) {
  for (int i = 0; i <= static_cast<int>(kLastServiceMode); ++i) {
    auto mode = static_cast<ServiceMode>(i);
    if (value == ServiceModeName(mode)) {
      target.service->program.mode = mode;
      return true;
    }
  }
  *error = Quoted(value) + " is not a mode (fork, single, wait, datagram or builtin)";
  return false;
}

bool ParseBuiltin(const std::string& value, const KeyTarget& target, std::string* error) {
  for (int i = 1; i <= static_cast<int>(kLastBuiltinService); ++i) {
    auto builtin = static_cast<BuiltinService>(i);
    if (value == BuiltinServiceName(builtin)) {
      target.service->program.builtin = builtin;
      return true;
    }
  }
  *error = Quoted(value) + " is not a built-in service (echo, discard, daytime, chargen or time)";
  return false;
}

bool ParseUnixMode(const std::string& value, const KeyTarget& target, std::string* error) {
  bool octal = !value.empty() && value.size() <= 4 &&
               value.find_first_not_of("01234567") == std::string::npos;
  uint32_t mode = 0;
  for (char digit : octal ? value : std::string())
    mode = mode * 8 + static_cast<uint32_t>(digit - '0');
  if (!octal || mode > 0777) {
    *error = Quoted(value) + " is not an octal file mode from 0000 to 0777";
    return false;
  }
  target.service->unix_mode = mode;
  return true;
}

bool ParseReflectionGuard(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseBool(value, &target.service->reflection_guard, error);
}

bool ParseMaxServers(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<1, 65535>(value, &target.service->max_servers, error);
}

bool ParseCps(const std::string& value, const KeyTarget& target, std::string* error) {
  size_t space = value.find_first_of(" \t");
  size_t second = space == std::string::npos ? space : value.find_first_not_of(" \t", space);
  if (second == std::string::npos) {
    *error = Quoted(value) + " is not RATE WAIT (connections per second, seconds to pause)";
    return false;
  }
  return ParseNumber<1, 1000000>(value.substr(0, space), &target.service->cps_rate, error) &&
         ParseNumber<1, 3600>(value.substr(second), &target.service->cps_wait, error);
}

bool ParseUdpReplyBudget(const std::string& value, const KeyTarget& target, std::string* error) {
  if (value == "off" || value == "0") {
    target.service->udp_reply_burst = 0;
    target.service->udp_reply_rate = 0;
    return true;
  }
  size_t space = value.find_first_of(" \t");
  size_t second = space == std::string::npos ? space : value.find_first_not_of(" \t", space);
  if (second == std::string::npos) {
    *error = Quoted(value) + " is not BURST RATE (replies at once, replies per second) or off";
    return false;
  }
  return ParseNumber<1, 1000000>(value.substr(0, space), &target.service->udp_reply_burst, error) &&
         ParseNumber<1, 1000000>(value.substr(second), &target.service->udp_reply_rate, error);
}

bool ParseTimeout(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseSeconds<static_cast<int>(kMaxTimeout)>(value, &target.service->program.timeout,
                                                     error);
}

// A resource limit: a number (with an optional K, M or G for byte limits) or
// "infinity"/"unlimited".
template <uint64_t ProgramSpec::*kLimit, bool kBytes>
bool ParseRlimit(const std::string& value, const KeyTarget& target, std::string* error) {
  if (value == "infinity" || value == "unlimited") {
    target.service->program.*kLimit = ProgramSpec::kUnlimited;
    return true;
  }
  std::string digits = value;
  uint64_t unit = 1;
  if (kBytes && !digits.empty()) {
    char suffix = digits.back();
    unit = suffix == 'K' ? 1ull << 10 : suffix == 'M' ? 1ull << 20 : suffix == 'G' ? 1ull << 30 : 1;
    if (unit != 1) digits.pop_back();
  }
  uint64_t number = 0;
  if (!ParseDecimal(digits, (ProgramSpec::kUnchanged - 1) / unit, &number)) {
    *error = Quoted(value) + " is not a limit (a number" + (kBytes ? " with K, M or G" : "") +
             ", or infinity)";
    return false;
  }
  target.service->program.*kLimit = number * unit;
  return true;
}

bool ParseNice(const std::string& value, const KeyTarget& target, std::string* error) {
  bool negative = !value.empty() && value[0] == '-';
  int magnitude = 0;
  if (!ParseNumber<0, 20>(negative ? value.substr(1) : value, &magnitude, error) ||
      (!negative && magnitude > 19)) {
    *error = Quoted(value) + " is not a nice value from -20 to 19";
    return false;
  }
  target.service->program.nice = negative ? -magnitude : magnitude;
  return true;
}

bool ParseUmask(const std::string& value, const KeyTarget& target, std::string* error) {
  bool octal = !value.empty() && value.size() <= 4 &&
               value.find_first_not_of("01234567") == std::string::npos;
  uint32_t mask = 0;
  for (char digit : octal ? value : std::string())
    mask = mask * 8 + static_cast<uint32_t>(digit - '0');
  if (!octal || mask > 0777) {
    *error = Quoted(value) + " is not an octal umask from 0000 to 0777";
    return false;
  }
  target.service->program.umask = mask;
  return true;
}

bool ParseMaxServersAction(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseEitherWord(value, "wait", MaxServersAction::kWait, "reject",
                         MaxServersAction::kReject, &target.service->max_servers_action, error);
}

// The contents of a text file named by `@file`: a regular file (a FIFO would
// block, /dev/zero never ends) read at load time, at most kMaxMessageTextBytes.
// Read as root, so only root may be able to change it or a folder above it, and
// a symlink is not followed; a banner is public, so one hidden from others is
// most likely the wrong file (@/etc/shadow): a note.
bool ReadMessageFile(const std::string& path, const KeyTarget& target, std::string* text,
                     std::string* error) {
  PathTrustFinding finding;
  UniqueFd folder = OpenTrustedPath(DirName(AbsolutePath(path)), TrustedPathRule{}, &finding);
  if (!folder) {
    *error = finding.error != 0 ? DescribeFinding(finding)
                                : UntrustedFileMessage(path, DescribeFinding(finding));
    return false;
  }
  std::string name = path.substr(path.rfind('/') + 1);
  UniqueFd fd(openat(folder.get(), name.c_str(),
                     O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOFOLLOW));
  struct stat info {};
  if (!fd && errno == ELOOP) {
    *error = Quoted(path) + " is a symbolic link; name the file itself (it is read as root)";
    return false;
  }
  if (!fd || fstat(fd.get(), &info) != 0) {
    *error = ErrnoMessage(fd ? "fstat" : "open", path, errno);
    return false;
  }
  if (!S_ISREG(info.st_mode)) {
    *error = Quoted(path) + " is not a regular file";
    return false;
  }
  std::string untrusted = UntrustedBecause(info, false);
  if (!untrusted.empty()) {
    *error = UntrustedFileMessage(path, untrusted);
    return false;
  }
  if ((info.st_mode & S_IROTH) == 0 && target.warnings != nullptr) {
    target.warnings->push_back(Quoted(path) +
                               " is not world-readable, yet every client receives it");
  }
  // Read one byte past the limit, so that a file grown since fstat is caught too.
  char buffer[kMaxMessageTextBytes + 1];
  size_t length = 0;
  while (length < sizeof buffer) {
    ssize_t got = read(fd.get(), buffer + length, sizeof buffer - length);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      *error = ErrnoMessage("read", path, errno);
      return false;
    }
    if (got == 0) break;
    length += static_cast<size_t>(got);
  }
  if (length > kMaxMessageTextBytes) {
    *error = Quoted(path) + " is larger than " + std::to_string(kMaxMessageTextBytes) + " bytes";
    return false;
  }
  text->assign(buffer, length);
  return true;
}

// A one-line value with \n, \r, \t, \\ and \@ (a leading @ that names no file).
bool UnescapeMessage(const std::string& value, std::string* text, std::string* error) {
  text->clear();
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\') {
      *text += value[i];
      continue;
    }
    char next = i + 1 < value.size() ? value[++i] : '\0';
    switch (next) {
      case 'n':
        *text += '\n';
        break;
      case 'r':
        *text += '\r';
        break;
      case 't':
        *text += '\t';
        break;
      case '\\':
        *text += '\\';
        break;
      case '@':
        *text += '@';
        break;
      default:
        *error = Quoted(value) + ": unknown escape (\\n, \\r, \\t, \\\\ and \\@ are known)";
        return false;
    }
  }
  return true;
}

// banner, banner_fail, busy_message: text with escapes, or @file (relative to the
// main file's folder), read now; at most kMaxMessageTextBytes, no NUL bytes.
bool MessageText(const std::string& value, const KeyTarget& target, std::string* text,
                 std::string* error) {
  bool from_file = !value.empty() && value[0] == '@';
  if (from_file
          ? !ReadMessageFile(JoinPath(target.config_dir, value.substr(1)), target, text, error)
          : !UnescapeMessage(value, text, error)) {
    return false;
  }
  if (text->size() > kMaxMessageTextBytes) {
    *error = "longer than " + std::to_string(kMaxMessageTextBytes) + " bytes";
    return false;
  }
  if (text->find('\0') != std::string::npos) {
    *error = "contains a NUL byte";
    return false;
  }
  return true;
}

template <std::string ServiceConfig::*kField>
bool ParseMessageText(const std::string& value, const KeyTarget& target, std::string* error) {
  return MessageText(value, target, &(target.service->*kField), error);
}

// The banner travels to the child with the program's spec.
bool ParseBanner(const std::string& value, const KeyTarget& target, std::string* error) {
  return MessageText(value, target, &target.service->program.banner, error);
}

bool ParsePerSource(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<0, 65535>(value, &target.service->per_source, error);
}

bool ParsePerSourcePrefix6(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<1, 128>(value, &target.service->per_source_prefix6, error);
}

bool ParseChildStallTimeout(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<1, 3600>(value, &target.service->child_stall_timeout, error);
}

bool ParseProxyProtocol(const std::string& value, const KeyTarget& target, std::string* error) {
  static const std::pair<const char*, ProxyProtocol> kNames[] = {{"off", ProxyProtocol::kOff},
                                                                 {"v1", ProxyProtocol::kV1},
                                                                 {"v2", ProxyProtocol::kV2},
                                                                 {"any", ProxyProtocol::kAny}};
  for (const auto& [name, protocol] : kNames) {
    if (value == name) {
      target.service->proxy_protocol = protocol;
      return true;
    }
  }
  *error = Quoted(value) + " is not off, v1, v2 or any";
  return false;
}

bool ParseProxyFrom(const std::string& value, const KeyTarget& target, std::string* error) {
  CidrBlock block;
  if (!ParseCidr(value, &block, error)) return false;
  target.service->proxy_from.push_back(std::move(block));
  return true;
}

bool ParseProxyLocal(const std::string& value, const KeyTarget& target, std::string* error) {
  if (value == "serve" || value == "close") {
    target.service->proxy_local_close = value == "close";
    return true;
  }
  *error = Quoted(value) + " is not serve or close";
  return false;
}

bool ParseProxyTimeout(const std::string& value, const KeyTarget& target, std::string* error) {
  return ParseNumber<1, 3600>(value, &target.service->proxy_timeout, error);
}

// --- privileges (common/config/privileges.cc) ---

bool ParseCapabilitiesKey(const std::string& value, const KeyTarget& target, std::string* error) {
  if (!ParseCapabilities(value, &target.service->jail.capabilities, error)) return false;
  if (target.service->jail.capabilities != 0 && geteuid() != 0) {
    *error = "keeping capabilities needs gatehouse to run as root (it runs as uid " +
             std::to_string(geteuid()) + ")";
    return false;
  }
  return true;
}

bool ParseNoNewPrivs(const std::string& value, const KeyTarget& target, std::string* error) {
  if (value.empty()) {  // a boolean's empty value is "no": too quiet for this one
    *error = "needs a value: yes or no";
    return false;
  }
  return ParseBool(value, &target.service->jail.no_new_privs, error);
}

}  // namespace

const std::vector<ConfigKey>& ConfigKeys() {
  constexpr KeyScope kGlobal = KeyScope::kGlobal;
  constexpr KeyScope kService = KeyScope::kService;
  constexpr KeyKind kScalar = KeyKind::kScalar;
  constexpr KeyKind kList = KeyKind::kList;
  static const std::vector<ConfigKey> keys = {
      {"services_dir", kGlobal, kScalar, "path", "`services.d` beside the main file",
       ParseServicesDir, "folder of *.conf service files"},
      {"log_file", kGlobal, kScalar, "path or Sys::Syslog", "unset: stderr", ParseLogFile,
       "log to this file (append, reopened when moved), or Sys::Syslog"},
      {"log_level", kGlobal, kScalar, "0-4", "`2`", ParseLogLevel,
       "0 err, 1 warning, 2 notice (denied peers, failed programs), 3 info (every start and exit), "
       "4 debug"},
      {"syslog_ident", kGlobal, kScalar, "word", "`gatehouse`", ParseSyslogIdent,
       "ident for syslog (with log_file = Sys::Syslog)"},
      {"syslog_facility", kGlobal, kScalar, "syslog facility", "`daemon`", ParseSyslogFacility,
       "facility for syslog"},
      {"syslog_logopt", kGlobal, kScalar, "openlog options", "`pid`", ParseSyslogLogopt,
       "openlog options: pid, cons, ndelay, nowait"},
      {"pid_file", kGlobal, kScalar, "path", "unset", ParsePidFile,
       "write the supervisor's pid here after backgrounding; removed on exit"},
      {"background", kGlobal, kScalar, "boolean", "`0`", ParseBackground,
       "fork after binding; the foreground process exits 0"},
      {"setsid", kGlobal, kScalar, "boolean", "`0`", ParseSetsid,
       "background in a new session; stdin, stdout and stderr to /dev/null"},
      {"shutdown_timeout", kGlobal, kScalar, "seconds 0-86400", "`10`", ParseShutdownTimeout,
       "seconds running programs get after TERM/INT before they are ended"},
      {"upgrade_timeout", kGlobal, kScalar, "seconds 1-3600", "`30`", ParseUpgradeTimeout,
       "seconds a USR2 successor has to report ready before it is killed"},

      // Service keys: in a [name] section or in [defaults].
      {"port", kService, kList, "port spec", "required", nullptr,
       "where to listen: host:port/proto, [v6]:port, path|unix"},
      {"host", kService, kScalar, "host", "`*`", nullptr,
       "host for port values that name none; * binds 0.0.0.0 and [::]"},
      {"proto", kService, kScalar, "tcp, udp or unix", "`tcp`", nullptr,
       "protocol for port values that name none"},
      {"listen", kService, kScalar, "1-65535", "`SOMAXCONN` (4096)", ParseListen, "listen backlog"},
      {"allow", kService, kList, "regex", "none",
       ParseAccessRule<AddressPattern, ParseAddressPattern, &AccessRules::allow>,
       "regex a peer's address or name must match"},
      {"deny", kService, kList, "regex", "none",
       ParseAccessRule<AddressPattern, ParseAddressPattern, &AccessRules::deny>,
       "regex that refuses a peer"},
      {"cidr_allow", kService, kList, "address block", "none",
       ParseAccessRule<CidrBlock, ParseCidr, &AccessRules::cidr_allow>,
       "address block a peer must be in (127.0.0.1/32, ::1/128, a bare address)"},
      {"cidr_deny", kService, kList, "address block", "none",
       ParseAccessRule<CidrBlock, ParseCidr, &AccessRules::cidr_deny>,
       "address block that refuses a peer"},
      {"reverse_lookups", kService, kScalar, "boolean", "`0`", ParseReverseLookups,
       "look up the peer's host name"},
      {"chroot", kService, kScalar, "path", "none", nullptr,
       "directory the child and its programs are locked into (needs root)"},
      {"user", kService, kScalar, "user name or uid",
       "a uid of the service's own as root (see Isolation); yourself otherwise", nullptr,
       "user the programs run as (name or uid)"},
      {"group", kService, kScalar, "group name or gid",
       "the service's own gid as root (same number as its uid), or `user`'s primary group when "
       "`user` is given; yourself otherwise",
       nullptr, "group the programs run as (name or gid)"},
      {"exec", kService, kScalar, "path", "required", nullptr, "absolute path of the program"},
      {"args", kService, kScalar, "shell words", "none", nullptr,
       "its arguments, split into words as a shell would; argv[0] is exec's base name"},
      {"env", kService, kList, "NAME=value", "none", ParseEnv,
       "NAME=value added to the program's environment"},
      {"chdir", kService, kScalar, "path", "`/`", nullptr,
       "the program's working directory (absolute, inside the chroot)"},
      {"stderr", kService, kScalar, "log, client or null", "`log`", ParseStderr,
       "where the program's stderr goes: log (gatehouse's log), client (the connection) or null"},
      {"private_network", kService, kScalar, "boolean", "`no`", ParsePrivateNetwork,
       "programs get an empty network namespace (only their connection works; needs root)"},
      {"dev_log", kService, kScalar, "boolean", "`yes`", ParseDevLog,
       "programs get a /dev/log of their own whose messages go to gatehouse's log"},
      {"reload_programs", kService, kScalar, "keep or end", "`keep`", ParseReloadPrograms,
       "on reload, a changed or removed service's running programs: keep (run on) or end"},
      {"kill_grace", kService, kScalar, "seconds 0-3600", "`2`", ParseKillGrace,
       "seconds from TERM to KILL when the service's programs are ended"},
      {"child_stall_timeout", kService, kScalar, "seconds 1-3600", "`10`", ParseChildStallTimeout,
       "seconds a child may leave a connection unreported before it is ended and restarted"},
      {"mode", kService, kScalar, "fork, single, wait, datagram or builtin", "`fork`", ParseMode,
       "fork: a program per connection; single: one at a time; wait: one program accepts itself; "
       "datagram: a program per datagram; builtin: served inside gatehouse-child"},
      {"builtin", kService, kScalar, "echo, discard, daytime, chargen or time", "none",
       ParseBuiltin,
       "with mode = builtin: echo, discard, daytime, chargen or time, served without a program"},
      {"unix_mode", kService, kScalar, "octal 0000-0777", "`0666`", ParseUnixMode,
       "file mode of the service's UNIX socket files, octal"},
      {"unix_owner", kService, kScalar, "user name or uid", "gatehouse's user", nullptr,
       "owner of its UNIX socket files (name or uid)"},
      {"unix_group", kService, kScalar, "group name or gid", "gatehouse's group", nullptr,
       "group of its UNIX socket files (name or gid)"},
      {"udp_reply_budget", kService, kScalar, "BURST RATE or off", "`256 128`", ParseUdpReplyBudget,
       "BURST RATE: UDP replies per source (IPv6 by /64) at once and per second; off"},
      {"reflection_guard", kService, kScalar, "boolean", "`yes`", ParseReflectionGuard,
       "datagram replies: none to ports below 1024 or of UDP services, none longer than max(4 x "
       "the request, 512)"},
      {"max_servers", kService, kScalar, "1-65535", "`256`", ParseMaxServers,
       "programs running at once, over all its children; beyond it clients wait in the backlog"},
      {"max_servers_action", kService, kScalar, "wait or reject", "`wait`", ParseMaxServersAction,
       "at max_servers: wait (clients wait in the backlog) or reject (busy_message, close)"},
      {"busy_message", kService, kScalar, "text or @file", "none",
       ParseMessageText<&ServiceConfig::busy_message>,
       "text or @file written to a client rejected at max_servers (at most 4 KiB)"},
      {"banner", kService, kScalar, "text or @file", "none", ParseBanner,
       "text or @file written to each client before its program starts (at most 4 KiB)"},
      {"banner_fail", kService, kScalar, "text or @file", "none",
       ParseMessageText<&ServiceConfig::banner_fail>,
       "text or @file written to a client refused by access rules or per_source (at most 4 KiB)"},
      {"rlimit_as", kService, kScalar, "bytes or infinity", "unchanged",
       ParseRlimit<&ProgramSpec::rlimit_as, true>,
       "address space of a program (bytes; K, M, G; infinity)"},
      {"rlimit_cpu", kService, kScalar, "seconds or infinity", "unchanged",
       ParseRlimit<&ProgramSpec::rlimit_cpu, false>, "CPU seconds of a program (infinity)"},
      {"rlimit_nofile", kService, kScalar, "number or infinity", "unchanged",
       ParseRlimit<&ProgramSpec::rlimit_nofile, false>,
       "open files of a program (unset: the soft limit gatehouse was started with)"},
      {"rlimit_nproc", kService, kScalar, "number or infinity", "unchanged",
       ParseRlimit<&ProgramSpec::rlimit_nproc, false>, "processes of the program's uid (infinity)"},
      {"rlimit_fsize", kService, kScalar, "bytes or infinity", "unchanged",
       ParseRlimit<&ProgramSpec::rlimit_fsize, true>,
       "size of a file a program writes (bytes; K, M, G; infinity)"},
      {"rlimit_core", kService, kScalar, "bytes or infinity", "unchanged",
       ParseRlimit<&ProgramSpec::rlimit_core, true>,
       "size of a program's core dump (bytes; K, M, G; infinity)"},
      {"tls_cert", kService, kList, "path", "none (no TLS)", nullptr,
       "PEM certificate (chain) to serve TLS with; repeat with tls_key for SNI (at most 16)"},
      {"tls_key", kService, kList, "path", "none", nullptr,
       "PEM private key of the tls_cert of the same rank (read by the supervisor alone)"},
      {"tls_ciphers", kService, kScalar, "OpenSSL cipher list", "OpenSSL's", nullptr,
       "TLS 1.2 cipher list (OpenSSL syntax)"},
      {"tls_ciphersuites", kService, kScalar, "OpenSSL cipher suites", "OpenSSL's", nullptr,
       "TLS 1.3 cipher suites (OpenSSL syntax)"},
      {"tls_min_version", kService, kScalar, "1.2 or 1.3", "`1.2`", nullptr,
       "oldest TLS version accepted: 1.2 or 1.3"},
      {"tls_alpn", kService, kList, "protocol names", "none", nullptr,
       "ALPN protocols offered, in preference order (comma- or space-separated, or repeated)"},
      {"tls_client_ca", kService, kScalar, "path", "none", nullptr,
       "PEM file of the CAs that sign client certificates (with tls_verify)"},
      {"tls_verify", kService, kScalar, "none, optional or required", "`none`", nullptr,
       "client certificates: none (not asked for), optional or required"},
      {"tls_handshake_timeout", kService, kScalar, "seconds 1-3600", "`10`", nullptr,
       "seconds a client has to finish the TLS handshake"},
      {"nice", kService, kScalar, "-20 to 19", "`0`", ParseNice,
       "added to a program's priority (below 0 needs root)"},
      {"umask", kService, kScalar, "octal", "`022`", ParseUmask, "a program's umask, octal"},
      {"timeout", kService, kScalar, "seconds 0-604800", "`0` (none)", ParseTimeout,
       "wall seconds a program may run (0: no limit); then TERM, KILL after kill_grace; builtin: "
       "idle seconds"},
      {"per_source", kService, kScalar, "0-65535", "`0` (none)", ParsePerSource,
       "connections at once from one client address (0: no limit); more are closed"},
      {"per_source_prefix6", kService, kScalar, "1-128", "`64`", ParsePerSourcePrefix6,
       "bits of an IPv6 address that make one source for per_source"},
      {"cps", kService, kScalar, "RATE WAIT", "off", ParseCps,
       "RATE WAIT: over RATE connections in a second pause the service WAIT seconds"},
      {"proxy_protocol", kService, kScalar, "off, v1, v2 or any", "`off`", ParseProxyProtocol,
       "connections start with a PROXY header naming the client: off, v1, v2 or any"},
      {"proxy_from", kService, kList, "address block", "none (required with `proxy_protocol`)",
       ParseProxyFrom,
       "address block allowed to send a PROXY header (required with proxy_protocol)"},
      {"proxy_local", kService, kScalar, "serve or close", "`serve`", ParseProxyLocal,
       "a PROXY header naming no client (LOCAL, UNKNOWN): serve or close"},
      {"proxy_timeout", kService, kScalar, "seconds 1-3600", "`3`", ParseProxyTimeout,
       "seconds a client has to send its whole PROXY header"},
      {"capabilities", kService, kScalar, "capability names, all or none", "`none`",
       ParseCapabilitiesKey,
       "capabilities the programs keep: CAP_NET_BIND_SERVICE ..., all or none"},
      {"no_new_privs", kService, kScalar, "boolean", "`yes`", ParseNoNewPrivs,
       "exec cannot gain privileges (setuid files, file capabilities): yes or no"},
  };
  return keys;
}

const ConfigKey* FindConfigKey(const std::string& name) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (name == key.name) return &key;
  }
  return nullptr;
}

void ApplyKeys(KeyScope scope, const Settings& settings, const KeyTarget& target,
               ConfigErrors* errors) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.scope != scope || key.parse == nullptr) continue;
    auto given = settings.find(key.name);
    if (given == settings.end() || given->second.empty()) continue;
    auto first = key.kind == KeyKind::kList ? given->second.begin() : given->second.end() - 1;
    for (auto entry = first; entry != given->second.end(); ++entry) {
      // An empty value of a list key ("cidr_allow =") adds nothing: given in a
      // service, it clears what [defaults] gave.
      if (key.kind == KeyKind::kList && entry->value.empty()) continue;
      std::string message;
      std::vector<std::string> notes;
      KeyTarget noting = target;
      noting.warnings = &notes;
      if (!key.parse(entry->value, noting, &message)) errors->Add(*entry, message);
      for (const std::string& note : notes) {
        if (target.warnings) {
          target.warnings->push_back(
              EscapeControlBytes(entry->where + ": " + entry->key + ": " + note));
        }
      }
    }
  }
}

}  // namespace gatehouse
