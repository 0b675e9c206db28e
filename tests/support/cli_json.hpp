// The JSON result a CLI run printed on stdout (--format json); a test failure, not a crash,
// when stdout is not JSON.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/run_cli.hpp"

namespace llmq::test {

inline nlohmann::json parse_json(const CliResult& r) {
    try {
        return nlohmann::json::parse(r.out);
    } catch (...) {
        ADD_FAILURE() << "stdout is not JSON: " << r.out << "\nstderr: " << r.err;
        return nlohmann::json::object();
    }
}

}  // namespace llmq::test
