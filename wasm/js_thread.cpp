#include "js_thread.hpp"

#ifdef __EMSCRIPTEN_PTHREADS__
#include <emscripten/threading.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>
#endif

namespace llmq::wasm {

#ifdef __EMSCRIPTEN_PTHREADS__
namespace {

// Tasks come from a shared range, as in the native pool; the loading thread works too and, between
// its tasks and while it waits for the others, runs the JS calls the pool threads hand it. The
// loading thread takes tasks from the front, the pool threads from the back: the first tasks are
// the ones that call JS (the quantizer's read-ahead and write-behind), so the thread that would
// run those calls anyway takes them, and no pool thread waits for it meanwhile.
class Pool {
public:
    explicit Pool(unsigned threads) {
        for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
    }
    // The pool lives as long as the instance (its Workers cannot be replaced synchronously).
    ~Pool() = delete;

    unsigned threads() const { return static_cast<unsigned>(workers_.size()) + 1; }

    void run(unsigned limit, int64_t n, const std::function<void(int64_t)>& fn) {
        std::unique_lock lock(mutex_);
        job_ = &fn;
        next_ = 0;
        end_ = n;
        limit_ = limit;
        error_ = nullptr;
        ++generation_;
        wake_.notify_all();
        for (;;) {
            if (!requests_.empty()) {
                serve(lock);
            } else if (next_ < end_ && !error_) {
                const int64_t i = next_++;
                lock.unlock();
                attempt(fn, i);
                lock.lock();
            } else if (active_ == 0) {
                break;
            } else {
                main_.wait(lock);
            }
        }
        job_ = nullptr;
        const std::exception_ptr error = std::exchange(error_, nullptr);
        lock.unlock();
        if (error) std::rethrow_exception(error);
    }

    // From a pool thread: has the loading thread run fn, and waits for it.
    void call(const std::function<void()>& fn) {
        Request request{&fn, nullptr, false};
        std::unique_lock lock(mutex_);
        requests_.push_back(&request);
        main_.notify_one();
        served_.wait(lock, [&] { return request.done; });
        lock.unlock();
        if (request.error) std::rethrow_exception(request.error);
    }

private:
    struct Request {
        const std::function<void()>* fn;
        std::exception_ptr error;
        bool done = false;
    };

    void attempt(const std::function<void(int64_t)>& fn, int64_t i) {
        try {
            fn(i);
        } catch (...) {
            std::lock_guard lock(mutex_);
            if (!error_) error_ = std::current_exception();
        }
    }

    // Runs the oldest waiting JS call; lock is held on entry and on return.
    void serve(std::unique_lock<std::mutex>& lock) {
        Request* request = requests_.front();
        requests_.pop_front();
        lock.unlock();
        try {
            (*request->fn)();
        } catch (...) {
            request->error = std::current_exception();
        }
        lock.lock();
        request->done = true;
        served_.notify_all();
    }

    void worker_loop(unsigned index) {
        uint64_t seen = 0;
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return generation_ != seen; });
            seen = generation_;
            // A job this thread is not lent to, or one that finished before it woke.
            if (!job_ || index >= limit_) continue;
            const std::function<void(int64_t)>& fn = *job_;
            ++active_;
            while (next_ < end_ && !error_) {
                const int64_t i = --end_;
                lock.unlock();
                attempt(fn, i);
                lock.lock();
            }
            --active_;
            main_.notify_one();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_;    // pool threads: a new job
    std::condition_variable main_;    // loading thread: a JS call to run, or a pool thread done
    std::condition_variable served_;  // pool threads: their JS call ran
    std::deque<Request*> requests_;
    const std::function<void(int64_t)>* job_ = nullptr;
    int64_t next_ = 0;  // [next_, end_): the tasks nobody has taken yet
    int64_t end_ = 0;
    unsigned limit_ = 0;
    unsigned active_ = 0;
    uint64_t generation_ = 0;
    std::exception_ptr error_;
};

Pool* pool = nullptr;

class PoolFor final : public ParallelFor {
public:
    PoolFor(Pool& pool, unsigned threads) : pool_(pool), threads_(threads) {}
    unsigned threads() const override { return threads_; }
    void run(int64_t n, const std::function<void(int64_t)>& fn) override {
        if (n <= 0) return;
        if (n == 1) {
            fn(0);
            return;
        }
        pool_.run(threads_, n, fn);
    }

private:
    Pool& pool_;
    unsigned threads_;
};

}  // namespace

void run_on_js_thread(const std::function<void()>& fn) {
    if (emscripten_is_main_runtime_thread() || !pool) {
        fn();
    } else {
        pool->call(fn);
    }
}

unsigned start_threads(unsigned threads) {
    if (!pool && threads > 1 && emscripten_is_main_runtime_thread()) pool = new Pool(threads);
    return available_threads();
}

unsigned available_threads() {
    return pool ? pool->threads() : 1;
}

std::unique_ptr<ParallelFor> parallel_for(unsigned threads) {
    if (!pool || threads <= 1) return std::make_unique<SerialFor>();
    return std::make_unique<PoolFor>(*pool, std::min(threads, pool->threads()));
}

#else

void run_on_js_thread(const std::function<void()>& fn) {
    fn();
}

unsigned start_threads(unsigned) {
    return 1;
}

unsigned available_threads() {
    return 1;
}

std::unique_ptr<ParallelFor> parallel_for(unsigned) {
    return std::make_unique<SerialFor>();
}

#endif

}  // namespace llmq::wasm
