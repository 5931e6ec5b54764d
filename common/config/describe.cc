#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/config.h"
#include "common/config/privileges.h"
#include "common/control_bytes.h"
#include "common/shell_words.h"

namespace gatehouse {
namespace {

// Config text shown by --check: escaped, as in errors.
std::string Shown(const std::string& text) { return EscapeControlBytes(text); }

// unix_owner / unix_group as --check shows them: "nobody (uid 65534)", or who
// owns the file when the key is not given.
std::string SocketFileOwner(int64_t id, bool group) {
  if (id < 0) return group ? "(gatehouse's group)" : "(gatehouse's user)";
  std::string name;
  if (group) {
    if (const struct group* entry = getgrgid(static_cast<gid_t>(id))) name = entry->gr_name;
  } else {
    if (const passwd* entry = getpwuid(static_cast<uid_t>(id))) name = entry->pw_name;
  }
  std::string number = (group ? "gid " : "uid ") + std::to_string(id);
  return name.empty() ? number : Shown(name) + " (" + number + ")";
}

bool HasUnixPort(const ServiceConfig& service) {
  for (const ServicePort& port : service.ports) {
    if (port.spec.protocol == Protocol::kUnix) return true;
  }
  return false;
}

}  // namespace

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
    if (HasUnixPort(s)) {
      char mode[8];
      snprintf(mode, sizeof mode, "%04o", s.unix_mode);
      out << "  unix_mode " << mode << "  unix_owner " << SocketFileOwner(s.unix_owner, false)
          << "  unix_group " << SocketFileOwner(s.unix_group, true) << "\n";
    }
    if (s.program.mode == ServiceMode::kBuiltin) {
      out << "  exec     none: served in gatehouse-child (builtin "
          << BuiltinServiceName(s.program.builtin) << ")\n";
    } else {
      out << "  exec     " << Shown(s.program.exec) << "\n  argv    ";
      for (const std::string& word : s.program.argv) out << " " << Shown(QuoteShellWord(word));
      out << "\n";
    }
    if (s.jail.change_identity) {
      out << "  user     " << Shown(s.user_name) << " (uid " << s.jail.uid << "), group "
          << Shown(s.group_name) << " (gid " << s.jail.gid << ")\n";
    } else {
      out << "  user     unchanged (uid " << s.jail.uid << ", gid " << s.jail.gid << ")\n";
    }
    out << "  capabilities " << CapabilitiesText(s.jail.capabilities) << "  no_new_privs "
        << (s.jail.no_new_privs ? "yes" : "no") << "\n";
    out << "  chroot   " << (s.jail.chroot.empty() ? "(none)" : Shown(s.jail.chroot)) << "\n";
    out << "  chdir    " << Shown(s.program.working_directory) << "\n";
    out << "  stderr   " << StderrTargetName(s.program.stderr_target) << "\n";
    if (s.jail.private_network) out << "  private_network yes\n";
    out << "  dev_log  " << (s.jail.dev_log ? "yes" : "no") << "\n";
    out << "  listen   " << s.listen << "\n";
    for (const std::string& env : s.program.env) out << "  env      " << Shown(env) << "\n";
    for (const AddressPattern& p : s.access.allow) out << "  allow    " << Shown(p.text) << "\n";
    for (const AddressPattern& p : s.access.deny) out << "  deny     " << Shown(p.text) << "\n";
    for (const CidrBlock& b : s.access.cidr_allow) out << "  cidr_allow " << Shown(b.text) << "\n";
    for (const CidrBlock& b : s.access.cidr_deny) out << "  cidr_deny  " << Shown(b.text) << "\n";
    if (s.reverse_lookups) out << "  reverse_lookups on\n";
    out << "  reload_programs " << (s.reload_programs == ReloadPrograms::kEnd ? "end" : "keep")
        << "\n";
    out << "  kill_grace " << s.program.kill_grace << "\n";
    out << "  child_stall_timeout " << s.child_stall_timeout << "\n";
    out << "  mode     " << ModeDescription(s.program) << "  max_servers " << s.max_servers
        << "  max_servers_action "
        << (s.max_servers_action == MaxServersAction::kReject ? "reject" : "wait") << "\n";
    for (auto [name, text] :
         {std::pair<const char*, const std::string*>{"banner", &s.program.banner},
          {"banner_fail", &s.banner_fail},
          {"busy_message", &s.busy_message}}) {
      if (!text->empty()) out << "  " << name << " \"" << Shown(*text) << "\"\n";
    }
    if (s.cps_rate > 0) out << "  cps      " << s.cps_rate << " " << s.cps_wait << "\n";
    if (s.per_source > 0) {
      out << "  per_source " << s.per_source << " (IPv6 /" << s.per_source_prefix6 << ")\n";
    }
    bool udp = std::any_of(s.ports.begin(), s.ports.end(), [](const ServicePort& port) {
      return port.spec.protocol == Protocol::kUdp;
    });
    if (udp) {
      out << "  udp_reply_budget "
          << (s.udp_reply_burst > 0
                  ? std::to_string(s.udp_reply_burst) + " " + std::to_string(s.udp_reply_rate)
                  : std::string("off"))
          << "\n";
    }
    if (s.program.timeout > 0) out << "  timeout  " << s.program.timeout << "\n";
    for (auto [name, value] : {std::pair<const char*, uint64_t>{"rlimit_as", s.program.rlimit_as},
                               {"rlimit_cpu", s.program.rlimit_cpu},
                               {"rlimit_nofile", s.program.rlimit_nofile},
                               {"rlimit_nproc", s.program.rlimit_nproc},
                               {"rlimit_fsize", s.program.rlimit_fsize},
                               {"rlimit_core", s.program.rlimit_core}}) {
      if (value == ProgramSpec::kUnchanged) continue;
      out << "  " << name << " "
          << (value == ProgramSpec::kUnlimited ? std::string("infinity") : std::to_string(value))
          << "\n";
    }
    if (s.program.nice != 0) out << "  nice     " << s.program.nice << "\n";
    char umask[8];
    snprintf(umask, sizeof umask, "%04o", s.program.umask);
    out << "  umask    " << umask << "\n";
    for (const TlsCertKey& pair : s.tls.pairs) {
      out << "  tls_cert " << Shown(pair.cert) << "  tls_key " << Shown(pair.key) << "\n";
    }
    if (s.tls.enabled()) {
      const TlsSettings& t = s.tls.settings;
      out << "  tls_min_version " << (t.min_version == kTls13 ? "1.3" : "1.2")
          << "  tls_handshake_timeout " << t.handshake_timeout << "  tls_verify "
          << TlsVerifyName(t.verify);
      if (!s.tls.client_ca.empty()) out << "  tls_client_ca " << Shown(s.tls.client_ca);
      out << "\n";
      if (!t.ciphers.empty()) out << "  tls_ciphers " << Shown(t.ciphers) << "\n";
      if (!t.ciphersuites.empty()) out << "  tls_ciphersuites " << Shown(t.ciphersuites) << "\n";
      if (!t.alpn.empty()) {
        out << "  tls_alpn";
        for (const std::string& protocol : t.alpn) out << " " << Shown(protocol);
        out << "\n";
      }
    }
    if (s.proxy_protocol != ProxyProtocol::kOff) {
      out << "  proxy_protocol " << ProxyProtocolName(s.proxy_protocol) << "  proxy_timeout "
          << s.proxy_timeout << "  proxy_local " << (s.proxy_local_close ? "close" : "serve")
          << "  proxy_from";
      for (const CidrBlock& b : s.proxy_from) out << " " << Shown(b.text);
      out << "\n";
    }
  }
  return out.str();
}

}  // namespace gatehouse
