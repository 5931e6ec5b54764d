// Real inetd programs from Debian behind gatehouse, driven by their real clients,
// configured as docs/migrating.md's recipes say: git daemon + git clone, rsync
// --daemon + rsync -a, busybox httpd in a chroot + curl, vsftpd + curl ftp://. Each asserts what
// the user would check (same commit, same checksums, same bytes), with bounded clients.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr double kClientTimeout = 30;  // seconds; the clients' own timeouts are shorter

// Runs `argv` and fails the test (with its output) unless it exits 0; returns stdout.
std::string MustRun(const std::vector<std::string>& argv, const std::string& input = "") {
  CommandResult result = RunCommand(argv, input, kClientTimeout);
  std::string command;
  for (const std::string& word : argv) command += word + " ";
  EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.out << result.err;
  return result.out;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Pseudo-random bytes, NULs and CRs included: what a text-mode or truncating copy
// would corrupt.
std::string BinaryContent(size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    seed = seed * 1103515245 + 12345;
    bytes[i] = static_cast<char>(seed >> 16);
  }
  return bytes;
}

// "HASH  ./relative/path" for every file under `dir`, sorted by path: what a user
// compares after a copy.
std::string TreeChecksums(const std::string& dir) {
  return MustRun({"sh", "-c",
                  "cd \"$1\" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum",
                  "sh", dir});
}

class RealProgramsTest : public GatehouseTest {
 protected:
  // log_level 3: the start and exit lines, as a user migrating would watch them.
  // gatehouse runs in the test's directory (Bazel's runfiles under /root, closed
  // to a service's uid): programs start in chdir's / all the same, or git would
  // refuse to run.
  ::testing::AssertionResult StartService(const std::string& name, const std::string& body) {
    return Start("log_level = 3\n",
                 {{name + ".conf", "[" + name + "]\nport = 127.0.0.1:0\n" + body}});
  }
  std::string Url(const std::string& scheme, const std::string& service) const {
    return scheme + "://127.0.0.1:" + std::to_string(Port(service));
  }
};

// ---- git daemon --inetd ------------------------------------------------------

class GitDaemonTest : public RealProgramsTest {
 protected:
  void SetUp() override {
    // The service reads the repository as its own uid: Bazel's tree under /root is
    // closed to it, /tmp is not.
    std::string work = served_.path() + "/work";
    MustRun({"git", "init", "-q", "--initial-branch=main", work});
    served_.Write("work/README", "served by git daemon behind gatehouse\n");
    served_.Write("work/data.bin", BinaryContent(70000, 9));
    Commit(work, "first");
    served_.Write("work/README", "second version\n");
    Commit(work, "second");
    MustRun({"git", "clone", "-q", "--bare", work, repo_});
    source_head_ = Trim(MustRun({"git", "--git-dir=" + repo_, "rev-parse", "HEAD"}));
    ASSERT_EQ(source_head_.size(), 40u) << source_head_;
  }

  void Commit(const std::string& work, const std::string& message) {
    MustRun({"git", "-C", work, "add", "-A"});
    MustRun({"git", "-C", work, "-c", "user.name=gatehouse test", "-c",
             "user.email=test@gatehouse.invalid", "commit", "-q", "-m", message});
  }

  // The recipe's args, after any `git` options in `git_options`.
  std::string DaemonArgs(const std::string& git_options) const {
    return "args = " + git_options +
           "daemon --inetd --export-all --log-destination=stderr --base-path=" + served_.path() +
           "\n";
  }

  CommandResult Clone() {
    return RunCommand({"git", "clone", "-q", Url("git", "git") + "/repo.git", clone_}, "",
                      kClientTimeout);
  }

  TempDir served_{"/tmp"};
  std::string repo_ = served_.path() + "/repo.git";  // owned by root, as the test made it
  std::string source_head_;
  std::string clone_ = dir_.path() + "/clone";
};

// A service's own uid owns nothing: git's ownership check would refuse the
// repository, so the recipe trusts it with `-c safe.directory=*` (honoured from
// the command line, which the repository cannot change).
TEST_F(GitDaemonTest, CloneFromTheServicesOwnUidWithSafeDirectory) {
  ASSERT_TRUE(StartService("git", "exec = /usr/bin/git\n" + DaemonArgs("-c safe.directory=* ")));
  CommandResult clone = Clone();
  ASSERT_EQ(clone.exit_code, 0) << clone.err << gatehouse_->Log();
  EXPECT_EQ(Trim(MustRun({"git", "-C", clone_, "rev-parse", "HEAD"})), source_head_);
  EXPECT_EQ(ReadFile(clone_ + "/README"), "second version\n");
  EXPECT_TRUE(ReadFile(clone_ + "/data.bin") == BinaryContent(70000, 9));
  EXPECT_TRUE(gatehouse_->WaitForLog("git: exit 127.0.0.1:")) << gatehouse_->Log();
  EXPECT_EQ(gatehouse_->Log().find("exit 128"), std::string::npos) << gatehouse_->Log();
}

// The other recipe: the service runs as the user that owns the repositories.
TEST_F(GitDaemonTest, CloneAsTheRepositorysOwner) {
  MustRun({"chown", "-R", "nobody:nogroup", repo_});
  ASSERT_TRUE(StartService("git", "user = nobody\nexec = /usr/bin/git\n" + DaemonArgs("")));
  CommandResult clone = Clone();
  ASSERT_EQ(clone.exit_code, 0) << clone.err << gatehouse_->Log();
  EXPECT_EQ(Trim(MustRun({"git", "-C", clone_, "rev-parse", "HEAD"})), source_head_);
}

// Neither: the clone fails, and with --log-destination=stderr the log says why
// (git daemon in inetd mode would otherwise tell only syslog).
TEST_F(GitDaemonTest, WithoutEitherTheLogShowsGitsOwnershipCheck) {
  ASSERT_TRUE(StartService("git", "exec = /usr/bin/git\n" + DaemonArgs("")));
  CommandResult clone = Clone();
  EXPECT_NE(clone.exit_code, 0) << clone.out;
  EXPECT_FALSE(clone.timed_out);
  EXPECT_TRUE(gatehouse_->WaitForLog("detected dubious ownership in repository at '" + repo_))
      << gatehouse_->Log();
  EXPECT_TRUE(gatehouse_->WaitForLog("git: exit 127.0.0.1:")) << gatehouse_->Log();
}

// ---- rsync --daemon ------------------------------------------------------------

class RsyncDaemonTest : public RealProgramsTest {
 protected:
  void SetUp() override {
    served_.Write("tree/README", "served by rsync behind gatehouse\n");
    served_.Write("tree/empty", "");
    served_.Write("tree/deep/er/random.bin", BinaryContent(300000, 1));
    served_.Write("tree/deep/with space.txt", "a name with a space\r\nand CRLF");
    // Modes travel with -a: an executable stays one.
    chmod(served_.Write("tree/tool.sh", "#!/bin/sh\necho tool\n").c_str(), 0755);
  }

  // rsyncd.conf as in docs/migrating.md: no chroot (it needs root), read only.
  std::string WriteRsyncdConf(const std::string& module_path, bool use_chroot = false) {
    return served_.Write("rsyncd.conf", std::string("use chroot = ") + (use_chroot ? "yes" : "no") +
                                            "\n[data]\n    path = " + module_path +
                                            "\n    comment = test tree\n    read only = yes\n");
  }

  CommandResult Rsync(const std::vector<std::string>& more) {
    std::vector<std::string> argv = {"rsync", "--contimeout=10", "--timeout=20"};
    argv.insert(argv.end(), more.begin(), more.end());
    return RunCommand(argv, "", kClientTimeout);
  }

  TempDir served_{"/tmp"};
  std::string dest_ = dir_.path() + "/dest";
};

TEST_F(RsyncDaemonTest, CopiesATreeWithEqualChecksums) {
  std::string conf = WriteRsyncdConf(served_.path() + "/tree");
  ASSERT_TRUE(
      StartService("rsync", "exec = /usr/bin/rsync\nargs = --daemon --config=" + conf + "\n"));
  // The module list first, as a user finds out what a server offers.
  CommandResult list = Rsync({Url("rsync", "rsync") + "/"});
  EXPECT_EQ(list.exit_code, 0) << list.err << gatehouse_->Log();
  EXPECT_NE(list.out.find("data"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("test tree"), std::string::npos) << list.out;

  CommandResult copy = Rsync({"-a", Url("rsync", "rsync") + "/data/", dest_ + "/"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err << gatehouse_->Log();
  std::string source = TreeChecksums(served_.path() + "/tree");
  EXPECT_EQ(std::count(source.begin(), source.end(), '\n'), 5) << source;
  EXPECT_EQ(TreeChecksums(dest_), source);
  struct stat tool {};
  ASSERT_EQ(stat((dest_ + "/tool.sh").c_str(), &tool), 0);
  EXPECT_EQ(tool.st_mode & 07777, 0755u);
  EXPECT_TRUE(gatehouse_->WaitForLog("rsync: exit 127.0.0.1:")) << gatehouse_->Log();
}

// rsyncd's default `use chroot = yes` needs root; the service's own uid gets the
// error on the connection, where the user sees it.
TEST_F(RsyncDaemonTest, DefaultChrootNeedsRootAndTheClientIsToldSo) {
  std::string conf = WriteRsyncdConf(served_.path() + "/tree", /*use_chroot=*/true);
  ASSERT_TRUE(
      StartService("rsync", "exec = /usr/bin/rsync\nargs = --daemon --config=" + conf + "\n"));
  CommandResult copy = Rsync({"-a", Url("rsync", "rsync") + "/data/", dest_ + "/"});
  EXPECT_NE(copy.exit_code, 0) << copy.out;
  EXPECT_FALSE(copy.timed_out);
  EXPECT_NE(copy.err.find("chroot"), std::string::npos) << copy.err;
  EXPECT_NE(access(dest_.c_str(), F_OK), 0);
}

// As root (docs/migrating.md, "rsync as root"): rsyncd changes to the module's
// uid and gid (nobody, nogroup by default) and chroots into it, so it needs the
// three capabilities that takes. Without them, even with `use chroot = no`, it
// fails at setgid and says so to the client.
TEST_F(RsyncDaemonTest, AsRootWithChrootItNeedsThreeCapabilities) {
  if (!IsRoot()) GTEST_SKIP() << "rsync as root: needs gatehouse as root";
  // The module is read as nobody after the chroot: everything world-readable.
  ASSERT_EQ(chmod(served_.path().c_str(), 0755), 0);
  MustRun({"chmod", "-R", "a+rX", served_.path() + "/tree"});
  std::string service =
      "user = root\ngroup = root\nexec = /usr/bin/rsync\nargs = --daemon --config=";
  ASSERT_TRUE(StartService("rsync", service + WriteRsyncdConf(served_.path() + "/tree") + "\n"));
  CommandResult refused = Rsync({"-a", Url("rsync", "rsync") + "/data/", dest_ + "/"});
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.err.find("@ERROR: setgid failed"), std::string::npos) << refused.err;
  gatehouse_.reset();

  // The recipe: the capabilities, and rsyncd's own chroot into the module too.
  std::string with_chroot = WriteRsyncdConf(served_.path() + "/tree", /*use_chroot=*/true);
  ASSERT_TRUE(StartService("rsync", "capabilities = CAP_SYS_CHROOT CAP_SETUID CAP_SETGID\n" +
                                        service + with_chroot + "\n"));
  CommandResult copy = Rsync({"-a", Url("rsync", "rsync") + "/data/", dest_ + "/"});
  ASSERT_EQ(copy.exit_code, 0) << copy.err << gatehouse_->Log();
  EXPECT_EQ(TreeChecksums(dest_), TreeChecksums(served_.path() + "/tree"));
}

// ---- busybox httpd -i in a chroot ----------------------------------------------

class BusyboxHttpdTest : public RealProgramsTest {
 protected:
  // A jail of static files only: Debian's busybox-static is the web server and the
  // CGI's shell, so nothing else (no loader, no libraries) is needed inside.
  void SetUp() override {
    ASSERT_EQ(mkdir((jail_.path() + "/bin").c_str(), 0755), 0);
    CopyExecutable("/bin/busybox", jail_.path() + "/bin/busybox");
    ASSERT_EQ(symlink("busybox", (jail_.path() + "/bin/sh").c_str()), 0);
    jail_.Write("www/index.html", index_html_);
    jail_.Write("www/blob.bin", blob_);
    std::string cgi = jail_.Write("www/cgi-bin/env.sh",
                                  "#!/bin/sh\n"
                                  "printf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                                  "env | sort\n"
                                  "echo \"uid=$(id -u)\"\n"
                                  "echo 'root:' /*\n");
    chmod(cgi.c_str(), 0755);
  }

  ::testing::AssertionResult StartHttpd() {
    return StartService(
        "httpd", "chroot = " + jail_.path() + "\nexec = /bin/busybox\nargs = httpd -i -h /www\n");
  }

  TempDir jail_{"/tmp"};
  std::string index_html_ = "<!doctype html>\n<title>jail</title>\n<p>busybox httpd, chrooted\n";
  std::string blob_ = BinaryContent(200000, 5);
};

TEST_F(BusyboxHttpdTest, StaticFilesAreByteIdentical) {
  ASSERT_TRUE(StartHttpd());
  std::string fetched = dir_.path() + "/fetched";
  for (const auto& [path, content] :
       std::vector<std::pair<std::string, std::string>>{{"/", index_html_}, {"/blob.bin", blob_}}) {
    CommandResult curl = RunCommand({"curl", "-sS", "-m", "10", "-o", fetched, "-w", "%{http_code}",
                                     Url("http", "httpd") + path},
                                    "", kClientTimeout);
    EXPECT_EQ(curl.exit_code, 0) << curl.err << gatehouse_->Log();
    EXPECT_EQ(curl.out, "200") << path;
    EXPECT_TRUE(ReadFile(fetched) == content)
        << path << ": " << ReadFile(fetched).size() << " bytes, expected " << content.size();
  }
  CommandResult missing = RunCommand({"curl", "-sS", "-m", "10", "-o", "/dev/null", "-w",
                                      "%{http_code}", Url("http", "httpd") + "/nothing-here"},
                                     "", kClientTimeout);
  EXPECT_EQ(missing.out, "404") << missing.err;
}

// The CGI sees the client as curl does (address and port) in both the CGI and
// the UCSPI variables, runs as the service's own uid, and sees only the jail.
TEST_F(BusyboxHttpdTest, CgiSeesTheClientAndOnlyTheJail) {
  ASSERT_TRUE(StartHttpd());
  // The body, then curl's own end of the connection on the last line.
  CommandResult curl = RunCommand({"curl", "-sS", "-m", "10", "-w", "\nlocal_port=%{local_port}",
                                   Url("http", "httpd") + "/cgi-bin/env.sh"},
                                  "", kClientTimeout);
  ASSERT_EQ(curl.exit_code, 0) << curl.err << gatehouse_->Log();
  std::string local_port = curl.out.substr(curl.out.rfind("local_port=") + 11);
  ASSERT_FALSE(local_port.empty()) << curl.out;
  const std::string server_port = std::to_string(Port("httpd"));
  for (const std::string& line : std::vector<std::string>{
           "REMOTE_ADDR=127.0.0.1", "REMOTE_PORT=" + local_port, "TCPREMOTEIP=127.0.0.1",
           "TCPREMOTEPORT=" + local_port, "TCPLOCALPORT=" + server_port, "PROTO=TCP",
           "REQUEST_METHOD=GET", "SCRIPT_NAME=/cgi-bin/env.sh", "root: /bin /www"}) {
    EXPECT_NE(curl.out.find("\n" + line + "\n"), std::string::npos) << line << "\n" << curl.out;
  }
  EXPECT_EQ(curl.out.find("\nuid=0\n"), std::string::npos) << curl.out;
  EXPECT_NE(curl.out.find("\nuid="), std::string::npos) << curl.out;
}

// ---- vsftpd in inetd mode (listen=NO) ------------------------------------------

// vsftpd as root: it chroots each session (secure_chroot_dir, anon_root) and
// changes to its ftp and nobody users, so it keeps the three capabilities that
// takes and nothing else.
class VsftpdTest : public RealProgramsTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "vsftpd changes user and root: needs gatehouse as root";
    // vsftpd refuses an anonymous root its ftp user may write: root's, 0755.
    ASSERT_EQ(chmod(served_.path().c_str(), 0755), 0);
    ASSERT_EQ(mkdir((served_.path() + "/empty").c_str(), 0755), 0);
    served_.Write("pub/blob.bin", blob_);
    ASSERT_EQ(chmod((served_.path() + "/pub").c_str(), 0755), 0);
    conf_ = served_.Write("vsftpd.conf",
                          "listen=NO\nlisten_ipv6=NO\n"
                          "anonymous_enable=YES\nlocal_enable=NO\n"
                          "write_enable=NO\nanon_root=" +
                              served_.path() + "/pub\nsecure_chroot_dir=" + served_.path() +
                              "/empty\n"
                              "pasv_min_port=40000\npasv_max_port=40100\n");
  }
  ::testing::AssertionResult StartVsftpd(const std::string& capabilities) {
    return StartService("ftp", "user = root\ngroup = root\n" + capabilities +
                                   "exec = /usr/sbin/vsftpd\nargs = " + conf_ + "\n");
  }
  CommandResult Curl(const std::vector<std::string>& more) {
    std::vector<std::string> argv = {"curl", "-sS", "-m", "10"};
    argv.insert(argv.end(), more.begin(), more.end());
    return RunCommand(argv, "", kClientTimeout);
  }

  TempDir served_{"/tmp"};
  std::string conf_;
  std::string blob_ = BinaryContent(150000, 7);
};

TEST_F(VsftpdTest, PassiveAndActiveDownloadsAreByteIdentical) {
  ASSERT_TRUE(StartVsftpd("capabilities = CAP_SYS_CHROOT CAP_SETUID CAP_SETGID\n"));
  CommandResult list = Curl({Url("ftp", "ftp") + "/"});
  EXPECT_EQ(list.exit_code, 0) << list.err << gatehouse_->Log();
  EXPECT_NE(list.out.find(" 150000 "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("blob.bin"), std::string::npos) << list.out;
  std::string fetched = dir_.path() + "/fetched";
  // Passive (curl's default: EPSV): vsftpd listens on a port of its range.
  CommandResult passive = Curl({"-o", fetched, Url("ftp", "ftp") + "/blob.bin"});
  EXPECT_EQ(passive.exit_code, 0) << passive.err << gatehouse_->Log();
  EXPECT_TRUE(ReadFile(fetched) == blob_) << ReadFile(fetched).size() << " bytes";
  unlink(fetched.c_str());
  // Active (PORT): vsftpd connects back to curl.
  CommandResult active = Curl({"-P", "-", "-o", fetched, Url("ftp", "ftp") + "/blob.bin"});
  EXPECT_EQ(active.exit_code, 0) << active.err << gatehouse_->Log();
  EXPECT_TRUE(ReadFile(fetched) == blob_) << ReadFile(fetched).size() << " bytes";
}

// Without capabilities vsftpd tells the client why, in FTP's own words.
TEST_F(VsftpdTest, WithoutCapabilitiesTheClientReadsVsftpdsOops) {
  ASSERT_TRUE(StartVsftpd(""));
  // Nothing is sent (nc -d): vsftpd exits without reading, and bytes left
  // unread in its socket would turn its close into a reset that can cut its
  // own message short on the way ("500 OOPS: " alone, seen once).
  CommandResult greeting =
      RunCommand({"nc", "-d", "127.0.0.1", std::to_string(Port("ftp"))}, "", 10);
  EXPECT_NE(greeting.out.find("500 OOPS: setgroups"), std::string::npos)
      << greeting.out << gatehouse_->Log();
  EXPECT_NE(Curl({Url("ftp", "ftp") + "/"}).exit_code, 0);
}

// ---- in.tftpd (tftpd-hpa) as a UDP wait service -------------------------------

// As docs/migrating.md says: mode = wait (tftpd takes the socket and serves
// until idle), root with the capabilities to chroot (--secure) and to change
// to its tftp user. Its syslog lines reach gatehouse's log through the
// service's /dev/log; gatehouse runs under PrivateDevLogWrapper, so the host
// has a /dev/log (the test's socat) for the service's to cover.
class TftpdTest : public RealProgramsTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "in.tftpd chroots and changes user: needs gatehouse as root";
    if (access("/usr/sbin/in.tftpd", X_OK) != 0) GTEST_SKIP() << "tftpd-hpa is not installed";
    served_.Write("boot/pxelinux.0", blob_);
  }
  ::testing::AssertionResult StartTftpd(const std::string& capabilities) {
    GatehouseProcess::Launch launch;
    launch.wrapper = PrivateDevLogWrapper(dir_.path());
    return Start("log_level = 3\n",
                 {{"tftp.conf",
                   "[tftp]\nport = 127.0.0.1:0/udp\nmode = wait\n"
                   "user = root\ngroup = root\n" +
                       capabilities +
                       "exec = /usr/sbin/in.tftpd\n"
                       "args = --secure --verbose --user tftp " +
                       served_.path() + "\n"}},
                 launch);
  }
  int UdpPort() const {
    std::smatch match;
    std::string log = gatehouse_->Log();
    return std::regex_search(log, match, std::regex(" tftp: listening on 127.0.0.1:([0-9]+)/udp"))
               ? std::stoi(match[1])
               : 0;
  }
  // tftp-hpa's client, in binary mode; its own retries give up after 10 s.
  CommandResult Get(const std::string& file, const std::string& to,
                    double timeout_seconds = kClientTimeout) {
    return RunCommand(
        {"tftp", "-m", "binary", "127.0.0.1", std::to_string(UdpPort()), "-c", "get", file, to}, "",
        timeout_seconds);
  }

  TempDir served_{"/tmp"};
  std::string blob_ = BinaryContent(200000, 5);
};

TEST_F(TftpdTest, AGetIsByteIdenticalAndTftpdsSyslogIsInTheLog) {
  ASSERT_TRUE(StartTftpd("capabilities = CAP_SYS_CHROOT CAP_SETUID CAP_SETGID\n"));
  std::string fetched = dir_.path() + "/pxelinux.0";
  CommandResult get = Get("boot/pxelinux.0", fetched);
  EXPECT_EQ(get.exit_code, 0) << get.out << get.err << gatehouse_->Log();
  EXPECT_TRUE(ReadFile(fetched) == blob_) << ReadFile(fetched).size() << " bytes";
  // --verbose: tftpd's syslog() line, labelled with the service.
  EXPECT_TRUE(gatehouse_->WaitForLog(": RRQ from 127.0.0.1 filename boot/pxelinux.0"))
      << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("tftp["), std::string::npos) << gatehouse_->Log();
}

// Without the capabilities tftpd cannot change user: the client only times out
// (it gives up after 25 s; here it is stopped after 3), and the reason is in
// gatehouse's log, from tftpd's own syslog.
TEST_F(TftpdTest, WithoutCapabilitiesTheLogSaysWhy) {
  ASSERT_TRUE(StartTftpd(""));
  std::string fetched = dir_.path() + "/pxelinux.0";
  Get("boot/pxelinux.0", fetched, 3);
  EXPECT_TRUE(gatehouse_->WaitForLog(": in.tftpd[", 10)) << gatehouse_->Log();
  EXPECT_NE(gatehouse_->Log().find("cannot set groups for user tftp"), std::string::npos)
      << gatehouse_->Log();
  EXPECT_TRUE(ReadFile(fetched).empty());
}

}  // namespace
}  // namespace gatehouse::testing
