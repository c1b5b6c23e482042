/* The container log hot path in C, for both layouts: Docker json-file
 * {"log":"...\n","stream":"stdout|stderr","time":"..."} and CRI
 * "<RFC3339Nano> <stdout|stderr> <P|F> <text>". It splits a chunk into lines,
 * parses the common shapes, joins partial pieces (Docker's 16 KiB pieces without
 * "\n", CRI "P") and lines (holds each entry until the next line of its stream
 * shows it is not a continuation, and joins the continuation lines of a plain entry:
 * indented, a CONTINUES prefix, on a learned stream a line without its header, and
 * in a trace mode -- Python traceback, Go dump -- the lines StreamJoiner._continues
 * joins, the mode moving as there),
 * detects the level (the C detector of _levels.h: level_detect.detect_level's cascade
 * and hint), computes the id and writes the record bytes exactly as
 * collector.source.Source.emit would.
 *
 * (Docker's optional "attrs" object is accepted: the Python path ignores it too.)
 * Anything else -- invalid JSON or UTF-8, NUL, other keys, a time that is not
 * plain UTC RFC 3339, an over-long line or joined entry, a trace-mode line whose
 * rule needs Unicode \w (non-ASCII), a continuation line past the
 * joiner's caps, another kind's header or a relearn on a learned stream, a joiner
 * holding what only Python carries (tags, lines of another file) --
 * stops the scan *before* that line so the Python path handles it; see
 * collector/fastpath.py. The C path only ever takes the shortcut where the Python
 * code's outcome is known.
 *
 * It owns no rule and no Python object's insides: the level words, the
 * continuation shapes (init), the learned-start shapes (init_starts) and the record
 * layout with its tails (Context) are handed in by Python, and the joiners' held
 * entries, pieces and learned-start state come in and go out as plain tuples. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#include "_words.h"  /* byte scans 8 bytes a step (here and in _levels.h) */
#include "_levels.h" /* the level detector (init_levels, entry_level) */

/* ------------------------------------------------------------------ BLAKE2b -- */
/* RFC 7693, unkeyed, 16-byte digest (what hashlib.blake2b(digest_size=16) gives). */

static const uint64_t B2_IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

static const uint8_t B2_SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define B2G(a, b, c, d, x, y)         \
    do {                              \
        a = a + b + (x);              \
        d = ROTR64(d ^ a, 32);        \
        c = c + d;                    \
        b = ROTR64(b ^ c, 24);        \
        a = a + b + (y);              \
        d = ROTR64(d ^ a, 16);        \
        c = c + d;                    \
        b = ROTR64(b ^ c, 63);        \
    } while (0)

static void b2_compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last) {
    uint64_t m[16], v[16];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(m, block, sizeof m); /* the words are little-endian: one copy */
#else
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--) w = (w << 8) | block[i * 8 + k];
        m[i] = w;
    }
#endif
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= t;  /* inputs here are far below 2^64 bytes: the high counter stays 0 */
    if (last) v[14] = ~v[14];
    /* Unrolled, the sigma indexes are constants and the message words stay in
       registers: the id of every record is one compression (a third faster). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 12
#endif
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = B2_SIGMA[r];
        B2G(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
        B2G(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
        B2G(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
        B2G(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
        B2G(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
        B2G(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
        B2G(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
        B2G(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

/* blake2b-128 of a ++ b, written as 32 lowercase hex digits to out. */
static void b2_hex(const uint8_t *a, Py_ssize_t alen, const uint8_t *b, Py_ssize_t blen,
                   char *out) {
    uint64_t h[8];
    uint8_t block[128];
    size_t fill = 0;
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) h[i] = B2_IV[i];
    h[0] ^= 0x01010000ULL ^ 16;
    const uint8_t *parts[2] = {a, b};
    Py_ssize_t lens[2] = {alen, blen};
    for (int p = 0; p < 2; p++) {
        const uint8_t *src = parts[p];
        Py_ssize_t left = lens[p];
        while (left > 0) {
            if (fill == 128) { /* a full block is compressed only once more input follows */
                t += 128;
                b2_compress(h, block, t, 0);
                fill = 0;
            }
            size_t take = 128 - fill;
            if ((Py_ssize_t)take > left) take = (size_t)left;
            memcpy(block + fill, src, take);
            fill += take;
            src += take;
            left -= (Py_ssize_t)take;
        }
    }
    t += fill;
    memset(block + fill, 0, 128 - fill);
    b2_compress(h, block, t, 1);
    static const char hexd[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        uint8_t byte = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
        out[2 * i] = hexd[byte >> 4];
        out[2 * i + 1] = hexd[byte & 15];
    }
}

/* ------------------------------------------------------------------ buffers -- */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + extra) cap *= 2;
    char *p = PyMem_Realloc(b->p, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *s, Py_ssize_t n) {
    if (n == 0) return 0; /* b->p or s may be NULL then: memcpy must not see them */
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

/* A JSON string as orjson writes it: UTF-8 as is; '"', '\\' and controls escaped. */
static int buf_json_str(Buf *b, const uint8_t *s, Py_ssize_t n) {
    if (buf_reserve(b, 6 * n + 2) < 0) return -1;
    char *o = b->p + b->len;
    static const char hexd[] = "0123456789abcdef";
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n;) { /* s may be NULL when n == 0 */
        Py_ssize_t k = json_clean_run(s + i, n - i);
        memcpy(o, s + i, (size_t)k);
        o += k;
        i += k;
        if (i >= n) break;
        uint8_t c = s[i++];
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hexd[c >> 4]; *o++ = hexd[c & 15];
        }
    }
    *o++ = '"';
    b->len = o - b->p;
    return 0;
}

/* -------------------------------------------------------------- line parser -- */

enum { ST_STDOUT = 0, ST_STDERR = 1 };

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the strictly valid UTF-8 sequence at s (lead byte >= 0x80), or 0. */
static int utf8_len(const uint8_t *s, const uint8_t *end) {
    uint8_t c = s[0];
    int n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (end - s < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

static const char K_STREAM[] = "\",\"stream\":\"";
static const char K_TIME[] = "\",\"time\":\"";
static const char K_ATTRS[] = "\",\"attrs\":{";

/* Past the JSON string at p (its opening quote) if orjson would read it, else NULL
 * (invalid, or a \u surrogate escape, which only Python judges). */
static const uint8_t *skip_string(const uint8_t *p, const uint8_t *end) {
    if (p >= end || *p != '"') return NULL;
    p++;
    while (p < end) {
        uint8_t c = *p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c == '\\') {
            if (end - p < 2) return NULL;
            uint8_t e = p[1];
            if (e == 'u') {
                if (end - p < 6) return NULL;
                int h0 = hexval(p[2]), h1 = hexval(p[3]), h2 = hexval(p[4]), h3 = hexval(p[5]);
                if ((h0 | h1 | h2 | h3) < 0) return NULL;
                unsigned cp = (unsigned)((h0 << 12) | (h1 << 8) | (h2 << 4) | h3);
                if (cp >= 0xD800 && cp <= 0xDFFF) return NULL;
                p += 6;
            } else if (e && strchr("\"\\/bfnrt", e)) {
                p += 2;
            } else {
                return NULL;
            }
            continue;
        }
        if (c < 0x80) {
            p++;
            continue;
        }
        int k = utf8_len(p, end);
        if (k == 0) return NULL;
        p += k;
    }
    return NULL;
}

/* ---------------------------------------------------------------- timestamps -- */

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static int days_in(int y, int m) {
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) return 29;
    return dim[m - 1];
}

/* The common shape YYYY-MM-DDTHH:MM:SS[.digits]Z (ASCII digits, a real date) as
 * logpipe.timefmt.normalize_ts writes it -- the fraction cut or padded to 9 digits --
 * into out[30]. 0 for any other text: only Python judges it (offsets, 't', 'z',
 * Unicode digits, dates datetime refuses). Docker and containerd write
 * RFC3339Nano, which drops trailing zeros: one stamp in ten is shorter than 30. */
static int ts_canonical(const uint8_t *s, Py_ssize_t n, char *out) {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (n < 20 || s[n - 1] != 'Z') return 0;
    for (int i = 0; i < 19; i++)
        if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != (uint8_t)shape[i]) return 0;
    memcpy(out, s, 19);
    out[19] = '.';
    int k = 0;
    if (n > 20) {
        if (s[19] != '.' || n == 21) return 0;
        for (Py_ssize_t i = 20; i < n - 1; i++) {
            if (!is_digit(s[i])) return 0;
            if (k < 9) out[20 + k++] = (char)s[i];
        }
    }
    while (k < 9) out[20 + k++] = '0';
    out[29] = 'Z';
#define NUM2(i) ((s[i] - '0') * 10 + (s[(i) + 1] - '0'))
    int year = NUM2(0) * 100 + NUM2(2), month = NUM2(5), day = NUM2(8);
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in(year, month) ||
        NUM2(11) > 23 || NUM2(14) > 59 || NUM2(17) > 59)
        return 0;
#undef NUM2
    return 1;
}

/* The parsed line, for the joining below. */
typedef struct {
    int stream, partial;
    char ts[30];
} Line;

/* Parse one Docker line (no newline). On success: text = the unescaped log (without
 * its final '\n': else it is a partial piece), ln. Returns 1, 0 (not the common
 * shape: the Python path decides), -1 (error set). */
static int parse_docker(const uint8_t *s, Py_ssize_t n, Buf *text, Line *ln) {
    const uint8_t *end = s + n;
    if (n < 8 || memcmp(s, "{\"log\":\"", 8) != 0) return 0;
    const uint8_t *p = s + 8;
    text->len = 0;
    if (buf_reserve(text, n) < 0) return -1; /* unescaping never grows the text */
    char *o = text->p;
    for (;;) {
        Py_ssize_t run = ascii_clean_run(p, end - p); /* the common bytes, in one copy */
        memcpy(o, p, (size_t)run);
        o += run;
        p += run;
        if (p >= end) return 0;
        uint8_t c = *p;
        if (c == '"') break;
        if (c < 0x20) return 0;
        if (c == '\\') {
            if (end - p < 2) return 0;
            uint8_t e = p[1];
            p += 2;
            switch (e) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u': {
                if (end - p < 4) return 0;
                int h0 = hexval(p[0]), h1 = hexval(p[1]), h2 = hexval(p[2]), h3 = hexval(p[3]);
                if ((h0 | h1 | h2 | h3) < 0) return 0;
                unsigned cp = (unsigned)((h0 << 12) | (h1 << 8) | (h2 << 4) | h3);
                p += 4;
                if (cp == 0) return 0;                        /* NUL: tagged by Python */
                if (cp >= 0xD800 && cp <= 0xDFFF) return 0;   /* surrogates: Python */
                if (cp < 0x80) *o++ = (char)cp;
                else if (cp < 0x800) {
                    *o++ = (char)(0xC0 | (cp >> 6));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                } else {
                    *o++ = (char)(0xE0 | (cp >> 12));
                    *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *o++ = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default: return 0;
            }
            continue;
        }
        int k = utf8_len(p, end); /* c >= 0x80: the run stopped at no other byte */
        if (k == 0) return 0;
        memcpy(o, p, (size_t)k);
        o += k;
        p += k;
    }
    text->len = o - text->p;
    ln->partial = text->len == 0 || text->p[text->len - 1] != '\n';
    if (!ln->partial) text->len -= 1;
    /* p is at the closing quote of "log" */
    if (end - p < (Py_ssize_t)sizeof(K_STREAM) - 1 + 6 + (Py_ssize_t)sizeof(K_TIME) - 1 + 2)
        return 0;
    if (memcmp(p, K_STREAM, sizeof(K_STREAM) - 1) != 0) return 0;
    p += sizeof(K_STREAM) - 1;
    if (memcmp(p, "stdout", 6) == 0) ln->stream = ST_STDOUT;
    else if (memcmp(p, "stderr", 6) == 0) ln->stream = ST_STDERR;
    else return 0;
    p += 6;
    if (end - p > (Py_ssize_t)sizeof(K_ATTRS) - 1 && memcmp(p, K_ATTRS, sizeof(K_ATTRS) - 1) == 0) {
        /* Docker's labels/env log-opts: nobody reads them, they only have to be JSON */
        p += sizeof(K_ATTRS) - 1;
        if (p < end && *p == '}') {
            p++;
        } else {
            for (;;) {
                if ((p = skip_string(p, end)) == NULL || p >= end || *p++ != ':') return 0;
                if ((p = skip_string(p, end)) == NULL || p >= end) return 0;
                if (*p == '}') {
                    p++;
                    break;
                }
                if (*p++ != ',') return 0;
            }
        }
        if (end - p < 9 || memcmp(p, ",\"time\":\"", 9) != 0) return 0;
        p += 9;
    } else {
        if (memcmp(p, K_TIME, sizeof(K_TIME) - 1) != 0) return 0;
        p += sizeof(K_TIME) - 1;
    }
    /* the time string, then "} */
    Py_ssize_t tn = end - p - 2;
    if (tn < 1 || end[-2] != '"' || end[-1] != '}') return 0;
    for (Py_ssize_t i = 0; i < tn; i++)
        if (p[i] < 0x20 || p[i] > 0x7E || p[i] == '"' || p[i] == '\\') return 0;
    /* parse_docker keeps any 30 characters ending in Z as they are, else normalizes */
    if (tn == 30 && p[29] == 'Z') memcpy(ln->ts, p, 30);
    else if (!ts_canonical(p, tn, ln->ts)) return 0;
    return 1;
}

/* Is s[0:n] valid UTF-8 without NUL (what decode_text passes untagged)? */
static int clean_utf8(const uint8_t *s, Py_ssize_t n) {
    const uint8_t *p = s, *end = s + n;
    while (p < end) {
        while (end - p >= 8) {
            uint64_t w = w_load(p), m = (w & W_HIGH) | w_less(w, 1); /* >= 0x80, or NUL */
            if (m) {
                p += w_first(m);
                break;
            }
            p += 8;
        }
        if (p >= end) break;
        uint8_t c = *p;
        if (c == 0) return 0;
        if (c < 0x80) {
            p++;
            continue;
        }
        int k = utf8_len(p, end);
        if (k == 0) return 0;
        p += k;
    }
    return 1;
}

/* Parse one CRI line "<ts> <stdout|stderr> <P|F> <text>" (no newline) as
 * collector.parsers.parse_cri does: 1 (text = the content, copied to the buffer),
 * 0 (anything else: the Python path decides), -1 (error set). */
static int parse_cri(const uint8_t *s, Py_ssize_t n, Buf *text, Line *ln) {
    const uint8_t *end = s + n, *sp = memchr(s, ' ', (size_t)n);
    if (sp == NULL || end - sp < 9) return 0; /* " stdout F" */
    Py_ssize_t tn = sp - s;
    const uint8_t *p = sp + 1;
    if (memcmp(p, "stdout ", 7) == 0) ln->stream = ST_STDOUT;
    else if (memcmp(p, "stderr ", 7) == 0) ln->stream = ST_STDERR;
    else return 0;
    p += 7;
    if (*p == 'P') ln->partial = 1;
    else if (*p == 'F') ln->partial = 0;
    else return 0;
    p++;
    if (p < end) {
        if (*p != ' ') return 0;
        p++;
    }
    if (!clean_utf8(s, n)) return 0;
    /* normalize_ts: 30 characters, Z last and '.' at 19 are kept as they are */
    if (tn == 30 && s[29] == 'Z' && s[19] == '.') {
        for (int i = 0; i < 30; i++)
            if (s[i] >= 0x80) return 0; /* 30 bytes, fewer characters: Python */
        memcpy(ln->ts, s, 30);
    } else if (!ts_canonical(s, tn, ln->ts)) {
        return 0;
    }
    text->len = 0;
    return buf_put(text, p, end - p) < 0 ? -1 : 1;
}

/* -------------------------------------------------------------------- rules -- */
/* What a level word, a continuation line and a record are is Python's to say:
 * collector.fastpath hands the level words and the continuation shapes in once
 * (init), and the record layout with each Context. */

static struct {
    int ready;
    PyObject *unknown; /* str: the level of an empty entry */
    /* tuples of bytes, from collector.multiline */
    PyObject *opens, *continues, *dump_heads, *dump_follow, *py_follow, *dump_lines;
    uint8_t indent[256], maybe[256]; /* by first byte */
} R;

static int starts_any(const char *t, Py_ssize_t n, PyObject *prefixes) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++) {
        PyObject *p = PyTuple_GET_ITEM(prefixes, i);
        Py_ssize_t k = PyBytes_GET_SIZE(p);
        if (n >= k && memcmp(t, PyBytes_AS_STRING(p), (size_t)k) == 0) return 1;
    }
    return 0;
}

/* Learned entry starts (collector.entry_start): per kind, a few shapes of fixed
 * length, each position a byte class; class tables and shapes come from Python
 * (init_starts). A learned stream's line without its kind's header is Python's (it
 * continues the held entry there); a line with it the C reads as any other. */

enum { MAX_START_CLASSES = 64, MAX_START_KINDS = 32 };

static struct {
    PyObject *kinds; /* tuple (per kind) of tuples of bytes: class indexes per position */
    Py_ssize_t nclasses;
    uint8_t cls[MAX_START_CLASSES][256]; /* [class][byte]; byte 0: past the line's end */
} S;

/* Does t start with one of kind's shapes? Constant time: shapes are short. */
static int start_matches(Py_ssize_t kind, const uint8_t *t, Py_ssize_t n) {
    PyObject *shapes = PyTuple_GET_ITEM(S.kinds, kind);
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(shapes); k++) {
        PyObject *shape = PyTuple_GET_ITEM(shapes, k);
        const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(shape);
        Py_ssize_t len = PyBytes_GET_SIZE(shape), i = 0;
        for (; i < len; i++) {
            uint8_t c = i < n ? t[i] : 0; /* the text holds no NUL (parse_line) */
            if (i < n && c == 0) break;
            if (!S.cls[p[i]][c]) break;
        }
        if (i == len) return 1;
    }
    return 0;
}

PyDoc_STRVAR(init_starts_doc,
"init_starts(classes, kinds)\n\n"
"The learned entry-start kinds, from collector.entry_start.shape_tables(): classes, a\n"
"tuple of bytes (the bytes each class holds; NUL: the line's end), and per kind a\n"
"tuple of shapes, each a bytes of class indexes.");

static PyObject *init_starts(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyTuple_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "init_starts(classes, kinds): two tuples");
        return NULL;
    }
    PyObject *classes = args[0], *kinds = args[1];
    Py_ssize_t nc = PyTuple_GET_SIZE(classes);
    if (nc > MAX_START_CLASSES || PyTuple_GET_SIZE(kinds) > MAX_START_KINDS) {
        PyErr_SetString(PyExc_ValueError, "init_starts(): too many classes or kinds");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nc; i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(classes, i))) {
            PyErr_SetString(PyExc_TypeError, "init_starts(): classes are bytes");
            return NULL;
        }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(kinds); k++) {
        PyObject *shapes = PyTuple_GET_ITEM(kinds, k);
        if (!PyTuple_Check(shapes)) goto bad;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(shapes); j++) {
            PyObject *shape = PyTuple_GET_ITEM(shapes, j);
            if (!PyBytes_Check(shape)) goto bad;
            for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(shape); i++)
                if ((uint8_t)PyBytes_AS_STRING(shape)[i] >= nc) goto bad;
        }
    }
    memset(S.cls, 0, sizeof S.cls);
    for (Py_ssize_t i = 0; i < nc; i++) {
        PyObject *members = PyTuple_GET_ITEM(classes, i);
        for (Py_ssize_t j = 0; j < PyBytes_GET_SIZE(members); j++)
            S.cls[i][(uint8_t)PyBytes_AS_STRING(members)[j]] = 1;
    }
    S.nclasses = nc;
    Py_XSETREF(S.kinds, Py_NewRef(kinds));
    Py_RETURN_NONE;
bad:
    PyErr_SetString(PyExc_TypeError, "init_starts(): kinds are tuples of bytes of class indexes");
    return NULL;
}

/* How a stream learns its entry start (EntryStarts.feed in LEARNING), from
 * entry_start.learn_rules(): a kind is learned once it heads learn_min lines and
 * share of the candidate lines seen; after window lines without one the stream is
 * OFF; a blank line or one starting with an indented byte is no candidate. states: the
 * ints of LEARNING, LEARNED and OFF (handed back to read_elsewhere). */
static struct {
    int ready;
    Py_ssize_t window, learn_min;
    double share;
    uint8_t indented[256];
    long learning, learned, off;
} L;

PyDoc_STRVAR(init_learning_doc,
"init_learning(*, window, learn_min, learn_share, indented, states)\n\n"
"The learning rules of collector.entry_start (learn_rules()): the lines learned from,\n"
"the lines and share a kind needs, the first bytes of a line that is no candidate\n"
"start, and the (LEARNING, LEARNED, OFF) state ints.");

static PyObject *init_learning(PyObject *self, PyObject *args, PyObject *kwds) {
    (void)self;
    static char *kw[] = {"window", "learn_min", "learn_share", "indented", "states", NULL};
    Py_ssize_t window, learn_min;
    double share;
    PyObject *indented;
    long states[3];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$nndO!(lll):init_learning", kw, &window,
                                     &learn_min, &share, &PyBytes_Type, &indented, &states[0],
                                     &states[1], &states[2]))
        return NULL;
    if (window < 1 || learn_min < 1) {
        PyErr_SetString(PyExc_ValueError, "init_learning(): window and learn_min >= 1");
        return NULL;
    }
    memset(L.indented, 0, sizeof L.indented);
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(indented); i++)
        L.indented[(uint8_t)PyBytes_AS_STRING(indented)[i]] = 1;
    L.window = window;
    L.learn_min = learn_min;
    L.share = share;
    L.learning = states[0];
    L.learned = states[1];
    L.off = states[2];
    L.ready = 1;
    Py_RETURN_NONE;
}

static PyObject *start_matches_py(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyLong_Check(args[0]) || !PyBytes_Check(args[1]) || S.kinds == NULL) {
        PyErr_SetString(PyExc_TypeError, "start_matches(kind, text): int, bytes; init_starts first");
        return NULL;
    }
    Py_ssize_t kind = PyLong_AsSsize_t(args[0]);
    if (kind < 0 || kind >= PyTuple_GET_SIZE(S.kinds)) {
        PyErr_SetString(PyExc_IndexError, "start_matches(): no such kind");
        return NULL;
    }
    return PyBool_FromLong(start_matches(kind, (const uint8_t *)PyBytes_AS_STRING(args[1]),
                                         PyBytes_GET_SIZE(args[1])));
}

/* ------------------------------------------------------------- the context -- */
/* One per source file (collector.fastpath makes it): its line format, the record
 * layout -- literal bytes and the names of the values computed per entry, in the wire
 * order Python chose; for an entry joined from several lines the last literal is
 * mtail instead (its tags differ) -- the id prefix, the caps (a raw line's bytes, a
 * record's bytes, the characters of an entry joined from partial pieces, the
 * characters and lines of a multi-line entry), the stream's level hint and the
 * callbacks. */

enum { V_LIT, V_ID, V_TS, V_INGEST_TS, V_OFFSET, V_MESSAGE, V_LEVEL, V_STREAM, V_COUNT };
static const char *const VALUE_NAMES[V_COUNT] = {
    "", "id", "ts", "ingest_ts", "offset", "message", "level", "stream"};

typedef struct {
    int kind;
    const char *p; /* V_LIT: into a bytes object of the layout tuple */
    Py_ssize_t len;
} Seg;

typedef struct {
    PyObject_HEAD
    PyObject *layout, *id_prefix, *hint, *detect, *shrink;
    PyObject *mtail; /* bytes: the layout's last literal for a multi-line entry */
    Seg *segs;
    Py_ssize_t nsegs, max_line, max_record, max_joined, max_bytes, max_lines;
    int hold, cri;
} Context;

static int ctx_traverse(Context *self, visitproc visit, void *arg) {
    Py_VISIT(self->layout);
    Py_VISIT(self->id_prefix);
    Py_VISIT(self->hint);
    Py_VISIT(self->detect);
    Py_VISIT(self->shrink); /* a bound method of the Source that holds this context */
    Py_VISIT(self->mtail);
    return 0;
}

static int ctx_clear(Context *self) {
    Py_CLEAR(self->layout);
    Py_CLEAR(self->id_prefix);
    Py_CLEAR(self->hint);
    Py_CLEAR(self->detect);
    Py_CLEAR(self->shrink);
    Py_CLEAR(self->mtail);
    PyMem_Free(self->segs);
    self->segs = NULL;
    self->nsegs = 0;
    return 0;
}

static void ctx_dealloc(Context *self) {
    PyObject_GC_UnTrack(self);
    ctx_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int ctx_init(Context *self, PyObject *args, PyObject *kwds) {
    static char *kw[] = {"kind", "layout", "multiline_tail", "id_prefix", "max_line",
                         "max_record", "max_joined", "max_bytes", "max_lines", "hold", "hint",
                         "detect_level", "shrink", NULL};
    PyObject *layout, *mtail, *prefix, *hint, *detect, *shrink;
    const char *kind;
    Py_ssize_t max_line, max_record, max_joined, max_bytes, max_lines;
    int hold;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$sO!O!O!nnnnnpO!OO:Context", kw, &kind,
                                     &PyTuple_Type, &layout, &PyBytes_Type, &mtail,
                                     &PyBytes_Type, &prefix, &max_line, &max_record,
                                     &max_joined, &max_bytes, &max_lines, &hold, &PyList_Type,
                                     &hint, &detect, &shrink))
        return -1;
    if (strcmp(kind, "docker") != 0 && strcmp(kind, "cri") != 0) {
        PyErr_SetString(PyExc_ValueError, "Context(): kind is 'docker' or 'cri'");
        return -1;
    }
    if (PyList_GET_SIZE(hint) < 1 || !PyCallable_Check(detect) || !PyCallable_Check(shrink)) {
        PyErr_SetString(PyExc_TypeError, "Context(): hint is [int], detect_level and shrink "
                                         "are callables");
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(layout);
    if (n == 0 || !PyBytes_Check(PyTuple_GET_ITEM(layout, n - 1))) {
        PyErr_SetString(PyExc_ValueError, "Context(): the layout ends with literal bytes "
                                          "(multiline_tail replaces them)");
        return -1;
    }
    Seg *segs = PyMem_New(Seg, n ? (size_t)n : 1);
    if (segs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(layout, i);
        segs[i].kind = -1;
        if (PyBytes_Check(item)) {
            segs[i] = (Seg){V_LIT, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item)};
        } else if (PyUnicode_Check(item)) {
            for (int v = 1; v < V_COUNT; v++)
                if (PyUnicode_CompareWithASCIIString(item, VALUE_NAMES[v]) == 0)
                    segs[i] = (Seg){v, NULL, 0};
        }
        if (segs[i].kind < 0) {
            PyMem_Free(segs);
            PyErr_Format(PyExc_ValueError, "Context(): layout item %R is neither bytes nor "
                         "one of id, ts, ingest_ts, offset, message, level, stream", item);
            return -1;
        }
    }
    ctx_clear(self);
    self->segs = segs;
    self->nsegs = n;
    self->layout = Py_NewRef(layout);
    self->id_prefix = Py_NewRef(prefix);
    self->hint = Py_NewRef(hint);
    self->detect = Py_NewRef(detect);
    self->shrink = Py_NewRef(shrink);
    self->mtail = Py_NewRef(mtail);
    self->max_line = max_line;
    self->max_record = max_record;
    self->max_joined = max_joined;
    self->max_bytes = max_bytes;
    self->max_lines = max_lines;
    self->hold = hold;
    self->cri = kind[0] == 'c';
    return 0;
}

static PyMemberDef ctx_members[] = {
    {"layout", T_OBJECT, offsetof(Context, layout), READONLY, NULL},
    {"id_prefix", T_OBJECT, offsetof(Context, id_prefix), READONLY, NULL},
    {"max_line", T_PYSSIZET, offsetof(Context, max_line), READONLY, NULL},
    {"max_record", T_PYSSIZET, offsetof(Context, max_record), READONLY, NULL},
    {"max_joined", T_PYSSIZET, offsetof(Context, max_joined), READONLY, NULL},
    {"max_bytes", T_PYSSIZET, offsetof(Context, max_bytes), READONLY, NULL},
    {"max_lines", T_PYSSIZET, offsetof(Context, max_lines), READONLY, NULL},
    {"multiline_tail", T_OBJECT, offsetof(Context, mtail), READONLY, NULL},
    {"hold", T_BOOL, offsetof(Context, hold), READONLY, NULL},
    {NULL, 0, 0, 0, NULL}};

static PyTypeObject ContextType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "collector._fastpath.Context",
    .tp_basicsize = sizeof(Context),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR("Context(*, kind, layout, multiline_tail, id_prefix, max_line,\n"
                        "        max_record, max_joined, max_bytes, max_lines, hold, hint,\n"
                        "        detect_level, shrink): what scan() needs of one source file\n"
                        "(kind: 'docker' json-file or 'cri'); multiline_tail: the layout's\n"
                        "last literal for an entry joined from several lines"),
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ctx_init,
    .tp_dealloc = (destructor)ctx_dealloc,
    .tp_traverse = (traverseproc)ctx_traverse,
    .tp_clear = (inquiry)ctx_clear,
    .tp_members = ctx_members,
};

/* ---------------------------------------------------------------- the scan -- */

typedef struct {
    int state;  /* 1 usable, -1 its lines go to Python */
    int held;   /* an entry is held (exported by the joiner, or read here) */
    int dirty;  /* the held entry was read or extended here: the joiner adopts it */
    /* The held entry as StreamJoiner keeps it: text is its lines joined with "\n" (what
     * is emitted), first the bytes of its first line, hends where each continuation
     * line ends in text; hsize its characters (StreamJoiner.h_size: the first line's
     * characters plus 1 + those of each continuation line, which is the joined text's
     * length), -1 while not counted yet; hlines its lines. */
    Buf text, ts, hends;
    Py_ssize_t off, first, hsize, hlines;
    /* its trace mode (StreamJoiner._mode, M_*), and the first byte of its last line
     * (-1: an empty line), which _continues reads for a Python exception line */
    int mode, last_first;
    /* The stream's learned entry start (collector.entry_start.EntryStarts in LEARNED):
     * its kind (-1: none, the built-in shapes alone decide), its run of header-less
     * lines and after_json, as feed leaves them, max_run, and the header lines of the
     * mix check's window so far: own of the kind, other of another kind or JSON
     * (EntryStarts.for_scan); when a check turns the stream OFF it reads on as OFF.
     * sdirty: the start state moved here. */
    Py_ssize_t start, run, max_run, own, other;
    int after_json, sdirty;
    /* While it learns its entry start (EntryStarts in LEARNING, for_scan's learning):
     * learning 1, and as feed keeps them the lines seen that may start an entry, the
     * lines learned from (llines) and per kind the lines it headed (counts); lkind: the
     * header kind of the line classify saw (-1 none, NO_CANDIDATE), for apply_effect;
     * learnt: it was learning when the scan began and learned from lines here (what
     * they taught it goes back to read_elsewhere). Once it learns a kind it reads on
     * as LEARNED (start) in the same scan; after the window without one, as OFF. */
    int learning, learnt;
    Py_ssize_t seen, llines, lkind, counts[MAX_START_KINDS];
    /* The partial pieces (Docker 16 KiB / CRI "P") of the entry being assembled:
     * joined in ptext, where each piece ends in pends; psize counts characters as
     * StreamJoiner.p_size does. pdirty: changed here, the joiner adopts it; pbump:
     * a partial piece was read here (the joiner's flush deadline moves). */
    Buf ptext, pends;
    Py_ssize_t poff, psize, npieces;
    char pts[30];
    int pdirty, pbump;
} Slot;

typedef struct {
    Context *ctx;
    PyObject *values;
    const char *ingest;
    Py_ssize_t ingest_len;
    Buf rec;
} Scan;

/* Characters of UTF-8 text (what len() of the str gives). */
static Py_ssize_t n_chars(const char *t, Py_ssize_t n) {
    const uint8_t *u = (const uint8_t *)t;
    Py_ssize_t cont = 0, i = 0; /* continuation bytes 10xxxxxx: n - cont characters */
    for (; n - i >= 8; i += 8) {
        uint64_t w = w_load(u + i);
        /* bit 7 set and bit 6 clear (w << 1 moves each byte's bit 6 to its bit 7); the
         * multiply adds the eight 0/1 bytes into the top byte */
        uint64_t m = (w & ~(w << 1) & W_HIGH) >> 7;
        cont += (Py_ssize_t)((m * W_ONES) >> 56);
    }
    for (; i < n; i++) cont += (u[i] & 0xC0) == 0x80;
    return n - cont;
}

/* The first learned-start kind whose header t starts with, in KINDS order, or -1
 * (entry_start.header_kind). */
static Py_ssize_t header_kind(const uint8_t *t, Py_ssize_t n) {
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(S.kinds); k++)
        if (start_matches(k, t, n)) return k;
    return -1;
}

/* StreamJoiner's trace modes, as the ints its export_held / adopt_held carry. */
enum { M_NONE = 0, M_PY = 1, M_GO = 2, M_PY_END = 3 };

static int ascii_word(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* py_exc and go_func are rare (trace modes): kept out of the scan loop, which they
 * slowed by ~3 % on the bench's uniform corpus when inlined there. */

/* multiline._PY_EXC.match(t): 1, 0, or -1 when a non-ASCII character in the name
 * decides it (Unicode \w: Python's to tell). One pass: the name run [\w.]* cannot
 * backtrack onto ':' or the end. */
__attribute__((noinline)) static int py_exc(const uint8_t *t, Py_ssize_t n) {
    if (n == 0 || !((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z') ||
                    t[0] == '_'))
        return 0; /* [A-Za-z_] is ASCII only */
    Py_ssize_t i = 1;
    for (; i < n; i++) {
        if (t[i] >= 0x80) return -1;
        if (!ascii_word(t[i]) && t[i] != '.') break;
    }
    /* ":" or "$" (the end, or before a last "\n") */
    return i == n || t[i] == ':' || (t[i] == '\n' && i == n - 1);
}

/* multiline.go_func_line(t): 1, 0, or -1 when a non-ASCII character in the name run
 * comes before its first "(" (Unicode \w: Python's to tell). */
__attribute__((noinline)) static int go_func(const uint8_t *t, Py_ssize_t n) {
    if (n && t[n - 1] == '\n') n--; /* "$" also matches before a last \n */
    if (n == 0 || t[n - 1] != ')' || memchr(t, '\n', (size_t)n) != NULL) return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t c = t[i];
        if (c >= 0x80) return -1;
        if (!(ascii_word(c) || strchr(".*/()[]{}-", c) != NULL) || c == 0) return 0;
        /* the first "(" after the name's first character; the last character is the
         * ")" so it is not the last */
        if (c == '(' && i >= 1) return 1;
    }
    return 0;
}

/* StreamJoiner._continues (no start pattern) for t on the held entry of s, in mode
 * *mode (updated as _continues updates _mode): 1 it continues, 0 not, -1 Python's
 * to tell. */
static int continues(const uint8_t *t, Py_ssize_t n, const Slot *s, int *mode) {
    uint8_t c = n ? t[0] : 0;
    if (n && R.indent[c]) return 1;
    if (*mode == M_NONE && n && !R.maybe[c]) return 0; /* the common case */
    const char *tc = (const char *)t;
    if (starts_any(tc, n, R.continues)) {
        if (starts_any(tc, n, R.opens)) *mode = M_PY;
        return 1;
    }
    int r;
    switch (*mode) {
    case M_PY:
        if (n == 0 || starts_any(tc, n, R.py_follow)) return 1;
        /* the exception line closes the traceback: after an indented line */
        if (s->last_first < 0 || !R.indent[s->last_first]) return 0;
        if ((r = py_exc(t, n)) > 0) *mode = M_PY_END;
        return r;
    case M_PY_END:
        if (starts_any(tc, n, R.py_follow)) {
            *mode = M_PY;
            return 1;
        }
        return n == 0; /* a blank line may separate chained tracebacks */
    case M_GO:
        if (n == 0 || starts_any(tc, n, R.dump_lines)) return 1;
        return go_func(t, n);
    }
    if (starts_any(s->text.p, s->text.len, R.dump_heads) &&
        (n == 0 || starts_any(tc, n, R.dump_follow))) {
        *mode = M_GO;
        return 1;
    }
    return 0;
}

/* What StreamJoiner._line (rules on, no start pattern) does with the whole line t:
 * hold it as a new entry, join it to the held one, or leave it to Python. */
enum { A_PYTHON, A_NEW, A_JOIN };
/* What EntryStarts.feed does on a learned (or learning: E_LEARN) stream for a line
 * read here: E_OTHER / E_JSON a header of another kind / a whole JSON object. */
enum { E_NONE, E_HEAD, E_OTHER, E_JSON, E_RUN, E_RESET, E_LEARN };
/* Slot.lkind of a blank or indented line while learning: no candidate entry start. */
enum { NO_CANDIDATE = -2 };

/* The header kind of a line while its stream learns (EntryStarts.feed), NO_CANDIDATE
 * for a blank or indented one. Learning is rare (a stream's first lines): kept out of
 * the scan loop like py_exc. */
__attribute__((noinline)) static Py_ssize_t learn_kind(const uint8_t *u, Py_ssize_t n) {
    return n == 0 || L.indented[u[0]] ? NO_CANDIDATE : header_kind(u, n);
}

/* Bytes str.isspace() holds among ASCII (what str.rstrip() strips). */
static int py_space(uint8_t c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* EntryStarts.feed's whole JSON object: t starts with "{" and t.rstrip() ends with
 * "}". 1, 0, or -1 when a non-ASCII character ends it (maybe Unicode whitespace:
 * Python's to tell). */
static int json_line(const uint8_t *t, Py_ssize_t n) {
    if (n == 0 || t[0] != '{') return 0;
    while (n > 1 && py_space(t[n - 1])) n--;
    if (t[n - 1] >= 0x80) return -1;
    return n > 1 && t[n - 1] == '}';
}

/* The action for t on slot s, in *effect what EntryStarts.feed did and in *mode the
 * held entry's trace mode after it (both only applied by the caller when the line is
 * read here). chars: len(t) in characters, or -1 when not counted yet. Python's are:
 * a line whose trace-mode rule needs Unicode \w (non-ASCII), a continuation line past
 * the joiner's caps, on a learned stream a line starting with "{" that non-ASCII ends
 * (str.rstrip's Unicode whitespace: maybe a JSON object), and a header-less line that
 * ends the learned start (run > max_run: relearn). A learning
 * stream's lines are all read here: feed only counts them (no line is header-less
 * while learning: the built-in shapes decide). */
static int classify(const char *t, Py_ssize_t n, Py_ssize_t chars, Slot *s,
                    const Context *ctx, int *effect, int *mode) {
    const uint8_t *u = (const uint8_t *)t;
    int headerless = 0;
    *effect = E_NONE;
    if (s->learning) { /* EntryStarts.feed, LEARNING: counted once the line is read */
        *effect = E_LEARN;
        s->lkind = learn_kind(u, n);
    } else if (s->start >= 0) { /* EntryStarts.feed, LEARNED */
        int json;
        if (start_matches(s->start, u, n)) {
            *effect = E_HEAD;
        } else if ((json = json_line(u, n)) < 0) {
            return A_PYTHON;
        } else if (json) {
            *effect = E_JSON;
        } else if (header_kind(u, n) >= 0) {
            *effect = E_OTHER;
        } else if (s->after_json) {
            *effect = E_RESET;
        } else if (s->run >= s->max_run) {
            return A_PYTHON;
        } else {
            *effect = E_RUN;
            headerless = 1;
        }
    }
    if (s->held) {
        *mode = s->mode;
        int joins = continues(u, n, s, mode);
        if (joins < 0) return A_PYTHON;
        if (joins || headerless) {
            /* the joiner's caps, as _line checks them; past them Python starts a new
             * entry */
            if (chars < 0) chars = n_chars(t, n);
            if (s->hsize < 0) s->hsize = n_chars(s->text.p, s->text.len);
            if (!(s->hsize + chars < ctx->max_bytes && s->hlines < ctx->max_lines))
                return A_PYTHON;
            return A_JOIN;
        }
    }
    /* a new entry: a trace opener is in Python mode (PY_TRACE_OPENS) */
    *mode = starts_any(t, n, R.opens) ? M_PY : M_NONE;
    return A_NEW;
}

static int copy_utf8(PyObject *v, Buf *b) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(v, &n);
    if (s == NULL) { /* lone surrogates: the Python path deals with them */
        PyErr_Clear();
        return 0;
    }
    b->len = 0;
    return buf_put(b, s, n) < 0 ? -1 : 1;
}

static int mark_end(Buf *ends, Py_ssize_t at) {
    return buf_put(ends, &at, sizeof(Py_ssize_t));
}

/* What StreamJoiner.export_held gave: None (Python only), () or
 * (off, ts, text, parts, size, lines, mode). */
static int slot_init(Slot *s, PyObject *held, int hold) {
    s->state = -1;
    if (!PyTuple_Check(held)) return 0;
    Py_ssize_t size = PyTuple_GET_SIZE(held);
    if (size == 0) {
        s->state = 1;
        return 0;
    }
    if (size != 7 || !hold) return 0;
    PyObject *off = PyTuple_GET_ITEM(held, 0), *ts = PyTuple_GET_ITEM(held, 1),
             *text = PyTuple_GET_ITEM(held, 2), *parts = PyTuple_GET_ITEM(held, 3),
             *chars = PyTuple_GET_ITEM(held, 4), *lines = PyTuple_GET_ITEM(held, 5),
             *mode = PyTuple_GET_ITEM(held, 6);
    if (!PyLong_Check(off) || !PyUnicode_Check(ts) || !PyUnicode_Check(text) ||
        !PyTuple_Check(parts) || !PyLong_Check(chars) || !PyLong_Check(lines) ||
        !PyLong_Check(mode))
        return 0;
    s->off = PyLong_AsSsize_t(off);
    s->hsize = PyLong_AsSsize_t(chars);
    s->hlines = PyLong_AsSsize_t(lines);
    long m = PyLong_AsLong(mode);
    if (PyErr_Occurred()) return -1;
    if (s->off < 0 || s->hsize < 0 || s->hlines != 1 + PyTuple_GET_SIZE(parts) || m < M_NONE ||
        m > M_PY_END)
        return 0;
    s->mode = (int)m;
    int r;
    if ((r = copy_utf8(ts, &s->ts)) <= 0 || (r = copy_utf8(text, &s->text)) <= 0) return r;
    s->first = s->text.len;
    s->last_first = s->text.len ? (uint8_t)s->text.p[0] : -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(parts); i++) {
        PyObject *part = PyTuple_GET_ITEM(parts, i);
        if (!PyUnicode_Check(part)) return 0;
        Py_ssize_t n;
        const char *u = PyUnicode_AsUTF8AndSize(part, &n);
        if (u == NULL) {
            PyErr_Clear();
            return 0;
        }
        if (buf_put(&s->text, "\n", 1) < 0 || buf_put(&s->text, u, n) < 0 ||
            mark_end(&s->hends, s->text.len) < 0)
            return -1;
        s->last_first = n ? (uint8_t)u[0] : -1;
    }
    s->held = 1;
    s->state = 1;
    return 0;
}

static int piece_end(Slot *s) {
    if (mark_end(&s->pends, s->ptext.len) < 0) return -1;
    s->npieces++;
    return 0;
}

/* What StreamJoiner.export_partial gave: None (Python only), () or
 * (off, ts, pieces, size) with a canonical 30-character ts. */
static int partial_init(Slot *s, PyObject *part) {
    if (s->state < 0) return 0;
    s->state = -1;
    if (!PyTuple_Check(part)) return 0;
    Py_ssize_t size = PyTuple_GET_SIZE(part);
    if (size == 0) {
        s->state = 1;
        return 0;
    }
    if (size != 4) return 0;
    PyObject *off = PyTuple_GET_ITEM(part, 0), *ts = PyTuple_GET_ITEM(part, 1),
             *pieces = PyTuple_GET_ITEM(part, 2), *chars = PyTuple_GET_ITEM(part, 3);
    if (!PyLong_Check(off) || !PyUnicode_Check(ts) || !PyTuple_Check(pieces) ||
        !PyLong_Check(chars))
        return 0;
    s->poff = PyLong_AsSsize_t(off);
    s->psize = PyLong_AsSsize_t(chars);
    if (PyErr_Occurred()) return -1;
    if (s->poff < 0 || s->psize < 0) return 0;
    Py_ssize_t tslen;
    const char *t = PyUnicode_AsUTF8AndSize(ts, &tslen);
    if (t == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (tslen != 30) return 0;
    memcpy(s->pts, t, 30);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pieces); i++) {
        PyObject *piece = PyTuple_GET_ITEM(pieces, i);
        if (!PyUnicode_Check(piece)) return 0;
        Py_ssize_t n;
        const char *u = PyUnicode_AsUTF8AndSize(piece, &n);
        if (u == NULL) {
            PyErr_Clear();
            return 0;
        }
        if (buf_put(&s->ptext, u, n) < 0 || piece_end(s) < 0) return -1;
    }
    s->state = 1;
    return 0;
}

/* The learning part of export_starts: (seen, lines, counts), counts one per kind.
 * 0, or -1 (error set). */
static int learning_init(Slot *s, PyObject *learning) {
    PyObject *counts;
    if (!PyTuple_Check(learning) || PyTuple_GET_SIZE(learning) != 3 ||
        !PyTuple_Check(counts = PyTuple_GET_ITEM(learning, 2)) ||
        PyTuple_GET_SIZE(counts) != PyTuple_GET_SIZE(S.kinds)) {
        PyErr_SetString(PyExc_TypeError,
                        "scan(): learning is (seen, lines, counts), a count per kind");
        return -1;
    }
    s->seen = PyLong_AsSsize_t(PyTuple_GET_ITEM(learning, 0));
    s->llines = PyLong_AsSsize_t(PyTuple_GET_ITEM(learning, 1));
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(counts); k++)
        s->counts[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(counts, k));
    if (PyErr_Occurred()) return -1;
    s->learning = 1;
    return 0;
}

/* What StreamJoiner.export_starts gave: (kind, run, after_json, max_run, own, other,
 * learning), kind -1 when no learned start is in force, learning None or (seen,
 * lines, counts) while it learns one. 0, or -1 (error set). */
static int starts_init(Slot *s, PyObject *starts) {
    s->start = -1;
    if (!PyTuple_Check(starts) || PyTuple_GET_SIZE(starts) != 7) {
        PyErr_SetString(PyExc_TypeError, "scan(): starts are (kind, run, after_json, "
                                         "max_run, own, other, learning)");
        return -1;
    }
    Py_ssize_t kind = PyLong_AsSsize_t(PyTuple_GET_ITEM(starts, 0));
    s->run = PyLong_AsSsize_t(PyTuple_GET_ITEM(starts, 1));
    int after_json = PyObject_IsTrue(PyTuple_GET_ITEM(starts, 2));
    s->max_run = PyLong_AsSsize_t(PyTuple_GET_ITEM(starts, 3));
    s->own = PyLong_AsSsize_t(PyTuple_GET_ITEM(starts, 4));
    s->other = PyLong_AsSsize_t(PyTuple_GET_ITEM(starts, 5));
    if (PyErr_Occurred() || after_json < 0) return -1;
    if (kind >= 0 && (S.kinds == NULL || kind >= PyTuple_GET_SIZE(S.kinds))) {
        PyErr_SetString(PyExc_ValueError, "scan(): starts name no kind (init_starts)");
        return -1;
    }
    s->after_json = after_json;
    s->start = kind < 0 ? -1 : kind;
    PyObject *learning = PyTuple_GET_ITEM(starts, 6);
    return kind < 0 && learning != Py_None ? learning_init(s, learning) : 0;
}
/* The record of one entry, appended to sc->values; multiline: joined from several
 * lines (the layout's last literal is then the context's mtail: other tags). */
static int emit(Scan *sc, const char *text, Py_ssize_t tlen, const char *ts, Py_ssize_t tslen,
                Py_ssize_t off, int stream, int multiline) {
    Context *c = sc->ctx;
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%zd", off);
    char hex[34];
    hex[0] = hex[33] = '"';
    b2_hex((const uint8_t *)PyBytes_AS_STRING(c->id_prefix), PyBytes_GET_SIZE(c->id_prefix),
           (const uint8_t *)digits, nd, hex + 1);

    /* the level, at emission time like Python (the hint is shared by the streams):
     * the C detector, or detect_level itself where only it can tell (_levels.h) */
    PyObject *lvl_obj = tlen == 0 ? Py_NewRef(R.unknown)
                                  : entry_level(c->detect, text, tlen, c->hint);
    if (lvl_obj == NULL) return -1;
    if (!PyUnicode_Check(lvl_obj)) {
        Py_DECREF(lvl_obj);
        PyErr_SetString(PyExc_TypeError, "detect_level returned a non-str");
        return -1;
    }
    Py_ssize_t lvl_len;
    const char *lvl = PyUnicode_AsUTF8AndSize(lvl_obj, &lvl_len);
    Buf *b = &sc->rec;
    b->len = 0;
    int bad = lvl == NULL;
    for (Py_ssize_t i = 0; i < c->nsegs && !bad; i++) {
        const Seg *g = &c->segs[i];
        switch (g->kind) {
        case V_LIT:
            if (multiline && i == c->nsegs - 1)
                bad = buf_put(b, PyBytes_AS_STRING(c->mtail), PyBytes_GET_SIZE(c->mtail)) < 0;
            else
                bad = buf_put(b, g->p, g->len) < 0;
            break;
        case V_ID: bad = buf_put(b, hex, 34) < 0; break;
        case V_TS: bad = buf_json_str(b, (const uint8_t *)ts, tslen) < 0; break;
        case V_INGEST_TS: bad = buf_put(b, sc->ingest, sc->ingest_len) < 0; break;
        case V_OFFSET: bad = buf_put(b, digits, nd) < 0; break;
        case V_MESSAGE: bad = buf_json_str(b, (const uint8_t *)text, tlen) < 0; break;
        case V_LEVEL: bad = buf_json_str(b, (const uint8_t *)lvl, lvl_len) < 0; break;
        case V_STREAM:
            bad = buf_put(b, stream == ST_STDOUT ? "\"stdout\"" : "\"stderr\"", 8) < 0;
            break;
        }
    }
    /* the stream's last level, as Python keeps it (mostly the same object: a cheap test) */
    if (!bad && PyList_GET_SIZE(c->hint) > 1 && PyList_GET_ITEM(c->hint, 1) != lvl_obj)
        bad = PyList_SetItem(c->hint, 1, Py_NewRef(lvl_obj)) < 0;
    Py_DECREF(lvl_obj);
    if (bad) return -1;
    PyObject *value = PyBytes_FromStringAndSize(b->p, b->len);
    if (value == NULL) return -1;
    if (b->len > c->max_record) { /* rare: Source.shrink cuts and counts it */
        PyObject *cut = PyObject_CallOneArg(c->shrink, value);
        Py_DECREF(value);
        if (cut == NULL) return -1;
        value = cut;
    }
    int r = PyList_Append(sc->values, value);
    Py_DECREF(value);
    return r;
}

/* (off, ts, text) of a stream's held line read here, for StreamJoiner.adopt_held. */

/* A tuple of the str between the ends in ends (Py_ssize_t each), from at on. */
static PyObject *split_at(const char *p, Py_ssize_t at, const Buf *ends, Py_ssize_t count,
                          Py_ssize_t skip) {
    PyObject *out = PyTuple_New(count);
    if (out == NULL) return NULL;
    const Py_ssize_t *e = (const Py_ssize_t *)ends->p;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *u = PyUnicode_DecodeUTF8(p + at, e[i] - at, NULL);
        if (u == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, u);
        at = e[i] + skip;
    }
    return out;
}

/* (off, ts, text, parts, size, lines, mode) of a stream's held entry read or extended
 * here, for StreamJoiner.adopt_held. */
static PyObject *held_line(Slot *s) {
    if (!s->dirty) Py_RETURN_NONE;
    if (s->hsize < 0) s->hsize = n_chars(s->text.p, s->text.len);
    /* continuation lines start past the "\n" after the line before them */
    PyObject *parts = split_at(s->text.p, s->first + 1, &s->hends, s->hlines - 1, 1);
    if (parts == NULL) return NULL;
    /* an empty buffer may never have been allocated: "s#" would give None */
    return Py_BuildValue("(ns#s#Nnni)", s->off, s->ts.p ? s->ts.p : "", s->ts.len,
                         s->text.p ? s->text.p : "", s->first, parts, s->hsize, s->hlines,
                         s->mode);
}

/* (off, ts, pieces, size, bump) of a stream's partial pieces changed here, for
 * StreamJoiner.adopt_partial; pieces () when the entry was completed here. */
static PyObject *partial_state(const Slot *s) {
    if (!s->pdirty) Py_RETURN_NONE;
    PyObject *pieces = split_at(s->ptext.p, 0, &s->pends, s->npieces, 0);
    if (pieces == NULL) return NULL;
    return Py_BuildValue("(ns#NnO)", s->poff, s->pts, (Py_ssize_t)30, pieces, s->psize,
                         s->pbump ? Py_True : Py_False);
}

/* (state, kind, run, after_json, own, other, learnt) of a stream whose start state
 * moved here, as feed leaves them, for StreamJoiner.read_elsewhere (state one of
 * init_learning's): learnt None, or where it learned from lines here (seen, lines,
 * counts). */
static PyObject *starts_state(const Slot *s) {
    if (!s->learnt && !s->sdirty) Py_RETURN_NONE;
    PyObject *learnt = Py_None;
    if (s->learnt) {
        Py_ssize_t nk = PyTuple_GET_SIZE(S.kinds);
        PyObject *counts = PyTuple_New(nk);
        if (counts == NULL) return NULL;
        for (Py_ssize_t k = 0; k < nk; k++) {
            PyObject *c = PyLong_FromSsize_t(s->counts[k]);
            if (c == NULL) {
                Py_DECREF(counts);
                return NULL;
            }
            PyTuple_SET_ITEM(counts, k, c);
        }
        learnt = Py_BuildValue("(nnN)", s->seen, s->llines, counts);
        if (learnt == NULL) return NULL;
    } else {
        Py_INCREF(learnt);
    }
    long state = s->learning ? L.learning : s->start >= 0 ? L.learned : L.off;
    return Py_BuildValue("(lnnOnnN)", state, s->start, s->run,
                         s->after_json ? Py_True : Py_False, s->own, s->other, learnt);
}

/* EntryStarts._check_mix, at the end of each window of header lines: a mixed one
 * turns the stream OFF for good (it reads on as OFF: the built-in shapes decide). */
static void check_mix(Slot *s) {
    Py_ssize_t all = s->own + s->other;
    if (all < L.window) return;
    /* entry_start._mixed, in the same doubles */
    if ((double)s->own < L.share * (double)all) s->start = -1;
    s->own = s->other = 0;
}

/* EntryStarts.feed in LEARNING for a line read here, of header kind s->lkind: the
 * stream learns the kind (and reads on as LEARNED), goes OFF at the end of the window
 * (the built-in shapes alone decide), or goes on learning. */
__attribute__((noinline)) static void learn_line(Slot *s) {
    s->learnt = 1;
    int over = ++s->llines >= L.window;
    Py_ssize_t kind = s->lkind;
    if (kind != NO_CANDIDATE) {
        s->seen++;
        if (kind >= 0) {
            Py_ssize_t count = ++s->counts[kind];
            /* feed's float test, in the same doubles */
            if (count >= L.learn_min && (double)count >= L.share * (double)s->seen) {
                s->learning = 0;
                s->start = kind;
                s->seen = s->run = s->llines = 0;
                return;
            }
        }
    }
    if (over) s->learning = 0; /* OFF: start stays -1 */
}

/* EntryStarts.feed's effect on a learned or learning stream, for a line read here. */
static void apply_effect(Slot *s, int effect) {
    switch (effect) {
    case E_HEAD:
        s->own++;
        s->run = 0;
        s->after_json = 0;
        s->sdirty = 1;
        check_mix(s);
        break;
    case E_OTHER:
    case E_JSON: /* an entry of its own: nothing after a JSON object continues it */
        s->other++;
        s->run = 0;
        s->after_json = effect == E_JSON;
        s->sdirty = 1;
        check_mix(s);
        break;
    case E_RUN:
        s->run++;
        s->sdirty = 1;
        break;
    case E_RESET:
        s->run = 0;
        s->after_json = 0;
        s->sdirty = 1;
        break;
    case E_LEARN:
        learn_line(s);
        break;
    }
}

/* Hold the line in *line (swapped in: *line gets the old buffer) as a new entry in
 * trace mode mode. */
static int hold_new(Slot *s, Buf *line, const char *ts, Py_ssize_t off, int mode) {
    Buf tmp = s->text;
    s->text = *line;
    *line = tmp;
    s->ts.len = 0;
    if (buf_put(&s->ts, ts, 30) < 0) return -1;
    s->off = off;
    s->first = s->text.len;
    s->hends.len = 0;
    s->hsize = -1;
    s->hlines = 1;
    s->mode = mode;
    s->last_first = s->text.len ? (uint8_t)s->text.p[0] : -1;
    s->held = s->dirty = 1;
    return 0;
}

/* Join t (chars characters) to the held entry as a continuation line, the entry now in
 * trace mode mode. */
static int join_line(Slot *s, const char *t, Py_ssize_t n, Py_ssize_t chars, int mode) {
    if (buf_put(&s->text, "\n", 1) < 0 || buf_put(&s->text, t, n) < 0 ||
        mark_end(&s->hends, s->text.len) < 0)
        return -1;
    s->hsize += chars + 1; /* counted by classify */
    s->hlines++;
    s->mode = mode;
    s->last_first = n ? (uint8_t)t[0] : -1;
    s->dirty = 1;
    return 0;
}

/* Lines of stream in a row from pos on (the line the scan stopped at first), at most
 * FOLLOW_MAX; -1: error set. */
enum { FOLLOW_MAX = 64 };
static Py_ssize_t follow_lines(const uint8_t *base, Py_ssize_t pos, Py_ssize_t end,
                               const Context *ctx,
                               int (*parse)(const uint8_t *, Py_ssize_t, Buf *, Line *),
                               Buf *scratch, int stream) {
    Py_ssize_t count = 0;
    while (pos < end && count < FOLLOW_MAX) {
        const uint8_t *s = base + pos;
        const uint8_t *nl = memchr(s, '\n', (size_t)(end - pos));
        Py_ssize_t n = nl - s;
        Line ln;
        int r = n > ctx->max_line ? 0 : parse(s, n, scratch, &ln);
        if (r < 0) return -1;
        if (r == 0 || ln.stream != stream) break;
        count++;
        pos += n + 1;
    }
    return count;
}

PyDoc_STRVAR(scan_doc,
"scan(ctx, data, pos, end, off, ingest_ts, held, partial, starts)\n"
"-> (values, pos, off, lines, stopped, held, partial, starts, follow)\n\n"
"Lines of data[pos:end] (end is just past a newline) starting at file offset off.\n"
"ingest_ts: the JSON-encoded ingest time of this chunk. held, partial and starts: per\n"
"stream (stdout, stderr), what StreamJoiner.export_held, export_partial and\n"
"export_starts gave. values: the records, in the order Python would produce them.\n"
"stopped: the line at pos (at file offset off) is for the Python path. The held,\n"
"partial and starts returned: per stream, None (the joiner's state stands) or the\n"
"(off, ts, text, parts, size, lines) / (off, ts, pieces, size, bump) / (state, kind,\n"
"run, after_json, own, other, learnt: None or (seen, lines, counts)) its joiner must\n"
"take with adopt_held / adopt_partial / read_elsewhere\n"
"before anything else is fed to it. follow: (stream, count) when the scan stopped at\n"
"a line of stream (0 stdout, 1 stderr), the lines of that stream in a row from pos\n"
"on (at most 64; the stop line first), else (-1, 0): the ones after the first are\n"
"Python's too while its joiner holds what the scan cannot carry.");

static PyObject *scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 9 arguments");
        return NULL;
    }
    if (!R.ready || S.kinds == NULL || !L.ready) {
        PyErr_SetString(PyExc_RuntimeError,
                        "scan(): init(), init_starts() and init_learning() first");
        return NULL;
    }
    PyObject *data = args[1], *ingest = args[5], *held = args[6], *part = args[7],
             *starts = args[8];
    if (!PyObject_TypeCheck(args[0], &ContextType) || !PyBytes_Check(data) ||
        !PyBytes_Check(ingest) || !PyTuple_Check(held) || PyTuple_GET_SIZE(held) != 2 ||
        !PyTuple_Check(part) || PyTuple_GET_SIZE(part) != 2 || !PyTuple_Check(starts) ||
        PyTuple_GET_SIZE(starts) != 2) {
        PyErr_SetString(PyExc_TypeError, "scan(): bad argument types");
        return NULL;
    }
    Context *ctx = (Context *)args[0];
    Py_ssize_t pos = PyLong_AsSsize_t(args[2]), end = PyLong_AsSsize_t(args[3]);
    Py_ssize_t off = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred()) return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    if (pos < 0 || end > size || pos > end ||
        (end > pos && PyBytes_AS_STRING(data)[end - 1] != '\n')) {
        PyErr_SetString(PyExc_ValueError, "scan(): data[pos:end] must end with a newline");
        return NULL;
    }
    Scan sc = {0};
    sc.ctx = ctx;
    sc.ingest = PyBytes_AS_STRING(ingest);
    sc.ingest_len = PyBytes_GET_SIZE(ingest);
    sc.values = PyList_New(0);
    if (sc.values == NULL) return NULL;

    Slot slots[2];
    memset(slots, 0, sizeof slots);
    Buf line = {0};
    const uint8_t *base = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t lines = 0;
    int stopped = 0, failed = 0, hold = ctx->hold, stop_stream = -1;
    int (*parse)(const uint8_t *, Py_ssize_t, Buf *, Line *) =
        ctx->cri ? parse_cri : parse_docker;
    /* callbacks must not free these under us */
    Py_INCREF(ctx);
    Py_INCREF(data);
    Py_INCREF(ingest);
    for (int i = 0; i < 2 && !failed; i++) {
        if (slot_init(&slots[i], PyTuple_GET_ITEM(held, i), hold) < 0 ||
            partial_init(&slots[i], PyTuple_GET_ITEM(part, i)) < 0 ||
            starts_init(&slots[i], PyTuple_GET_ITEM(starts, i)) < 0)
            failed = 1;
    }
    while (pos < end && !failed) {
        const uint8_t *s = base + pos;
        const uint8_t *nl = memchr(s, '\n', (size_t)(end - pos));
        Py_ssize_t n = nl - s;
        Line ln;
        if (n > ctx->max_line) {
            stopped = 1;
            break;
        }
        int r = parse(s, n, &line, &ln);
        if (r < 0) {
            failed = 1;
            break;
        }
        if (r == 0) {
            stopped = 1;
            break;
        }
        if (slots[ln.stream].state < 0) {
            stopped = 1;
            stop_stream = ln.stream;
            break;
        }
        Slot *sl = &slots[ln.stream];
        /* the entry this line completes: itself, or the pieces before it and itself */
        Py_ssize_t e_off = off, chars = -1;
        const char *e_ts = ln.ts;
        int action = A_NEW, effect = E_NONE, mode = M_NONE;
        if (ln.partial || sl->npieces) {
            /* StreamJoiner.feed: a piece past max_joined characters is cut and tagged
             * (Python's); a piece read here starts, extends or ends the entry */
            Py_ssize_t room = ctx->max_joined - (sl->npieces ? sl->psize : 0);
            Py_ssize_t piece = n_chars(line.p, line.len);
            if (piece > room) {
                stopped = 1;
                stop_stream = ln.stream;
                break;
            }
            if (ln.partial) {
                if (!sl->npieces) {
                    sl->poff = off;
                    memcpy(sl->pts, ln.ts, 30);
                    sl->psize = 0;
                    sl->ptext.len = sl->pends.len = 0;
                }
                if (line.len && (buf_put(&sl->ptext, line.p, line.len) < 0 ||
                                 piece_end(sl) < 0)) {
                    failed = 1;
                    break;
                }
                sl->psize += piece;
                sl->pdirty = sl->pbump = 1;
                lines++;
                off += n + 1;
                pos += n + 1;
                continue;
            }
            Py_ssize_t before = sl->ptext.len;
            if (buf_put(&sl->ptext, line.p, line.len) < 0) {
                failed = 1;
                break;
            }
            chars = (line.len ? piece : 0) + sl->psize; /* len() of the joined pieces */
            if (hold && (action = classify(sl->ptext.p, sl->ptext.len, chars, sl, ctx,
                                           &effect, &mode)) == A_PYTHON) {
                sl->ptext.len = before;
                stopped = 1;
                stop_stream = ln.stream;
                break;
            }
            sl->psize = chars;
            Buf tmp = line; /* the joined pieces are the entry now */
            line = sl->ptext;
            sl->ptext = tmp;
            sl->ptext.len = sl->pends.len = 0;
            sl->npieces = 0;
            sl->pdirty = 1;
            e_off = sl->poff;
            e_ts = sl->pts;
        } else if (hold && (action = classify(line.p, line.len, -1, sl, ctx, &effect,
                                              &mode)) == A_PYTHON) {
            stopped = 1;
            stop_stream = ln.stream;
            break;
        }
        apply_effect(sl, effect);
        if (!hold) {
            if (emit(&sc, line.p, line.len, e_ts, 30, e_off, ln.stream, 0) < 0) {
                failed = 1;
                break;
            }
        } else if (action == A_JOIN) {
            if (chars < 0) chars = n_chars(line.p, line.len);
            if (join_line(sl, line.p, line.len, chars, mode) < 0) {
                failed = 1;
                break;
            }
        } else {
            if (sl->held && emit(&sc, sl->text.p, sl->text.len, sl->ts.p, sl->ts.len, sl->off,
                                 ln.stream, sl->hlines > 1) < 0) {
                failed = 1;
                break;
            }
            if (hold_new(sl, &line, e_ts, e_off, mode) < 0) {
                failed = 1;
                break;
            }
        }
        lines++;
        off += n + 1;
        pos += n + 1;
    }
    Py_ssize_t follow = 0;
    if (!failed && stop_stream >= 0 &&
        (follow = follow_lines(base, pos, end, ctx, parse, &line, stop_stream)) < 0)
        failed = 1;
    PyObject *result = NULL;
    if (!failed) {
        PyObject *hout = PyTuple_New(2), *pout = PyTuple_New(2), *sout = PyTuple_New(2);
        int ok = hout != NULL && pout != NULL && sout != NULL;
        for (int i = 0; ok && i < 2; i++) {
            PyObject *h = held_line(&slots[i]);
            PyObject *q = h == NULL ? NULL : partial_state(&slots[i]);
            PyObject *t = q == NULL ? NULL : starts_state(&slots[i]);
            if (t == NULL) {
                Py_XDECREF(h);
                Py_XDECREF(q);
                ok = 0;
                break;
            }
            PyTuple_SET_ITEM(hout, i, h);
            PyTuple_SET_ITEM(pout, i, q);
            PyTuple_SET_ITEM(sout, i, t);
        }
        if (ok) {
            result = Py_BuildValue("(OnnnONNN(in))", sc.values, pos, off, lines,
                                   stopped ? Py_True : Py_False, hout, pout, sout, stop_stream,
                                   follow);
        } else {
            Py_XDECREF(hout);
            Py_XDECREF(pout);
            Py_XDECREF(sout);
        }
    }
    for (int i = 0; i < 2; i++) {
        PyMem_Free(slots[i].text.p);
        PyMem_Free(slots[i].ts.p);
        PyMem_Free(slots[i].hends.p);
        PyMem_Free(slots[i].ptext.p);
        PyMem_Free(slots[i].pends.p);
    }
    PyMem_Free(line.p);
    PyMem_Free(sc.rec.p);
    Py_DECREF(sc.values);
    Py_DECREF(ingest);
    Py_DECREF(data);
    Py_DECREF(ctx);
    return result;
}

PyDoc_STRVAR(blake_doc, "blake2b_hex(data) -> hashlib.blake2b(data, digest_size=16).hexdigest()"
                        " (for the tests)");

static PyObject *blake2b_hex(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "bytes expected");
        return NULL;
    }
    char hex[32];
    b2_hex((const uint8_t *)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), NULL, 0, hex);
    return PyUnicode_FromStringAndSize(hex, 32);
}

static int all_of(PyObject *tuple, PyTypeObject *type, const char *what) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++)
        if (!PyObject_TypeCheck(PyTuple_GET_ITEM(tuple, i), type)) {
            PyErr_Format(PyExc_TypeError, "init(): %s must hold %s", what, type->tp_name);
            return 0;
        }
    return 1;
}

PyDoc_STRVAR(init_doc,
"init(*, unknown, indent, maybe, opens, continues, dump_heads, dump_follow, py_follow,\n"
"     dump_lines)\n\n"
"The rules, from Python (the level detector's: init_levels): the level of an empty\n"
"entry; the continuation shapes of collector.multiline: first bytes\n"
"that always continue (indent) or may (maybe), prefixes of a line that opens a trace\n"
"mode, that continue the held entry, of a held Go dump head and what follows it, of\n"
"what chains a Python traceback (PY_FOLLOW) and of a Go dump's lines (GO_DUMP_LINES).");

static PyObject *init(PyObject *self, PyObject *args, PyObject *kwds) {
    (void)self;
    static char *kw[] = {"unknown", "indent", "maybe", "opens", "continues", "dump_heads",
                         "dump_follow", "py_follow", "dump_lines", NULL};
    PyObject *unknown, *indent, *maybe, *opens, *continues, *heads, *follow, *py_follow,
        *dump_lines;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$UO!O!O!O!O!O!O!O!:init", kw, &unknown,
                                     &PyBytes_Type, &indent, &PyBytes_Type, &maybe,
                                     &PyTuple_Type, &opens, &PyTuple_Type, &continues,
                                     &PyTuple_Type, &heads, &PyTuple_Type, &follow,
                                     &PyTuple_Type, &py_follow, &PyTuple_Type, &dump_lines))
        return NULL;
    if (!all_of(opens, &PyBytes_Type, "opens") ||
        !all_of(continues, &PyBytes_Type, "continues") ||
        !all_of(heads, &PyBytes_Type, "dump_heads") ||
        !all_of(follow, &PyBytes_Type, "dump_follow") ||
        !all_of(py_follow, &PyBytes_Type, "py_follow") ||
        !all_of(dump_lines, &PyBytes_Type, "dump_lines"))
        return NULL;
    memset(R.indent, 0, sizeof R.indent);
    memset(R.maybe, 0, sizeof R.maybe);
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(indent); i++)
        R.indent[(uint8_t)PyBytes_AS_STRING(indent)[i]] = 1;
    for (Py_ssize_t i = 0; i < PyBytes_GET_SIZE(maybe); i++)
        R.maybe[(uint8_t)PyBytes_AS_STRING(maybe)[i]] = 1;
    Py_XSETREF(R.unknown, Py_NewRef(unknown));
    Py_XSETREF(R.opens, Py_NewRef(opens));
    Py_XSETREF(R.continues, Py_NewRef(continues));
    Py_XSETREF(R.dump_heads, Py_NewRef(heads));
    Py_XSETREF(R.dump_follow, Py_NewRef(follow));
    Py_XSETREF(R.py_follow, Py_NewRef(py_follow));
    Py_XSETREF(R.dump_lines, Py_NewRef(dump_lines));
    R.ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL, scan_doc},
    {"blake2b_hex", blake2b_hex, METH_O, blake_doc},
    {"init", (PyCFunction)(void (*)(void))init, METH_VARARGS | METH_KEYWORDS, init_doc},
    LEVELS_METHODS
    {"init_starts", (PyCFunction)(void (*)(void))init_starts, METH_FASTCALL, init_starts_doc},
    {"init_learning", (PyCFunction)(void (*)(void))init_learning, METH_VARARGS | METH_KEYWORDS,
     init_learning_doc},
    {"start_matches", (PyCFunction)(void (*)(void))start_matches_py, METH_FASTCALL,
     "start_matches(kind, text) -> does text start with the kind's header (for the tests)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "collector._fastpath",
                                    "Docker json-file and CRI hot path (see collector/fastpath.py).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fastpath(void) {
    if (PyType_Ready(&ContextType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Context", (PyObject *)&ContextType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
