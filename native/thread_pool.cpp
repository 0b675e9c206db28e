#include "thread_pool.hpp"

namespace llmq::native {

ThreadPool::ThreadPool(unsigned threads) {
    for (unsigned i = 1; i < std::max(1u, threads); ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::work(const std::function<void(int64_t)>& fn, int64_t n) {
    for (;;) {
        int64_t i;
        {
            std::lock_guard lock(mutex_);
            if (next_ >= n || error_) return;
            i = next_++;
        }
        try {
            fn(i);
        } catch (...) {
            std::lock_guard lock(mutex_);
            if (!error_) error_ = std::current_exception();
        }
    }
}

void ThreadPool::worker_loop() {
    uint64_t seen = 0;
    for (;;) {
        const std::function<void(int64_t)>* job;
        int64_t n;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            if (!job_) continue;  // woke after that job had already finished
            job = job_;
            n = job_size_;
            ++active_;
        }
        work(*job, n);
        {
            std::lock_guard lock(mutex_);
            --active_;
        }
        done_.notify_all();
    }
}

void ThreadPool::run(int64_t n, const std::function<void(int64_t)>& fn) {
    if (n <= 0) return;
    if (workers_.empty() || n == 1) {
        for (int64_t i = 0; i < n; ++i) fn(i);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        job_ = &fn;
        job_size_ = n;
        next_ = 0;
        error_ = nullptr;
        ++generation_;
    }
    wake_.notify_all();
    work(fn, n);
    std::exception_ptr error;
    {
        std::unique_lock lock(mutex_);
        // Every index has been taken; wait until the workers finished theirs.
        done_.wait(lock, [&] { return active_ == 0; });
        job_ = nullptr;
        error = error_;
        error_ = nullptr;
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace llmq::native
