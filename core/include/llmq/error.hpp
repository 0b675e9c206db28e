// Errors of the core: an exit code from CLI.md, a one-line message and an optional hint.
// Inside the core they travel as exceptions (Failure); hosts only ever see llmq::Error values.
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace llmq {

enum class ExitCode : int {
    Success = 0,
    General = 1,
    Usage = 2,
    ModelNotFound = 3,
    AuthRequired = 4,
    OutOfMemory = 5,
    Unsupported = 6,
    OutputIo = 7,
    CorruptInput = 8,
    Imatrix = 10,
    QualityDegraded = 11,
    CoherenceFailed = 12,
    Profile = 13,
    SmoothQuant = 14,
    Calibration = 15,
    Importance = 16,
    Interrupted = 130,
};

struct Error {
    ExitCode code = ExitCode::General;
    std::string message;
    std::string suggestion;  // empty when there is no hint
};

// Short machine name of a code for JSON ("corrupt_input", "usage", ...).
std::string_view error_type_name(ExitCode code);

class Failure : public std::exception {
public:
    explicit Failure(Error error) : error_(std::move(error)) {}
    Failure(ExitCode code, std::string message, std::string suggestion = {}) : error_{code, std::move(message), std::move(suggestion)} {}
    const char* what() const noexcept override { return error_.message.c_str(); }
    const Error& error() const noexcept { return error_; }

private:
    Error error_;
};

[[noreturn]] inline void fail(ExitCode code, std::string message, std::string suggestion = {}) {
    throw Failure(code, std::move(message), std::move(suggestion));
}

}  // namespace llmq
