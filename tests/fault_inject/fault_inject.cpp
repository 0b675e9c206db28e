// Fault injection for the fault tests (tests/faults), loaded into llmq with LD_PRELOAD. It wraps
// write, rename and pread so that a run is killed, or its input changed, at an exact point of its
// work rather than after a delay that a loaded machine stretches or shrinks:
//
//   LLMQ_FAULT_KILL_AFTER_PART_BYTES=N  SIGKILL once N bytes have been written to files named *.part
//   LLMQ_FAULT_KILL_BEFORE_RENAME=K     SIGKILL just before the K-th rename of a *.part file
//   LLMQ_FAULT_KILL_AFTER_RENAME=K      SIGKILL just after it
//   LLMQ_FAULT_CHANGE_PATH=P            once LLMQ_FAULT_CHANGE_AFTER_BYTES bytes have been read
//   LLMQ_FAULT_CHANGE_AFTER_BYTES=N     from P (pread), change P as another process would:
//   LLMQ_FAULT_CHANGE=truncate|rewrite  truncate it to half its size, or overwrite all its bytes
//                                       in place (same size)
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

uint64_t env_number(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::strtoull(v, nullptr, 10) : 0;
}

std::string fd_path(int fd) {
    char link[64];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    char target[PATH_MAX];
    const ssize_t n = ::readlink(link, target, sizeof target - 1);
    return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

bool is_part(const std::string& path) {
    return path.size() > 5 && path.compare(path.size() - 5, 5, ".part") == 0;
}

[[noreturn]] void die() {
    ::kill(::getpid(), SIGKILL);
    ::_exit(99);  // not reached
}

struct Config {
    uint64_t kill_after_part_bytes = env_number("LLMQ_FAULT_KILL_AFTER_PART_BYTES");
    uint64_t kill_before_rename = env_number("LLMQ_FAULT_KILL_BEFORE_RENAME");
    uint64_t kill_after_rename = env_number("LLMQ_FAULT_KILL_AFTER_RENAME");
    std::string change_path = [] {
        const char* p = std::getenv("LLMQ_FAULT_CHANGE_PATH");
        char resolved[PATH_MAX];
        return p && ::realpath(p, resolved) ? std::string(resolved) : std::string();
    }();
    uint64_t change_after_bytes = env_number("LLMQ_FAULT_CHANGE_AFTER_BYTES");
    bool truncate = [] {
        const char* c = std::getenv("LLMQ_FAULT_CHANGE");
        return !c || std::strcmp(c, "rewrite") != 0;
    }();
};

const Config& config() {
    static const Config c;
    return c;
}

std::atomic<uint64_t> part_bytes{0};
std::atomic<uint64_t> part_renames{0};
std::atomic<uint64_t> change_bytes{0};
std::atomic<bool> changed{false};

void change_file(const Config& c) {
    struct stat st {};
    if (::stat(c.change_path.c_str(), &st) != 0) return;
    const auto size = static_cast<uint64_t>(st.st_size);
    if (c.truncate) {
        if (::truncate(c.change_path.c_str(), static_cast<off_t>(size / 2)) != 0) std::perror("fault_inject: truncate");
        return;
    }
    const int fd = ::open(c.change_path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    std::vector<char> junk(1 << 20, 0x5a);
    for (uint64_t at = 0; at < size; at += junk.size()) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(junk.size(), size - at));
        if (::pwrite(fd, junk.data(), n, static_cast<off_t>(at)) < 0) std::perror("fault_inject: pwrite");
    }
    ::close(fd);
}

void after_read(int fd, ssize_t n) {
    const Config& c = config();
    if (n <= 0 || c.change_path.empty() || changed.load()) return;
    if (fd_path(fd) != c.change_path) return;
    if (change_bytes.fetch_add(static_cast<uint64_t>(n)) + static_cast<uint64_t>(n) < c.change_after_bytes) return;
    if (!changed.exchange(true)) change_file(c);
}

template <typename F>
F next(const char* name) {
    return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
    static const auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
    const ssize_t n = real(fd, buf, count);
    const uint64_t limit = config().kill_after_part_bytes;
    if (n > 0 && limit && is_part(fd_path(fd))) {
        if (part_bytes.fetch_add(static_cast<uint64_t>(n)) + static_cast<uint64_t>(n) >= limit) die();
    }
    return n;
}

int rename(const char* from, const char* to) {
    static const auto real = next<int (*)(const char*, const char*)>("rename");
    const Config& c = config();
    uint64_t k = 0;
    if (is_part(from)) k = ++part_renames;
    if (k && k == c.kill_before_rename) die();
    const int r = real(from, to);
    if (k && k == c.kill_after_rename) die();
    return r;
}

ssize_t pread(int fd, void* buf, size_t count, off_t offset) {
    static const auto real = next<ssize_t (*)(int, void*, size_t, off_t)>("pread");
    const ssize_t n = real(fd, buf, count, offset);
    after_read(fd, n);
    return n;
}

ssize_t pread64(int fd, void* buf, size_t count, off_t offset) {
    static const auto real = next<ssize_t (*)(int, void*, size_t, off_t)>("pread64");
    const ssize_t n = real(fd, buf, count, offset);
    after_read(fd, n);
    return n;
}

}  // extern "C"
