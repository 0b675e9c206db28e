#include "progress.hpp"

#include <cstdio>

namespace llmq::native {
namespace {

std::string clock_text(double seconds) {
    char buf[32];
    const long s = static_cast<long>(seconds + 0.5);
    if (s >= 3600) {
        std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
    } else if (s >= 60) {
        std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    } else {
        std::snprintf(buf, sizeof buf, "%.1fs", seconds);
    }
    return buf;
}

}  // namespace

std::atomic<bool>& StderrProgress::cancel_requested() {
    static std::atomic<bool> flag{false};
    return flag;
}

void StderrProgress::begin(std::string_view task, uint64_t total, ProgressUnit unit) {
    task_ = task;
    total_ = total;
    bytes_ = unit.kind == ProgressUnit::Kind::Bytes;
    label_ = unit.label;
    active_ = true;
    last_item_.clear();
    start_ = last_draw_ = Clock::now();
}

void StderrProgress::draw(uint64_t done, std::string_view item, bool final) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
    const double eta = frac > 0.0 ? elapsed * (1.0 - frac) / frac : 0.0;
    // Bytes: "12.3/45.6 MB 7.8 MB/s"; steps: "3/6 layers".
    char amount[160];
    if (bytes_) {
        const double mb = static_cast<double>(done) / 1e6;
        std::snprintf(amount, sizeof amount, "%.1f/%.1f MB %.1f MB/s", mb, static_cast<double>(total_) / 1e6, elapsed > 0.0 ? mb / elapsed : 0.0);
    } else {
        std::snprintf(amount, sizeof amount, "%llu/%llu %s", static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                      label_.c_str());
    }
    char line[512];
    if (tty_) {
        constexpr int kWidth = 28;
        const int filled = static_cast<int>(frac * kWidth);
        std::string bar(static_cast<size_t>(filled), '=');
        if (filled < kWidth) bar += '>';
        bar.resize(kWidth, ' ');
        std::snprintf(line, sizeof line, "\r\033[2K%s [%s] %5.1f%% %s  elapsed %s  ETA %s  %.*s", task_.c_str(), bar.c_str(), 100.0 * frac, amount,
                      clock_text(elapsed).c_str(), final ? "0s" : clock_text(eta).c_str(), static_cast<int>(std::min<size_t>(item.size(), 40)),
                      item.data());
        std::fputs(line, stderr);
        if (final) std::fputs("\n", stderr);
    } else {
        std::snprintf(line, sizeof line, "%s: %5.1f%% %s, elapsed %s, ETA %s, %.*s\n", task_.c_str(), 100.0 * frac, amount,
                      clock_text(elapsed).c_str(), clock_text(eta).c_str(), static_cast<int>(item.size()), item.data());
        std::fputs(line, stderr);
    }
    std::fflush(stderr);
}

void StderrProgress::update(uint64_t done, std::string_view item) {
    if (!enabled_ || !active_) return;
    const auto now = Clock::now();
    const bool new_item = item != last_item_;
    const auto since = now - last_draw_;
    if (tty_ ? since < std::chrono::milliseconds(100) : (!new_item || since < std::chrono::seconds(1))) return;
    last_item_ = item;
    last_draw_ = now;
    draw(done, item, false);
}

void StderrProgress::end() {
    if (!enabled_ || !active_) return;
    active_ = false;
    if (tty_) draw(total_, "done", true);
}

}  // namespace llmq::native
