/* The C door's test program: two models from one library (fashion and
 * fashion_v2, `convnext export-c --model A --name fashion --model B --name
 * fashion_v2`). It classifies the raw images of IMAGES.bin (u8, 28x28,
 * one after another) with both, prints each image's int32 logits and top
 * label, then checks that every refusal returns its own status and writes
 * nothing. Exit 0 when every call returned what it should. */
#include <stdio.h>
#include <string.h>

#include "fashion.h"
#include "fashion_v2.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static unsigned char arena[MAX(FASHION_ARENA_BYTES, FASHION_V2_ARENA_BYTES)];

static int expect(convnext_status got, convnext_status want, const char *what) {
    if (got == want) {
        return 0;
    }
    fprintf(stderr, "%s: %d (%s), expected %d (%s)\n", what, (int)got,
            convnext_status_message(got), (int)want, convnext_status_message(want));
    return 1;
}

static void print_logits(const char *model, const int32_t *logits, size_t n, const char *top) {
    size_t i;
    printf("%s", model);
    for (i = 0; i < n; i++) {
        printf(" %ld", (long)logits[i]);
    }
    printf(" | %s\n", top);
}

static int refusals(void) {
    uint8_t image[FASHION_INPUT_BYTES];
    int32_t logits[FASHION_NUM_LABELS + 1];
    size_t top[FASHION_NUM_LABELS + 1];
    int bad = 0;
    memset(image, 0, sizeof image);
    logits[0] = 12345;
    bad |= expect(fashion_forward(NULL, sizeof image, arena, sizeof arena, logits, FASHION_NUM_LABELS),
                  CONVNEXT_ERROR_NULL_POINTER, "NULL image");
    bad |= expect(fashion_forward(image, sizeof image, NULL, sizeof arena, logits, FASHION_NUM_LABELS),
                  CONVNEXT_ERROR_NULL_POINTER, "NULL arena");
    bad |= expect(fashion_forward(image, sizeof image, arena, sizeof arena, NULL, FASHION_NUM_LABELS),
                  CONVNEXT_ERROR_NULL_POINTER, "NULL logits");
    bad |= expect(fashion_forward(image, sizeof image - 1, arena, sizeof arena, logits, FASHION_NUM_LABELS),
                  CONVNEXT_ERROR_IMAGE_SIZE, "short image");
    bad |= expect(fashion_forward(image, sizeof image + 1, arena, sizeof arena, logits, FASHION_NUM_LABELS),
                  CONVNEXT_ERROR_IMAGE_SIZE, "long image");
    bad |= expect(fashion_forward(image, sizeof image, arena, FASHION_ARENA_BYTES - 1, logits, FASHION_NUM_LABELS),
                  CONVNEXT_ERROR_ARENA_TOO_SMALL, "short arena");
    bad |= expect(fashion_forward(image, sizeof image, arena, sizeof arena, logits, FASHION_NUM_LABELS - 1),
                  CONVNEXT_ERROR_LOGITS_TOO_SMALL, "short logits");
    if (logits[0] != 12345) {
        fprintf(stderr, "a refused call wrote the logits\n");
        bad = 1;
    }
    /* A longer logits buffer is fine: the first NUM_LABELS are written. */
    logits[FASHION_NUM_LABELS] = 777;
    bad |= expect(fashion_forward(image, sizeof image, arena, sizeof arena, logits, FASHION_NUM_LABELS + 1),
                  CONVNEXT_OK, "long logits");
    if (logits[FASHION_NUM_LABELS] != 777) {
        fprintf(stderr, "forward wrote past NUM_LABELS\n");
        bad = 1;
    }
    bad |= expect(fashion_top_k(NULL, FASHION_NUM_LABELS, top, 1), CONVNEXT_ERROR_NULL_POINTER, "top_k NULL logits");
    bad |= expect(fashion_top_k(logits, FASHION_NUM_LABELS, NULL, 1), CONVNEXT_ERROR_NULL_POINTER, "top_k NULL indices");
    bad |= expect(fashion_top_k(logits, FASHION_NUM_LABELS - 1, top, 1), CONVNEXT_ERROR_LOGITS_TOO_SMALL, "top_k short logits");
    bad |= expect(fashion_top_k(logits, FASHION_NUM_LABELS, top, 0), CONVNEXT_ERROR_TOP_K, "top_k k = 0");
    bad |= expect(fashion_top_k(logits, FASHION_NUM_LABELS, top, FASHION_NUM_LABELS + 1), CONVNEXT_ERROR_TOP_K, "top_k k too large");
    bad |= expect(fashion_top_k(logits, FASHION_NUM_LABELS, top, FASHION_NUM_LABELS), CONVNEXT_OK, "top_k all");
    if (fashion_label(FASHION_NUM_LABELS) != NULL || fashion_label(0) == NULL) {
        fprintf(stderr, "fashion_label: NULL exactly past the last label\n");
        bad = 1;
    }
    if (convnext_status_message((convnext_status)-99) == NULL || convnext_status_message(CONVNEXT_OK) == NULL) {
        fprintf(stderr, "convnext_status_message returned NULL\n");
        bad = 1;
    }
    return bad;
}

int main(int argc, char **argv) {
    uint8_t image[FASHION_INPUT_BYTES];
    int32_t logits[FASHION_NUM_LABELS], logits_v2[FASHION_V2_NUM_LABELS];
    size_t top[3];
    int bad = 0;
    FILE *f;
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGES.bin\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    while (fread(image, 1, sizeof image, f) == sizeof image) {
        bad |= expect(fashion_forward(image, sizeof image, arena, sizeof arena, logits, FASHION_NUM_LABELS),
                      CONVNEXT_OK, "fashion_forward");
        bad |= expect(fashion_top_k(logits, FASHION_NUM_LABELS, top, 3), CONVNEXT_OK, "fashion_top_k");
        print_logits("fashion", logits, FASHION_NUM_LABELS, fashion_label(top[0]));
        bad |= expect(fashion_v2_forward(image, sizeof image, arena, sizeof arena, logits_v2, FASHION_V2_NUM_LABELS),
                      CONVNEXT_OK, "fashion_v2_forward");
        bad |= expect(fashion_v2_top_k(logits_v2, FASHION_V2_NUM_LABELS, top, 1), CONVNEXT_OK, "fashion_v2_top_k");
        print_logits("fashion_v2", logits_v2, FASHION_V2_NUM_LABELS, fashion_v2_label(top[0]));
    }
    fclose(f);
    bad |= refusals();
    printf("refusals %s\n", bad ? "FAILED" : "ok");
    return bad;
}
