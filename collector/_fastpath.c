/* The Docker json-file hot path in C: split a chunk into lines, parse the common
 * shape {"log":"...\n","stream":"stdout|stderr","time":"<30 chars>Z"}, join (hold
 * each line until the next one of its stream shows it is not a continuation),
 * detect the level through the stream's column hint, compute the id and encode the
 * record bytes exactly as collector.source.Source.emit would.
 *
 * (Docker's optional "attrs" object is accepted: the Python path ignores it too.)
 * Anything else -- a partial piece, invalid JSON or UTF-8, \u0000, other keys, an
 * over-long line, a possible continuation line, a joiner holding something other
 * than one plain line -- stops the scan *before* that line so the Python path
 * handles it with the state written back; see collector/fastpath.py. The C path
 * only ever takes the shortcut where the Python code's outcome is known. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

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
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--) w = (w << 8) | block[i * 8 + k];
        m[i] = w;
    }
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = B2_IV[i];
    }
    v[12] ^= t;  /* inputs here are far below 2^64 bytes: the high counter stays 0 */
    if (last) v[14] = ~v[14];
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
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
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

/* Parse one line (no newline). On success: text = the unescaped log without its
 * final '\n', *stream, *ts -> 30 bytes. Returns 1, 0 (not the common shape: the
 * Python path decides), -1 (error set). */
static int parse_line(const uint8_t *s, Py_ssize_t n, Buf *text, int *stream,
                      const uint8_t **ts) {
    const uint8_t *end = s + n;
    if (n < 8 || memcmp(s, "{\"log\":\"", 8) != 0) return 0;
    const uint8_t *p = s + 8;
    text->len = 0;
    if (buf_reserve(text, n) < 0) return -1; /* unescaping never grows the text */
    char *o = text->p;
    for (;;) {
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
        if (c < 0x80) {
            *o++ = (char)c;
            p++;
            continue;
        }
        int k = utf8_len(p, end);
        if (k == 0) return 0;
        memcpy(o, p, (size_t)k);
        o += k;
        p += k;
    }
    text->len = o - text->p;
    if (text->len == 0 || text->p[text->len - 1] != '\n') return 0; /* partial piece */
    text->len -= 1;
    /* p is at the closing quote of "log" */
    if (end - p < (Py_ssize_t)sizeof(K_STREAM) - 1 + 6 + (Py_ssize_t)sizeof(K_TIME) - 1 + 30 + 2)
        return 0;
    if (memcmp(p, K_STREAM, sizeof(K_STREAM) - 1) != 0) return 0;
    p += sizeof(K_STREAM) - 1;
    if (memcmp(p, "stdout", 6) == 0) *stream = ST_STDOUT;
    else if (memcmp(p, "stderr", 6) == 0) *stream = ST_STDERR;
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
    if (end - p != 32 || p[29] != 'Z' || p[30] != '"' || p[31] != '}') return 0;
    for (int i = 0; i < 29; i++)
        if (p[i] < 0x20 || p[i] > 0x7E || p[i] == '"' || p[i] == '\\') return 0;
    *ts = p;
    return 1;
}

/* ------------------------------------------------------------------- levels -- */

static const char *const WORDS[] = {
    "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "FATAL",
    "CRITICAL", "CRIT", "SEVERE", "PANIC", "DPANIC", "EMERG", "ALERT", "FINE", "FINER",
    "FINEST", "CONFIG"};
#define NWORDS ((int)(sizeof(WORDS) / sizeof(WORDS[0])))
static PyObject *word_level[NWORDS]; /* level names (str), from collector.fastpath */

static int is_word_ascii(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_';
}

/* The hint shortcut of level_detect.detect_level: the level word at the stream's
 * remembered column. Returns the index into WORDS, or -1 when only the Python
 * function can say (no hint, non-ASCII around it, no word there). */
static int hinted_word(const uint8_t *t, Py_ssize_t n, Py_ssize_t hint) {
    if (hint < 0 || hint >= n) return -1;
    for (Py_ssize_t i = 0; i < hint; i++)
        if (t[i] >= 0x80 || t[i] == '\n') return -1; /* columns are characters */
    if (hint > 0) {
        uint8_t b = t[hint - 1];
        if (is_word_ascii(b) || b == '.' || b == '-') return -1;
    }
    for (int w = 0; w < NWORDS; w++) {
        Py_ssize_t len = (Py_ssize_t)strlen(WORDS[w]);
        if (hint + len > n || memcmp(t + hint, WORDS[w], (size_t)len) != 0) continue;
        if (hint + len == n) return w;
        uint8_t a = t[hint + len];
        if (a >= 0x80) return -1; /* a Unicode letter would be \w: ask Python */
        if (!is_word_ascii(a) && a != '-') return w;
    }
    return -1;
}

/* ---------------------------------------------------------------- the scan -- */

typedef struct {
    int state;  /* 0 not looked at yet, 1 usable, -1 its lines go to Python */
    int held;   /* an entry is held (adopted from the joiner, or read here) */
    int dirty;  /* the held entry was read here: write it back to the joiner */
    PyObject *joiner;
    Buf text, ts;
    Py_ssize_t off;
} Slot;

typedef struct {
    PyObject *f, *rules, *hint, *detect, *shrink, *values;
    const uint8_t *prefix, *mid, *tail;
    Py_ssize_t prefix_len, mid_len, tail_len, max_record;
    Buf rec;
} Ctx;

static PyObject *S_STREAM[2];
static PyObject *A_RULES, *A_P_PARTS, *A_H_LINES, *A_H_TAGS, *A_H_OTHER, *A_H_ORIGIN, *A_MODE,
    *A_H_TS, *A_H_TEXT, *A_H_OFF, *A_H_SIZE, *A_H_PARTS, *A_DEADLINE;

static int startswith(const char *t, Py_ssize_t n, const char *prefix) {
    size_t k = strlen(prefix);
    return (size_t)n >= k && memcmp(t, prefix, k) == 0;
}

/* Would StreamJoiner._continues (built-in shapes, mode none) join t to the held
 * entry h, or make t start a Python traceback? Then Python must handle t. */
static int needs_python(const char *t, Py_ssize_t n, const Slot *s) {
    if (startswith(t, n, "Traceback (most recent")) return 1;
    if (!s->held) return 0;
    char c = n ? t[0] : '\0';
    if (c == ' ' || c == '\t') return 1;
    if (n && c != 'C' && c != 'S' && c != 'T' && c != 'g' && c != '[') return 0;
    if (startswith(t, n, "Caused by: ") || startswith(t, n, "Suppressed: ")) return 1;
    if ((startswith(s->text.p, s->text.len, "panic: ") ||
         startswith(s->text.p, s->text.len, "fatal error: ")) &&
        (n == 0 || startswith(t, n, "goroutine ") || startswith(t, n, "[signal ")))
        return 1;
    return 0;
}

static int attr_is(PyObject *o, PyObject *name, PyObject *want) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL) return -1;
    int r = v == want;
    Py_DECREF(v);
    return r;
}

static Py_ssize_t attr_ssize(PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL) return -2;
    Py_ssize_t r = PyLong_Check(v) ? PyLong_AsSsize_t(v) : -3;
    Py_DECREF(v);
    if (r == -1 && PyErr_Occurred()) return -2;
    return r;
}

static int copy_str_attr(PyObject *o, PyObject *name, Buf *b) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL) return -1;
    if (!PyUnicode_Check(v)) {
        Py_DECREF(v);
        return 0;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(v, &n);
    if (s == NULL) { /* lone surrogates: the Python path deals with them */
        PyErr_Clear();
        Py_DECREF(v);
        return 0;
    }
    b->len = 0;
    int r = buf_put(b, s, n);
    Py_DECREF(v);
    return r < 0 ? -1 : 1;
}

/* Look at the stream's joiner once per scan: can its state be carried here? */
static int slot_init(Slot *s, PyObject *joiners, int stream, Ctx *c, int hold) {
    s->state = -1;
    PyObject *j = PyDict_GetItemWithError(joiners, S_STREAM[stream]);
    if (j == NULL) return PyErr_Occurred() ? -1 : 0; /* the first line makes it: Python */
    int r = attr_is(j, A_RULES, c->rules);
    if (r <= 0) return r;
    PyObject *parts = PyObject_GetAttr(j, A_P_PARTS);
    if (parts == NULL) return -1;
    r = PyList_CheckExact(parts) && PyList_GET_SIZE(parts) == 0;
    Py_DECREF(parts);
    if (!r) return 0;
    s->joiner = j;
    Py_INCREF(j);
    if (!hold) {
        s->state = 1;
        return 0;
    }
    Py_ssize_t lines = attr_ssize(j, A_H_LINES);
    if (lines == -2) return -1;
    if (lines == 0) {
        s->state = 1;
        return 0;
    }
    if (lines != 1) return 0;
    /* one plain line held: no tags, a time, from this file, mode none */
    PyObject *tags = PyObject_GetAttr(j, A_H_TAGS);
    if (tags == NULL) return -1;
    r = PyTuple_CheckExact(tags) && PyTuple_GET_SIZE(tags) == 0;
    Py_DECREF(tags);
    if (!r) return 0;
    if ((r = attr_is(j, A_H_OTHER, Py_None)) <= 0) return r;
    if ((r = attr_is(j, A_H_ORIGIN, c->f)) <= 0) return r;
    Py_ssize_t mode = attr_ssize(j, A_MODE);
    if (mode == -2) return -1;
    if (mode != 0) return 0;
    if ((r = copy_str_attr(j, A_H_TS, &s->ts)) <= 0) return r;
    if ((r = copy_str_attr(j, A_H_TEXT, &s->text)) <= 0) return r;
    Py_ssize_t off = attr_ssize(j, A_H_OFF);
    if (off == -2) return -1;
    if (off < 0) return 0;
    s->off = off;
    s->held = 1;
    s->state = 1;
    return 0;
}

/* The record of one entry, appended to c->values. */
static int emit(Ctx *c, const char *text, Py_ssize_t tlen, const char *ts, Py_ssize_t tslen,
                Py_ssize_t off, int stream) {
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%zd", off);
    char hex[32];
    b2_hex(c->prefix, c->prefix_len, (const uint8_t *)digits, nd, hex);

    /* the level, at emission time like Python (the hint is shared by the streams) */
    PyObject *hint_obj = PyList_GET_ITEM(c->hint, 0);
    Py_ssize_t hint = PyLong_AsSsize_t(hint_obj);
    if (hint == -1 && PyErr_Occurred()) return -1;
    const char *lvl;
    Py_ssize_t lvl_len;
    PyObject *lvl_obj = NULL;
    if (tlen == 0) {
        lvl = "unknown";
        lvl_len = 7;
    } else {
        int w = hinted_word((const uint8_t *)text, tlen, hint);
        if (w >= 0) {
            lvl = PyUnicode_AsUTF8AndSize(word_level[w], &lvl_len);
        } else {
            PyObject *str = PyUnicode_DecodeUTF8(text, tlen, NULL);
            if (str == NULL) return -1;
            lvl_obj = PyObject_CallFunctionObjArgs(c->detect, str, c->hint, NULL);
            Py_DECREF(str);
            if (lvl_obj == NULL) return -1;
            if (!PyUnicode_Check(lvl_obj)) {
                Py_DECREF(lvl_obj);
                PyErr_SetString(PyExc_TypeError, "detect_level returned a non-str");
                return -1;
            }
            lvl = PyUnicode_AsUTF8AndSize(lvl_obj, &lvl_len);
        }
        if (lvl == NULL) {
            Py_XDECREF(lvl_obj);
            return -1;
        }
    }
    Buf *b = &c->rec;
    b->len = 0;
    int bad = buf_put(b, "{\"id\":\"", 7) < 0 || buf_put(b, hex, 32) < 0 ||
              buf_put(b, "\",\"ts\":", 7) < 0 ||
              buf_json_str(b, (const uint8_t *)ts, tslen) < 0 ||
              buf_put(b, c->mid, c->mid_len) < 0 || buf_put(b, digits, nd) < 0 ||
              buf_put(b, ",\"message\":", 11) < 0 ||
              buf_json_str(b, (const uint8_t *)text, tlen) < 0 ||
              buf_put(b, ",\"level\":", 9) < 0 ||
              buf_json_str(b, (const uint8_t *)lvl, lvl_len) < 0 ||
              buf_put(b, ",\"stream\":\"", 11) < 0 ||
              buf_put(b, stream == ST_STDOUT ? "stdout\"" : "stderr\"", 7) < 0 ||
              buf_put(b, c->tail, c->tail_len) < 0;
    Py_XDECREF(lvl_obj);
    if (bad) return -1;
    PyObject *value = PyBytes_FromStringAndSize(b->p, b->len);
    if (value == NULL) return -1;
    if (b->len > c->max_record) { /* rare: Source._shrink cuts and counts it */
        PyObject *cut = PyObject_CallOneArg(c->shrink, value);
        Py_DECREF(value);
        if (cut == NULL) return -1;
        value = cut;
    }
    int r = PyList_Append(c->values, value);
    Py_DECREF(value);
    return r;
}

/* The held line of a stream goes back into its StreamJoiner, as _line leaves it. */
static int write_back(Slot *s, Ctx *c, PyObject *deadline) {
    PyObject *text = PyUnicode_DecodeUTF8(s->text.p, s->text.len, NULL);
    if (text == NULL) return -1;
    PyObject *ts = PyUnicode_DecodeUTF8(s->ts.p, s->ts.len, NULL);
    PyObject *off = PyLong_FromSsize_t(s->off);
    PyObject *size = PyLong_FromSsize_t(PyUnicode_GET_LENGTH(text));
    PyObject *one = PyLong_FromLong(1), *zero = PyLong_FromLong(0);
    PyObject *empty = PyTuple_New(0);
    int r = -1;
    if (ts && off && size && one && zero && empty &&
        PyObject_SetAttr(s->joiner, A_H_TEXT, text) == 0 &&
        PyObject_SetAttr(s->joiner, A_H_ORIGIN, c->f) == 0 &&
        PyObject_SetAttr(s->joiner, A_H_OFF, off) == 0 &&
        PyObject_SetAttr(s->joiner, A_H_TS, ts) == 0 &&
        PyObject_SetAttr(s->joiner, A_H_TAGS, empty) == 0 &&
        PyObject_SetAttr(s->joiner, A_H_OTHER, Py_None) == 0 &&
        PyObject_SetAttr(s->joiner, A_H_SIZE, size) == 0 &&
        PyObject_SetAttr(s->joiner, A_H_LINES, one) == 0 &&
        PyObject_SetAttr(s->joiner, A_MODE, zero) == 0 &&
        PyObject_SetAttr(s->joiner, A_DEADLINE, deadline) == 0)
        r = 0;
    Py_DECREF(text);
    Py_XDECREF(ts);
    Py_XDECREF(off);
    Py_XDECREF(size);
    Py_XDECREF(one);
    Py_XDECREF(zero);
    Py_XDECREF(empty);
    return r;
}

PyDoc_STRVAR(scan_doc,
"scan(data, pos, end, off, joiners, f, rules, hold, max_line, max_record, id_prefix,\n"
"     mid, tail, hint, deadline, detect_level, shrink)\n"
"-> (values, pos, off, lines, stopped)\n\n"
"Lines of data[pos:end] (end is just past a newline) starting at file offset off.\n"
"values: the records, in the order Python would produce them. stopped: the line at\n"
"pos (at file offset off) is for the Python path; the joiners hold what Python\n"
"would hold before it.");

static PyObject *scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 17) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 17 arguments");
        return NULL;
    }
    PyObject *data = args[0], *joiners = args[4];
    if (!PyBytes_Check(data) || !PyDict_Check(joiners) || !PyBytes_Check(args[10]) ||
        !PyBytes_Check(args[11]) || !PyBytes_Check(args[12]) || !PyList_Check(args[13]) ||
        PyList_GET_SIZE(args[13]) < 1 || !PyLong_Check(args[14])) {
        PyErr_SetString(PyExc_TypeError, "scan(): bad argument types");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]), end = PyLong_AsSsize_t(args[2]);
    Py_ssize_t off = PyLong_AsSsize_t(args[3]);
    int hold = PyObject_IsTrue(args[7]);
    Py_ssize_t max_line = PyLong_AsSsize_t(args[8]);
    Py_ssize_t max_record = PyLong_AsSsize_t(args[9]);
    if (PyErr_Occurred() || hold < 0) return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    if (pos < 0 || end > size || pos > end || (end > pos && PyBytes_AS_STRING(data)[end - 1] != '\n')) {
        PyErr_SetString(PyExc_ValueError, "scan(): data[pos:end] must end with a newline");
        return NULL;
    }
    Ctx c = {0};
    c.f = args[5];
    c.rules = args[6];
    c.hint = args[13];
    c.detect = args[15];
    c.shrink = args[16];
    c.prefix = (const uint8_t *)PyBytes_AS_STRING(args[10]);
    c.prefix_len = PyBytes_GET_SIZE(args[10]);
    c.mid = (const uint8_t *)PyBytes_AS_STRING(args[11]);
    c.mid_len = PyBytes_GET_SIZE(args[11]);
    c.tail = (const uint8_t *)PyBytes_AS_STRING(args[12]);
    c.tail_len = PyBytes_GET_SIZE(args[12]);
    c.max_record = max_record;
    c.values = PyList_New(0);
    if (c.values == NULL) return NULL;

    Slot slots[2];
    memset(slots, 0, sizeof slots);
    Buf line = {0};
    const uint8_t *base = (const uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t lines = 0;
    int stopped = 0, failed = 0;
    Py_INCREF(data); /* a callback must not free it under us */
    while (pos < end) {
        const uint8_t *s = base + pos;
        const uint8_t *nl = memchr(s, '\n', (size_t)(end - pos));
        Py_ssize_t n = nl - s;
        int stream;
        const uint8_t *ts;
        if (n > max_line) {
            stopped = 1;
            break;
        }
        int r = parse_line(s, n, &line, &stream, &ts);
        if (r < 0) {
            failed = 1;
            break;
        }
        if (r == 0) {
            stopped = 1;
            break;
        }
        Slot *sl = &slots[stream];
        if (sl->state == 0 && slot_init(sl, joiners, stream, &c, hold) < 0) {
            failed = 1;
            break;
        }
        if (sl->state < 0) {
            stopped = 1;
            break;
        }
        if (!hold) {
            if (emit(&c, line.p, line.len, (const char *)ts, 30, off, stream) < 0) {
                failed = 1;
                break;
            }
        } else {
            if (needs_python(line.p, line.len, sl)) {
                stopped = 1;
                break;
            }
            if (sl->held && emit(&c, sl->text.p, sl->text.len, sl->ts.p, sl->ts.len, sl->off,
                                 stream) < 0) {
                failed = 1;
                break;
            }
            Buf tmp = sl->text; /* the line becomes the held entry */
            sl->text = line;
            line = tmp;
            sl->ts.len = 0;
            if (buf_put(&sl->ts, ts, 30) < 0) {
                failed = 1;
                break;
            }
            sl->off = off;
            sl->held = sl->dirty = 1;
        }
        lines++;
        off += n + 1;
        pos += n + 1;
    }
    for (int i = 0; i < 2; i++) {
        if (!failed && slots[i].dirty && write_back(&slots[i], &c, args[14]) < 0) failed = 1;
        Py_XDECREF(slots[i].joiner);
        PyMem_Free(slots[i].text.p);
        PyMem_Free(slots[i].ts.p);
    }
    PyMem_Free(line.p);
    PyMem_Free(c.rec.p);
    Py_DECREF(data);
    if (failed) {
        Py_DECREF(c.values);
        return NULL;
    }
    return Py_BuildValue("(NnnnO)", c.values, pos, off, lines, stopped ? Py_True : Py_False);
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

PyDoc_STRVAR(init_doc, "init(levels): levels maps each level word to its level name");

static PyObject *init(PyObject *self, PyObject *levels) {
    (void)self;
    if (!PyDict_Check(levels)) {
        PyErr_SetString(PyExc_TypeError, "dict expected");
        return NULL;
    }
    for (int w = 0; w < NWORDS; w++) {
        PyObject *name = PyDict_GetItemString(levels, WORDS[w]);
        if (name == NULL || !PyUnicode_Check(name)) {
            PyErr_Format(PyExc_KeyError, "no level name for %s", WORDS[w]);
            return NULL;
        }
        Py_INCREF(name);
        Py_XSETREF(word_level[w], name);
    }
    Py_RETURN_NONE;
}

static PyObject *words(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    PyObject *t = PyTuple_New(NWORDS);
    if (t == NULL) return NULL;
    for (int w = 0; w < NWORDS; w++) {
        PyObject *s = PyUnicode_FromString(WORDS[w]);
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, w, s);
    }
    return t;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL, scan_doc},
    {"blake2b_hex", blake2b_hex, METH_O, blake_doc},
    {"init", init, METH_O, init_doc},
    {"words", words, METH_NOARGS, "The level words the hint shortcut knows."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "collector._fastpath",
                                    "Docker json-file hot path (see collector/fastpath.py).",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fastpath(void) {
    struct {
        PyObject **slot;
        const char *name;
    } names[] = {{&A_RULES, "_rules"},     {&A_P_PARTS, "p_parts"},   {&A_H_LINES, "h_lines"},
                 {&A_H_TAGS, "h_tags"},    {&A_H_OTHER, "h_other"},   {&A_H_ORIGIN, "h_origin"},
                 {&A_MODE, "_mode"},       {&A_H_TS, "h_ts"},         {&A_H_TEXT, "h_text"},
                 {&A_H_OFF, "h_off"},      {&A_H_SIZE, "h_size"},     {&A_H_PARTS, "h_parts"},
                 {&A_DEADLINE, "deadline"}, {&S_STREAM[0], "stdout"}, {&S_STREAM[1], "stderr"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].name);
        if (*names[i].slot == NULL) return NULL;
    }
    return PyModule_Create(&module);
}
