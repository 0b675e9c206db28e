#include "llmq/plan/allocate.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "llmq/error.hpp"

namespace llmq::plan {
namespace {

// Option indices of one tensor that are worth taking: sorted by bytes, each strictly better
// (lower loss) than every smaller one. The first is the smallest option.
std::vector<size_t> pareto_front(const TensorChoices& t) {
    std::vector<size_t> order(t.options.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const auto& x = t.options[a];
        const auto& y = t.options[b];
        if (x.bytes != y.bytes) return x.bytes < y.bytes;
        return x.loss < y.loss;
    });
    std::vector<size_t> front;
    for (size_t i : order) {
        if (front.empty() || t.options[i].loss < t.options[front.back()].loss) {
            if (!front.empty() && t.options[i].bytes == t.options[front.back()].bytes) continue;
            front.push_back(i);
        }
    }
    return front;
}

struct Solver {
    std::span<const TensorChoices> tensors;
    std::vector<std::vector<size_t>> fronts;
    std::vector<size_t> pos;  // per tensor: position on its front

    const CandidateCost& at(size_t t, size_t p) const { return tensors[t].options[fronts[t][p]]; }
    const CandidateCost& chosen(size_t t) const { return at(t, pos[t]); }

    uint64_t total_bytes() const {
        uint64_t b = 0;
        for (size_t t = 0; t < tensors.size(); ++t) b += chosen(t).bytes;
        return b;
    }

    // Every tensor takes the option minimising loss + lambda * bytes (ties: fewer bytes).
    void pick(double lambda) {
        for (size_t t = 0; t < tensors.size(); ++t) {
            size_t best = 0;
            double best_cost = std::numeric_limits<double>::infinity();
            for (size_t p = 0; p < fronts[t].size(); ++p) {
                const double cost = at(t, p).loss + lambda * static_cast<double>(at(t, p).bytes);
                if (cost < best_cost) {
                    best_cost = cost;
                    best = p;
                }
            }
            pos[t] = best;
        }
    }

    // Upgrades that fit the bytes left, best loss saved per byte first, until none fits.
    void fill(uint64_t budget) {
        uint64_t used = total_bytes();
        for (;;) {
            double best_ratio = 0.0;
            size_t best_t = 0, best_p = 0;
            bool found = false;
            for (size_t t = 0; t < tensors.size(); ++t) {
                const CandidateCost& cur = chosen(t);
                for (size_t p = pos[t] + 1; p < fronts[t].size(); ++p) {
                    const CandidateCost& up = at(t, p);
                    const uint64_t extra = up.bytes - cur.bytes;
                    if (used + extra > budget) break;  // fronts grow in bytes
                    const double ratio = (cur.loss - up.loss) / static_cast<double>(extra);
                    if (!found || ratio > best_ratio) {
                        found = true;
                        best_ratio = ratio;
                        best_t = t;
                        best_p = p;
                    }
                }
            }
            if (!found) return;
            used += at(best_t, best_p).bytes - chosen(best_t).bytes;
            pos[best_t] = best_p;
        }
    }

    // One tensor a step down, another any step up, while that lowers the loss within budget.
    void exchange(uint64_t budget) {
        const size_t n = tensors.size();
        for (size_t round = 0; round < 4 * n + 16; ++round) {
            const uint64_t used = total_bytes();
            double best_gain = 1e-15;
            size_t down_t = 0, up_t = 0, up_p = 0;
            bool found = false;
            for (size_t a = 0; a < n; ++a) {
                if (pos[a] == 0) continue;
                const CandidateCost& cur_a = chosen(a);
                const CandidateCost& low_a = at(a, pos[a] - 1);
                const uint64_t freed = cur_a.bytes - low_a.bytes;
                const double lost = low_a.loss - cur_a.loss;
                for (size_t b = 0; b < n; ++b) {
                    if (b == a) continue;
                    const CandidateCost& cur_b = chosen(b);
                    for (size_t p = pos[b] + 1; p < fronts[b].size(); ++p) {
                        const CandidateCost& up = at(b, p);
                        if (used - freed + (up.bytes - cur_b.bytes) > budget) break;
                        const double gain = (cur_b.loss - up.loss) - lost;
                        if (gain > best_gain) {
                            best_gain = gain;
                            found = true;
                            down_t = a;
                            up_t = b;
                            up_p = p;
                        }
                    }
                }
            }
            if (!found) return;
            --pos[down_t];
            pos[up_t] = up_p;
            fill(budget);
        }
    }

    double total_loss() const {
        double l = 0.0;
        for (size_t t = 0; t < tensors.size(); ++t) l += chosen(t).loss;
        return l;
    }

    // Exact dynamic programming over the budget in units of `unit` bytes (every option's extra
    // bytes over the tensor's smallest rounded up, so the result always fits). Leaves the
    // choice in pos.
    void dynamic_programming(uint64_t budget, uint64_t base_bytes, uint64_t unit) {
        const auto capacity = static_cast<size_t>((budget - base_bytes) / unit);
        const double inf = std::numeric_limits<double>::infinity();
        std::vector<double> best(capacity + 1, inf), next(capacity + 1);
        best[0] = 0.0;
        std::vector<std::vector<uint8_t>> pick(tensors.size(), std::vector<uint8_t>(capacity + 1, 0));
        for (size_t t = 0; t < tensors.size(); ++t) {
            std::fill(next.begin(), next.end(), inf);
            const uint64_t low = at(t, 0).bytes;
            for (size_t p = 0; p < fronts[t].size() && p < 256; ++p) {
                const auto u = static_cast<size_t>((at(t, p).bytes - low + unit - 1) / unit);
                if (u > capacity) break;
                const double loss = at(t, p).loss;
                for (size_t s = 0; s + u <= capacity; ++s) {
                    if (best[s] == inf) continue;
                    const double v = best[s] + loss;
                    if (v < next[s + u]) {
                        next[s + u] = v;
                        pick[t][s + u] = static_cast<uint8_t>(p);
                    }
                }
            }
            best.swap(next);
        }
        size_t s = static_cast<size_t>(std::min_element(best.begin(), best.end()) - best.begin());
        for (size_t t = tensors.size(); t-- > 0;) {
            pos[t] = pick[t][s];
            const uint64_t low = at(t, 0).bytes;
            s -= static_cast<size_t>((at(t, pos[t]).bytes - low + unit - 1) / unit);
        }
    }
};

// States of the dynamic programme: enough resolution for small models, bounded work for large.
constexpr uint64_t kDpStates = 1u << 15;

}  // namespace

uint64_t min_bytes(std::span<const TensorChoices> tensors) {
    uint64_t b = 0;
    for (const auto& t : tensors) {
        uint64_t m = std::numeric_limits<uint64_t>::max();
        for (const auto& o : t.options) m = std::min(m, o.bytes);
        b += m;
    }
    return b;
}

uint64_t max_bytes(std::span<const TensorChoices> tensors) {
    uint64_t b = 0;
    for (const auto& t : tensors) {
        uint64_t m = 0;
        for (const auto& o : t.options) m = std::max(m, o.bytes);
        b += m;
    }
    return b;
}

Allocation allocate(std::span<const TensorChoices> tensors, uint64_t budget) {
    for (const auto& t : tensors)
        if (t.options.empty()) fail(ExitCode::General, "internal error: tensor " + t.name + " has no candidate type");
    const uint64_t smallest = min_bytes(tensors);
    if (smallest > budget) {
        fail(ExitCode::Usage,
             "the target leaves " + std::to_string(budget) + " bytes for the weights, but the smallest mix the profile allows takes " +
                 std::to_string(smallest),
             "choose a larger target or a profile with smaller types");
    }
    Solver s{tensors, {}, std::vector<size_t>(tensors.size(), 0)};
    s.fronts.reserve(tensors.size());
    for (const auto& t : tensors) s.fronts.push_back(pareto_front(t));

    double lambda = 0.0;
    s.pick(0.0);
    if (s.total_bytes() > budget) {
        // Bytes fall as lambda grows; find the smallest lambda that fits.
        double hi = 1e-12;
        s.pick(hi);
        while (s.total_bytes() > budget && hi < 1e300) {
            hi *= 4.0;
            s.pick(hi);
        }
        double lo = hi / 4.0;
        for (int i = 0; i < 200 && hi > lo * (1.0 + 1e-12); ++i) {
            const double mid = 0.5 * (lo + hi);
            s.pick(mid);
            if (s.total_bytes() > budget) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lambda = hi;
        s.pick(hi);
        s.fill(budget);
        s.exchange(budget);
        // The Lagrangian misses mixes between its breakpoints, which matters when there are few
        // tensors; a dynamic programme over the budget finds them. The better of the two wins.
        const std::vector<size_t> lagrangian = s.pos;
        const double lagrangian_loss = s.total_loss();
        const uint64_t unit = std::max<uint64_t>(1, (budget - smallest + kDpStates - 1) / kDpStates);
        s.dynamic_programming(budget, smallest, unit);
        s.fill(budget);
        s.exchange(budget);
        if (!(s.total_loss() < lagrangian_loss)) s.pos = lagrangian;
    }

    Allocation a;
    a.lambda = lambda;
    a.choice.resize(tensors.size());
    for (size_t t = 0; t < tensors.size(); ++t) {
        a.choice[t] = s.fronts[t][s.pos[t]];
        a.bytes += tensors[t].options[a.choice[t]].bytes;
        a.loss += tensors[t].options[a.choice[t]].loss;
    }
    return a;
}

}  // namespace llmq::plan
