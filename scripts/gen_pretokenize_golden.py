#!/usr/bin/env python3
"""Generates tests/runtime/data/pretokenize_golden.json: how the pre-tokenizer regexes of
byte-level BPE vocabularies (gpt-2, llama-bpe, qwen2, and gpt-2 after splitting off every
number character as smollm/starcoder/refact/command-r do) split a set of texts, computed with the
`regex` module (a backtracking engine with \\p{..} support, as HuggingFace tokenizers uses).
The C++ scanners of core/src/runtime/tokenizer_pretokenize.cpp must reproduce these splits.

Texts: llama.cpp's tokenizer test inputs (tests/fixtures/vocab/ggml-vocab-gpt-2.gguf.inp) and
hand-picked cases for the rules the fixtures do not reach (case-insensitive contractions, digit
groups, \\r\\n runs, non-ASCII letters, numbers and spaces). Code points are chosen old enough
that the regex module's Unicode tables and ours (tokenizer_unicode_table.cpp) agree. Run from
the repository root:

    python3 scripts/gen_pretokenize_golden.py > tests/runtime/data/pretokenize_golden.json
"""
import json
import sys

import regex

PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "llama3": r"""(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "qwen2": r"""(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
}

# llama.cpp applies a vocabulary's regexes in sequence, each to the pieces the previous left
# (matches and the text between them); gpt2_digits is "\p{N}" and then the gpt-2 pattern.
def split_in_sequence(patterns, text):
    pieces = [text] if text else []
    for pattern in patterns:
        out = []
        for piece in pieces:
            pos = 0
            for m in regex.finditer(pattern, piece):
                if m.start() > pos:
                    out.append(piece[pos:m.start()])
                if m.end() > m.start():
                    out.append(m.group(0))
                pos = m.end()
            if pos < len(piece):
                out.append(piece[pos:])
        pieces = out
    return pieces


SEQUENCES = {"gpt2_digits": [r"\p{N}", PATTERNS["gpt2"]]}

EXTRA = [
    "I'M HERE, YOU'RE THERE, WE'LL SEE, HE'D GO, IT'S, DON'T, THEY'VE",
    "1234567890 12 123 1234 ١٢٣٤٥ ²³ Ⅻ 3.14159 1,000,000",
    "line one\r\nline two\r\n\r\n  indented\n\n\n\tTabbed\n \n",
    "trailing spaces   ",
    "   leading spaces",
    "mixed \t\t tabs\u3000ideographic\u00a0nbsp\u2003em space",
    "¿Qué tal? Ça va! naïve café Straße Ελληνικά Русский 日本語のテキスト 한국어",
    "(parenthesised) [bracketed] {braced} \"quoted\" 'single' `tick`",
    "x'sy 'sun 's 'S 'Ll 'lL ' 'x '",
    "a\n\nb\r\rc\r\n\r\nd \n e \r\n f",
    "!!!\n\n???\r\n...   ,,,",
    "emoji 👍🏽 family 👨‍👩‍👧 flag 🇫🇷 math ∑∫√ arrows →←",
    "tabs\tand\vvertical\fform feeds",
    "under_score snake_case CamelCase kebab-case dotted.name e-mail@example.com",
    "$100 €50 £20 ¥1000 50% #hashtag @mention",
    "",
    " ",
    "\n",
    "a",
    "Pi is 3.14159, born 1879; x²+½ 12345 apples and 2nd place ١٢٣ — ok",
    "a  1 b   22\t3\n 4  \n5 x1y 6'7 '8s 9'll",
]


def main() -> None:
    with open("tests/fixtures/vocab/ggml-vocab-gpt-2.gguf.inp", encoding="utf-8") as f:
        texts = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    cases = []
    for text in texts + EXTRA:
        case = {"text": text}
        for name, pattern in PATTERNS.items():
            case[name] = regex.findall(pattern, text)
            assert "".join(case[name]) == text, (name, text)
        for name, patterns in SEQUENCES.items():
            case[name] = split_in_sequence(patterns, text)
            assert "".join(case[name]) == text, (name, text)
        cases.append(case)
    json.dump({"generator": "scripts/gen_pretokenize_golden.py", "regex_module": regex.__version__,
               "cases": cases}, sys.stdout, ensure_ascii=True, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
