/* A WASI command module that prints its arguments and environment, one per line: what
 * `run TARGET print_args.wasm --env KEY=VALUE -- ARGS` passed (the C runtime gets them with
 * the ARGS protocol message). The reactor guest `hello` prints the same lines from its
 * `print_args` export, for runtimes that cannot load code (wasm2c). */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e != NULL; e++)
        printf("env %s\n", *e);
    return 0;
}
