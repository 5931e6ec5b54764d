#include "supervisor/source_budget.h"

#include <algorithm>
#include <iterator>

namespace gatehouse {

SourceBudget::SourceBudget(int burst, int rate, size_t max_sources)
    : burst_(burst), rate_(rate), max_sources_(max_sources) {
  shared_.tokens = burst_;
}

bool SourceBudget::TakeFrom(Bucket& bucket, double now) const {
  bucket.tokens = std::min(burst_, bucket.tokens + std::max(0.0, now - bucket.refilled) * rate_);
  bucket.refilled = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

bool SourceBudget::ForgetOne(double now) {
  auto oldest = buckets_.find(used_.front());
  // Full again by now: forgetting it changes nothing for that source.
  if (oldest->second.tokens + (now - oldest->second.refilled) * rate_ < burst_) return false;
  buckets_.erase(oldest);
  used_.pop_front();
  return true;
}

bool SourceBudget::Take(const std::string& source, double now) {
  auto found = buckets_.find(source);
  if (found != buckets_.end()) {
    used_.splice(used_.end(), used_, found->second.used);
    return TakeFrom(found->second, now);
  }
  if (buckets_.size() >= max_sources_ && !ForgetOne(now)) return TakeFrom(shared_, now);
  used_.push_back(source);
  Bucket& bucket = buckets_[source];
  bucket.tokens = burst_;
  bucket.refilled = now;
  bucket.used = std::prev(used_.end());
  return TakeFrom(bucket, now);
}

}  // namespace gatehouse
