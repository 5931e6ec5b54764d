// Configuration: files, [defaults], services.d, command-line precedence, and
// errors that name file, line and key.
#include "common/config.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <regex>

#include "common/config/keys.h"
#include "common/exec_interpreter.h"
#include "common/shell_words.h"
#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using testing::TempDir;

struct Loaded {
  bool ok = false;
  Config config;
  std::vector<std::string> errors;
  std::string AllErrors() const {
    std::string all;
    for (const std::string& e : errors) all += e + "\n";
    return all;
  }
  const ServiceConfig* Service(const std::string& name) const {
    for (const ServiceConfig& s : config.services) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
};

Loaded Load(const std::string& main_path, std::vector<std::string> args = {}) {
  std::vector<const char*> argv = {"gatehouse", "--config", main_path.c_str()};
  for (const std::string& a : args) argv.push_back(a.c_str());
  CommandLine command_line;
  std::string error;
  EXPECT_TRUE(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &command_line, &error))
      << error;
  Loaded loaded;
  loaded.ok = LoadConfig(command_line, &loaded.config, &loaded.errors);
  return loaded;
}

const char* kEcho =
    "[echo]\n"
    "port = 127.0.0.1:7007\n"
    "exec = /bin/cat\n";

TEST(Config, ServicesDirBesideTheMainFile) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "log_level = 3\n", {{"echo.conf", kEcho}});
  Loaded loaded = Load(main);
  ASSERT_TRUE(loaded.ok) << loaded.AllErrors();
  ASSERT_EQ(loaded.config.services.size(), 1u);
  const ServiceConfig& echo = loaded.config.services[0];
  EXPECT_EQ(echo.name, "echo");
  EXPECT_EQ(echo.ports[0].spec.ToString(), "127.0.0.1:7007/tcp");
  EXPECT_EQ(echo.program.exec, "/bin/cat");
  EXPECT_EQ(echo.program.argv, std::vector<std::string>{"cat"});
  EXPECT_EQ(echo.listen, SOMAXCONN);  // Net::Server's default backlog
  EXPECT_EQ(loaded.config.global.log_level, 3);
}

TEST(Config, ServicesDirMayMoveButMustExist) {
  TempDir dir;
  dir.Write("elsewhere/echo.conf", kEcho);
  std::string main = testing::WriteConfig(dir, "services_dir = elsewhere\n", {});
  Loaded moved = Load(main);
  ASSERT_TRUE(moved.ok) << moved.AllErrors();
  EXPECT_EQ(moved.config.services.size(), 1u);
  main = testing::WriteConfig(dir, "services_dir = missing\n", {});
  EXPECT_NE(Load(main).AllErrors().find("gatehouse.conf:1: services_dir: \"" + dir.path() +
                                        "/missing\" is not a directory"),
            std::string::npos)
      << Load(main).AllErrors();
}

TEST(Config, PrecedenceCommandLineOverFileOverDefault) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"echo.conf", kEcho}});
  EXPECT_EQ(Load(main).config.global.log_level, 2);  // built-in default
  main =
      testing::WriteConfig(dir, "log_level = 3\n[defaults]\nlisten = 10\n", {{"echo.conf", kEcho}});
  Loaded file = Load(main);
  EXPECT_EQ(file.config.global.log_level, 3);  // file over default
  EXPECT_EQ(file.config.services[0].listen, 10);
  for (auto args : {std::vector<std::string>{"--log_level", "4", "--listen=20"},
                    std::vector<std::string>{"log_level=4", "listen=20"}}) {
    Loaded cli = Load(main, args);
    ASSERT_TRUE(cli.ok) << cli.AllErrors();
    EXPECT_EQ(cli.config.global.log_level, 4);  // command line over file
    EXPECT_EQ(cli.config.services[0].listen, 20);
  }
}

TEST(Config, DefaultsAreInheritedAndOverridden) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "[defaults]\nhost = 127.0.0.9\ncidr_allow = 127.0.0.0/8\nenv = A=1\n",
      {{"a.conf", "[a]\nport = 7001\nexec = /bin/cat\n"},
       {"b.conf", "[b]\nport = 7002\nhost = 127.0.0.8\nenv = B=2\nenv = C=3\nexec = /bin/cat\n"}});
  Loaded loaded = Load(main);
  ASSERT_TRUE(loaded.ok) << loaded.AllErrors();
  const ServiceConfig* a = loaded.Service("a");
  const ServiceConfig* b = loaded.Service("b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->ports[0].spec.ToString(), "127.0.0.9:7001/tcp");
  EXPECT_EQ(b->ports[0].spec.ToString(), "127.0.0.8:7002/tcp");
  EXPECT_EQ(a->access.cidr_allow.size(), 1u);
  EXPECT_EQ(b->access.cidr_allow.size(), 1u);
  // env= entries come first (USER, LOGNAME, HOME and SHELL follow).
  EXPECT_EQ(a->program.env.at(0), "A=1");
  EXPECT_EQ(a->program.env.at(1).rfind("USER=", 0), 0u) << a->program.env.at(1);
  EXPECT_EQ(b->program.env.at(0), "B=2");  // a list key replaces
  EXPECT_EQ(b->program.env.at(1), "C=3");
  EXPECT_EQ(b->program.env.at(2).rfind("USER=", 0), 0u) << b->program.env.at(2);
}

TEST(Config, ErrorNamesFileLineAndKey) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "", {{"echo.conf", "; echo\n[echo]\nexec = /bin/cat\nport = 70000\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  ASSERT_EQ(loaded.errors.size(), 1u) << loaded.AllErrors();
  EXPECT_EQ(loaded.errors[0],
            dir.path() + "/services.d/echo.conf:4: port: \"70000\" is not a port (0-65535)");
}

// "name.conf:LINE" of each error, in the order given.
std::vector<std::string> ErrorPlaces(const std::vector<std::string>& errors) {
  std::vector<std::string> places;
  std::regex place(R"(([^/]+\.conf):(\d+): )");
  for (const std::string& error : errors) {
    std::smatch match;
    places.push_back(std::regex_search(error, match, place) ? match[1].str() + ":" + match[2].str()
                                                            : error);
  }
  return places;
}

TEST(Config, ErrorsOfEveryKindComeInFileAndLineOrder) {
  TempDir dir;
  // Each kind is found at a different step: unknown keys when the files are
  // read, bad values by the key table, port/user/exec by the Resolve steps.
  std::string main = testing::WriteConfig(
      dir, "log_level = 9\nonly_from = 10.0.0.0/8\n",
      {{"a.conf", "[a]\nport = 70000\nserver_args = -x\nlisten = 0\nwait = yes\n"},
       {"b.conf",
        "[b]\nsocket_type = stream\nuser = no-such-user-here\nexec = relative\n"
        "server = /usr/sbin/in.x\nport = 7001\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_EQ(ErrorPlaces(loaded.errors),
            (std::vector<std::string>{"gatehouse.conf:1", "gatehouse.conf:2", "a.conf:1",
                                      "a.conf:2", "a.conf:3", "a.conf:4", "a.conf:5", "b.conf:2",
                                      "b.conf:3", "b.conf:4", "b.conf:5"}))
      << loaded.AllErrors();
}

TEST(Config, KeysOfXinetdGetAHint) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"ftp.conf",
        "[ftp]\nport = 7001\nexec = /bin/cat\n"
        "server = /usr/sbin/in.ftpd\nserver_args = -l\nonly_from = 10.0.0.0/8\n"
        "no_access = 10.1.0.0/16\nwait = yes\nsocket_type = stream\ninstances = 30\n"
        "per_source = 5\ncps = 50\ndisable = no\nbind = 127.0.0.1\nflags = REUSE\n"
        "log_on_success = PID HOST\nlog_on_failure = HOST\ntype = INTERNAL\n"
        "passenv = PATH\nbogus_key = 1\n"},
       {"tftp.conf", "[tftp]\nport = 7002\nexec = /bin/cat\nwait = no\nsocket_type = dgram\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  std::string all = loaded.AllErrors();
  for (const char* hint : {
           "ftp.conf:4: server: unknown key in [ftp]; xinetd's; use exec",
           "ftp.conf:5: server_args: unknown key in [ftp]; xinetd's; use args (without argv[0]",
           "ftp.conf:6: only_from: unknown key in [ftp]; xinetd's; use cidr_allow",
           "ftp.conf:7: no_access: unknown key in [ftp]; xinetd's; use cidr_deny",
           "ftp.conf:8: wait: unknown key in [ftp]; xinetd's; wait = yes is gatehouse's mode = "
           "wait (the program gets the listening socket",
           "ftp.conf:9: socket_type: unknown key in [ftp]; xinetd's; use port = HOST:PORT/tcp or "
           "PATH|unix, or proto",
           "ftp.conf:10: instances: unknown key in [ftp]; xinetd's; use max_servers",
           // cps is gatehouse's own key (xinetd's meaning): a value error, not a hint.
           "ftp.conf:12: cps: \"50\" is not RATE WAIT",
           "ftp.conf:13: disable: unknown key in [ftp]; xinetd's; remove the file or comment the "
           "section out",
           "ftp.conf:14: bind: unknown key in [ftp]; xinetd's; use host",
           "ftp.conf:15: flags: unknown key in [ftp]; xinetd's; no equivalent",
           "ftp.conf:16: log_on_success: unknown key in [ftp]; xinetd's; no equivalent",
           "ftp.conf:17: log_on_failure: unknown key in [ftp]; xinetd's; no equivalent",
           "ftp.conf:18: type: unknown key in [ftp]; xinetd's; type = INTERNAL is gatehouse's "
           "mode = builtin with builtin = echo, discard, daytime, chargen or time",
           "ftp.conf:19: passenv: unknown key in [ftp]; xinetd's; nothing is inherited",
           "tftp.conf:4: wait: unknown key in [tftp]; xinetd's; wait = no is gatehouse's default "
           "mode = fork (mode = datagram for a dgram service)",
           "tftp.conf:5: socket_type: unknown key in [tftp]; xinetd's; use port = HOST:PORT/udp "
           "with mode = datagram",
       }) {
    EXPECT_NE(all.find(hint), std::string::npos) << hint << "\n" << all;
  }
  // A key nobody has stays a bare unknown key.
  EXPECT_NE(all.find("ftp.conf:20: bogus_key: unknown key in [ftp]\n"), std::string::npos) << all;
}

TEST(Config, RelativeConfigPathGivesRelativeNames) {
  TempDir dir;
  testing::WriteConfig(dir, "", {{"echo.conf", "[echo]\nexec = /bin/cat\nport = 70000\n"}});
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  Loaded loaded = Load("gatehouse.conf");
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0], "services.d/echo.conf:3: port: \"70000\" is not a port (0-65535)");
}

TEST(Config, UnknownKeysAndMisplacedKeys) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "port = 7007\n[defaults]\nlog_level = 1\n",
                           {{"echo.conf", "[echo]\nport = 7007\nexec = /bin/cat\nbogus = 1\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  std::string all = loaded.AllErrors();
  EXPECT_NE(
      all.find(main + ":1: port: is a service key; put it in [defaults] or a [service] section"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find(main + ":3: log_level: is a global key"), std::string::npos) << all;
  EXPECT_NE(all.find("services.d/echo.conf:4: bogus: unknown key in [echo]"), std::string::npos)
      << all;
}

TEST(Config, ValueErrors) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "log_level = 7\nbackground = maybe\n",
                                          {{"echo.conf",
                                            "[echo]\n"
                                            "port = 7007\n"
                                            "exec = bin/cat\n"
                                            "cidr_allow = 10.0.0.0/40\n"
                                            "allow = (unclosed\n"
                                            "env = TCPREMOTEIP=x\n"
                                            "env = 1BAD=x\n"
                                            "listen = 0\n"
                                            "reverse_lookups = perhaps\n"
                                            "proto = sctp\n"
                                            "args = -c 'unterminated\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  std::string all = loaded.AllErrors();
  for (const char* expected :
       {"gatehouse.conf:1: log_level: \"7\" is not a number from 0 to 4",
        "gatehouse.conf:2: background: \"maybe\" is not a boolean",
        "echo.conf:3: exec: \"bin/cat\" is not an absolute path",
        "echo.conf:4: cidr_allow: \"10.0.0.0/40\" has a bad prefix length",
        "echo.conf:5: allow: \"(unclosed\" is not a valid regular expression",
        "echo.conf:6: env: TCPREMOTEIP is set by gatehouse",
        "echo.conf:7: env: \"1BAD=x\" is not NAME=value",
        "echo.conf:8: listen: \"0\" is not a number from 1 to 65535",
        "echo.conf:9: reverse_lookups: \"perhaps\" is not a boolean",
        "echo.conf:10: proto: \"sctp\" is not a protocol"}) {
    EXPECT_NE(all.find(expected), std::string::npos) << expected << "\nin:\n" << all;
  }
}

TEST(Config, MissingExecAndPortNameTheSection) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"x.conf", "\n\n[x]\nlisten = 5\n"}});
  Loaded loaded = Load(main);
  std::string all = loaded.AllErrors();
  EXPECT_NE(all.find("x.conf:3: port: missing"), std::string::npos) << all;
  EXPECT_NE(all.find("x.conf:3: exec: missing"), std::string::npos) << all;
}

TEST(Config, ExecMustBeExecutable) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "",
                           {{"x.conf", "[x]\nport = 7007\nexec = /etc/passwd\n"},
                            {"y.conf", "[y]\nport = 7008\nexec = /no/such/program\n"}});
  std::string all = Load(main).AllErrors();
  EXPECT_NE(all.find("x.conf:3: exec: \"/etc/passwd\" is not an executable file"),
            std::string::npos);
  EXPECT_NE(all.find("y.conf:3: exec: \"/no/such/program\" is not an executable file"),
            std::string::npos);
}

TEST(Config, ExecMustBeExecutableByTheServiceUser) {
  if (geteuid() != 0) GTEST_SKIP() << "identities are changed as root only";
  TempDir dir;
  std::string program = dir.Write("root-only.sh", "#!/bin/sh\necho hi\n");
  chmod(program.c_str(), 0700);  // root may run it; the service's own uid may not
  std::string main =
      testing::WriteConfig(dir, "",
                           {{"a.conf", "[a]\nport = 7001\nexec = " + program + "\n"},
                            {"b.conf", "[b]\nport = 7002\nexec = " + program + "\nuser = root\n"}});
  Loaded loaded = Load(main);
  ASSERT_EQ(loaded.errors.size(), 1u) << loaded.AllErrors();
  std::string uid = std::to_string(DynamicServiceUid("a"));
  EXPECT_NE(loaded.errors[0].find("a.conf:3: exec: \"" + program + "\" is not executable by uid " +
                                  uid + " gid " + uid + " (mode 0700)"),
            std::string::npos)
      << loaded.errors[0];
}

TEST(Config, ScalarKeyTwiceIsAnErrorListKeysRepeat) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"x.conf", "[x]\nport = 7007\nport = [::1]:7008\nexec = /bin/cat\nexec = /bin/sh\n"}});
  Loaded loaded = Load(main);
  ASSERT_EQ(loaded.errors.size(), 1u) << loaded.AllErrors();
  EXPECT_NE(loaded.errors[0].find("x.conf:5: exec: given twice (first at "), std::string::npos);
  EXPECT_NE(loaded.errors[0].find("x.conf:4)"), std::string::npos);
}

TEST(Config, ArgsAreShellWordsAndMayContinue) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "",
                           {{"x.conf",
                             "[x]\nport = 7007\nexec = /bin/sh\nargs = -c 'echo \"a  b\"\n"
                             "  echo c' two\\ words \"x\"y\n"}});
  Loaded loaded = Load(main);
  ASSERT_TRUE(loaded.ok) << loaded.AllErrors();
  EXPECT_EQ(loaded.config.services[0].program.argv,
            (std::vector<std::string>{"sh", "-c", "echo \"a  b\"\necho c", "two words", "xy"}));
}

TEST(Config, OverlongLineIsRejectedWithItsNumber) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "",
                           {{"x.conf", "[x]\nport = 7007\nexec = /bin/sh\nargs = -c '" +
                                           std::string(250, 'a') + "'\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.AllErrors().find("x.conf:4: line is 262 characters long; the limit is 198"),
            std::string::npos)
      << loaded.AllErrors();
}

TEST(Config, EveryBadLineIsReported) {
  TempDir dir;
  std::string file =
      "[x]\nport = 7007\njunk here\nexec = /bin/cat\n[broken\nmore junk\n"
      "allow = 127\\.0\\.0\\.1\n"
      "  10\\.0\\.0\\.1\n";  // an indented line continues a key: fine
  std::string main = testing::WriteConfig(dir, "", {{"x.conf", file}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  std::string all = loaded.AllErrors();
  EXPECT_NE(all.find("x.conf:3: expected \"key = value\" or \"[section]\", found \"junk here\""),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("x.conf:5: \"[broken\": missing ]"), std::string::npos) << all;
  EXPECT_NE(all.find("x.conf:6: expected \"key = value\""), std::string::npos) << all;
  EXPECT_EQ(loaded.errors.size(), 3u) << all;
}

TEST(Config, DuplicateServicesAndPorts) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"a.conf", "[a]\nport = 127.0.0.1:7007\nexec = /bin/cat\n"},
       {"b.conf",
        "[a]\nport = 7009\nexec = /bin/cat\n[b]\nport = 127.0.0.1:7007\nexec = /bin/cat\n"}});
  std::string all = Load(main).AllErrors();
  EXPECT_NE(all.find("b.conf:1: [a]: service already defined at "), std::string::npos) << all;
  EXPECT_NE(all.find("b.conf:5: port: 127.0.0.1:7007/tcp is already used by service a"),
            std::string::npos)
      << all;
}

// What the kernel would refuse at bind time is refused by --check already: a
// wildcard beside an address of its family on one port and protocol.
TEST(Config, AWildcardBesideAnAddressOnTheSamePortIsRefused) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"a.conf", "[a]\nport = 127.0.0.1:7099\nexec = /bin/cat\n"},
       {"b.conf", "[b]\nport = *:7099\nexec = /bin/cat\n"},
       {"c.conf", "[c]\nmode = datagram\nport = 0.0.0.0:7099/udp\nexec = /bin/cat\n"},
       {"d.conf", "[d]\nmode = datagram\nport = 127.0.0.2:7099/udp\nexec = /bin/cat\n"},
       {"e.conf", "[e]\nport = [::1]:7098\nexec = /bin/cat\n"},
       {"f.conf", "[f]\nport = 0.0.0.0:7098\nexec = /bin/cat\n"}});
  std::string all = Load(main).AllErrors();
  EXPECT_NE(all.find("b.conf:2: port: *:7099/tcp cannot be bound beside 127.0.0.1:7099/tcp of "
                     "service a (" +
                     dir.path() + "/services.d/a.conf:2)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("d.conf:3: port: 127.0.0.2:7099/udp cannot be bound beside "
                     "0.0.0.0:7099/udp of service c"),
            std::string::npos)
      << all;
  // TCP and UDP do not clash, nor 0.0.0.0 and an IPv6 address.
  EXPECT_EQ(all.find("c.conf:3: port:"), std::string::npos) << all;
  EXPECT_EQ(all.find("f.conf:2: port:"), std::string::npos) << all;
}

TEST(Config, EachModeTakesTheSocketsItCanServe) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"u.conf", "[u]\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"},
       {"d.conf", "[d]\nmode = datagram\nport = 127.0.0.1:0/tcp\nexec = /bin/cat\n"},
       {"w.conf", "[w]\nmode = wait\nport = 127.0.0.1:0/udp\nexec = /bin/cat\n"}});
  std::string all = Load(main).AllErrors();
  EXPECT_NE(all.find("u.conf:2: port: 127.0.0.1:0/udp is a datagram socket; mode = fork serves "
                     "connections"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("d.conf:3: port: 127.0.0.1:0/tcp is a stream socket; mode = datagram"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("w.conf"), std::string::npos) << all;  // wait takes either
}

TEST(Config, ABuiltinNamesOneAndRunsNoProgram) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"a.conf",
        "[a]\nmode = builtin\nbuiltin = daytime\nport = 127.0.0.1:0\n"
        "port = 127.0.0.1:0/udp\n"},
       {"b.conf", "[b]\nmode = builtin\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
       {"c.conf", "[c]\nbuiltin = echo\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
       {"d.conf", "[d]\nmode = builtin\nbuiltin = qotd\nport = 127.0.0.1:0\n"},
       {"e.conf", "[e]\nmode = forking\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  std::string all = Load(main).AllErrors();
  EXPECT_EQ(all.find("a.conf"), std::string::npos) << all;
  EXPECT_NE(all.find("b.conf:1: builtin: missing: mode = builtin needs echo, discard, daytime, "
                     "chargen or time"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("b.conf:4: exec: mode = builtin serves in gatehouse-child itself"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("c.conf:2: builtin: needs mode = builtin (the service's mode is fork)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("d.conf:3: builtin: \"qotd\" is not a built-in service"), std::string::npos)
      << all;
  EXPECT_NE(all.find("e.conf:2: mode: \"forking\" is not a mode (fork, single, wait, datagram or "
                     "builtin)"),
            std::string::npos)
      << all;
}

// Rules a wait service's program would bypass are refused, wherever they came
// from; an empty value clears what [defaults] gave.
TEST(Config, AWaitServiceRefusesAccessRulesEvenInherited) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "[defaults]\ncidr_allow = 127.0.0.0/8\n",
      {{"w.conf", "[w]\nmode = wait\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
       {"x.conf", "[x]\nmode = wait\nport = 127.0.0.1:0\nexec = /bin/cat\ncidr_allow =\n"},
       {"y.conf",
        "[y]\nmode = wait\nport = 127.0.0.1:0\nexec = /bin/cat\ncidr_allow =\n"
        "deny = ^10\\.\n"}});
  std::string all = Load(main).AllErrors();
  EXPECT_NE(all.find(":2: cidr_allow: mode = wait hands the listening socket to the program"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("x.conf"), std::string::npos) << all;
  EXPECT_NE(all.find("y.conf:6: deny: mode = wait hands"), std::string::npos) << all;
}

// Names whose hashes collide: the later one (name order) takes the next uid.
TEST(Config, DynamicUidsNeverCollide) {
  if (geteuid() != 0) GTEST_SKIP() << "identities are changed as root only";
  auto [first, second] = testing::CollidingServiceNames();
  ASSERT_FALSE(second.empty());
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "",
                           {{"a.conf", "[" + first + "]\nport = 7001\nexec = /bin/cat\n"},
                            {"b.conf", "[" + second + "]\nport = 7002\nexec = /bin/cat\n"}});
  Loaded loaded = Load(main);
  ASSERT_TRUE(loaded.ok) << loaded.AllErrors();
  const std::string& earlier = std::min(first, second);
  const std::string& later = std::max(first, second);
  EXPECT_EQ(loaded.Service(earlier)->jail.uid, DynamicServiceUid(earlier));
  EXPECT_EQ(loaded.Service(later)->jail.uid, DynamicServiceUid(later) + 1);
  EXPECT_EQ(loaded.Service(later)->jail.gid, DynamicServiceUid(later) + 1);
}

TEST(Config, IdentityDefaultsToAUidOfTheServicesOwn) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "",
                           {{"a.conf", "[a]\nport = 7001\nexec = /bin/cat\n"},
                            {"b.conf", "[b]\nport = 7002\nexec = /bin/cat\nuser = root\n"},
                            {"c.conf", "[c]\nport = 7003\nexec = /bin/cat\n"},
                            {"d.conf", "[d]\nport = 7004\nexec = /bin/cat\nuser = nobody\n"}});
  Loaded loaded = Load(main);
  if (geteuid() == 0) {
    ASSERT_TRUE(loaded.ok) << loaded.AllErrors();
    const ServiceConfig* a = loaded.Service("a");
    EXPECT_TRUE(a->jail.change_identity);
    EXPECT_EQ(a->user_name, "dynamic");
    EXPECT_EQ(a->jail.uid, DynamicServiceUid("a"));
    EXPECT_EQ(a->jail.gid, a->jail.uid);  // a group of its own too
    EXPECT_EQ(a->jail.groups, std::vector<uint32_t>{a->jail.uid});
    EXPECT_GE(a->jail.uid, kDynamicUidBase);
    EXPECT_LT(a->jail.uid, kDynamicUidBase + kDynamicUidCount);
    // Another service never shares it; a named user is used as named.
    EXPECT_NE(loaded.Service("c")->jail.uid, a->jail.uid);
    EXPECT_EQ(loaded.Service("d")->jail.uid, 65534u);
    EXPECT_EQ(loaded.Service("b")->jail.uid, 0u);
    // The same name gets the same uid on every load (reload, upgrade).
    EXPECT_EQ(Load(main).Service("a")->jail.uid, a->jail.uid);
    EXPECT_NE(DescribeConfig(loaded.config)
                  .find("user     dynamic (uid " + std::to_string(a->jail.uid) + ")"),
              std::string::npos)
        << DescribeConfig(loaded.config);
  } else {
    // Not root: services run as us, and asking for another user is an error.
    EXPECT_NE(
        loaded.AllErrors().find("b.conf:4: user: changing user needs gatehouse to run as root"),
        std::string::npos);
    EXPECT_EQ(loaded.Service("a")->jail.uid, geteuid());
    EXPECT_FALSE(loaded.Service("a")->jail.change_identity);
  }
}

TEST(Config, NoSuchUser) {
  if (geteuid() != 0) GTEST_SKIP() << "user lookups are checked as root";
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "", {{"a.conf", "[a]\nport = 7001\nexec = /bin/cat\nuser = no-such-user-x\n"}});
  EXPECT_NE(Load(main).AllErrors().find("a.conf:4: user: no such user \"no-such-user-x\""),
            std::string::npos);
}

TEST(Config, NumericIdsNeedNoPasswdEntry) {
  if (geteuid() != 0) GTEST_SKIP() << "user lookups are checked as root";
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"a.conf", "[a]\nport = 7001\nexec = /bin/cat\nuser = 40123\n"},
       {"b.conf", "[b]\nport = 7002\nexec = /bin/cat\nuser = 40123\ngroup = 40124\n"}});
  Loaded loaded = Load(main);
  ASSERT_TRUE(loaded.ok) << loaded.AllErrors();
  EXPECT_EQ(loaded.Service("a")->jail.uid, 40123u);
  EXPECT_EQ(loaded.Service("a")->jail.gid, 65534u);  // nogroup, as with no user at all
  EXPECT_EQ(loaded.Service("b")->jail.gid, 40124u);
  EXPECT_EQ(loaded.Service("b")->jail.groups, std::vector<uint32_t>{40124});
}

TEST(Config, BuiltinEchoWithoutConfig) {
  const char* argv[] = {"gatehouse"};
  CommandLine command_line;
  std::string error;
  ASSERT_TRUE(ParseCommandLine(1, argv, &command_line, &error));
  struct stat info {};
  if (stat(kDefaultConfigPath, &info) == 0) GTEST_SKIP() << kDefaultConfigPath << " exists here";
  Config config;
  std::vector<std::string> errors;
  ASSERT_TRUE(LoadConfig(command_line, &config, &errors));
  EXPECT_TRUE(config.builtin_default);
  ASSERT_EQ(config.services.size(), 1u);
  EXPECT_EQ(config.services[0].ports[0].spec.ToString(), "127.0.0.1:20203/tcp");
  EXPECT_EQ(config.services[0].program.exec, "/bin/cat");
}

TEST(Config, ReloadProgramsAndKillGraceDefaultsFileAndCommandLine) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "[defaults]\nreload_programs = end\nkill_grace = 5\n",
                           {{"a.conf", kEcho},
                            {"b.conf",
                             "[b]\nport = 127.0.0.1:7008\nexec = /bin/cat\nkill_grace = 0\n"
                             "reload_programs = keep\n"}});
  Loaded file = Load(main);
  ASSERT_TRUE(file.ok) << file.AllErrors();
  EXPECT_EQ(file.Service("echo")->reload_programs, ReloadPrograms::kEnd);  // from [defaults]
  EXPECT_EQ(file.Service("echo")->program.kill_grace, 5u);
  EXPECT_EQ(file.Service("b")->reload_programs, ReloadPrograms::kKeep);  // its own
  EXPECT_EQ(file.Service("b")->program.kill_grace, 0u);
  std::string shown = DescribeConfig(file.config);
  EXPECT_NE(shown.find("[echo]"), std::string::npos);
  EXPECT_NE(shown.find("  reload_programs end\n  kill_grace 5\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("  reload_programs keep\n  kill_grace 0\n"), std::string::npos) << shown;

  Loaded cli = Load(main, {"--kill-grace=3600", "reload_programs=keep"});
  ASSERT_TRUE(cli.ok) << cli.AllErrors();
  for (const ServiceConfig& s : cli.config.services) {
    EXPECT_EQ(s.program.kill_grace, 3600u) << s.name;
    EXPECT_EQ(s.reload_programs, ReloadPrograms::kKeep) << s.name;
  }

  main = testing::WriteConfig(dir, "", {{"a.conf", kEcho}, {"b.conf", ""}});
  Loaded plain = Load(main);
  ASSERT_TRUE(plain.ok) << plain.AllErrors();
  EXPECT_EQ(plain.config.services[0].reload_programs, ReloadPrograms::kKeep);
  EXPECT_EQ(plain.config.services[0].program.kill_grace, 2u);
}

TEST(Config, ReloadProgramsAndKillGraceParseStrictly) {
  TempDir dir;
  for (const auto& [line, error] : std::vector<std::pair<std::string, std::string>>{
           {"reload_programs = maybe", "reload_programs: \"maybe\" is not keep or end"},
           {"reload_programs = End", "reload_programs: \"End\" is not keep or end"},
           {"reload_programs = ", "reload_programs: \"\" is not keep or end"},
           {"kill_grace = 3601", "kill_grace: \"3601\" is not a number from 0 to 3600"},
           {"kill_grace = -1", "kill_grace: \"-1\" is not a number from 0 to 3600"},
           {"kill_grace = 4294967298", "kill_grace: \"4294967298\" is not a number from 0 to 3600"},
           {"kill_grace = 2s", "kill_grace: \"2s\" is not a number from 0 to 3600"},
           {"kill_grace = ", "kill_grace: \"\" is not a number from 0 to 3600"},
       }) {
    std::string main = testing::WriteConfig(dir, "", {{"a.conf", kEcho + line + "\n"}});
    Loaded loaded = Load(main);
    EXPECT_FALSE(loaded.ok) << line;
    ASSERT_EQ(loaded.errors.size(), 1u) << line << "\n" << loaded.AllErrors();
    EXPECT_NE(loaded.errors[0].find("a.conf:4: " + error), std::string::npos) << loaded.errors[0];
  }
  std::string main = testing::WriteConfig(dir, "kill_grace = 1\n", {{"a.conf", kEcho}});
  EXPECT_NE(Load(main).AllErrors().find("gatehouse.conf:1: kill_grace: is a service key"),
            std::string::npos)
      << Load(main).AllErrors();
}

TEST(Config, ChildStallTimeoutDefaultsFileCommandLineAndBounds) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "[defaults]\nchild_stall_timeout = 30\n",
      {{"a.conf", kEcho},
       {"b.conf", "[b]\nport = 127.0.0.1:7008\nexec = /bin/cat\nchild_stall_timeout = 1\n"}});
  Loaded file = Load(main);
  ASSERT_TRUE(file.ok) << file.AllErrors();
  EXPECT_EQ(file.Service("echo")->child_stall_timeout, 30);  // from [defaults]
  EXPECT_EQ(file.Service("b")->child_stall_timeout, 1);      // its own
  std::string shown = DescribeConfig(file.config);
  EXPECT_NE(shown.find("  child_stall_timeout 30\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("  child_stall_timeout 1\n"), std::string::npos) << shown;
  Loaded cli = Load(main, {"--child-stall-timeout=3600"});
  ASSERT_TRUE(cli.ok) << cli.AllErrors();
  for (const ServiceConfig& s : cli.config.services) EXPECT_EQ(s.child_stall_timeout, 3600);
  Loaded plain = Load(testing::WriteConfig(dir, "", {{"a.conf", kEcho}, {"b.conf", ""}}));
  ASSERT_TRUE(plain.ok) << plain.AllErrors();
  EXPECT_EQ(plain.config.services[0].child_stall_timeout, 10);

  for (const std::string value : {"0", "3601", "-1", "1.5", "10s", ""}) {
    std::string line = "child_stall_timeout = " + value;
    Loaded loaded = Load(testing::WriteConfig(dir, "", {{"a.conf", kEcho + line + "\n"}}));
    EXPECT_NE(loaded.AllErrors().find("a.conf:4: child_stall_timeout: \"" + value +
                                      "\" is not a number from 1 to 3600"),
              std::string::npos)
        << line << "\n"
        << loaded.AllErrors();
  }
}

TEST(Config, UpgradeTimeoutDefaultsFileCommandLineAndBounds) {
  TempDir dir;
  Loaded plain = Load(testing::WriteConfig(dir, "", {{"a.conf", kEcho}}));
  ASSERT_TRUE(plain.ok) << plain.AllErrors();
  EXPECT_EQ(plain.config.global.upgrade_timeout, 30);
  std::string main = testing::WriteConfig(dir, "upgrade_timeout = 5\n", {{"a.conf", kEcho}});
  EXPECT_EQ(Load(main).config.global.upgrade_timeout, 5);
  Loaded cli = Load(main, {"--upgrade_timeout=3600"});
  ASSERT_TRUE(cli.ok) << cli.AllErrors();
  EXPECT_EQ(cli.config.global.upgrade_timeout, 3600);
  for (const std::string value : {"0", "3601", "-1", "1.5", "10s", ""}) {
    Loaded loaded =
        Load(testing::WriteConfig(dir, "upgrade_timeout = " + value + "\n", {{"a.conf", kEcho}}));
    EXPECT_NE(loaded.AllErrors().find("gatehouse.conf:1: upgrade_timeout: \"" + value +
                                      "\" is not a number from 1 to 3600"),
              std::string::npos)
        << value << "\n"
        << loaded.AllErrors();
  }
}

TEST(Config, ChdirAndStderrDefaultsValuesAndErrors) {
  TempDir dir;
  std::string www = dir.path() + "/www";
  ASSERT_EQ(mkdir(www.c_str(), 0755), 0);
  Loaded loaded = Load(testing::WriteConfig(
      dir, "",
      {{"a.conf", kEcho},
       {"b.conf",
        "[b]\nport = 127.0.0.1:7008\nexec = /bin/cat\nchdir = " + www + "\nstderr = client\n"},
       {"c.conf", "[c]\nport = 127.0.0.1:7009\nexec = /bin/cat\nstderr = null\n"}}));
  ASSERT_TRUE(loaded.ok) << loaded.AllErrors();
  EXPECT_EQ(loaded.Service("echo")->program.working_directory, "/");  // xinetd's, not ours
  EXPECT_EQ(loaded.Service("echo")->program.stderr_target, StderrTarget::kLog);
  EXPECT_EQ(loaded.Service("b")->program.working_directory, www);
  EXPECT_EQ(loaded.Service("b")->program.stderr_target, StderrTarget::kClient);
  EXPECT_EQ(loaded.Service("c")->program.stderr_target, StderrTarget::kNull);
  std::string shown = DescribeConfig(loaded.config);
  EXPECT_NE(shown.find("  chdir    /\n  stderr   log\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("  chdir    " + www + "\n  stderr   client\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("  stderr   null\n"), std::string::npos) << shown;

  std::string file = dir.Write("file", "x");
  for (const auto& [line, error] : std::vector<std::pair<std::string, std::string>>{
           {"chdir = srv", "chdir: \"srv\" is not an absolute path"},
           {"chdir = ", "chdir: \"\" is not an absolute path"},
           {"chdir = " + www + "/missing", "chdir: \"" + www + "/missing\" does not exist"},
           {"chdir = " + file, "chdir: \"" + file + "\" is not a directory"},
           {"stderr = syslog", "stderr: \"syslog\" is not log, client or null"},
           {"stderr = Log", "stderr: \"Log\" is not log, client or null"},
       }) {
    Loaded bad = Load(testing::WriteConfig(dir, "", {{"a.conf", kEcho + line + "\n"}}));
    EXPECT_FALSE(bad.ok) << line;
    EXPECT_NE(bad.AllErrors().find("a.conf:4: " + error), std::string::npos) << line << "\n"
                                                                             << bad.AllErrors();
  }
}

TEST(Config, ChdirIsCheckedInsideTheChroot) {
  if (geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  TempDir dir;
  std::string jail = dir.path() + "/jail";
  ASSERT_EQ(mkdir(jail.c_str(), 0755), 0);
  ASSERT_EQ(mkdir((jail + "/bin").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((jail + "/srv").c_str(), 0755), 0);
  testing::CopyExecutable("/bin/cat", jail + "/bin/cat");
  // Its loader too, or --check refuses the jail for that first.
  int cat = open("/bin/cat", O_RDONLY | O_CLOEXEC);
  ExecInterpreter loader = ReadExecInterpreter(cat);
  close(cat);
  if (loader.kind == ExecInterpreter::Kind::kElf) {
    std::string copy = jail + loader.path;
    for (size_t slash = copy.find('/', jail.size() + 1); slash != std::string::npos;
         slash = copy.find('/', slash + 1)) {
      mkdir(copy.substr(0, slash).c_str(), 0755);
    }
    testing::CopyExecutable(loader.path, copy);
  }
  std::string service = "[echo]\nport = 127.0.0.1:7007\nexec = /bin/cat\nchroot = " + jail + "\n";
  Loaded inside = Load(testing::WriteConfig(dir, "", {{"a.conf", service + "chdir = /srv\n"}}));
  ASSERT_TRUE(inside.ok) << inside.AllErrors();
  EXPECT_EQ(inside.config.services[0].program.working_directory, "/srv");
  // /tmp exists on the host, not in the jail.
  Loaded outside = Load(testing::WriteConfig(dir, "", {{"a.conf", service + "chdir = /tmp\n"}}));
  EXPECT_NE(outside.AllErrors().find("a.conf:5: chdir: \"" + jail + "/tmp\" does not exist"),
            std::string::npos)
      << outside.AllErrors();
}

TEST(Config, ProxyProtocolKeysDefaultsFileAndCheckOutput) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "[defaults]\nproxy_timeout = 5\n",
                           {{"a.conf", kEcho},
                            {"b.conf",
                             "[b]\nport = 127.0.0.1:7008\nexec = /bin/cat\nproxy_protocol = any\n"
                             "proxy_from = 10.0.0.0/8\nproxy_from = 2001:db8::/32\n"},
                            {"c.conf",
                             "[c]\nport = 127.0.0.1:7009\nexec = /bin/cat\nproxy_protocol = v1\n"
                             "proxy_from = 192.0.2.1\nproxy_local = close\n"}});
  Loaded file = Load(main);
  ASSERT_TRUE(file.ok) << file.AllErrors();
  EXPECT_EQ(file.Service("echo")->proxy_protocol, ProxyProtocol::kOff);  // the default
  EXPECT_EQ(file.Service("echo")->proxy_timeout, 5);                     // from [defaults]
  const ServiceConfig& b = *file.Service("b");
  EXPECT_EQ(b.proxy_protocol, ProxyProtocol::kAny);
  ASSERT_EQ(b.proxy_from.size(), 2u);
  EXPECT_EQ(b.proxy_from[1].text, "2001:db8::/32");
  std::string shown = DescribeConfig(file.config);
  EXPECT_FALSE(b.proxy_local_close);  // the default: serve
  EXPECT_TRUE(file.Service("c")->proxy_local_close);
  EXPECT_NE(shown.find("  proxy_protocol any  proxy_timeout 5  proxy_local serve  proxy_from "
                       "10.0.0.0/8 2001:db8::/32\n"),
            std::string::npos)
      << shown;
  EXPECT_NE(shown.find("  proxy_protocol v1  proxy_timeout 5  proxy_local close  proxy_from "
                       "192.0.2.1\n"),
            std::string::npos)
      << shown;
  // Off: --check says nothing about it.
  size_t echo = shown.find("[echo]");
  std::string echo_section = shown.substr(echo, shown.find("\n[", echo) - echo);
  EXPECT_EQ(echo_section.find("proxy"), std::string::npos) << echo_section;
  EXPECT_TRUE(file.config.warnings.empty()) << file.config.warnings[0];
}

// A header from any peer lets any client name any address and pass cidr_deny:
// proxy_protocol without proxy_from is an error that says so, at the line that
// set proxy_protocol (here in [defaults], inherited by both services).
TEST(Config, ProxyProtocolWithoutProxyFromIsAnError) {
  TempDir dir;
  Loaded loaded = Load(testing::WriteConfig(
      dir, "[defaults]\nproxy_protocol = v1\n",
      {{"a.conf", "[a]\nport = 127.0.0.1:7008\nexec = /bin/cat\n"},
       {"b.conf", "[b]\nport = 127.0.0.1:7009\nexec = /bin/cat\nproxy_from = 10.0.0.1\n"}}));
  EXPECT_FALSE(loaded.ok);
  ASSERT_EQ(loaded.errors.size(), 1u) << loaded.AllErrors();
  EXPECT_NE(loaded.errors[0].find(
                "gatehouse.conf:2: proxy_protocol: needs proxy_from = the load balancer's "
                "addresses: a header from any peer lets any client claim any address and pass "
                "cidr_deny and deny"),
            std::string::npos)
      << loaded.errors[0];
  // An empty proxy_from in the service clears what [defaults] gave: an error again.
  TempDir cleared;
  loaded = Load(
      testing::WriteConfig(cleared, "[defaults]\nproxy_from = 10.0.0.1\n",
                           {{"a.conf",
                             "[a]\nport = 127.0.0.1:7008\nexec = /bin/cat\nproxy_protocol = any\n"
                             "proxy_from =\n"}}));
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.AllErrors().find("a.conf:4: proxy_protocol: needs proxy_from"),
            std::string::npos)
      << loaded.AllErrors();
}

TEST(Config, UdpReplyBudgetDefaultsDefaultsSectionOffAndErrors) {
  TempDir dir;
  Loaded file = Load(testing::WriteConfig(
      dir, "[defaults]\nudp_reply_budget = 2000 1000\n",
      {{"a.conf", "[a]\nmode = builtin\nbuiltin = echo\nport = 127.0.0.1:7008/udp\n"},
       {"b.conf",
        "[b]\nmode = builtin\nbuiltin = echo\nport = 127.0.0.1:7009/udp\nudp_reply_budget = off\n"},
       {"c.conf",
        "[c]\nmode = builtin\nbuiltin = echo\nport = 127.0.0.1:7010/udp\n"
        "udp_reply_budget = 0\n"}}));
  ASSERT_TRUE(file.ok) << file.AllErrors();
  EXPECT_EQ(file.Service("a")->udp_reply_burst, 2000);
  EXPECT_EQ(file.Service("a")->udp_reply_rate, 1000);
  EXPECT_EQ(file.Service("b")->udp_reply_burst, 0);
  EXPECT_EQ(file.Service("c")->udp_reply_burst, 0);
  // --check shows it for services with a UDP port.
  std::string shown = DescribeConfig(file.config);
  EXPECT_NE(shown.find("udp_reply_budget 2000 1000\n"), std::string::npos) << shown;
  EXPECT_NE(shown.find("udp_reply_budget off\n"), std::string::npos) << shown;
  EXPECT_EQ(ServiceConfig{}.udp_reply_burst, 256);  // the default
  EXPECT_EQ(ServiceConfig{}.udp_reply_rate, 128);
  for (const auto& [line, error] : std::vector<std::pair<std::string, std::string>>{
           {"udp_reply_budget = 256",
            "udp_reply_budget: \"256\" is not BURST RATE (replies at once, replies per second) "
            "or off"},
           {"udp_reply_budget = 256 0", "udp_reply_budget: \"0\" is not a number from 1 to"},
           {"udp_reply_budget = many 1", "udp_reply_budget: \"many\" is not a number"},
       }) {
    Loaded loaded = Load(testing::WriteConfig(dir, "", {{"a.conf", kEcho + line + "\n"}}));
    EXPECT_FALSE(loaded.ok) << line;
    EXPECT_NE(loaded.AllErrors().find("a.conf:4: " + error), std::string::npos)
        << loaded.AllErrors();
  }
}

TEST(Config, ProxyProtocolParsesStrictlyAndNotOnUnixSockets) {
  TempDir dir;
  for (const auto& [line, error] : std::vector<std::pair<std::string, std::string>>{
           {"proxy_protocol = v3", "proxy_protocol: \"v3\" is not off, v1, v2 or any"},
           {"proxy_protocol = V1", "proxy_protocol: \"V1\" is not off, v1, v2 or any"},
           {"proxy_protocol = ", "proxy_protocol: \"\" is not off, v1, v2 or any"},
           {"proxy_from = 10.0.0.0/33", "proxy_from: "},
           {"proxy_from = proxy.example", "proxy_from: "},
           {"proxy_timeout = 0", "proxy_timeout: \"0\" is not a number from 1 to 3600"},
           {"proxy_timeout = 3601", "proxy_timeout: \"3601\" is not a number from 1 to 3600"},
           {"proxy_local = yes", "proxy_local: \"yes\" is not serve or close"},
       }) {
    Loaded loaded = Load(testing::WriteConfig(dir, "", {{"a.conf", kEcho + line + "\n"}}));
    EXPECT_FALSE(loaded.ok) << line;
    ASSERT_EQ(loaded.errors.size(), 1u) << line << "\n" << loaded.AllErrors();
    EXPECT_NE(loaded.errors[0].find("a.conf:4: " + error), std::string::npos) << loaded.errors[0];
  }
  std::string unix_service =
      "[u]\nport = /tmp/gatehouse-proxy-test.sock|unix\nexec = /bin/cat\nproxy_protocol = v2\n";
  TempDir unix_dir;
  Loaded loaded = Load(testing::WriteConfig(unix_dir, "", {{"u.conf", unix_service}}));
  EXPECT_FALSE(loaded.ok);
  EXPECT_NE(loaded.AllErrors().find("u.conf:4: proxy_protocol: a UNIX socket service takes no "
                                    "PROXY header (port /tmp/gatehouse-proxy-test.sock|unix at "),
            std::string::npos)
      << loaded.AllErrors();
  // Off is fine there.
  std::string off =
      "[u]\nport = /tmp/gatehouse-proxy-test.sock|unix\nexec = /bin/cat\n"
      "proxy_protocol = off\n";
  TempDir off_dir;
  Loaded fine = Load(testing::WriteConfig(off_dir, "", {{"u.conf", off}}));
  EXPECT_TRUE(fine.ok) << fine.AllErrors();
}

TEST(Config, EveryTableKeyIsKnownInItsScopeAndOnTheCommandLine) {
  TempDir dir;
  for (const ConfigKey& key : ConfigKeys()) {
    EXPECT_NE(std::string(key.doc), "") << key.name;
    const char* argv[] = {"gatehouse", "--check"};
    std::string option = std::string("--") + key.name + "=x";
    argv[1] = option.c_str();
    CommandLine command_line;
    std::string error;
    EXPECT_TRUE(ParseCommandLine(2, argv, &command_line, &error)) << key.name << ": " << error;
    // Out of its place, the key's own scope is named.
    std::string line = std::string(key.name) + " = x\n";
    std::string main = key.scope == KeyScope::kGlobal
                           ? testing::WriteConfig(dir, "", {{"a.conf", kEcho + line}})
                           : testing::WriteConfig(dir, line, {{"a.conf", kEcho}});
    std::string all = Load(main).AllErrors();
    std::string expected = key.scope == KeyScope::kGlobal ? "is a global key" : "is a service key";
    EXPECT_NE(all.find(std::string(key.name) + ": " + expected), std::string::npos)
        << key.name << "\n"
        << all;
  }
}

// The same definition read at another place in its file is the same service;
// any field a child or a listener uses makes it another.
TEST(SameService, IgnoresWhereAndSeesEveryFieldThatMatters) {
  TempDir dir;
  std::string service =
      "port = 127.0.0.1:7007\nexec = /bin/sh\nargs = -c 'exec cat'\nenv = A=1\n"
      "allow = 127\\.0\\.0\\.1\ncidr_deny = 10.0.0.0/8\n";
  std::string first = testing::WriteConfig(dir, "", {{"a.conf", "[a]\n" + service}});
  Loaded one = Load(first);
  TempDir dir2;
  std::string second =
      testing::WriteConfig(dir2, "", {{"a.conf", "; moved down\n\n\n[a]\n" + service}});
  Loaded two = Load(second);
  ASSERT_TRUE(one.ok && two.ok) << one.AllErrors() << two.AllErrors();
  const ServiceConfig& a = one.config.services[0];
  const ServiceConfig& b = two.config.services[0];
  ASSERT_NE(a.where, b.where);
  ASSERT_NE(a.ports[0].where, b.ports[0].where);
  EXPECT_TRUE(SameService(a, b));

  std::vector<std::pair<std::string, std::function<void(ServiceConfig*)>>> changes = {
      {"name", [](ServiceConfig* s) { s->name = "b"; }},
      {"port", [](ServiceConfig* s) { s->ports[0].spec.port = 7008; }},
      {"second port", [](ServiceConfig* s) { s->ports.push_back(s->ports[0]); }},
      {"listen", [](ServiceConfig* s) { s->listen = 5; }},
      {"allow", [](ServiceConfig* s) { s->access.allow[0].text = "127\\.0\\.0\\.2"; }},
      {"allow to deny",
       [](ServiceConfig* s) {
         s->access.deny.push_back(s->access.allow[0]);
         s->access.allow.clear();
       }},
      {"cidr_deny", [](ServiceConfig* s) { s->access.cidr_deny[0].text = "10.0.0.0/9"; }},
      {"reverse_lookups", [](ServiceConfig* s) { s->reverse_lookups = !s->reverse_lookups; }},
      {"change_identity",
       [](ServiceConfig* s) { s->jail.change_identity = !s->jail.change_identity; }},
      {"uid", [](ServiceConfig* s) { s->jail.uid += 1; }},
      {"gid", [](ServiceConfig* s) { s->jail.gid += 1; }},
      {"user_name", [](ServiceConfig* s) { s->user_name += "x"; }},
      {"group_name", [](ServiceConfig* s) { s->group_name += "x"; }},
      {"groups", [](ServiceConfig* s) { s->jail.groups.push_back(4); }},
      {"chroot", [](ServiceConfig* s) { s->jail.chroot = "/srv"; }},
      {"exec", [](ServiceConfig* s) { s->program.exec = "/bin/dash"; }},
      {"argv", [](ServiceConfig* s) { s->program.argv.back() = "exec tac"; }},
      {"env", [](ServiceConfig* s) { s->program.env[0] = "A=2"; }},
      {"chdir", [](ServiceConfig* s) { s->program.working_directory = "/srv"; }},
      {"stderr", [](ServiceConfig* s) { s->program.stderr_target = StderrTarget::kClient; }},
      {"reload_programs", [](ServiceConfig* s) { s->reload_programs = ReloadPrograms::kEnd; }},
      {"kill_grace", [](ServiceConfig* s) { s->program.kill_grace = 3; }},
      {"child_stall_timeout", [](ServiceConfig* s) { s->child_stall_timeout = 1; }},
      {"proxy_protocol", [](ServiceConfig* s) { s->proxy_protocol = ProxyProtocol::kV2; }},
      {"proxy_timeout", [](ServiceConfig* s) { s->proxy_timeout = 9; }},
      {"proxy_local", [](ServiceConfig* s) { s->proxy_local_close = true; }},
      {"udp_reply_budget burst", [](ServiceConfig* s) { s->udp_reply_burst = 1; }},
      {"udp_reply_budget rate", [](ServiceConfig* s) { s->udp_reply_rate = 1; }},
      {"proxy_from",
       [](ServiceConfig* s) {
         CidrBlock block;
         std::string error;
         ParseCidr("10.0.0.0/8", &block, &error);
         s->proxy_from.push_back(block);
       }},
      {"tls_cert",
       [](ServiceConfig* s) {
         s->tls.pairs.push_back({"/c.pem", "/k.pem", "", ""});
       }},
      {"tls_verify", [](ServiceConfig* s) { s->tls.settings.verify = TlsVerify::kOptional; }},
      {"tls_alpn", [](ServiceConfig* s) { s->tls.settings.alpn.push_back("h2"); }},
      {"tls_handshake_timeout", [](ServiceConfig* s) { s->tls.settings.handshake_timeout = 3; }},
  };
  for (const auto& [what, change] : changes) {
    ServiceConfig changed = b;
    change(&changed);
    EXPECT_FALSE(SameService(a, changed)) << what;
    EXPECT_FALSE(SameService(changed, a)) << what;
  }
}

TEST(CommandLine, FormsAndErrors) {
  const char* good[] = {"gatehouse", "--config",      "/x.conf",  "--log-level",
                        "4",         "--pid_file=/p", "setsid=1", "--check"};
  CommandLine command_line;
  std::string error;
  ASSERT_TRUE(ParseCommandLine(8, good, &command_line, &error)) << error;
  EXPECT_EQ(command_line.config_path, "/x.conf");
  EXPECT_TRUE(command_line.check);
  ASSERT_EQ(command_line.overrides.size(), 3u);
  EXPECT_EQ(command_line.overrides[0].key, "log_level");
  EXPECT_EQ(command_line.overrides[1].value, "/p");
  EXPECT_EQ(command_line.overrides[2].key, "setsid");

  const char* unknown[] = {"gatehouse", "--frobnicate=1"};
  EXPECT_FALSE(ParseCommandLine(2, unknown, &command_line, &error));
  EXPECT_EQ(error, "unknown option --frobnicate (see gatehouse --help)");
  const char* missing[] = {"gatehouse", "--log_level"};
  EXPECT_FALSE(ParseCommandLine(2, missing, &command_line, &error));
  EXPECT_EQ(error, "--log_level needs a value");
}

TEST(ShellWords, SplitLikeAShell) {
  std::vector<std::string> words;
  std::string error;
  ASSERT_TRUE(SplitShellWords("a 'b c' \"d \\\"e\\\"\" f\\ g '$HOME' *", &words, &error));
  EXPECT_EQ(words, (std::vector<std::string>{"a", "b c", "d \"e\"", "f g", "$HOME", "*"}));
  ASSERT_TRUE(SplitShellWords("  ''  x", &words, &error));
  EXPECT_EQ(words, (std::vector<std::string>{"", "x"}));
  EXPECT_FALSE(SplitShellWords("'open", &words, &error));
  EXPECT_EQ(error, "unterminated single quote");
  EXPECT_FALSE(SplitShellWords("x\\", &words, &error));
  EXPECT_EQ(QuoteShellWord("plain"), "plain");
  EXPECT_EQ(QuoteShellWord("it's"), "'it'\\''s'");
}

}  // namespace
}  // namespace gatehouse
