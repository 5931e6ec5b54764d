// SourceBudget: how much of something (UDP replies, log lines) each client
// source may still have, as a token bucket per source (an IPv4 address, an
// IPv6 /64): `burst` at once, refilled at `rate` a second. A loop between two
// UDP services needs every reply, so it ends the first time its burst runs
// out; a client that asks less often than `rate` never notices. The table is
// bounded: at most `max_sources` sources are kept; a full one forgets its least
// recently used source once that source's bucket would be full again, and
// while none would, new sources share one bucket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace gatehouse {

class SourceBudget {
 public:
  static constexpr size_t kMaxSources = 4096;

  SourceBudget(int burst, int rate, size_t max_sources = kMaxSources);

  // True when `source` may have one more at `now` (MonotonicSeconds()), and
  // takes it from the source's budget.
  bool Take(const std::string& source, double now);
  // Sources with a bucket of their own (for tests and the memory bound).
  size_t sources() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    double refilled = 0;                    // when `tokens` was last brought up to date
    std::list<std::string>::iterator used;  // its place in used_
  };
  bool TakeFrom(Bucket& bucket, double now) const;
  // Makes room for one more source; false when every kept one is still in use.
  bool ForgetOne(double now);

  double burst_;
  double rate_;
  size_t max_sources_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::list<std::string> used_;  // least recently used first
  Bucket shared_;                // for new sources while the table is full
};

}  // namespace gatehouse
