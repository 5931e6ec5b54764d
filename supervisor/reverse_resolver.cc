#include "supervisor/reverse_resolver.h"

#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

#include "common/log.h"

namespace gatehouse {
namespace {
constexpr int kWorkers = 4;
// Lookups waiting beyond this are answered "no name" at once.
constexpr size_t kMaxWaiting = 1024;
}  // namespace

ReverseResolver::ReverseResolver(event_base* base) : shared_(std::make_shared<Shared>()) {
  shared_->notify.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  answers_event_.reset(
      event_new(base, shared_->notify.get(), EV_READ | EV_PERSIST, OnAnswers, this));
  event_add(answers_event_.get(), nullptr);
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

void ReverseResolver::Lookup(const SocketAddress& peer, Done done) {
  if (!workers_started_) StartWorkers();
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    if (shared_->waiting.size() < kMaxWaiting) {
      shared_->waiting.push_back(std::make_unique<Job>(Job{peer, std::move(done), std::nullopt}));
      shared_->wake.notify_one();
      return;
    }
  }
  Log(kLogWarning, "reverse lookups: " + std::to_string(kMaxWaiting) + " waiting; " + peer.Ip() +
                       " goes on without a name");
  done(std::nullopt);
}

void ReverseResolver::Work(std::shared_ptr<Shared> shared) {
  std::unique_lock<std::mutex> lock(shared->mutex);
  while (true) {
    shared->wake.wait(lock, [&] { return shared->stopping || !shared->waiting.empty(); });
    if (shared->stopping) return;
    std::unique_ptr<Job> job = std::move(shared->waiting.front());
    shared->waiting.pop_front();
    lock.unlock();
    char host[NI_MAXHOST];
    if (getnameinfo(job->peer.get(), job->peer.length, host, sizeof host, nullptr, 0,
                    NI_NAMEREQD) == 0) {
      job->host = host;
    }
    lock.lock();
    if (shared->stopping) return;
    shared->answered.push_back(std::move(job));
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
  std::deque<std::unique_ptr<Job>> answered;
  {
    std::lock_guard<std::mutex> lock(resolver->shared_->mutex);
    answered.swap(resolver->shared_->answered);
  }
  for (auto& job : answered) job->done(job->host);
}

}  // namespace gatehouse
