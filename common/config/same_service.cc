#include <tuple>

#include "common/config.h"

namespace gatehouse {
namespace {

std::vector<std::string> PortTexts(const ServiceConfig& s) {
  std::vector<std::string> texts;
  for (const ServicePort& port : s.ports) texts.push_back(port.spec.ToString());
  return texts;
}

// Rules by their text: a compiled std::regex has no equality.
std::vector<std::string> AccessTexts(const ServiceConfig& s) {
  std::vector<std::string> texts;
  for (const AddressPattern& p : s.access.allow) texts.push_back("allow " + p.text);
  for (const AddressPattern& p : s.access.deny) texts.push_back("deny " + p.text);
  for (const CidrBlock& b : s.access.cidr_allow) texts.push_back("cidr_allow " + b.text);
  for (const CidrBlock& b : s.access.cidr_deny) texts.push_back("cidr_deny " + b.text);
  return texts;
}

auto Jail(const JailSpec& j) {
  return std::make_tuple(j.chroot, j.change_identity, j.uid, j.gid, j.groups, j.namespaces,
                         j.private_network, j.dev_log, j.capabilities, j.no_new_privs);
}

auto Program(const ProgramSpec& p) {
  return std::make_tuple(p.mode, p.builtin, p.exec, p.argv, p.env, p.working_directory,
                         p.stderr_target, p.kill_grace, p.timeout, p.rlimit_as, p.rlimit_cpu,
                         p.rlimit_nofile, p.rlimit_nproc, p.rlimit_fsize, p.rlimit_core, p.nice,
                         p.umask, p.banner);
}

std::vector<std::string> ProxyFromTexts(const ServiceConfig& s) {
  std::vector<std::string> texts;
  for (const CidrBlock& b : s.proxy_from) texts.push_back(b.text);
  return texts;
}

// Every field but `where` (of the service and of its ports).
auto Definition(const ServiceConfig& s) {
  return std::make_tuple(
      s.name, PortTexts(s), s.listen, AccessTexts(s), s.reverse_lookups, Jail(s.jail),
      Program(s.program), s.user_name, s.group_name, s.reload_programs, s.child_stall_timeout,
      s.max_servers, s.max_servers_action, s.busy_message, s.banner_fail, s.cps_rate, s.cps_wait,
      s.per_source, s.per_source_prefix6, s.proxy_protocol, ProxyFromTexts(s), s.proxy_timeout,
      s.unix_mode, s.unix_owner, s.unix_group, s.reflection_guard, s.proxy_local_close,
      s.udp_reply_burst, s.udp_reply_rate);
}

}  // namespace

bool SameService(const ServiceConfig& a, const ServiceConfig& b) {
  return Definition(a) == Definition(b) && SameTlsConfig(a.tls, b.tls);
}

}  // namespace gatehouse
