#include "posix_io.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "llmq/error.hpp"

namespace llmq::native {
namespace {

constexpr size_t kSinkBuffer = 4u << 20;

std::string errno_text() {
    return std::strerror(errno);
}

int64_t mtime_ns(const struct stat& st) {
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

FileSource::FileSource(const std::filesystem::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
        if (errno == ENOENT) fail(ExitCode::ModelNotFound, path.string() + ": no such file", "check the path");
        fail(ExitCode::General, path.string() + ": cannot open: " + errno_text());
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(ExitCode::General, path.string() + ": cannot stat: " + errno_text());
    if (S_ISDIR(st.st_mode)) {
        ::close(fd_);
        fd_ = -1;
        fail(ExitCode::Unsupported, path.string() + " is a directory, not a file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    mtime_ns_ = mtime_ns(st);
}

FileSource::~FileSource() {
    if (fd_ >= 0) ::close(fd_);
}

void FileSource::read(uint64_t offset, std::span<uint8_t> out) const {
    if (offset > size_ || out.size() > size_ - offset) {
        fail(ExitCode::CorruptInput, path_.string() + ": truncated (needs " + std::to_string(out.size()) + " bytes at offset " +
                                         std::to_string(offset) + ", file has " + std::to_string(size_) + ")");
    }
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(ExitCode::General, path_.string() + ": read error: " + errno_text());
        }
        if (n == 0) fail(ExitCode::CorruptInput, path_.string() + ": file shrank while reading");
        done += static_cast<size_t>(n);
    }
    // A file rewritten in place (same size or not) while it is read would mix old and new bytes:
    // its size or modification time differs from when it was opened.
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(ExitCode::General, path_.string() + ": cannot stat: " + errno_text());
    if (static_cast<uint64_t>(st.st_size) != size_ || mtime_ns(st) != mtime_ns_) {
        fail(ExitCode::CorruptInput, path_.string() + ": the file changed while it was being read",
             "wait until whatever writes it has finished, then run again");
    }
}

FileSink::FileSink(std::filesystem::path path) : path_(std::move(path)) {
    std::filesystem::path part = path_;
    part += ".part";
    replaced_partial_ = ::access(part.c_str(), F_OK) == 0;
    // The partial file is locked while it is written: a second writer of the same output fails
    // instead of truncating the first one's file, and a lock left by a killed process is gone.
    // A file whose writer renamed or removed it between our open and lock is opened again.
    for (int attempt = 0;; ++attempt) {
        fd_ = ::open(part.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            fail(ExitCode::OutputIo, part.string() + ": cannot create: " + errno_text(), "check that the output directory exists and is writable");
        }
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
            ::close(fd_);
            fd_ = -1;
            fail(ExitCode::OutputIo, part.string() + " is being written by another process",
                 "wait until it has finished, or choose another output path with -o");
        }  // other errors: a file system without locks; write unlocked
        struct stat opened {};
        struct stat named {};
        if (::fstat(fd_, &opened) == 0 && ::stat(part.c_str(), &named) == 0 && opened.st_dev == named.st_dev && opened.st_ino == named.st_ino) {
            break;
        }
        ::close(fd_);
        fd_ = -1;
        if (attempt == 10) fail(ExitCode::OutputIo, part.string() + ": keeps being replaced by another process");
    }
    part_ = std::move(part);
    if (::ftruncate(fd_, 0) != 0) {
        const std::string why = errno_text();
        abort();
        fail(ExitCode::OutputIo, part_.string() + ": cannot truncate: " + why);
    }
    buffer_.reserve(kSinkBuffer);
}

FileSink::~FileSink() {
    abort();
}

void FileSink::flush_buffer() {
    size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0) {
            const int error = errno;
            if (error == EINTR) continue;
            abort();
            const bool full = error == ENOSPC || error == EDQUOT || error == EFBIG;
            fail(ExitCode::OutputIo, path_.string() + ": write failed: " + std::strerror(error),
                 full ? "free some disk space (or raise the file size limit) or choose another output directory with -o" : "");
        }
        done += static_cast<size_t>(n);
    }
    buffer_.clear();
}

void FileSink::write(std::span<const uint8_t> bytes) {
    if (fd_ < 0) fail(ExitCode::OutputIo, path_.string() + ": write after close");
    written_ += bytes.size();
    while (!bytes.empty()) {
        const size_t n = std::min(bytes.size(), kSinkBuffer - buffer_.size());
        buffer_.insert(buffer_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        bytes = bytes.subspan(n);
        if (buffer_.size() == kSinkBuffer) flush_buffer();
    }
}

void FileSink::finish() {
    if (fd_ < 0) fail(ExitCode::OutputIo, path_.string() + ": already closed");
    flush_buffer();
    if (::fsync(fd_) != 0 && errno != EINVAL) {
        const std::string why = errno_text();
        abort();
        fail(ExitCode::OutputIo, path_.string() + ": cannot flush: " + why);
    }
    // Renamed while still open and locked (see the constructor), then closed.
    if (::rename(part_.c_str(), path_.c_str()) != 0) {
        const std::string why = errno_text();
        abort();
        fail(ExitCode::OutputIo, path_.string() + ": cannot rename the finished file into place: " + why);
    }
    part_.clear();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
        const std::string why = errno_text();
        std::error_code ec;
        std::filesystem::remove(path_, ec);
        fail(ExitCode::OutputIo, path_.string() + ": cannot close: " + why);
    }
}

void FileSink::abort() noexcept {
    // Removed before the lock goes with the descriptor, so no other writer's file is removed.
    if (!part_.empty()) {
        std::error_code ec;
        std::filesystem::remove(part_, ec);
        part_.clear();
    }
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    buffer_.clear();
}

DiskFileSet::DiskFileSet(std::filesystem::path root) : root_(std::move(root)) {
    std::error_code ec;
    const auto status = std::filesystem::status(root_, ec);
    if (ec || !std::filesystem::exists(status)) {
        fail(ExitCode::ModelNotFound, root_.string() + ": no such file or directory",
             "give the path of a .gguf file or of a HuggingFace model directory");
    }
    is_directory_ = std::filesystem::is_directory(status);
}

std::filesystem::path DiskFileSet::resolve(std::string_view relative) const {
    const std::filesystem::path rel(relative);
    if (rel.is_absolute()) fail(ExitCode::CorruptInput, std::string(relative) + ": absolute path inside a model");
    for (const auto& part : rel)
        if (part == "..") fail(ExitCode::CorruptInput, std::string(relative) + ": path escapes the model directory");
    if (!is_directory_) {
        if (rel != root_.filename()) fail(ExitCode::ModelNotFound, std::string(relative) + ": not part of " + name());
        return root_;
    }
    return root_ / rel;
}

bool DiskFileSet::exists(std::string_view relative) const {
    std::error_code ec;
    return std::filesystem::is_regular_file(resolve(relative), ec);
}

std::unique_ptr<ByteSource> DiskFileSet::open(std::string_view relative) const {
    return std::make_unique<FileSource>(resolve(relative));
}

std::vector<std::string> DiskFileSet::list() const {
    std::vector<std::string> names;
    if (!is_directory_) return {root_.filename().string()};
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root_, ec))
        if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace llmq::native
