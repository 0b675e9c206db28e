// Progress on stderr: a redrawn bar with percentage, amount (MB and MB/s, or "3/6 layers"),
// elapsed time and ETA on a TTY;
// plain lines (one per item, at most one per second otherwise) when stderr is a file or pipe.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "llmq/jobs/host.hpp"

namespace llmq::native {

class StderrProgress final : public Progress {
public:
    StderrProgress(bool tty, bool enabled) : tty_(tty), enabled_(enabled) {}
    void begin(std::string_view task, uint64_t total, ProgressUnit unit = ProgressUnit::bytes()) override;
    void update(uint64_t done, std::string_view item) override;
    void end() override;
    bool cancelled() const override { return cancel_requested().load(); }

    // Set from a SIGINT handler.
    static std::atomic<bool>& cancel_requested();

private:
    using Clock = std::chrono::steady_clock;
    void draw(uint64_t done, std::string_view item, bool final);

    bool tty_;
    bool enabled_;
    bool active_ = false;
    std::string task_;
    uint64_t total_ = 0;
    bool bytes_ = true;
    std::string label_;  // of steps: "layers"
    std::string last_item_;
    Clock::time_point start_;
    Clock::time_point last_draw_;
};

}  // namespace llmq::native
