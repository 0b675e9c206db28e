// Errors across the JS boundary. JS adapters never throw into C++: they return an error object
// {isLlmqError: true, code, message, hint}, which becomes a Failure here; and nothing thrown in
// C++ reaches JS: the bindings turn every Failure into such an object.
#pragma once

#include <emscripten/val.h>

#include <string>

#include "llmq/error.hpp"

namespace llmq::wasm {

using emscripten::val;

bool is_error(const val& v);

// Throws the Failure an error object describes; returns v unchanged when it is not one.
val checked(val v);

// The JS object for an error: {isLlmqError, code, type, message, hint}.
val error_object(const Error& error);

// Reads a string property, empty when absent or not a string.
std::string string_property(const val& object, const char* key);

}  // namespace llmq::wasm
