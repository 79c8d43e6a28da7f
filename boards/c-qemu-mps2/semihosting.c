/* Semihosting over BKPT 0xAB (Armv6-M and Armv7-M alike). */
#include "semihosting.h"

#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUNTIME_ERROR 0x20023u

static uint32_t call(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_print(const char *s) {
    (void)call(SYS_WRITE0, s);
}

void sh_print_u32(uint32_t v) {
    char buf[11];
    int i = 10;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    sh_print(&buf[i]);
}

void sh_print_hex(uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    char buf[11];
    int i;
    buf[0] = '0';
    buf[1] = 'x';
    for (i = 0; i < 8; i++) {
        buf[2 + i] = digits[(v >> (28 - 4 * i)) & 0xfu];
    }
    buf[10] = '\0';
    sh_print(buf);
}

void sh_exit(int status) {
    /* QEMU exits 0 for ApplicationExit, 1 for any other reason. */
    (void)call(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                               : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}
