// `gatehouse import` on realistic xinetd.d and inetd.conf files, through the real
// binary: what it prints, and that the printed services.d file passes --check.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>

#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using testing::CommandResult;
using testing::Gatehouse;
using testing::RunCommand;
using testing::TempDir;

// Debian's xinetd.d/echo as shipped: an INTERNAL, disabled tcp/udp pair.
const char kDebianEcho[] =
    "# default: off\n"
    "service echo\n{\n\tdisable\t\t= yes\n\ttype\t\t= INTERNAL\n\tid\t\t= echo-stream\n"
    "\tsocket_type\t= stream\n\tprotocol\t= tcp\n\tuser\t\t= root\n\twait\t\t= no\n}\n\n"
    "service echo\n{\n\tdisable\t\t= yes\n\ttype\t\t= INTERNAL\n\tid\t\t= echo-dgram\n"
    "\tsocket_type\t= dgram\n\tprotocol\t= udp\n\tuser\t\t= root\n\twait\t\t= yes\n}\n";

// A telnet-like real service on a port of its own, with an only_from list.
const char kCatService[] =
    "service catsvc\n{\n"
    "\ttype = UNLISTED\n\tport = 2323\n\tbind = 127.0.0.1\n\tsocket_type = stream\n"
    "\twait = no\n\tuser = nobody\n\tserver = /bin/cat\n\tserver_args = -u ; x\n"
    "\tonly_from = 127.0.0.1 10.1.0.0 192.168.{1,2} .example.org\n"
    "\tno_access = 10.1.2.3\n\tinstances = 30\n\tcps = 25 30\n\tenv = LANG=C\n"
    "\tpassenv = PATH\n\tbanner = /etc/issue\n\tlog_on_failure += USERID\n}\n";

// Writes `services` as the only services.d file beside a main file; runs --check.
CommandResult Check(const TempDir& dir, const std::string& services) {
  dir.Write("services.d/imported.conf", services);
  std::string main = dir.Write("gatehouse.conf", "log_level = 2\n");
  return RunCommand({Gatehouse(), "--config", main, "--check"}, "", 10);
}

TEST(Import, XinetdFolderWithDefaultsBecomesACheckedServicesFile) {
  TempDir dir;
  dir.Write("xinetd.d/echo", kDebianEcho);
  dir.Write("xinetd.d/catsvc", kCatService);
  dir.Write("xinetd.d/catsvc.dpkg-old", "service ignored\n{\n}\n");  // includedir skips it
  std::string conf =
      dir.Write("xinetd.conf", "defaults\n{\n\tlog_type = SYSLOG daemon info\n}\nincludedir " +
                                   dir.path() + "/xinetd.d\n");
  CommandResult import = RunCommand({Gatehouse(), "import", "xinetd", conf}, "", 10);
  ASSERT_EQ(import.exit_code, 0) << import.err;
  const std::string& out = import.out;
  for (const char* line : {"\n[catsvc]\n",
                           "\nport = 127.0.0.1:2323\n",
                           "\nexec = /bin/cat\n",
                           "\nargs = -u \\; x\n",
                           "\nuser = nobody\n",
                           "\ncidr_allow = 127.0.0.1/32\n",
                           "\ncidr_allow = 10.1.0.0/16\n",
                           "\ncidr_allow = 192.168.2.0/24\n",
                           "\nallow = .*\\.example\\.org\n",
                           "\nreverse_lookups = 1\n",
                           "\ncidr_deny = 10.1.2.3/32\n",
                           "\nmax_servers = 30\n",
                           "\ncps = 25 30\n",
                           "\nenv = LANG=C\n",
                           "# passenv = PATH: nothing is inherited",
                           "# no equivalent: banner = /etc/issue",
                           "# log_on_failure += USERID",
                           "\n# [echo]\n",
                           "\n# [echo-udp]\n",
                           "# commented out: disable = yes",
                           "\n# port = echo/udp\n",
                           "\n# mode = builtin\n# builtin = echo\n",
                           "# id = echo-dgram"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " not in:\n" << out;
  }
  EXPECT_EQ(out.find("ignored"), std::string::npos) << out;
  EXPECT_NE(out.find("# dropped from the defaults: log_type = SYSLOG daemon info"),
            std::string::npos)
      << out;
  CommandResult check = Check(dir, out);
  EXPECT_EQ(check.exit_code, 0) << out << check.err;
  EXPECT_NE(check.out.find("catsvc"), std::string::npos) << check.out;
}

TEST(Import, InetdConfBecomesACheckedServicesFile) {
  TempDir dir;
  std::string conf = dir.Write(
      "inetd.conf",
      "# /etc/inetd.conf\n"
      "#:STANDARD: These are standard services.\n"
      "#<off># telnet\tstream\ttcp\tnowait\ttelnetd\t/usr/sbin/tcpd\t/usr/sbin/in.telnetd\n"
      "127.0.0.1:discard\tstream\ttcp\tnowait.400\tnobody.nogroup\t/usr/sbin/tcpd\t/bin/cat -u\n"
      "echo\tstream\ttcp\tnowait\troot\tinternal\n"
      "daytime\tdgram\tudp\twait\troot\tinternal\n");
  CommandResult import = RunCommand({Gatehouse(), "import", "inetd", conf}, "", 10);
  ASSERT_EQ(import.exit_code, 0) << import.err;
  const std::string& out = import.out;
  for (const char* line :
       {"\n# [telnet]\n", "# commented out: switched off", "\n[discard]\n",
        "\nport = 127.0.0.1:discard\n", "\nexec = /bin/cat\n", "\nargs = -u\n", "\nuser = nobody\n",
        "\ngroup = nogroup\n", "# tcpd dropped", "# no equivalent: nowait.400",
        "\n[echo]\nport = echo\nmode = builtin\nbuiltin = echo\n",
        "\n[daytime]\nport = daytime/udp\nmode = builtin\nbuiltin = daytime\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " not in:\n" << out;
  }
  CommandResult check = Check(dir, out);
  EXPECT_EQ(check.exit_code, 0) << out << check.err;
}

TEST(Import, BadInputIsNamedByFileAndLine) {
  TempDir dir;
  std::string inetd = dir.Write("inetd.conf", "# ok\nbroken line\n");
  CommandResult import = RunCommand({Gatehouse(), "import", "inetd", inetd}, "", 10);
  EXPECT_EQ(import.exit_code, 1);
  EXPECT_NE(import.err.find(inetd + ":2: expected service"), std::string::npos) << import.err;
  std::string xinetd = dir.Write("x", "service a\n{\n\tonly_from = 10.0.0.0/99\n}\nservice b\n");
  import = RunCommand({Gatehouse(), "import", "xinetd", xinetd}, "", 10);
  EXPECT_EQ(import.exit_code, 1);
  EXPECT_NE(import.err.find(xinetd + ":3: only_from:"), std::string::npos) << import.err;
  EXPECT_NE(import.err.find(xinetd + ":5: the last block has no closing }"), std::string::npos)
      << import.err;
  // An include loop ends at a bound instead of hanging.
  std::string loop = dir.Write("loop", "include " + dir.path() + "/loop\n");
  import = RunCommand({Gatehouse(), "import", "xinetd", loop}, "", 10);
  EXPECT_FALSE(import.timed_out);
  EXPECT_NE(import.err.find("nested too deep"), std::string::npos) << import.err;
  EXPECT_EQ(RunCommand({Gatehouse(), "import", "inetd"}, "", 10).exit_code, 2);
}

// xinetd's own package (Debian 12's xinetd 2.3.15): xinetd.d/NAME holds a tcp
// and a udp entry, xinetd.d/NAME-udp the udp one again (type INTERNAL UNLISTED,
// its port by number). Written here as the package has them, `disable` as asked.
void WriteXinetdPackageFiles(const TempDir& dir, const std::string& disable) {
  const std::pair<const char*, const char*> kServices[] = {
      {"chargen", "19"}, {"daytime", "13"}, {"discard", "9"}, {"echo", "7"}, {"time", "37"}};
  for (const auto& [name, port] : kServices) {
    std::string n = name;
    dir.Write("xinetd.d/" + n,
              "# default: off\n# This is the tcp version.\nservice " + n +
                  "\n{\n\tdisable\t\t= " + disable + "\n\ttype\t\t= INTERNAL\n\tid\t\t= " + n +
                  "-stream\n\tsocket_type\t= stream\n\tprotocol\t= tcp\n\tuser\t\t= root\n"
                  "\twait\t\t= no\n}\n\n# This is the udp version.\nservice " +
                  n + "\n{\n\tdisable\t\t= " + disable + "\n\ttype\t\t= INTERNAL\n\tid\t\t= " + n +
                  "-dgram\n\tsocket_type\t= dgram\n\tprotocol\t= udp\n\tuser\t\t= root\n"
                  "\twait\t\t= yes\n}\n");
    dir.Write("xinetd.d/" + n + "-udp",
              "# default: off\n# description: This is the udp version.\n\nservice " + n +
                  "\n{\n\ttype\t\t= INTERNAL UNLISTED\n\tid\t\t= " + n +
                  "-dgram\n\tsocket_type\t= dgram\n\tprotocol\t= udp\n\tuser\t\t= root\n"
                  "\twait\t\t= yes\n\tdisable\t\t= " +
                  disable + "\n\tport\t\t= " + port + "\n}\n");
  }
  for (const auto& [name, port] :
       {std::pair<const char*, const char*>{"servers", "9099"}, {"services", "9098"}}) {
    dir.Write(std::string("xinetd.d/") + name,
              std::string("service ") + name +
                  "\n{\n\ttype\t\t= INTERNAL UNLISTED\n\tport\t\t= " + port +
                  "\n\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n"
                  "\tdisable\t\t= " +
                  disable + "\n\tonly_from\t= 127.0.0.1\n}\n");
  }
}

// Every entry of the package switched on: the udp twins of NAME-udp take the
// ports NAME's udp entries have taken already, so they are commented out
// saying so, and the file passes --check.
TEST(Import, XinetdsOwnPackageFilesSwitchedOnPassCheck) {
  TempDir dir("/tmp");  // short paths: no origin comment is clipped
  WriteXinetdPackageFiles(dir, "no");
  std::string conf = dir.Write("xinetd.conf",
                               "defaults\n{\n\tlog_type = SYSLOG daemon info\n\tcps = 50 10\n}\n"
                               "includedir " +
                                   dir.path() + "/xinetd.d\n");
  CommandResult import = RunCommand({Gatehouse(), "import", "xinetd", conf}, "", 10);
  ASSERT_EQ(import.exit_code, 0) << import.err;
  const std::string& out = import.out;
  for (const char* line :
       {"\n[echo]\nport = echo\nmode = builtin\nbuiltin = echo\ncps = 50 10\n",
        "\n[echo-udp]\nport = echo/udp\nmode = builtin\nbuiltin = echo\n",
        "/xinetd.d/echo-udp:4: echo\n# commented out: port 7/udp is already "
        "taken by the entry of ",
        "/xinetd.d/echo:15, an identical twin (xinetd's second bind fails "
        "too)\n",
        "\n# [echo-2]\n# port = 7/udp\n", "# no effect on datagrams: cps = 50 10",
        "# dropped from the defaults: log_type = SYSLOG daemon info", "\n# [servers]\n"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " not in:\n" << out;
  }
  // cps only where it works: the five tcp services.
  size_t cps = 0;
  for (size_t at = out.find("\ncps = 50 10\n"); at != std::string::npos;
       at = out.find("\ncps = 50 10\n", at + 1)) {
    ++cps;
  }
  EXPECT_EQ(cps, 5u) << out;
  CommandResult check = Check(dir, out);
  EXPECT_EQ(check.exit_code, 0) << out << check.err;
  EXPECT_NE(check.out.find("config OK"), std::string::npos) << check.out;
}

// Root entries of the four daemons docs/migrating.md has recipes for keep the
// capabilities those recipes give them (the recipes run in real_programs_test);
// another root entry is told what it will probably need, and --check's warning
// names both sides.
TEST(Import, RootDaemonsGetTheirRecipesCapabilitiesAndPassCheck) {
  if (getuid() != 0) GTEST_SKIP() << "capabilities and user = root: --check wants root";
  TempDir dir("/tmp");
  std::string conf =
      dir.Write("inetd.conf",
                "ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/vsftpd\tvsftpd /etc/vsftpd.conf\n"
                "rsync\tstream\ttcp\tnowait\troot\t/usr/bin/rsync\trsyncd --daemon\n"
                "ssh\tstream\ttcp\tnowait\troot\t/usr/sbin/sshd\tsshd -i\n"
                "tftp\tdgram\tudp\twait\troot\t/usr/sbin/tcpd\tin.tftpd -s /srv/tftp\n"
                "2323\tstream\ttcp\tnowait\troot\t/bin/cat\tcat\n"
                "sunrpc\tdgram\trpc/udp\twait\troot\t/usr/sbin/rpc.x\trpc.x\n");
  CommandResult import = RunCommand({Gatehouse(), "import", "inetd", conf}, "", 10);
  ASSERT_EQ(import.exit_code, 0) << import.err;
  const std::string& out = import.out;
  const std::string three = "capabilities = CAP_SYS_CHROOT CAP_SETUID CAP_SETGID\n";
  for (std::string line :
       {"\nuser = root\nexec = /usr/sbin/vsftpd\nargs = /etc/vsftpd.conf\ngroup = root\n" + three,
        "\nuser = root\nexec = /usr/bin/rsync\nargs = --daemon\ngroup = root\n" + three,
        std::string("\nuser = root\nexec = /usr/sbin/sshd\nargs = -i\ngroup = root\n"
                    "capabilities = all\nno_new_privs = no\n"),
        "\n[tftp]\nport = tftp/udp\nmode = wait\nuser = root\nexec = /usr/sbin/in.tftpd\n"
        "args = -s /srv/tftp\ngroup = root\n" +
            three,
        std::string("# user = root keeps no capability by itself: in.tftpd --secure chroots"),
        std::string("# user = root: the program gets root's file access but none of root's "
                    "capabilities.\n# A daemon that changes user or chroots needs capabilities "
                    "= CAP_SETUID CAP_SETGID\n"),
        std::string("# commented out: protocol rpc/udp: RPC services are not supported")}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << " not in:\n" << out;
  }
  CommandResult check = Check(dir, out);
  EXPECT_EQ(check.exit_code, 0) << out << check.err;
  EXPECT_NE(check.out.find("] keeps privileges (user = root) (without capabilities it still has "
                           "root's file access: reads and writes every file root owns; yet it "
                           "has none of root's capabilities, so a daemon that chroots or changes "
                           "user fails"),
            std::string::npos)
      << check.out;
}

// What the import writes for a root in.tftpd is a service that works: a tftp
// get through gatehouse, run from the imported file as it is.
TEST(Import, AnImportedRootTftpdServesAGet) {
  if (getuid() != 0) GTEST_SKIP() << "in.tftpd as root: needs gatehouse as root";
  if (access("/usr/sbin/in.tftpd", X_OK) != 0) GTEST_SKIP() << "tftpd-hpa is not installed";
  TempDir dir("/tmp"), served("/tmp");
  const std::string content = "served by an imported in.tftpd\n";
  served.Write("boot.img", content);
  std::string conf = dir.Write("inetd.conf",
                               "127.0.0.1:0\tdgram\tudp\twait\troot\t/usr/sbin/in.tftpd"
                               "\tin.tftpd --secure --user tftp " +
                                   served.path() + "\n");
  CommandResult import = RunCommand({Gatehouse(), "import", "inetd", conf}, "", 10);
  ASSERT_EQ(import.exit_code, 0) << import.err;
  dir.Write("services.d/imported.conf", import.out);
  std::string main = dir.Write("gatehouse.conf", "log_level = 3\n");
  testing::GatehouseProcess gatehouse({"--config", main}, dir.path() + "/gatehouse.log");
  ASSERT_TRUE(gatehouse.started()) << gatehouse.Log();
  std::smatch match;
  std::string log = gatehouse.Log();
  ASSERT_TRUE(std::regex_search(log, match, std::regex("listening on 127.0.0.1:([0-9]+)/udp")))
      << log;
  std::string fetched = dir.path() + "/fetched";
  CommandResult get = RunCommand(
      {"tftp", "-m", "binary", "127.0.0.1", match[1], "-c", "get", "boot.img", fetched}, "", 15);
  EXPECT_EQ(testing::ReadFile(fetched), content)
      << import.out << get.out << get.err << gatehouse.Log();
}

}  // namespace
}  // namespace gatehouse
