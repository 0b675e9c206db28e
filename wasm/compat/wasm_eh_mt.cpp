// The threaded module's half of wasm exception handling, in place of Emscripten 3.1.6's libunwind
// (Unwind-wasm.o), which Debian's toolchain gets wrong under -pthread: that library declares the
// landing pads' communication block `__wasm_lpad_context` thread_local, while clang 14 addresses it
// as an ordinary global. The landing pads then write one block and the personality function reads
// another, so no typed catch ever matches (catch (...) still does) and every Failure the core
// throws leaves the module as a trap. Defining the whole object here (all its functions, so the
// archive member is never linked) gives both sides the same, ordinary block.
//
// The block is shared by all threads, as the compiler assumes. A typed catch reached while another
// thread is between its landing pad and its catch could read that thread's selector; the pool
// keeps the typed catches on the loading thread (pool threads' tasks are caught with catch (...),
// which does not use the block), so that needs two threads failing within a few instructions.
#include <cstdint>

// The unwinder's C ABI, declared here: the toolchain has two unwind.h headers that disagree on
// integer types. Only the first two members of an exception object are read.
extern "C" {

struct _Unwind_Context;
struct _Unwind_Exception {
    uint64_t exception_class;
    void (*exception_cleanup)(int reason, _Unwind_Exception* exception);
};
constexpr int kForeignExceptionCaught = 1;  // _URC_FOREIGN_EXCEPTION_CAUGHT
constexpr int kCleanupPhase = 2;            // _UA_CLEANUP_PHASE

int __gxx_personality_wasm0(int version, int actions, uint64_t exception_class, _Unwind_Exception* exception, _Unwind_Context* context);

// Filled by the landing pads (index and LSDA of the pad), answered by the personality function
// (selector of the matching catch clause).
struct LandingPadBlock {
    uintptr_t lpad_index;
    uintptr_t lsda;
    uintptr_t selector;
};

LandingPadBlock __wasm_lpad_context;

// Called by every landing pad: wasm unwinds in the VM, so the personality function runs here, and
// only its cleanup phase (there is no separate search phase).
int _Unwind_CallPersonality(void* exception_ptr) {
    auto* exception = static_cast<_Unwind_Exception*>(exception_ptr);
    __wasm_lpad_context.selector = 0;
    return __gxx_personality_wasm0(1, kCleanupPhase, exception->exception_class, exception, reinterpret_cast<_Unwind_Context*>(&__wasm_lpad_context));
}

// __cxa_throw's last step: the VM's throw with the C++ tag (index 0).
int _Unwind_RaiseException(_Unwind_Exception* exception) {
    __builtin_wasm_throw(0, exception);
}

void _Unwind_DeleteException(_Unwind_Exception* exception) {
    if (exception->exception_cleanup) exception->exception_cleanup(kForeignExceptionCaught, exception);
}

// The personality function reports the selector as general register 1; nothing else is kept.
void _Unwind_SetGR(_Unwind_Context* context, int index, uintptr_t value) {
    if (index == 1) reinterpret_cast<LandingPadBlock*>(context)->selector = value;
}

// The personality function turns this into the 1-based call-site index (it subtracts one).
uintptr_t _Unwind_GetIP(_Unwind_Context* context) {
    return reinterpret_cast<LandingPadBlock*>(context)->lpad_index + 2;
}

void _Unwind_SetIP(_Unwind_Context*, uintptr_t) {}

uintptr_t _Unwind_GetLanguageSpecificData(_Unwind_Context* context) {
    return reinterpret_cast<LandingPadBlock*>(context)->lsda;
}

uintptr_t _Unwind_GetRegionStart(_Unwind_Context*) {
    return 0;
}

}  // extern "C"
