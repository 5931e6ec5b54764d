#include "common/config_keys.h"

namespace gatehouse {

const std::vector<ConfigKey>& ConfigKeys() {
  using S = KeyScope;
  using K = KeyKind;
  static const std::vector<ConfigKey> keys = {
      {"services_dir", S::kGlobal, K::kScalar, "folder of *.conf service files"},
      {"log_file", S::kGlobal, K::kScalar, "log to this file, or Sys::Syslog; default stderr"},
      {"log_level", S::kGlobal, K::kScalar, "0 err, 1 warning, 2 notice, 3 info, 4 debug"},
      {"syslog_ident", S::kGlobal, K::kScalar, "ident for syslog"},
      {"syslog_facility", S::kGlobal, K::kScalar, "facility for syslog"},
      {"syslog_logopt", S::kGlobal, K::kScalar, "openlog options: pid, cons, ndelay, nowait"},
      {"pid_file", S::kGlobal, K::kScalar, "write the supervisor's pid here"},
      {"background", S::kGlobal, K::kScalar, "fork after binding"},
      {"setsid", S::kGlobal, K::kScalar, "background in a new session"},
      {"shutdown_timeout", S::kGlobal, K::kScalar,
       "seconds running programs get after TERM before they are ended"},
      {"port", S::kService, K::kList, "where to listen: host:port/proto, [v6]:port, path|unix"},
      {"host", S::kService, K::kScalar, "host for port values that name none"},
      {"proto", S::kService, K::kScalar, "protocol for port values that name none"},
      {"listen", S::kService, K::kScalar, "listen backlog"},
      {"allow", S::kService, K::kList, "regex a peer's address or name must match"},
      {"deny", S::kService, K::kList, "regex that refuses a peer"},
      {"cidr_allow", S::kService, K::kList, "address block a peer must be in"},
      {"cidr_deny", S::kService, K::kList, "address block that refuses a peer"},
      {"reverse_lookups", S::kService, K::kScalar, "look up the peer's host name"},
      {"chroot", S::kService, K::kScalar, "directory the child and its programs are locked into"},
      {"user", S::kService, K::kScalar, "user the programs run as (name or uid)"},
      {"group", S::kService, K::kScalar, "group the programs run as (name or gid)"},
      {"exec", S::kService, K::kScalar, "absolute path of the program"},
      {"args", S::kService, K::kScalar, "its arguments, split as a shell would"},
      {"env", S::kService, K::kList, "NAME=value added to the program's environment"},
  };
  return keys;
}

const ConfigKey* FindConfigKey(const std::string& name) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (name == key.name) return &key;
  }
  return nullptr;
}

}  // namespace gatehouse
