/* Reset: copy .data from flash, zero .bss, enable the FPU where there is
 * one, run main, exit through semihosting with its status. Faults print a
 * line and exit 1. */
#include <stdint.h>

#include "semihosting.h"

extern uint32_t _data_start, _data_end, _data_load, _bss_start, _bss_end, _stack_top;
int main(void);

void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((noreturn));

void Reset_Handler(void) {
    uint32_t *src = &_data_load, *dst = &_data_start;
    while (dst < &_data_end) {
        *dst++ = *src++;
    }
    for (dst = &_bss_start; dst < &_bss_end;) {
        *dst++ = 0;
    }
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 (the FPU). */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    sh_exit(main());
}

void Fault_Handler(void) {
    sh_print("fault\n");
    sh_exit(1);
}

/* Initial stack pointer, then reset, NMI, HardFault and the rest of the
 * Armv7-M/Armv8-M fault vectors. */
struct vector_table {
    uint32_t *stack_top;
    void (*handlers[6])(void);
};

__attribute__((section(".vectors"), used)) static const struct vector_table vectors = {
    &_stack_top,
    {Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler},
};
