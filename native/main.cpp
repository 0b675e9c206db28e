// The native llmq executable: hands argv to the shared command layer with native I/O adapters.
#include <cstdio>

int main() {
    std::fputs("llmq: command layer not built yet\n", stderr);
    return 1;
}
