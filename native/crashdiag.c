// Crash diagnosis for faults inside native libraries (WCOS_CRASH_DIAG=1): on the first SIGSEGV,
// SIGBUS, SIGILL or SIGFPE it prints the faulting pc and address and every word near the stack
// pointer that points into a loaded library's code (return addresses: the callers), each as
// library+offset and symbol, then restores the previous handler (Go's) and returns, so the fault
// repeats and Go prints its own report. Made for the exit crash seen on CUDA machines (a jump to a
// small address, after which Go's report shows registers but not which library made the call).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "wcos_native.h"

static const int diag_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
enum { NSIG_DIAG = sizeof diag_signals / sizeof diag_signals[0], STACK_WORDS = 64 };
static struct sigaction previous[NSIG_DIAG];

static void put(const char *s) {
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void put_hex(uintptr_t v) {
    char b[2 + 16 + 1];
    int n = sizeof b - 1;
    b[n] = 0;
    do {
        b[--n] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v && n > 2);
    b[--n] = 'x';
    b[--n] = '0';
    put(b + n);
}

// describe prints " lib+0xoff (symbol+0xoff)" for a code address and returns false for others.
static bool describe(uintptr_t a) {
    Dl_info in;
    if (a < 4096 || !dladdr((void *)a, &in) || !in.dli_fname) {
        return false;
    }
    const char *lib = strrchr(in.dli_fname, '/');
    put(" ");
    put(lib ? lib + 1 : in.dli_fname);
    put("+");
    put_hex(a - (uintptr_t)in.dli_fbase);
    if (in.dli_sname) {
        put(" (");
        put(in.dli_sname);
        put("+");
        put_hex(a - (uintptr_t)in.dli_saddr);
        put(")");
    }
    return true;
}

static void on_fault(int sig, siginfo_t *si, void *uc_) {
    ucontext_t *uc = uc_;
    uintptr_t pc = 0, sp = 0;
#if defined(__x86_64__)
    pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    pc = (uintptr_t)uc->uc_mcontext.pc;
    sp = (uintptr_t)uc->uc_mcontext.sp;
#endif
    put("wcos crash diag: signal ");
    put_hex((uintptr_t)sig);
    put(" pc ");
    put_hex(pc);
    describe(pc);
    put(" addr ");
    put_hex((uintptr_t)si->si_addr);
    put("\n");
    // The words at sp are the frames' return addresses among other values; only the code ones print.
    for (int i = 0; sp && i < STACK_WORDS; i++) {
        uintptr_t w = ((const uintptr_t *)sp)[i];
        Dl_info in;
        if (w < 4096 || !dladdr((void *)w, &in)) {
            continue;
        }
        put("  sp+");
        put_hex((uintptr_t)i * sizeof w);
        put(":");
        describe(w);
        put("\n");
    }
    for (int i = 0; i < NSIG_DIAG; i++) {
        sigaction(diag_signals[i], &previous[i], NULL);
    }
}

void wcos_crash_diag_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; // SA_ONSTACK: Go threads run handlers on their signal stack
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NSIG_DIAG; i++) {
        sigaction(diag_signals[i], &sa, &previous[i]);
    }
}
