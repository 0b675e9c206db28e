// printf-style formatting into a std::string, for the short numbers of messages and reports.
#pragma once

#include <cstdio>
#include <string>

namespace llmq {

// The formatted text; longer results are cut at 511 bytes (messages, table cells).
template <class... Args>
std::string strprintf(const char* format, Args... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, format, args...);
    return buf;
}

}  // namespace llmq
