// The key table (common/config/keys.cc) is the one source of every key's
// default and meaning: each row's default is what the code resolves without the
// key, docs/configuration.md states the same default for every key, and
// docs/gatehouse.conf.5 is what `gatehouse --keys=man` prints.
#include "common/config/key_docs.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <map>
#include <regex>
#include <sstream>

#include "common/config.h"
#include "common/config/keys.h"
#include "common/wire.h"
#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using testing::Runfile;
using testing::TempDir;

const char* kService = "[a]\nport = 127.0.0.1:7007\nexec = /bin/cat\n";

// Keys whose value only shows with another key set: given in both configs.
const std::map<std::string, std::string>& Context() {
  static const std::map<std::string, std::string> context = {
      {"per_source_prefix6", "per_source = 4\n"},
      {"unix_mode", "port = /run/gatehouse-key-test.sock|unix\n"},
      {"proxy_local", "proxy_protocol = v1\nproxy_from = 127.0.0.0/8\n"},
      {"proxy_timeout", "proxy_protocol = v1\nproxy_from = 127.0.0.0/8\n"},
  };
  return context;
}

// Names a default may use for a number the code takes from a header.
std::string Symbolic(const std::string& value) {
  if (value == "SOMAXCONN") return std::to_string(SOMAXCONN);
  return value;
}

// The value a row's default names: its first `...`, when the default starts
// with one; empty when the default describes rather than names a value.
std::string LiteralDefault(const ConfigKey& key) {
  std::string text = key.default_text;
  if (text.empty() || text[0] != '`') return "";
  return Symbolic(text.substr(1, text.find('`', 1) - 1));
}

struct Resolved {
  bool ok = false;
  std::string errors;
  std::string snapshot;  // every field the key could have set, as text
};

std::string GlobalSnapshot(const GlobalConfig& g) {
  std::ostringstream out;
  out << g.services_dir << "|" << g.log_file << "|" << g.log_level << "|" << g.syslog_ident << "|"
      << g.syslog_facility << "|" << g.syslog_logopt << "|" << g.pid_file << "|" << g.background
      << "|" << g.setsid << "|" << g.shutdown_timeout << "|" << g.upgrade_timeout;
  return out.str();
}

// What --check shows, what the child is sent, and what only the supervisor uses.
std::string ServiceSnapshot(const Config& config) {
  const ServiceConfig& s = config.services.at(0);
  std::ostringstream out;
  out << DescribeConfig(config) << "\n"
      << EncodePayload(ServiceDefinition{s.name, s.jail, s.program}) << "\n"
      << s.listen << "|" << s.reverse_lookups << "|" << s.unix_mode << "|" << s.unix_owner << "|"
      << s.unix_group << "|" << s.reflection_guard << "|" << s.udp_reply_burst << "|"
      << s.udp_reply_rate << "|" << static_cast<int>(s.reload_programs) << "|"
      << s.child_stall_timeout << "|" << s.max_servers << "|"
      << static_cast<int>(s.max_servers_action) << "|" << s.busy_message << "|" << s.banner_fail
      << "|" << s.cps_rate << "|" << s.cps_wait << "|" << s.per_source << "|"
      << s.per_source_prefix6 << "|" << static_cast<int>(s.proxy_protocol) << "|" << s.proxy_timeout
      << "|" << s.proxy_local_close << "|" << static_cast<int>(s.tls.settings.verify) << "|"
      << s.tls.settings.min_version << "|" << s.tls.settings.handshake_timeout << "|"
      << s.tls.settings.ciphers << "|" << s.tls.settings.ciphersuites << "|"
      << s.tls.settings.alpn.size();
  return out.str();
}

// Loads a config (in its own folder, with a services.d) with `line` added where
// `key` belongs.
Resolved Resolve(const ConfigKey& key, const std::string& line) {
  TempDir dir;
  std::string context = Context().count(key.name) ? Context().at(key.name) : "";
  std::string main = key.scope == KeyScope::kGlobal
                         ? testing::WriteConfig(dir, line, {{"a.conf", kService}})
                         : testing::WriteConfig(dir, "", {{"a.conf", kService + context + line}});
  const char* argv[] = {"gatehouse", "--config", main.c_str()};
  CommandLine command_line;
  std::string error;
  EXPECT_TRUE(ParseCommandLine(3, argv, &command_line, &error)) << error;
  Config config;
  std::vector<std::string> errors;
  Resolved resolved;
  resolved.ok = LoadConfig(command_line, &config, &errors);
  for (const std::string& e : errors) resolved.errors += e + "\n";
  if (!resolved.ok) return resolved;
  resolved.snapshot =
      key.scope == KeyScope::kGlobal ? GlobalSnapshot(config.global) : ServiceSnapshot(config);
  // The folder's name differs between the two loads; a path in it is the same.
  resolved.snapshot = std::regex_replace(resolved.snapshot, std::regex(dir.path()), "DIR");
  return resolved;
}

// A row's default, written out, resolves to the same config as leaving the key
// out: the table states the code's default (config.h, service_spec.h) and
// cannot drift from it.
TEST(KeyTable, EveryDefaultValueIsWhatAConfigWithoutTheKeyResolves) {
  int checked = 0;
  for (const ConfigKey& key : ConfigKeys()) {
    EXPECT_NE(std::string(key.doc), "") << key.name;
    EXPECT_NE(std::string(key.type), "") << key.name;
    EXPECT_NE(std::string(key.default_text), "") << key.name;
    std::string value = LiteralDefault(key);
    if (value.empty()) continue;
    Resolved without = Resolve(key, "");
    Resolved with = Resolve(key, std::string(key.name) + " = " + value + "\n");
    EXPECT_TRUE(without.ok) << key.name << "\n" << without.errors;
    EXPECT_TRUE(with.ok) << key.name << " = " << value << "\n" << with.errors;
    if (!without.ok || !with.ok) continue;
    EXPECT_EQ(with.snapshot, without.snapshot)
        << key.name << ": the table's default `" << value << "` is not the code's";
    ++checked;
  }
  EXPECT_GE(checked, 39);
}

// Every `| key | default | meaning |` row of docs/configuration.md, by key.
std::map<std::string, std::string> DocumentedDefaults() {
  std::map<std::string, std::string> defaults;
  std::istringstream doc(testing::ReadFile(Runfile("docs/configuration.md")));
  static const std::regex row(R"(^\| ((?:`[a-z0-9_]+`(?:, )?)+) \| (.*?) \| .*)");
  static const std::regex name("`([a-z0-9_]+)`");
  std::string line;
  while (std::getline(doc, line)) {
    std::smatch match;
    if (!std::regex_match(line, match, row)) continue;
    std::string names = match[1];
    for (std::sregex_iterator it(names.begin(), names.end(), name), end; it != end; ++it) {
      defaults.emplace((*it)[1], match[2]);
    }
  }
  return defaults;
}

TEST(KeyTable, ConfigurationMdStatesEveryKeyWithTheTablesDefault) {
  std::map<std::string, std::string> documented = DocumentedDefaults();
  for (const ConfigKey& key : ConfigKeys()) {
    auto row = documented.find(key.name);
    if (row == documented.end()) {
      ADD_FAILURE() << key.name << " has no `| key | default | meaning |` row in configuration.md";
      continue;
    }
    EXPECT_EQ(row->second, key.default_text) << key.name;
  }
}

// The checked-in page is what the real binary prints, as tools/dev man writes it.
TEST(KeyTable, GatehouseConf5IsWhatGatehousePrints) {
  testing::CommandResult man = testing::RunCommand({testing::Gatehouse(), "--keys=man"});
  ASSERT_EQ(man.exit_code, 0) << man.err;
  EXPECT_EQ(man.out, KeysManPage());
  EXPECT_EQ(testing::ReadFile(Runfile("docs/gatehouse.conf.5")), man.out)
      << "docs/gatehouse.conf.5 is stale: tools/dev man writes it again";
}

TEST(KeyTable, GatehouseKeysPrintsTheTableAndHelpSaysSo) {
  testing::CommandResult keys = testing::RunCommand({testing::Gatehouse(), "--keys"});
  ASSERT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_EQ(keys.out, KeysText());
  testing::CommandResult help = testing::RunCommand({testing::Gatehouse(), "--help"});
  EXPECT_NE(help.out.find("--keys "), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--keys=man"), std::string::npos) << help.out;
}

TEST(KeyTable, KeysListsEveryKeyWithItsDefault) {
  std::string text = KeysText();
  for (const ConfigKey& key : ConfigKeys()) {
    EXPECT_NE(text.find(std::string(key.name) + " "), std::string::npos) << key.name;
  }
  EXPECT_NE(text.find("mode"), std::string::npos);
  EXPECT_NE(text.find("default: fork"), std::string::npos) << text;
}

TEST(KeyTable, KeysOnTheCommandLine) {
  for (auto [arg, format] :
       {std::pair<const char*, const char*>{"--keys", "text"}, {"--keys=man", "man"}}) {
    const char* argv[] = {"gatehouse", arg};
    CommandLine command_line;
    std::string error;
    ASSERT_TRUE(ParseCommandLine(2, argv, &command_line, &error)) << error;
    EXPECT_EQ(command_line.keys_format, format);
  }
}

}  // namespace
}  // namespace gatehouse
