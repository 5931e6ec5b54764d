#include "supervisor/reverse_resolver.h"

#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/monotonic_clock.h"

namespace gatehouse {
namespace {

constexpr int kWorkers = 4;
// The longest name DNS can carry (RFC 1035, written without the final dot).
constexpr size_t kMaxHostName = 253;
// Set once at start (SetMaxPending); one loop thread reads it.
size_t max_pending = 1024;

PeerName Failed(const std::string& reason) { return {PeerName::kFailed, "", reason}; }
PeerName NoName(const std::string& reason) { return {PeerName::kNoName, "", reason}; }

std::string LookupError(int code) {
  return code == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(code);
}

// Host names only: the name ends up in logs and in programs' environment.
bool LooksLikeHostName(const std::string& name) {
  if (name.empty() || name.size() > kMaxHostName) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

// A PTR record may hold an address ("10.0.0.1"); that is no name.
bool IsNumericAddress(const std::string& name) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0) return false;
  freeaddrinfo(found);
  return true;
}

}  // namespace

PeerName ReverseResolver::Resolve(const SocketAddress& peer) {
  char host[NI_MAXHOST];
  int code = getnameinfo(peer.get(), peer.length, host, sizeof host, nullptr, 0, NI_NAMEREQD);
  if (code == EAI_NONAME) return NoName("");  // NXDOMAIN: the peer has no name
  if (code != 0) return Failed(LookupError(code));
  std::string name = host;
  if (!LooksLikeHostName(name) || IsNumericAddress(name)) {
    return NoName("its PTR record is not a usable host name");
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  code = getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (code == EAI_NONAME || code == EAI_NODATA || code == EAI_ADDRFAMILY) {
    return NoName(name + " (its PTR record) has no address");
  }
  if (code != 0) return Failed("forward lookup of " + name + ": " + LookupError(code));
  bool confirmed = false;
  std::string ip = peer.Ip();  // v4-mapped peers as plain v4
  for (addrinfo* each = found; each && !confirmed; each = each->ai_next) {
    SocketAddress address;
    if (each->ai_addrlen > sizeof address.storage) continue;
    std::memcpy(&address.storage, each->ai_addr, each->ai_addrlen);
    address.length = each->ai_addrlen;
    confirmed = address.Ip() == ip;
  }
  freeaddrinfo(found);
  if (!confirmed) return NoName(name + " (its PTR record) does not resolve back to it");
  return {PeerName::kName, name, ""};
}

ReverseResolver::ReverseResolver(event_base* base)
    : shared_(std::make_shared<Shared>()), log_throttle_(base) {
  shared_->notify.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  answers_event_.reset(
      event_new(base, shared_->notify.get(), EV_READ | EV_PERSIST, OnAnswers, this));
  event_add(answers_event_.get(), nullptr);
  deadline_timer_.reset(evtimer_new(base, OnDeadline, this));
}

ReverseResolver::~ReverseResolver() {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->stopping = true;
  shared_->waiting.clear();
  shared_->wake.notify_all();
}

void ReverseResolver::StartWorkers() {
  // Started on first use, after any fork() of start-up (background) is done.
  for (int i = 0; i < kWorkers; ++i) std::thread(Work, shared_).detach();
  workers_started_ = true;
}

void ReverseResolver::SetMaxPending(size_t bound) { max_pending = bound; }

void ReverseResolver::Lookup(const SocketAddress& peer, Done done) {
  if (pending_.size() >= max_pending) {
    done(Failed(std::to_string(max_pending) + " lookups already waiting"));
    return;
  }
  if (!workers_started_) StartWorkers();
  uint64_t id = ++next_id_;
  pending_[id] = Pending{std::move(done), MonotonicSeconds() + kDeadlineSeconds};
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->waiting.push_back(Request{id, peer, {}});
    shared_->wake.notify_one();
  }
  if (pending_.size() == 1) ArmDeadlineTimer();
}

void ReverseResolver::Work(std::shared_ptr<Shared> shared) {
  std::unique_lock<std::mutex> lock(shared->mutex);
  while (true) {
    shared->wake.wait(lock, [&] { return shared->stopping || !shared->waiting.empty(); });
    if (shared->stopping) return;
    Request request = std::move(shared->waiting.front());
    shared->waiting.pop_front();
    lock.unlock();
    request.found = Resolve(request.peer);
    lock.lock();
    if (shared->stopping) return;
    shared->answered.push_back(std::move(request));
    uint64_t one = 1;
    ssize_t ignored = write(shared->notify.get(), &one, sizeof one);
    (void)ignored;
  }
}

void ReverseResolver::OnAnswers(evutil_socket_t fd, short, void* self) {
  auto* resolver = static_cast<ReverseResolver*>(self);
  uint64_t count;
  ssize_t ignored = read(fd, &count, sizeof count);
  (void)ignored;
  std::deque<Request> answered;
  {
    std::lock_guard<std::mutex> lock(resolver->shared_->mutex);
    answered.swap(resolver->shared_->answered);
  }
  for (const Request& request : answered) {
    if (request.found.outcome == PeerName::kNoName && !request.found.reason.empty() &&
        resolver->pending_.count(request.id)) {
      resolver->log_throttle_.Note("no name " + request.peer.Ip(), kLogNotice,
                                   "reverse lookup: " + request.peer.Ip() +
                                       " goes on without a name: " + request.found.reason);
    }
    resolver->Finish(request.id, request.found);  // ignored when its deadline passed
  }
}

void ReverseResolver::OnDeadline(evutil_socket_t, short, void* self) {
  auto* resolver = static_cast<ReverseResolver*>(self);
  resolver->ExpireOverdue();
  resolver->ArmDeadlineTimer();
}

void ReverseResolver::ExpireOverdue() {
  double now = MonotonicSeconds();
  std::vector<uint64_t> overdue;
  // Ids grow with time and every lookup gets the same deadline: the oldest first.
  for (const auto& [id, pending] : pending_) {
    if (pending.deadline > now) break;
    overdue.push_back(id);
  }
  if (overdue.empty()) return;
  {
    // Those still waiting for a worker need none now.
    std::lock_guard<std::mutex> lock(shared_->mutex);
    auto& waiting = shared_->waiting;
    waiting.erase(std::remove_if(waiting.begin(), waiting.end(),
                                 [&](const Request& r) { return r.id <= overdue.back(); }),
                  waiting.end());
  }
  for (uint64_t id : overdue) {
    Finish(id,
           Failed("no answer within " + std::to_string(static_cast<int>(kDeadlineSeconds)) + " s"));
  }
}

void ReverseResolver::ArmDeadlineTimer() {
  if (pending_.empty()) return;
  double wait = std::max(0.0, pending_.begin()->second.deadline - MonotonicSeconds());
  timeval delay = Seconds(wait);
  event_add(deadline_timer_.get(), &delay);
}

void ReverseResolver::Finish(uint64_t id, const PeerName& found) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Done done = std::move(it->second.done);
  pending_.erase(it);
  done(found);
}

}  // namespace gatehouse
