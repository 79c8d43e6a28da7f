/* The bundled models through the C door: classify the bundled test images
 * with the v1 model (fashion) and the V2 model (fashion_v2), both from one
 * library, and print per model
 *   <board> C fashion: N images, K correct, logits crc32 0x...
 * the CRC-32 of all int32 logits (little-endian, in order), which must be
 * the host's and the Rust firmware's. Exit 0 when every call succeeded. */
#include <stddef.h>
#include <stdint.h>

#include "fashion.h"
#include "fashion_v2.h"
#include "images.h"
#include "semihosting.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MAX_LABELS MAX(FASHION_NUM_LABELS, FASHION_V2_NUM_LABELS)

typedef convnext_status (*forward_fn)(const uint8_t *, size_t, void *, size_t, int32_t *, size_t);

/* The caller-owned arena, big enough for either model. */
static unsigned char arena[MAX(FASHION_ARENA_BYTES, FASHION_V2_ARENA_BYTES)];

/* CRC-32 (IEEE, reflected) of `n` bytes, continuing from `crc`. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    size_t i;
    int b;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return crc;
}

static int classify_all(const char *model, forward_fn forward, size_t num_labels) {
    int32_t logits[MAX_LABELS];
    uint32_t crc = 0xFFFFFFFFu, correct = 0;
    size_t i, j;
    for (i = 0; i < IMAGE_COUNT; i++) {
        size_t best = 0;
        convnext_status s = forward(&IMAGES[i * IMAGE_BYTES], IMAGE_BYTES, arena, sizeof arena,
                                    logits, num_labels);
        if (s != CONVNEXT_OK) {
            sh_print(model);
            sh_print(": ");
            sh_print(convnext_status_message(s));
            sh_print("\n");
            return 1;
        }
        for (j = 0; j < num_labels; j++) {
            uint8_t le[4];
            uint32_t v = (uint32_t)logits[j];
            le[0] = (uint8_t)v;
            le[1] = (uint8_t)(v >> 8);
            le[2] = (uint8_t)(v >> 16);
            le[3] = (uint8_t)(v >> 24);
            crc = crc32_update(crc, le, 4);
            if (logits[j] > logits[best]) {
                best = j;
            }
        }
        correct += best == LABELS[i];
    }
    sh_print(BOARD_NAME " C ");
    sh_print(model);
    sh_print(": ");
    sh_print_u32(IMAGE_COUNT);
    sh_print(" images, ");
    sh_print_u32(correct);
    sh_print(" correct, logits crc32 ");
    sh_print_hex(crc ^ 0xFFFFFFFFu);
    sh_print("\n");
    return 0;
}

int main(void) {
    int bad = classify_all("fashion", fashion_forward, FASHION_NUM_LABELS);
    bad |= classify_all("fashion_v2", fashion_v2_forward, FASHION_V2_NUM_LABELS);
    return bad;
}
