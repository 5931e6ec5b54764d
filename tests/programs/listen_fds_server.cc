// listen_fds_server: a small socket-activated server for the mode = wait tests,
// static so that it runs in an empty chroot. It checks what systemd's
// sd_listen_fds() checks (LISTEN_PID is its own pid, LISTEN_FDS counts fds from 3,
// LISTEN_FDNAMES has one name per fd) and exits 3 when any is wrong. Then it
// serves every fd: on a stream socket it accepts and writes one line,
//   "pid P fd F of N names NAMES\n", and closes;
// on a datagram socket it answers each datagram with "pid P fd F: " and the
// datagram upper-cased. With a file argument it appends "start P" when it starts
// and "stop P" a second after TERM ends it, so a test can see two runs never overlap.
// With --stdin instead it is tftpd-style: blocking recvfrom() on stdin, the
// reply sent back from it (exit 4 when stdin is non-blocking).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* journal = nullptr;

void Append(const char* what) {
  if (journal == nullptr) return;
  char line[64];
  int n = snprintf(line, sizeof line, "%s %d\n", what, static_cast<int>(getpid()));
  FILE* file = fopen(journal, "a");
  if (file == nullptr) return;
  fwrite(line, 1, static_cast<size_t>(n), file);
  fclose(file);
}

// A graceful stop takes a while (a second): a successor that started before it
// ended would show in the journal.
void OnTerm(int) {
  sleep(1);
  Append("stop");
  _exit(0);
}

int Fail(const std::string& why) {
  fprintf(stderr, "listen_fds_server: %s\n", why.c_str());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  bool from_stdin = argc > 1 && std::string(argv[1]) == "--stdin";
  if (argc > 1 && !from_stdin) journal = argv[1];
  const char* pid_text = getenv("LISTEN_PID");
  const char* fds_text = getenv("LISTEN_FDS");
  const char* names_text = getenv("LISTEN_FDNAMES");
  if (pid_text == nullptr || fds_text == nullptr || names_text == nullptr) {
    return Fail("LISTEN_PID, LISTEN_FDS or LISTEN_FDNAMES missing");
  }
  if (atol(pid_text) != getpid()) {
    return Fail(std::string("LISTEN_PID=") + pid_text + " is not my pid " +
                std::to_string(getpid()));
  }
  int count = atoi(fds_text);
  std::string names = names_text;
  size_t colons = 0;
  for (char c : names) colons += c == ':';
  if (count < 1 || static_cast<int>(colons) + 1 != count) {
    return Fail("LISTEN_FDS=" + std::string(fds_text) + " but LISTEN_FDNAMES=" + names);
  }
  signal(SIGTERM, OnTerm);  // before "start": a test that saw it may TERM us at once
  Append("start");

  if (from_stdin) {
    for (;;) {
      char buffer[2048];
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      ssize_t n =
          recvfrom(0, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (n < 0 && errno == EAGAIN) return Fail("stdin is non-blocking");
      if (n < 0) continue;
      std::string reply = "pid " + std::to_string(getpid()) + " stdin: ";
      for (ssize_t k = 0; k < n; ++k) reply += static_cast<char>(toupper(buffer[k]));
      sendto(1, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_length);
    }
  }

  std::vector<pollfd> polled;
  std::vector<int> types;
  for (int fd = 3; fd < 3 + count; ++fd) {
    int type = 0;
    socklen_t length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) {
      return Fail("fd " + std::to_string(fd) + " is not a socket");
    }
    polled.push_back(pollfd{fd, POLLIN, 0});
    types.push_back(type);
  }
  for (;;) {
    if (poll(polled.data(), polled.size(), -1) < 0) continue;
    for (size_t i = 0; i < polled.size(); ++i) {
      if ((polled[i].revents & POLLIN) == 0) continue;
      int fd = polled[i].fd;
      std::string head = "pid " + std::to_string(getpid()) + " fd " + std::to_string(fd);
      if (types[i] == SOCK_DGRAM) {
        char buffer[2048];
        sockaddr_storage peer{};
        socklen_t peer_length = sizeof peer;
        ssize_t n = recvfrom(fd, buffer, sizeof buffer, MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&peer), &peer_length);
        if (n < 0) continue;
        std::string reply = head + ": ";
        for (ssize_t k = 0; k < n; ++k) reply += static_cast<char>(toupper(buffer[k]));
        sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_length);
      } else {
        int client = accept(fd, nullptr, nullptr);
        if (client < 0) continue;
        std::string line = head + " of " + std::to_string(count) + " names " + names + "\n";
        ssize_t written = write(client, line.data(), line.size());
        (void)written;
        close(client);
      }
    }
  }
}
