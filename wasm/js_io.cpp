#include "js_io.hpp"

#include <emscripten/bind.h>

#include <algorithm>
#include <filesystem>

#include "js_error.hpp"
#include "js_thread.hpp"
#include "llmq/error.hpp"

namespace llmq::wasm {
namespace {

// Larger writes go out in one call; smaller ones are gathered first.
constexpr size_t kSinkBuffer = 4u << 20;
// One JS read at most: browsers refuse ArrayBuffers near 2 GiB.
constexpr size_t kMaxRead = 256u << 20;

val view(std::span<const uint8_t> bytes) {
    return val(emscripten::typed_memory_view(bytes.size(), bytes.data()));
}

bool has_method(const val& object, const char* name) {
    return object[name].typeOf().as<std::string>() == "function";
}

}  // namespace

JsSource::JsSource(val js) : js_(std::move(js)) {
    name_ = string_property(js_, "name");
    const double size = js_["size"].as<double>();
    size_ = size > 0 ? static_cast<uint64_t>(size) : 0;
}

JsSource::~JsSource() {
    on_js_thread([&] {
        if (has_method(js_, "close")) js_.call<void>("close");
        js_ = val::undefined();
    });
}

void JsSource::read(uint64_t offset, std::span<uint8_t> out) const {
    if (offset > size_ || out.size() > size_ - offset) {
        fail(ExitCode::CorruptInput, name_ + ": truncated (needs " + std::to_string(out.size()) + " bytes at offset " + std::to_string(offset) +
                                         ", file has " + std::to_string(size_) + ")");
    }
    while (!out.empty()) {
        const size_t n = std::min(out.size(), kMaxRead);
        on_js_thread([&] { checked(js_.call<val>("read", static_cast<double>(offset), val(emscripten::typed_memory_view(n, out.data())))); });
        out = out.subspan(n);
        offset += n;
    }
}

JsSink::JsSink(val js) : js_(std::move(js)) {
    name_ = string_property(js_, "name");
    buffer_.reserve(kSinkBuffer);
}

JsSink::~JsSink() {
    abort();
    on_js_thread([&] { js_ = val::undefined(); });
}

void JsSink::flush() {
    if (buffer_.empty()) return;
    on_js_thread([&] {
        const val error = js_.call<val>("write", view(buffer_));
        buffer_.clear();
        if (is_error(error)) {
            abort();
            checked(error);
        }
    });
}

void JsSink::write(std::span<const uint8_t> bytes) {
    if (closed_) fail(ExitCode::OutputIo, name_ + ": write after close");
    written_ += bytes.size();
    if (bytes.size() >= kSinkBuffer) {
        flush();
        on_js_thread([&] {
            const val error = js_.call<val>("write", view(bytes));
            if (is_error(error)) {
                abort();
                checked(error);
            }
        });
        return;
    }
    if (buffer_.size() + bytes.size() > kSinkBuffer) flush();
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void JsSink::finish() {
    if (closed_) fail(ExitCode::OutputIo, name_ + ": already closed");
    flush();
    closed_ = true;
    // The JS side cleans up after itself when finishing fails.
    on_js_thread([&] { checked(js_.call<val>("finish")); });
}

void JsSink::abort() noexcept {
    buffer_.clear();
    if (closed_) return;
    closed_ = true;
    on_js_thread([&] { js_.call<void>("abort"); });
}

JsFileSet::JsFileSet(val js) : js_(std::move(js)) {
    name_ = string_property(js_, "name");
    is_directory_ = js_["isDirectory"].isTrue();
}

void JsFileSet::check(std::string_view relative) const {
    const std::filesystem::path rel(relative);
    if (rel.is_absolute()) fail(ExitCode::CorruptInput, std::string(relative) + ": absolute path inside a model");
    for (const auto& part : rel)
        if (part == "..") fail(ExitCode::CorruptInput, std::string(relative) + ": path escapes the model directory");
    if (!is_directory_ && rel != std::filesystem::path(name_).filename()) {
        fail(ExitCode::ModelNotFound, std::string(relative) + ": not part of " + name_);
    }
}

bool JsFileSet::exists(std::string_view relative) const {
    check(relative);
    return on_js_thread([&] { return js_.call<val>("exists", std::string(relative)).isTrue(); });
}

std::unique_ptr<ByteSource> JsFileSet::open(std::string_view relative) const {
    check(relative);
    return on_js_thread(
        [&]() -> std::unique_ptr<ByteSource> { return std::make_unique<JsSource>(checked(js_.call<val>("open", std::string(relative)))); });
}

std::vector<std::string> JsFileSet::list() const {
    auto names = on_js_thread([&] { return emscripten::vecFromJSArray<std::string>(js_.call<val>("list")); });
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace llmq::wasm
