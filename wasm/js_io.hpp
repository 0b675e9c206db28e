// The core's byte interfaces over JS objects. Which JS object stands behind them (a browser
// File/Blob read with FileReaderSync, a Node file descriptor, an OPFS sync access handle) is the
// JS adapters' business (wasm/js/); the C++ side only fixes the protocol:
//   source  {name: string, size: number, read(offset: number, into: Uint8Array) -> error?, close?()}
//   sink    {name: string, write(bytes: Uint8Array) -> error?, finish() -> error?, abort()}
//   fileset {name: string, isDirectory: boolean, list() -> string[], exists(rel) -> boolean,
//            open(rel) -> source | error}
// Offsets and sizes cross as doubles (exact to 2^53), so files beyond 4 GiB work. The Uint8Array
// views point into the wasm heap and are only valid during the call.
#pragma once

#include <emscripten/val.h>

#include <memory>

#include "llmq/io/io.hpp"

namespace llmq::wasm {

using emscripten::val;

class JsSource final : public ByteSource {
public:
    explicit JsSource(val js);
    ~JsSource() override;
    JsSource(const JsSource&) = delete;
    JsSource& operator=(const JsSource&) = delete;
    uint64_t size() const override { return size_; }
    void read(uint64_t offset, std::span<uint8_t> out) const override;
    std::string name() const override { return name_; }

private:
    val js_;
    std::string name_;
    uint64_t size_ = 0;
};

// Buffers writes (one JS call per few MiB); the JS side writes at explicit positions and makes
// the file appear under its final name only in finish(). Destruction without finish() aborts.
class JsSink final : public ByteSink {
public:
    explicit JsSink(val js);
    ~JsSink() override;
    JsSink(const JsSink&) = delete;
    JsSink& operator=(const JsSink&) = delete;
    void write(std::span<const uint8_t> bytes) override;
    uint64_t bytes_written() const override { return written_; }
    void finish() override;
    void abort() noexcept override;
    std::string name() const override { return name_; }

private:
    void flush();
    val js_;
    std::string name_;
    std::vector<uint8_t> buffer_;
    uint64_t written_ = 0;
    bool closed_ = false;
};

// Relative names are checked here, with the native host's messages, before JS sees them.
class JsFileSet final : public FileSet {
public:
    explicit JsFileSet(val js);
    std::string name() const override { return name_; }
    bool is_directory() const override { return is_directory_; }
    bool exists(std::string_view relative) const override;
    std::unique_ptr<ByteSource> open(std::string_view relative) const override;
    std::vector<std::string> list() const override;

private:
    void check(std::string_view relative) const;
    val js_;
    std::string name_;
    bool is_directory_ = false;
};

}  // namespace llmq::wasm
