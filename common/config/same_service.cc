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

// Every field but `where` (of the service and of its ports).
auto Definition(const ServiceConfig& s) {
  return std::make_tuple(s.name, PortTexts(s), s.listen, AccessTexts(s), s.reverse_lookups,
                         s.change_identity, s.user_name, s.group_name, s.uid, s.gid,
                         s.supplementary_groups, s.chroot, s.exec, s.argv, s.env, s.reload_programs,
                         s.kill_grace, s.child_stall_timeout);
}

}  // namespace

bool SameService(const ServiceConfig& a, const ServiceConfig& b) {
  return Definition(a) == Definition(b);
}

}  // namespace gatehouse
