/* The C door's backbone test program: run `backbone_forward_features` on
 * the raw images of IMAGES.bin (u8 HWC at the input size, one after
 * another), print the map table and each image's int8 maps, then check
 * every refusal. Exit 0 when every call returned what it should. */
#include <stdio.h>
#include <string.h>

#include "backbone.h"

static unsigned char arena[BACKBONE_ARENA_BYTES];
static int8_t maps[BACKBONE_FEATURE_MAP_BYTES + 1];
static uint8_t image[BACKBONE_INPUT_BYTES];

static int expect(convnext_status got, convnext_status want, const char *what) {
    if (got == want) {
        return 0;
    }
    fprintf(stderr, "%s: %d (%s), expected %d\n", what, (int)got, convnext_status_message(got),
            (int)want);
    return 1;
}

int main(int argc, char **argv) {
    size_t i;
    int bad = 0;
    FILE *f;
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGES.bin\n", argv[0]);
        return 2;
    }
    for (i = 0; i < BACKBONE_NUM_FEATURE_MAPS; i++) {
        const convnext_feature_map *m = backbone_feature_map(i);
        printf("map %s %lu %lu %lu %lu %.9g %ld\n", m->name, (unsigned long)m->channels,
               (unsigned long)m->height, (unsigned long)m->width, (unsigned long)m->offset,
               (double)m->scale, (long)m->zero_point);
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    while (fread(image, 1, sizeof image, f) == sizeof image) {
        bad |= expect(backbone_forward_features(image, sizeof image, arena, sizeof arena, maps,
                                                BACKBONE_FEATURE_MAP_BYTES),
                      CONVNEXT_OK, "forward_features");
        printf("maps");
        for (i = 0; i < BACKBONE_FEATURE_MAP_BYTES; i++) {
            printf(" %d", (int)maps[i]);
        }
        printf("\n");
    }
    fclose(f);
    maps[BACKBONE_FEATURE_MAP_BYTES] = 99;
    bad |= expect(backbone_forward_features(NULL, sizeof image, arena, sizeof arena, maps,
                                            BACKBONE_FEATURE_MAP_BYTES),
                  CONVNEXT_ERROR_NULL_POINTER, "NULL image");
    bad |= expect(backbone_forward_features(image, sizeof image, arena, sizeof arena, NULL,
                                            BACKBONE_FEATURE_MAP_BYTES),
                  CONVNEXT_ERROR_NULL_POINTER, "NULL maps");
    bad |= expect(backbone_forward_features(image, sizeof image - 1, arena, sizeof arena, maps,
                                            BACKBONE_FEATURE_MAP_BYTES),
                  CONVNEXT_ERROR_IMAGE_SIZE, "short image");
    bad |= expect(backbone_forward_features(image, sizeof image, arena, sizeof arena - 1, maps,
                                            BACKBONE_FEATURE_MAP_BYTES),
                  CONVNEXT_ERROR_ARENA_TOO_SMALL, "short arena");
    bad |= expect(backbone_forward_features(image, sizeof image, arena, sizeof arena, maps,
                                            BACKBONE_FEATURE_MAP_BYTES - 1),
                  CONVNEXT_ERROR_FEATURE_MAPS_TOO_SMALL, "short maps");
    bad |= expect(backbone_forward_features(image, sizeof image, arena, sizeof arena, maps,
                                            BACKBONE_FEATURE_MAP_BYTES + 1),
                  CONVNEXT_OK, "long maps");
    if (maps[BACKBONE_FEATURE_MAP_BYTES] != 99) {
        fprintf(stderr, "forward_features wrote past FEATURE_MAP_BYTES\n");
        bad = 1;
    }
    if (backbone_feature_map(BACKBONE_NUM_FEATURE_MAPS) != NULL) {
        fprintf(stderr, "backbone_feature_map: not NULL past the last\n");
        bad = 1;
    }
    printf("refusals %s\n", bad ? "FAILED" : "ok");
    return bad;
}
