// The bundled prompts of the coherence check. Written for llmq: openings any English language
// model can continue, in the registers small test models are trained on (children's stories,
// scripture-like verse, satirical dictionary entries) as well as plain narrative, dialogue and
// description. Fixed: scores are only comparable while this list stays the same.
#include <array>

#include "llmq/analysis/coherence.hpp"

namespace llmq {
namespace {

constexpr std::array<std::string_view, 24> kPrompts = {
    // story openings
    "Once upon a time, there was a little girl named Lily.",
    "One day, a boy named Tom went to the park with his mom.",
    "There was once a big tree in the middle of the forest.",
    "Ben and his sister liked to build tall towers with blocks.",
    // narrative in the middle of a story
    "The little dog was very happy because",
    "The cat was hungry, so it",
    "Tim wanted to help his friend, but",
    "In the morning, the sun was bright and warm. Anna went outside and",
    "The old man looked at the sea and",
    // dialogue
    "Mom said, \"It is time to go to bed.\"",
    "\"Can I play with you?\" asked the little bird.",
    "\"Thank you,\" said the girl. \"You are very kind.\"",
    // verse-like lines
    "In the beginning God created the heaven and the earth.",
    "And the LORD spake unto Moses, saying,",
    "The LORD is my shepherd;",
    "And it came to pass, when the king heard these words,",
    "Honour thy father and thy mother:",
    // definition-like lines
    "ABSURDITY, n. A statement or belief",
    "PATIENCE, n. A minor form of",
    "LAWYER, n. One skilled in",
    // description and explanation
    "The teacher asked the children what they wanted to be when they grew up.",
    "Sara found a shiny red ball in the garden. She",
    "The king had three sons, and the youngest was",
    "It was a cold winter night, and the snow",
};

}  // namespace

std::span<const std::string_view> coherence_prompts() {
    return kPrompts;
}

}  // namespace llmq
