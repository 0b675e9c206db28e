#include "js_error.hpp"

namespace llmq::wasm {

bool is_error(const val& v) {
    return v.typeOf().as<std::string>() == "object" && !v.isNull() && v["isLlmqError"].isTrue();
}

std::string string_property(const val& object, const char* key) {
    const val v = object[key];
    return v.isString() ? v.as<std::string>() : std::string();
}

val checked(val v) {
    if (!is_error(v)) return v;
    const val code = v["code"];
    const int n = code.isNumber() ? code.as<int>() : static_cast<int>(ExitCode::General);
    fail(static_cast<ExitCode>(n), string_property(v, "message"), string_property(v, "hint"));
}

val error_object(const Error& error) {
    val o = val::object();
    o.set("isLlmqError", true);
    o.set("code", static_cast<int>(error.code));
    o.set("type", std::string(error_type_name(error.code)));
    o.set("message", error.message);
    o.set("hint", error.suggestion.empty() ? val::null() : val(error.suggestion));
    return o;
}

}  // namespace llmq::wasm
