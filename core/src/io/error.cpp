#include "llmq/error.hpp"

namespace llmq {

std::string_view error_type_name(ExitCode code) {
    switch (code) {
        case ExitCode::Success:
            return "success";
        case ExitCode::General:
            return "general";
        case ExitCode::Usage:
            return "usage";
        case ExitCode::ModelNotFound:
            return "model_not_found";
        case ExitCode::AuthRequired:
            return "authentication_required";
        case ExitCode::OutOfMemory:
            return "out_of_memory";
        case ExitCode::Unsupported:
            return "unsupported";
        case ExitCode::OutputIo:
            return "output_io";
        case ExitCode::CorruptInput:
            return "corrupt_input";
        case ExitCode::Imatrix:
            return "imatrix";
        case ExitCode::QualityDegraded:
            return "quality_degraded";
        case ExitCode::CoherenceFailed:
            return "coherence_failed";
        case ExitCode::Profile:
            return "profile";
        case ExitCode::SmoothQuant:
            return "smoothquant";
        case ExitCode::Calibration:
            return "calibration";
        case ExitCode::Importance:
            return "importance";
        case ExitCode::Interrupted:
            return "interrupted";
    }
    return "general";
}

}  // namespace llmq
