// OpenSSH's sshd in inetd mode (sshd -i) behind gatehouse, driven by the real ssh
// client: the program that needs root (chroot into /run/sshd, setgroups, setuid to
// the user) runs with user = root, capabilities = all, no_new_privs = no, and
// fails with a clear log line without them. Host key, client key, authorized
// keys and sshd_config are the test's own, in its temporary folder; ~/.ssh is
// never read or written.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

constexpr double kClientTimeout = 30;  // seconds; ssh's ConnectTimeout is shorter

class SshdTest : public GatehouseTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "sshd -i needs root";
    if (access("/usr/sbin/sshd", X_OK) != 0) GTEST_SKIP() << "no /usr/sbin/sshd (openssh-server)";
    // The privilege-separation folder, as the package's service creates it.
    mkdir("/run/sshd", 0755);
    keys_ = dir_.path() + "/keys";
    mkdir(keys_.c_str(), 0700);
    for (const char* key : {"host_ed25519", "client_ed25519"}) {
      CommandResult made = RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                       "gatehouse-test", "-f", keys_ + "/" + key});
      ASSERT_EQ(made.exit_code, 0) << made.err;
    }
    std::string public_key = ReadFile(keys_ + "/client_ed25519.pub");
    ASSERT_FALSE(public_key.empty());
    dir_.Write("keys/authorized_keys", public_key);
    sshd_config_ = dir_.Write("sshd_config", "HostKey " + keys_ +
                                                 "/host_ed25519\n"
                                                 "AuthorizedKeysFile " +
                                                 keys_ +
                                                 "/authorized_keys\n"
                                                 "PermitRootLogin prohibit-password\n"
                                                 "PasswordAuthentication no\n"
                                                 "KbdInteractiveAuthentication no\n"
                                                 "UsePAM no\n"
                                                 "StrictModes no\n");
  }

  std::string Service(const std::string& privileges) const {
    return "[sshd]\nport = 127.0.0.1:0\nuser = root\ngroup = root\n" + privileges +
           "exec = /usr/sbin/sshd\nargs = -i -f " + sshd_config_ + " -e\n";
  }

  std::vector<std::string> SshCommand(const std::string& command) const {
    return {"ssh",
            "-F",
            "/dev/null",
            "-i",
            keys_ + "/client_ed25519",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
            "-p",
            std::to_string(Port("sshd")),
            "root@127.0.0.1",
            command};
  }

  CommandResult RunId() { return RunCommand(SshCommand("id"), "", kClientTimeout); }

  std::string keys_;
  std::string sshd_config_;
};

TEST_F(SshdTest, RootWithAllCapabilitiesRunsSshdInetdMode) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"sshd.conf", Service("capabilities = all\nno_new_privs = no\n")}}));
  CommandResult id = RunId();
  ASSERT_EQ(id.exit_code, 0) << id.out << id.err << gatehouse_->Log();
  EXPECT_EQ(id.out.rfind("uid=0(root) gid=0(root)", 0), 0u) << id.out;
}

TEST_F(SshdTest, WithoutCapabilitiesSshdFailsWithAClearLogLine) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"sshd.conf", Service("")}}));
  CommandResult id = RunId();
  EXPECT_NE(id.exit_code, 0) << id.out;
  EXPECT_EQ(id.out.find("uid=0"), std::string::npos) << id.out;
  // sshd's own stderr, labelled with its name and pid: privilege separation
  // cannot chroot without CAP_SYS_CHROOT.
  const std::string reason = "chroot(\"/run/sshd\"): Operation not permitted";
  EXPECT_TRUE(gatehouse_->WaitForLog(reason)) << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  size_t at = log.find(reason);
  ASSERT_NE(at, std::string::npos);
  std::string line = log.substr(log.rfind('\n', at) + 1);
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(line.find("sshd["), std::string::npos) << line;
}

// An ssh session (the client running `cat` remotely, its stdin and stdout
// pipes of ours), ended by pid when the test ends.
class SshSession {
 public:
  explicit SshSession(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      std::vector<char*> args;
      for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~SshSession() {
    close(to_);
    close(from_);
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Sends a line through the remote cat and reads it back.
  bool Echoes(const std::string& line) {
    return write(to_, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
           ReadUntil(from_, line, kClientTimeout) == line;
  }
  // True once the client has exited (the session ended).
  bool Ended() {
    if (pid_ <= 0) return true;
    if (waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = 0;
    return true;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

// USR2 with an ssh session open: the session runs on past shutdown_timeout
// under the old gatehouse, and the successor's stop ends it.
TEST_F(SshdTest, AnSshSessionOutlivesAnUpgradeAndEndsWithTheStop) {
  ASSERT_TRUE(Start("log_level = 3\nshutdown_timeout = 1\n",
                    {{"sshd.conf", Service("capabilities = all\nno_new_privs = no\n")}}));
  SshSession session(SshCommand("cat"));
  ASSERT_TRUE(session.Echoes("before the upgrade\n")) << gatehouse_->Log();

  LogMark mark = gatehouse_->MarkLog();
  kill(gatehouse_->pid(), SIGUSR2);
  const std::string serves = "notice: upgrade: successor pid ";
  ASSERT_TRUE(gatehouse_->WaitForLog(" serves; this process stops accepting", mark, 30))
      << gatehouse_->Log();
  std::string log = gatehouse_->Log(mark);
  pid_t successor = static_cast<pid_t>(std::atol(log.c_str() + log.find(serves) + serves.size()));
  ASSERT_GT(successor, 1);
  // Past shutdown_timeout (1 s): what an upgrade used to cut must still run.
  usleep(2500 * 1000);
  EXPECT_TRUE(session.Echoes("past shutdown_timeout\n")) << gatehouse_->Log();
  EXPECT_FALSE(session.Ended());
  CommandResult id = RunId();  // the successor serves new sessions
  EXPECT_EQ(id.exit_code, 0) << id.err << gatehouse_->Log();

  kill(successor, SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return session.Ended(); }, kClientTimeout)) << gatehouse_->Log();
  EXPECT_TRUE(gatehouse_->WaitForLog("gatehouse[" + std::to_string(successor) + "] notice: stopped",
                                     mark, 20))
      << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
