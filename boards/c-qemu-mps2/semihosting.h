/* Semihosting calls QEMU answers: write a string, exit with a status. */
#ifndef SEMIHOSTING_H
#define SEMIHOSTING_H

#include <stdint.h>

/* Write a NUL-terminated string to QEMU's stdout. */
void sh_print(const char *s);
/* Write `v` in decimal. */
void sh_print_u32(uint32_t v);
/* Write `v` as 0x and 8 hex digits. */
void sh_print_hex(uint32_t v);
/* End the emulation: status 0 is success, anything else a failure. */
void sh_exit(int status) __attribute__((noreturn));

#endif
