#include "supervisor/proxy_header_reader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

namespace gatehouse {
namespace {

ProxyHeader::Outcome Fail(ProxyHeader* header, const std::string& reason) {
  header->outcome = ProxyHeader::kInvalid;
  header->reason = reason;
  return header->outcome;
}

// The supervisor has one event loop: these need no lock.
std::map<std::string, int>& PendingBySource() {
  static std::map<std::string, int> counts;
  return counts;
}
int pending_total = 0;
int pending_bound = 1024;

// The address a peer is counted under: IPv4 (and v4-mapped) as is, IPv6 by /64.
std::string SourceKey(const SocketAddress& peer) {
  if (peer.family() != AF_INET6) return peer.Ip();
  in6_addr address = reinterpret_cast<const sockaddr_in6*>(&peer.storage)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&address)) return peer.Ip();
  std::memset(&address.s6_addr[8], 0, 8);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &address, text, sizeof text);
  return std::string(text) + "/64";
}

}  // namespace

ProxyHeader::Outcome ProxyHeaderReader::ReadAvailable(int fd) {
  if (have_ >= buffer_.size()) return Fail(&header_, "PROXY header over its bound");
  // Peeking first: bytes past the header stay in the socket for the program.
  ssize_t peeked =
      recv(fd, buffer_.data() + have_, buffer_.size() - have_, MSG_PEEK | MSG_DONTWAIT);
  if (peeked < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return ProxyHeader::kNeedMore;
    return Fail(&header_, std::string("recv: ") + std::strerror(errno));
  }
  if (peeked == 0) {
    left_silently_ = have_ == 0;
    return Fail(&header_, have_ == 0 ? "closed before sending a PROXY header"
                                     : "closed in the middle of its PROXY header");
  }
  size_t seen = have_ + static_cast<size_t>(peeked);
  header_ = ParseProxyHeader(buffer_.data(), seen, accepted_);
  size_t take = 0;
  switch (header_.outcome) {
    case ProxyHeader::kInvalid:
      return header_.outcome;
    case ProxyHeader::kNeedMore:
      take = static_cast<size_t>(peeked);  // all of it is header (the parser's promise)
      break;
    case ProxyHeader::kParsed:
      take = header_.length - have_;
      break;
  }
  // Taking the bytes also stops the socket from being readable for them, so a
  // partial header does not wake the loop again until more arrives.
  ssize_t taken = recv(fd, buffer_.data() + have_, take, MSG_DONTWAIT);
  if (taken != static_cast<ssize_t>(take)) {
    return Fail(&header_, "recv took " + std::to_string(taken) + " of the " + std::to_string(take) +
                              " bytes it had peeked");
  }
  have_ += take;
  return header_.outcome;
}

int PendingHeaderSlot::total() { return pending_bound; }

void PendingHeaderSlot::SetTotal(int total) { pending_bound = total; }

std::optional<PendingHeaderSlot> PendingHeaderSlot::Take(const SocketAddress& peer,
                                                         std::string* why) {
  std::string source = SourceKey(peer);
  int& from_source = PendingBySource()[source];
  if (pending_total >= pending_bound || from_source >= kPerSource) {
    *why = pending_total >= pending_bound
               ? std::to_string(pending_bound) + " connections wait for a PROXY header already"
               : std::to_string(kPerSource) + " connections from " + source +
                     " wait for a PROXY header already";
    if (from_source == 0) PendingBySource().erase(source);
    return std::nullopt;
  }
  ++from_source;
  ++pending_total;
  return PendingHeaderSlot(std::move(source));
}

PendingHeaderSlot::PendingHeaderSlot(PendingHeaderSlot&& other) noexcept
    : source_(std::move(other.source_)), owned_(std::exchange(other.owned_, false)) {}

PendingHeaderSlot::~PendingHeaderSlot() {
  if (!owned_) return;
  auto found = PendingBySource().find(source_);
  if (found != PendingBySource().end() && --found->second == 0) PendingBySource().erase(found);
  --pending_total;
}

}  // namespace gatehouse
