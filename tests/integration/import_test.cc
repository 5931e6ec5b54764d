// `gatehouse import` on realistic xinetd.d and inetd.conf files, through the real
// binary: what it prints, and that the printed services.d file passes --check.
#include <gtest/gtest.h>

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
  EXPECT_EQ(out.find("log_type"), std::string::npos) << "defaults' logging is gatehouse's own";
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

}  // namespace
}  // namespace gatehouse
