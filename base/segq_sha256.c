/*  segq_sha256.c: SHA-256 (FIPS 180-4), streaming, libc only. */
#include "segq_sha256.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const uint32_t s_k [64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* Portable compression of `count` consecutive 64-byte blocks. */
static void
s_blocks_generic (uint32_t state [8], const uint8_t *data, size_t count)
{
    while (count--) {
        uint32_t w [64];
        for (int i = 0; i < 16; i++)
            w [i] = (uint32_t) data [4 * i] << 24 | (uint32_t) data [4 * i + 1] << 16
                    | (uint32_t) data [4 * i + 2] << 8 | (uint32_t) data [4 * i + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR (w [i - 15], 7) ^ ROR (w [i - 15], 18) ^ (w [i - 15] >> 3);
            uint32_t s1 = ROR (w [i - 2], 17) ^ ROR (w [i - 2], 19) ^ (w [i - 2] >> 10);
            w [i] = w [i - 16] + s0 + w [i - 7] + s1;
        }
        uint32_t a = state [0], b = state [1], c = state [2], d = state [3];
        uint32_t e = state [4], f = state [5], g = state [6], h = state [7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROR (e, 6) ^ ROR (e, 11) ^ ROR (e, 25)) + ((e & f) ^ (~e & g))
                          + s_k [i] + w [i];
            uint32_t t2 = (ROR (a, 2) ^ ROR (a, 13) ^ ROR (a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state [0] += a;
        state [1] += b;
        state [2] += c;
        state [3] += d;
        state [4] += e;
        state [5] += f;
        state [6] += g;
        state [7] += h;
        data += 64;
    }
}

#include "segq_sha256_ni.inc"

void
segq_sha256_init (segq_sha256_t *self)
{
    static const uint32_t initial [8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy (self->state, initial, sizeof initial);
    self->bytes = 0;
    self->used = 0;
}

void
segq_sha256_update (segq_sha256_t *self, const void *data, size_t size)
{
    const uint8_t *p = data;
    self->bytes += size;
    if (self->used) {
        size_t take = 64 - self->used < size ? 64 - self->used : size;
        memcpy (self->block + self->used, p, take);
        self->used += take;
        p += take;
        size -= take;
        if (self->used < 64)
            return;
        s_blocks (self->state, self->block, 1);
        self->used = 0;
    }
    if (size >= 64) {
        s_blocks (self->state, p, size / 64);
        p += size / 64 * 64;
        size %= 64;
    }
    memcpy (self->block, p, size);
    self->used = size;
}

void
segq_sha256_final (segq_sha256_t *self, char hex_out [SEGQ_HASH_HEX_LEN + 1])
{
    uint64_t bits = self->bytes * 8;
    self->block [self->used++] = 0x80;
    if (self->used > 56) {
        memset (self->block + self->used, 0, 64 - self->used);
        s_blocks (self->state, self->block, 1);
        self->used = 0;
    }
    memset (self->block + self->used, 0, 56 - self->used);
    for (int i = 0; i < 8; i++)
        self->block [56 + i] = (uint8_t) (bits >> (56 - 8 * i));
    s_blocks (self->state, self->block, 1);
    static const char digits [] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            hex_out [8 * i + j] = digits [(self->state [i] >> (28 - 4 * j)) & 0xf];
    hex_out [SEGQ_HASH_HEX_LEN] = '\0';
    self->used = 0;
}

int
segq_sha256_file (const char *path, char hex_out [SEGQ_HASH_HEX_LEN + 1])
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return errno == ENOENT || errno == ENOTDIR ? SEGQ_ENOENT : SEGQ_EIO;
    segq_sha256_t sha;
    segq_sha256_init (&sha);
    static _Thread_local uint8_t buffer [1 << 16];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, file)) > 0)
        segq_sha256_update (&sha, buffer, got);
    int failed = ferror (file);
    fclose (file);
    if (failed)
        return SEGQ_EIO;
    segq_sha256_final (&sha, hex_out);
    return SEGQ_OK;
}

int
segq_hash_valid (const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < SEGQ_HASH_HEX_LEN; i++) {
        char c = s [i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return s [SEGQ_HASH_HEX_LEN] == '\0';
}
