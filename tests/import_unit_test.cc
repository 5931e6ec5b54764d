// The importer's readers and translation, called directly: each xinetd or
// inetd.conf feature against the exact services.d text it must become.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supervisor/import/inetd.h"
#include "supervisor/import/port_clashes.h"
#include "supervisor/import/services_d_writer.h"
#include "supervisor/import/xinetd.h"
#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using testing::TempDir;

// Tests write their files under /tmp: short paths, so that no comment naming a
// file is clipped at the writer's line bound.

struct Imported {
  std::string text;                 // the services.d file
  std::vector<std::string> errors;  // FILE:LINE: message
};

Imported Xinetd(const std::vector<std::string>& paths) {
  std::vector<ImportedService> services;
  Imported imported;
  ImportXinetd(paths, &services, &imported.errors);
  imported.text = WriteServicesD(services, "xinetd");
  return imported;
}

Imported Inetd(const std::string& path) {
  std::vector<ImportedService> services;
  Imported imported;
  ImportInetd(path, &services, &imported.errors);
  imported.text = WriteServicesD(services, "inetd");
  return imported;
}

// A section as written: its origin line, then `body` (comments and keys), up to
// the blank line before the next section or the end.
std::string SectionFrom(const std::string& text, const std::string& origin) {
  size_t start = text.find("\n# " + origin + ":");
  if (start == std::string::npos) return "(no section from " + origin + ")";
  start += 3;
  size_t end = text.find("\n\n", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end + 1 - start);
}

// The defaults' logging is gatehouse's own business: each service says it was dropped.
const char kLogTypeDropped[] =
    "# dropped from the defaults: log_type = SYSLOG daemon info (gatehouse writes its own log: "
    "log_file, log_level)\n";

TEST(XinetdImport, DefaultsApplyAndPlusEqualsMinusEqualsEditTheirLists) {
  TempDir dir("/tmp");
  std::string conf = dir.Write("xinetd.conf",
                               "defaults\n{\n"
                               "\tonly_from = 127.0.0.1 10.0.0.0/8\n"
                               "\tinstances = 10\n"
                               "\tlog_type = SYSLOG daemon info\n"
                               "}\n"
                               "service added\n{\n"
                               "\tport = 7001\n\tsocket_type = stream\n\twait = no\n"
                               "\tserver = /bin/cat\n"
                               "\tonly_from += 192.168.1.1\n"
                               "}\n"
                               "service taken\n{\n"
                               "\tport = 7002\n\tserver = /bin/cat\n\tserver_args = -u\n"
                               "\tonly_from -= 10.0.0.0/8\n\tinstances = 3\n"
                               "}\n");
  Imported imported = Xinetd({conf});
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  EXPECT_EQ(SectionFrom(imported.text, conf + ":7"),
            conf + ":7: added\n" + "# only_from += 192.168.1.1 (" + conf +
                ":13): added to the defaults' list\n" + kLogTypeDropped +
                "[added]\n"
                "port = 7001\n"
                "exec = /bin/cat\n"
                "cidr_allow = 127.0.0.1/32\n"
                "cidr_allow = 10.0.0.0/8\n"
                "cidr_allow = 192.168.1.1/32\n"
                "max_servers = 10\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":15"),
            conf + ":15: taken\n" + "# only_from -= 10.0.0.0/8 (" + conf +
                ":20): taken from the defaults' list\n" + kLogTypeDropped +
                "[taken]\n"
                "port = 7002\n"
                "exec = /bin/cat\n"
                "args = -u\n"
                "cidr_allow = 127.0.0.1/32\n"
                "max_servers = 3\n");
}

TEST(XinetdImport, IncludedirReadsInNameOrderSkipsDottedAndBackupNamesAndIsBounded) {
  TempDir dir("/tmp");
  dir.Write("xinetd.d/b", "service second\n{\n\tport = 7002\n\tserver = /bin/cat\n}\n");
  dir.Write("xinetd.d/a", "service first\n{\n\tport = 7001\n\tserver = /bin/cat\n}\n");
  dir.Write("xinetd.d/a.dpkg-old", "service dotted\n{\n\tport = 1\n\tserver = /bin/cat\n}\n");
  dir.Write("xinetd.d/a~", "service backup\n{\n\tport = 2\n\tserver = /bin/cat\n}\n");
  std::string conf = dir.Write("xinetd.conf", "includedir " + dir.path() + "/xinetd.d\n");
  Imported imported = Xinetd({conf});
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  size_t first = imported.text.find("\n[first]\n");
  size_t second = imported.text.find("\n[second]\n");
  EXPECT_NE(first, std::string::npos) << imported.text;
  EXPECT_NE(second, std::string::npos) << imported.text;
  EXPECT_LT(first, second) << imported.text;
  EXPECT_EQ(imported.text.find("dotted"), std::string::npos) << imported.text;
  EXPECT_EQ(imported.text.find("backup"), std::string::npos) << imported.text;

  // A folder that includes itself stops at the depth bound, with an error.
  std::string loop = dir.Write("loop/self", "includedir " + dir.path() + "/loop\n");
  imported = Xinetd({loop});
  ASSERT_FALSE(imported.errors.empty());
  EXPECT_NE(imported.errors[0].find(loop + ":1: includedir: nested too deep"), std::string::npos)
      << imported.errors[0];
}

TEST(XinetdImport, OnlyFromShorthandsAndNoAccessBecomeGatehouseRules) {
  TempDir dir("/tmp");
  std::string conf =
      dir.Write("svc",
                "service svc\n{\n\tport = 7001\n\tserver = /bin/cat\n"
                "\tonly_from = 10.1.0.0 192.168.{1,2} 172.16.0.0/12 .example.org\n"
                "\tno_access = 10.1.2.3\n}\n"
                "service denyonly\n{\n\tport = 7002\n\tserver = /bin/cat\n"
                "\tno_access = 10.0.0.0\n}\n"
                "service nobody\n{\n\tport = 7003\n\tserver = /bin/cat\n\tonly_from =\n}\n");
  Imported imported = Xinetd({conf});
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  EXPECT_EQ(SectionFrom(imported.text, conf + ":1"),
            conf + ":1: svc\n" +
                "# a peer both allowed and denied is refused (xinetd: the more specific rule "
                "wins)\n"
                "[svc]\n"
                "port = 7001\n"
                "exec = /bin/cat\n"
                "reverse_lookups = 1\n"
                "cidr_allow = 10.1.0.0/16\n"
                "cidr_allow = 192.168.1.0/24\n"
                "cidr_allow = 192.168.2.0/24\n"
                "cidr_allow = 172.16.0.0/12\n"
                "allow = .*\\.example\\.org\n"
                "cidr_deny = 10.1.2.3/32\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":8"),
            conf + ":8: denyonly\n" +
                "# no_access alone admits everyone else in xinetd: hence the cidr_allow of all\n"
                "[denyonly]\n"
                "port = 7002\n"
                "exec = /bin/cat\n"
                "cidr_deny = 10.0.0.0/8\n"
                "cidr_allow = 0.0.0.0/0\n"
                "cidr_allow = ::/0\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":14"),
            conf + ":14: nobody\n" +
                "# only_from with no value: xinetd refuses every peer\n"
                "[nobody]\n"
                "port = 7003\n"
                "exec = /bin/cat\n"
                "deny = .*\n");
}

// Debian's xinetd.d/daytime shape: one name, a tcp and a udp entry, INTERNAL.
TEST(XinetdImport, InternalTwinsBecomeBuiltinsAndUnknownInternalsStayComments) {
  TempDir dir("/tmp");
  std::string conf = dir.Write(
      "daytime",
      "service daytime\n{\n\ttype = INTERNAL\n\tid = daytime-stream\n\tsocket_type = stream\n"
      "\tprotocol = tcp\n\tuser = root\n\twait = no\n}\n"
      "service daytime\n{\n\ttype = INTERNAL\n\tid = daytime-dgram\n\tsocket_type = dgram\n"
      "\tprotocol = udp\n\tuser = root\n\twait = yes\n}\n"
      "service servers\n{\n\ttype = INTERNAL UNLISTED\n\tport = 7100\n\tsocket_type = stream\n"
      "\twait = no\n}\n");
  Imported imported = Xinetd({conf});
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  // No user = root and no mode = wait: a built-in runs in the service's child.
  EXPECT_EQ(SectionFrom(imported.text, conf + ":1"), conf +
                                                         ":1: daytime\n"
                                                         "# id = daytime-stream\n"
                                                         "[daytime]\n"
                                                         "port = daytime\n"
                                                         "mode = builtin\n"
                                                         "builtin = daytime\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":10"), conf +
                                                          ":10: daytime\n"
                                                          "# id = daytime-dgram\n"
                                                          "[daytime-udp]\n"
                                                          "port = daytime/udp\n"
                                                          "mode = builtin\n"
                                                          "builtin = daytime\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":19"),
            conf + ":19: servers\n" +
                "# commented out: internal service \"servers\": gatehouse has no such built-in (it "
                "has echo, discard, daytime, chargen and time)\n"
                "# [servers]\n"
                "# port = 7100\n");
}

TEST(XinetdImport, DisabledEntriesAreWrittenWhollyCommentedOut) {
  TempDir dir("/tmp");
  std::string conf =
      dir.Write("off",
                "service off\n{\n\tdisable = yes\n\tport = 7001\n\tserver = /bin/cat\n"
                "\tserver_args = -u\n\tuser = nobody\n}\n");
  Imported imported = Xinetd({conf});
  EXPECT_EQ(SectionFrom(imported.text, conf + ":1"), conf +
                                                         ":1: off\n"
                                                         "# commented out: disable = yes\n"
                                                         "# [off]\n"
                                                         "# port = 7001\n"
                                                         "# exec = /bin/cat\n"
                                                         "# args = -u\n"
                                                         "# user = nobody\n");
}

TEST(XinetdImport, WaitAndDatagramEntriesBecomeTheirModes) {
  TempDir dir("/tmp");
  std::string conf =
      dir.Write("modes",
                // tftpd as Debian's tftpd-hpa documents it for xinetd.
                "service tftp\n{\n\tsocket_type = dgram\n\tprotocol = udp\n\twait = yes\n"
                "\tuser = nobody\n\tserver = /usr/sbin/in.tftpd\n\tserver_args = -s /srv/tftp\n"
                "\tonly_from = 127.0.0.1\n\tinstances = 1\n\tport = 6969\n}\n"
                "service upper\n{\n\tsocket_type = dgram\n\tprotocol = udp\n\twait = no\n"
                "\tport = 7001\n\tserver = /usr/bin/tr\n\tserver_args = a-z A-Z\n"
                "\tonly_from = 127.0.0.1\n}\n"
                "service acceptor\n{\n\tsocket_type = stream\n\twait = yes\n\tport = 7002\n"
                "\tserver = /usr/local/sbin/acceptor\n}\n");
  Imported imported = Xinetd({conf});
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  // Access rules cannot hold for a program that accepts by itself: comments, and why.
  EXPECT_EQ(SectionFrom(imported.text, conf + ":1"),
            conf + ":1: tftp\n" +
                "# not imported: only_from = 127.0.0.1\n"
                "# (mode = wait: the program accepts its clients itself, so gatehouse cannot check "
                "them and --check refuses access rules; filter with a firewall)\n"
                "# no effect in mode = wait: instances = 1\n"
                "[tftp]\n"
                "port = 6969/udp\n"
                "mode = wait\n"
                "exec = /usr/sbin/in.tftpd\n"
                "args = -s /srv/tftp\n"
                "user = nobody\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":13"), conf +
                                                          ":13: upper\n"
                                                          "[upper]\n"
                                                          "port = 7001/udp\n"
                                                          "mode = datagram\n"
                                                          "exec = /usr/bin/tr\n"
                                                          "args = a-z A-Z\n"
                                                          "cidr_allow = 127.0.0.1/32\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":23"), conf +
                                                          ":23: acceptor\n"
                                                          "[acceptor]\n"
                                                          "port = 7002\n"
                                                          "mode = wait\n"
                                                          "exec = /usr/local/sbin/acceptor\n");
}

TEST(InetdImport, ColumnsUserGroupHostsAndRateBecomeKeys) {
  TempDir dir("/tmp");
  std::string conf = dir.Write("inetd.conf",
                               "# comment\n"
                               "127.0.0.1:7001\tstream\ttcp\tnowait.400\tnobody.nogroup\t/bin/cat\t"
                               "cat -u\n"
                               "7002\tstream\ttcp6\tnowait\tnobody:nogroup\t/bin/echo\techo a;b\n"
                               "/run/x.sock\tstream\tunix\tnowait\tnobody\t/bin/cat\tcat\n");
  Imported imported = Inetd(conf);
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  EXPECT_EQ(SectionFrom(imported.text, conf + ":2"),
            conf + ":2: 7001\n" +
                "# no equivalent: nowait.400 (starts a minute); cps = RATE WAIT is per second\n"
                "[7001]\n"
                "port = 127.0.0.1:7001\n"
                "user = nobody\n"
                "exec = /bin/cat\n"
                "args = -u\n"
                "group = nogroup\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":3"), conf +
                                                         ":3: 7002\n"
                                                         "[7002]\n"
                                                         "port = [::]:7002\n"
                                                         "user = nobody\n"
                                                         "exec = /bin/echo\n"
                                                         "args = a\\;b\n"
                                                         "group = nogroup\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":4"), conf +
                                                         ":4: x.sock\n"
                                                         "[x.sock]\n"
                                                         "port = /run/x.sock|unix\n"
                                                         "user = nobody\n"
                                                         "exec = /bin/cat\n");
}

TEST(InetdImport, TcpdIsDroppedAndOffEntriesAreCommentedOut) {
  TempDir dir("/tmp");
  std::string conf =
      dir.Write("inetd.conf",
                "#<off># telnet\tstream\ttcp\tnowait\ttelnetd\t/usr/sbin/tcpd\t"
                "/usr/sbin/in.telnetd\n"
                "7001\tstream\ttcp\tnowait\tnobody\t/usr/sbin/tcpd\tin.fingerd -w\n");
  Imported imported = Inetd(conf);
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  EXPECT_EQ(SectionFrom(imported.text, conf + ":1"),
            conf + ":1: telnet\n" +
                "# commented out: switched off in inetd.conf (#<off>#)\n"
                "# tcpd dropped: it ran /usr/sbin/in.telnetd; move hosts.allow/hosts.deny rules "
                "to cidr_allow/cidr_deny\n"
                "# [telnet]\n"
                "# port = telnet\n"
                "# user = telnetd\n"
                "# exec = /usr/sbin/in.telnetd\n");
  // A bare program name after tcpd is looked for where tcpd looks: /usr/sbin.
  EXPECT_EQ(SectionFrom(imported.text, conf + ":2"),
            conf + ":2: 7001\n" +
                "# tcpd dropped: it ran in.fingerd; move hosts.allow/hosts.deny rules to "
                "cidr_allow/cidr_deny\n"
                "[7001]\n"
                "port = 7001\n"
                "user = nobody\n"
                "exec = /usr/sbin/in.fingerd\n"
                "args = -w\n");
}

TEST(InetdImport, InternalServicesAndWaitAndDatagramEntriesBecomeTheirModes) {
  TempDir dir("/tmp");
  std::string conf = dir.Write(
      "inetd.conf",
      "echo\tstream\ttcp\tnowait\troot\tinternal\n"
      "echo\tdgram\tudp\twait\troot\tinternal\n"
      "tcpmux\tstream\ttcp\tnowait\troot\tinternal\n"
      "127.0.0.1:6969\tdgram\tudp\twait\tnobody\t/usr/sbin/tcpd\t/usr/sbin/in.tftpd -s /srv\n"
      "7001\tdgram\tudp4\tnowait\tnobody\t/usr/bin/tr\ttr a-z A-Z\n"
      "/run/log.sock\tdgram\tunix\twait\tnobody\t/usr/local/sbin/logd\tlogd\n");
  Imported imported = Inetd(conf);
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  EXPECT_EQ(SectionFrom(imported.text, conf + ":1"), conf +
                                                         ":1: echo\n"
                                                         "[echo]\n"
                                                         "port = echo\n"
                                                         "mode = builtin\n"
                                                         "builtin = echo\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":2"), conf +
                                                         ":2: echo\n"
                                                         "[echo-udp]\n"
                                                         "port = echo/udp\n"
                                                         "mode = builtin\n"
                                                         "builtin = echo\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":3"),
            conf + ":3: tcpmux\n" +
                "# commented out: internal service \"tcpmux\": gatehouse has no such built-in (it "
                "has echo, discard, daytime, chargen and time)\n"
                "# [tcpmux]\n"
                "# port = tcpmux\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":4"),
            conf + ":4: 6969\n" +
                "# tcpd dropped: it ran /usr/sbin/in.tftpd; mode = wait takes no access rules (the "
                "program accepts its clients itself): filter with a firewall\n"
                "[6969]\n"
                "port = 127.0.0.1:6969/udp\n"
                "mode = wait\n"
                "user = nobody\n"
                "exec = /usr/sbin/in.tftpd\n"
                "args = -s /srv\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":5"), conf +
                                                         ":5: 7001\n"
                                                         "[7001]\n"
                                                         "port = 7001/udp\n"
                                                         "mode = datagram\n"
                                                         "user = nobody\n"
                                                         "exec = /usr/bin/tr\n"
                                                         "args = a-z A-Z\n");
  EXPECT_EQ(SectionFrom(imported.text, conf + ":6"), conf +
                                                         ":6: log.sock\n"
                                                         "[log.sock]\n"
                                                         "port = /run/log.sock|SOCK_DGRAM|unix\n"
                                                         "mode = wait\n"
                                                         "user = nobody\n"
                                                         "exec = /usr/local/sbin/logd\n");
}

TEST(InetdImport, ShortLinesAreNamedByFileAndLineAndTheRestIsRead) {
  TempDir dir("/tmp");
  std::string conf = dir.Write("inetd.conf",
                               "7001 stream tcp nowait\n"
                               "7002\tstream\ttcp\tnowait\tnobody\t/bin/cat\n");
  Imported imported = Inetd(conf);
  ASSERT_EQ(imported.errors.size(), 1u);
  EXPECT_EQ(imported.errors[0],
            conf + ":1: expected service socket_type protocol wait user server [args]");
  EXPECT_NE(imported.text.find("\n[7002]\n"), std::string::npos) << imported.text;
}

// xinetd's `user = root` for a daemon with a recipe: its capabilities; for any
// other program a note saying what it will probably need.
TEST(XinetdImport, RootDaemonsKeepTheirRecipesCapabilitiesOthersAreTold) {
  TempDir dir("/tmp");
  std::string conf = dir.Write("tftp",
                               "service tftp\n{\n\tsocket_type = dgram\n\tprotocol = udp\n"
                               "\twait = yes\n\tuser = root\n\tserver = /usr/sbin/in.tftpd\n"
                               "\tserver_args = -s /srv/tftp\n}\n"
                               "service other\n{\n\tport = 7100\n\tsocket_type = stream\n"
                               "\twait = no\n\tuser = root\n\tserver = /usr/local/sbin/otherd\n}\n"
                               "service plain\n{\n\tport = 7101\n\tsocket_type = stream\n"
                               "\twait = no\n\tuser = nobody\n\tserver = /usr/sbin/vsftpd\n}\n");
  Imported imported = Xinetd({conf});
  EXPECT_TRUE(imported.errors.empty()) << imported.errors[0];
  std::string tftp = SectionFrom(imported.text, conf + ":1");
  EXPECT_NE(tftp.find("\nuser = root\ngroup = root\n"
                      "capabilities = CAP_SYS_CHROOT CAP_SETUID CAP_SETGID\n"),
            std::string::npos)
      << tftp;
  std::string other = SectionFrom(imported.text, conf + ":10");
  EXPECT_EQ(other.find("\ncapabilities ="), std::string::npos) << other;
  EXPECT_NE(other.find("# user = root: the program gets root's file access but none of root's "
                       "capabilities."),
            std::string::npos)
      << other;
  // Not root: nothing to add.
  std::string plain = SectionFrom(imported.text, conf + ":15");
  EXPECT_EQ(plain.find("capabilities"), std::string::npos) << plain;
}

// Two entries on one port: the later is commented out, naming the earlier, and
// called an identical twin when it is one. A service name counts as its port
// number, and a wildcard clashes with any address of that port.
TEST(ImportPortClashes, TheLaterEntryIsCommentedOutNamingTheFirst) {
  auto service = [](const std::string& origin, const std::string& port, const std::string& exec) {
    ImportedService out;
    out.name = "s";
    out.origin = origin;
    out.Key("port", port);
    out.Key("exec", exec);
    return out;
  };
  std::vector<ImportedService> services = {service("a:1", "echo/udp", "/bin/cat"),
                                           service("a:2", "7/udp", "/bin/cat"),
                                           service("a:3", "127.0.0.1:7/udp", "/bin/true"),
                                           service("a:4", "7", "/bin/cat"),
                                           service("a:5", "127.0.0.1:8000", "/bin/cat"),
                                           service("a:6", "127.0.0.2:8000", "/bin/cat"),
                                           service("a:7", "8000", "/bin/cat")};
  CommentOutPortClashes(&services);
  ASSERT_EQ(services[1].not_runnable.size(), 1u);
  EXPECT_EQ(services[1].not_runnable[0],
            "port 7/udp is already taken by the entry of a:1, an identical twin (xinetd's second "
            "bind fails too)");
  ASSERT_EQ(services[2].not_runnable.size(), 1u);
  EXPECT_EQ(services[2].not_runnable[0],
            "port 127.0.0.1:7/udp is already taken by the entry of a:1 (xinetd's second bind "
            "fails too)");
  EXPECT_TRUE(services[0].not_runnable.empty());
  EXPECT_TRUE(services[3].not_runnable.empty());  // tcp: another port
  EXPECT_TRUE(services[4].not_runnable.empty());
  EXPECT_TRUE(services[5].not_runnable.empty());   // another address
  ASSERT_EQ(services[6].not_runnable.size(), 1u);  // the wildcard beside both
  EXPECT_NE(services[6].not_runnable[0].find("entry of a:5"), std::string::npos);
}

// RPC entries say so in both formats.
TEST(ImportRpc, RpcServicesAreNotSupported) {
  TempDir dir("/tmp");
  std::string xinetd = dir.Write("rstatd",
                                 "service rstatd\n{\n\ttype = RPC UNLISTED\n\tsocket_type = dgram\n"
                                 "\tprotocol = udp\n\twait = yes\n\tserver = /usr/sbin/rpc.rstatd\n"
                                 "\trpc_version = 2-4\n\tport = 7200\n}\n");
  Imported imported = Xinetd({xinetd});
  EXPECT_NE(imported.text.find("# commented out: type = RPC: RPC services are not supported\n"),
            std::string::npos)
      << imported.text;
  std::string inetd =
      dir.Write("inetd.conf", "rstatd/1-5\tdgram\trpc/udp\twait\troot\t/usr/sbin/rpc.rstatd\tx\n");
  imported = Inetd(inetd);
  EXPECT_NE(imported.text.find("# commented out: protocol rpc/udp: RPC services are not "
                               "supported\n"),
            std::string::npos)
      << imported.text;
}

}  // namespace
}  // namespace gatehouse
