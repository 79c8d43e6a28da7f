/* The C door's test program: two models from one library (fashion and
 * fashion_v2, `convnext export-c --model A --name fashion --model B --name
 * fashion_v2`). It classifies the raw images of IMAGES.bin (u8, 28x28,
 * one after another) with both, prints each image's int32 logits and top
 * label, classifies each again row by row through fashion's stream
 * functions (v1 streams; V2's GRN does not), then checks that every refusal
 * returns its own status and writes nothing. Exit 0 when every call returned what it should. */
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

/* Classify `image` row by row through the stream functions: the same logits
 * as fashion_forward's `want`. */
static int streamed(const uint8_t *image, const int32_t *want) {
    static unsigned char stream_arena[FASHION_STREAM_ARENA_BYTES];
    convnext_stream stream;
    int32_t logits[FASHION_NUM_LABELS];
    size_t r;
    int bad = expect(fashion_stream_begin(&stream, stream_arena, sizeof stream_arena), CONVNEXT_OK,
                     "stream_begin");
    for (r = 0; r < FASHION_INPUT_HEIGHT; r++) {
        bad |= expect(fashion_stream_push_row(&stream, stream_arena, sizeof stream_arena,
                                              &image[r * FASHION_STREAM_ROW_BYTES],
                                              FASHION_STREAM_ROW_BYTES),
                      CONVNEXT_OK, "stream_push_row");
    }
    bad |= expect(fashion_stream_finish(&stream, stream_arena, sizeof stream_arena, logits,
                                        FASHION_NUM_LABELS),
                  CONVNEXT_OK, "stream_finish");
    if (memcmp(logits, want, sizeof logits) != 0) {
        fprintf(stderr, "streamed logits differ from fashion_forward's\n");
        bad = 1;
    }
    return bad;
}

/* Every refusal of the stream functions. */
static int stream_refusals(void) {
    static unsigned char stream_arena[FASHION_STREAM_ARENA_BYTES];
    uint8_t row[FASHION_STREAM_ROW_BYTES];
    int32_t logits[FASHION_NUM_LABELS];
    convnext_stream stream, bent;
    size_t r;
    int bad = 0;
    memset(row, 0, sizeof row);
    bad |= expect(fashion_stream_begin(NULL, stream_arena, sizeof stream_arena),
                  CONVNEXT_ERROR_NULL_POINTER, "stream_begin NULL stream");
    bad |= expect(fashion_stream_begin(&stream, stream_arena, FASHION_STREAM_ARENA_BYTES - 1),
                  CONVNEXT_ERROR_ARENA_TOO_SMALL, "stream_begin short arena");
    bad |= expect(fashion_stream_begin(&stream, stream_arena, sizeof stream_arena), CONVNEXT_OK,
                  "stream_begin");
    bad |= expect(fashion_stream_push_row(&stream, stream_arena, sizeof stream_arena, NULL, sizeof row),
                  CONVNEXT_ERROR_NULL_POINTER, "push_row NULL row");
    bad |= expect(fashion_stream_push_row(&stream, stream_arena, sizeof stream_arena, row, sizeof row - 1),
                  CONVNEXT_ERROR_IMAGE_SIZE, "push_row short row");
    for (r = 0; r + 1 < FASHION_INPUT_HEIGHT; r++) {
        bad |= expect(fashion_stream_push_row(&stream, stream_arena, sizeof stream_arena, row, sizeof row),
                      CONVNEXT_OK, "push_row");
    }
    bad |= expect(fashion_stream_finish(&stream, stream_arena, sizeof stream_arena, logits, FASHION_NUM_LABELS),
                  CONVNEXT_ERROR_ROWS, "finish a row early");
    bad |= expect(fashion_stream_finish(&stream, stream_arena, sizeof stream_arena, logits, FASHION_NUM_LABELS - 1),
                  CONVNEXT_ERROR_LOGITS_TOO_SMALL, "finish short logits");
    bent = stream;
    bent.opaque[0] = 1000u;
    bad |= expect(fashion_stream_push_row(&bent, stream_arena, sizeof stream_arena, row, sizeof row),
                  CONVNEXT_ERROR_ROWS, "push_row on a state no stream reaches");
    bad |= expect(fashion_stream_push_row(&stream, stream_arena, sizeof stream_arena, row, sizeof row),
                  CONVNEXT_OK, "push_row the last row");
    bad |= expect(fashion_stream_push_row(&stream, stream_arena, sizeof stream_arena, row, sizeof row),
                  CONVNEXT_ERROR_ROWS, "push_row a row too many");
    bad |= expect(fashion_stream_finish(&stream, stream_arena, sizeof stream_arena, logits, FASHION_NUM_LABELS),
                  CONVNEXT_OK, "finish");
    return bad;
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
        bad |= streamed(image, logits);
        bad |= expect(fashion_v2_forward(image, sizeof image, arena, sizeof arena, logits_v2, FASHION_V2_NUM_LABELS),
                      CONVNEXT_OK, "fashion_v2_forward");
        bad |= expect(fashion_v2_top_k(logits_v2, FASHION_V2_NUM_LABELS, top, 1), CONVNEXT_OK, "fashion_v2_top_k");
        print_logits("fashion_v2", logits_v2, FASHION_V2_NUM_LABELS, fashion_v2_label(top[0]));
    }
    fclose(f);
    bad |= refusals();
    bad |= stream_refusals();
    printf("refusals %s\n", bad ? "FAILED" : "ok");
    return bad;
}
