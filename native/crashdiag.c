// Crash diagnosis for faults inside native libraries (WCOS_CRASH_DIAG=1): on the first SIGSEGV,
// SIGBUS, SIGILL or SIGFPE whose pc is outside the executable (in a shared library, or nowhere) it
// prints the faulting pc and address and every word near the stack
// pointer that points into a loaded object (among them the return addresses: the callers), each as
// object+offset and symbol, then hands every fault to the previous handler (Go's), which prints its
// own report, or turns a fault in Go code into a panic as usual. Made for the exit crash seen on
// CUDA machines (a jump to a small address, after which Go's report shows registers but not which
// library made the call). Faults inside the executable (Go code, whose nil dereferences become
// panics, and wcos's own C) are left to Go's report, which names them.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "wcos_native.h"

static const int diag_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
enum { NSIG_DIAG = sizeof diag_signals / sizeof diag_signals[0], STACK_WORDS = 64 };
static struct sigaction previous[NSIG_DIAG];
static volatile sig_atomic_t reported;
static void *exe_base; // where the executable is mapped (dladdr's dli_fbase)

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

// report prints the diagnosis of one fault.
static void report(int sig, siginfo_t *si, void *uc_) {
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
    // The words at sp are the frames' return addresses among other values; only those inside a loaded
    // object print. process_vm_readv stops at the end of the mapping instead of faulting.
    uintptr_t words[STACK_WORDS];
    struct iovec local = {words, sizeof words}, remote = {(void *)sp, sizeof words};
    ssize_t got = sp ? process_vm_readv(getpid(), &local, 1, &remote, 1, 0) : 0;
    if (got < 0) { // not permitted here: only what lies on sp's own page
        got = (ssize_t)(4096 - (sp & 4095));
        got = got > (ssize_t)sizeof words ? (ssize_t)sizeof words : got;
        memcpy(words, (const void *)sp, (size_t)got);
    }
    for (int i = 0; i < (int)(got / (ssize_t)sizeof words[0]); i++) {
        uintptr_t w = words[i];
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
}

// in_exe reports whether pc lies in the executable.
static bool in_exe(void *uc_) {
    const ucontext_t *uc = uc_;
    uintptr_t pc = 0;
#if defined(__x86_64__)
    pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    pc = (uintptr_t)uc->uc_mcontext.pc;
#endif
    Dl_info in;
    return pc >= 4096 && dladdr((void *)pc, &in) && in.dli_fbase == exe_base;
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
    if (!reported && !in_exe(uc)) {
        reported = 1;
        report(sig, si, uc);
    }
    for (int i = 0; i < NSIG_DIAG; i++) {
        if (diag_signals[i] != sig) continue;
        struct sigaction *p = &previous[i];
        if (p->sa_flags & SA_SIGINFO) {
            p->sa_sigaction(sig, si, uc); // Go's handler: reports and exits, or sets up a panic and returns
        } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
            p->sa_handler(sig);
        } else {
            sigaction(sig, p, NULL); // the default action when the instruction faults again
        }
    }
}

void wcos_crash_diag_install(void) {
    Dl_info me;
    if (dladdr((void *)wcos_crash_diag_install, &me)) exe_base = me.dli_fbase;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK; // SA_ONSTACK: Go threads run handlers on their signal stack
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NSIG_DIAG; i++) {
        sigaction(diag_signals[i], &sa, &previous[i]);
    }
}
