// ParallelFor over a fixed set of std::threads. Tasks are taken from a shared counter; the
// calling thread works too. Results never depend on the thread count (tasks are independent).
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "llmq/jobs/host.hpp"

namespace llmq::native {

class ThreadPool final : public ParallelFor {
public:
    explicit ThreadPool(unsigned threads);
    ~ThreadPool() override;
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    unsigned threads() const override { return static_cast<unsigned>(workers_.size()) + 1; }
    void run(int64_t n, const std::function<void(int64_t)>& fn) override;

private:
    void worker_loop();
    void work(const std::function<void(int64_t)>& fn, int64_t n);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    const std::function<void(int64_t)>* job_ = nullptr;
    int64_t job_size_ = 0;
    int64_t next_ = 0;
    unsigned active_ = 0;
    uint64_t generation_ = 0;
    bool stop_ = false;
    std::exception_ptr error_;
};

}  // namespace llmq::native
