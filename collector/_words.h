/* Byte scans 8 bytes at a time (SWAR) for the C hot path (_fastpath.c and its level
 * detector _levels.h, which include this after <Python.h>, <stdint.h>, <string.h>).
 * Loads are memcpy within the caller's bounds (never past a buffer's end: the last
 * 0-7 bytes go byte by byte), in little-endian order so that the lowest flagged byte
 * of a mask is the first one in memory. The flag tricks (w_less, w_eq) can flag a
 * byte *above* a truly flagged one (a borrow carries into it), never one below: only
 * the lowest flagged byte is used, and it is exact. */

#ifndef LOGPIPE_WORDS_H
#define LOGPIPE_WORDS_H

#define W_ONES 0x0101010101010101ULL
#define W_HIGH 0x8080808080808080ULL

static inline uint64_t w_load(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* the high bit of each byte < lim (lim <= 0x80) */
static inline uint64_t w_less(uint64_t w, uint8_t lim) {
    return (w - W_ONES * lim) & ~w & W_HIGH;
}

/* the high bit of each byte == c */
static inline uint64_t w_eq(uint64_t w, uint8_t c) { return w_less(w ^ (W_ONES * c), 1); }

/* the index of the lowest flagged byte of a mask that is not 0 */
static inline int w_first(uint64_t m) {
#if defined(__GNUC__)
    return __builtin_ctzll(m) >> 3;
#else
    int i = 0;
    for (; !(m & 0x80); m >>= 8) i++;
    return i;
#endif
}

/* Bytes a JSON string cannot hold as they are: '"', '\\' and controls. */
static inline uint64_t w_json_special(uint64_t w) {
    return w_less(w, 0x20) | w_eq(w, '"') | w_eq(w, '\\');
}

/* The length of the run at s[0:n] without a byte JSON escapes. */
static inline Py_ssize_t json_clean_run(const uint8_t *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t m = w_json_special(w_load(s + i));
        if (m) return i + w_first(m);
    }
    for (; i < n; i++)
        if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\') break;
    return i;
}

/* The length of the run at s[0:n] of plain ASCII in a JSON string: no '"', '\\',
 * control or byte >= 0x80 (what parse_docker's "log" copies as it is). */
static inline Py_ssize_t ascii_clean_run(const uint8_t *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w = w_load(s + i), m = w_json_special(w) | (w & W_HIGH);
        if (m) return i + w_first(m);
    }
    for (; i < n; i++)
        if (s[i] < 0x20 || s[i] >= 0x80 || s[i] == '"' || s[i] == '\\') break;
    return i;
}

#endif
