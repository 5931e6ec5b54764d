#include "common/fd_passing.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace gatehouse {
namespace {

// recvmsg returns 0 both at the end and for an empty packet, which a hostile
// peer may send to look gone while it lives on.
bool PeerClosed(int socket) {
  pollfd hangup{socket, POLLRDHUP, 0};
  return poll(&hangup, 1, 0) == 1 && (hangup.revents & (POLLRDHUP | POLLHUP)) != 0;
}

}  // namespace

int SendPacket(int socket, const std::string& packet, const int* fds, size_t fd_count) {
  if (fd_count > kMaxReceivedFds) return EINVAL;               // the peer could not take them
  iovec iov{const_cast<char*>(packet.data()), packet.size()};  // sendmsg only reads it
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxReceivedFds)] = {};
  if (fd_count > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
    std::memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * fd_count);
  }
  while (true) {
    ssize_t sent = sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == static_cast<ssize_t>(packet.size())) return 0;
    if (sent < 0 && errno == EINTR) continue;
    return sent < 0 ? errno : EMSGSIZE;
  }
}

ssize_t ReceivePacket(int socket, char* buffer, size_t capacity, std::vector<UniqueFd>* fds,
                      bool* fds_lost) {
  iovec iov{buffer, capacity};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxReceivedFds)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t received;
  do {
    // MSG_CMSG_CLOEXEC: no window in which a received fd could leak into an exec.
    received = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return -1;

  // Owned before any other check: the kernel has installed them whatever the
  // packet turns out to be (an empty packet may carry fds too).
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
      fds->emplace_back(fd);
    }
  }
  if (received == 0 && !PeerClosed(socket)) {
    errno = EBADMSG;
    return -1;
  }
  if (msg.msg_flags & MSG_TRUNC) {
    errno = EMSGSIZE;
    return -1;
  }
  // Our control buffer holds more fds than any row allows, so a cut one means
  // the fds could not be installed: the receiver is out of fds, or the peer sent
  // more than any row allows (the fd count check catches that).
  *fds_lost = (msg.msg_flags & MSG_CTRUNC) != 0;
  return received;
}

}  // namespace gatehouse
