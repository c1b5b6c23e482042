/* The level of an entry in C: collector.level_detect.detect_level(text, hint) with the
 * same result and the same effect on the stream's hint ([column, last level,
 * LevelField]), for the entries where that can be known without Python; the others
 * (a non-ASCII character where the cascade looks, JSON it cannot be sure of, an
 * unusual hint) go to the Python function itself. Included by _fastpath.c (tools/asan.sh builds it with it).
 *
 * One source of truth: every word, letter and level table comes from Python
 * (collector.level_detect.c_tables, handed in once by init_levels). What is C here is
 * the *structure* of the regexes of level_detect.py, written out as matchers that
 * mirror Python's re on ASCII text: leftmost match, alternatives in order, greedy
 * quantifiers with the backtracking each pattern allows (each matcher says why a
 * maximal run decides), lookbehind at the start position, endpos as the subject's end.
 * tests/collector/test_level_c.py compares the two on the level corpus and on
 * generated lines, result and hint after every entry: change a regex in
 * level_detect.py and its matcher here together.
 *
 * ASCII only: Python's \w, \s, \d and (?i) are Unicode-aware, and columns are
 * characters. Every read goes through at(), which gives up (bail) at the first
 * non-ASCII byte the cascade would look at; nothing is written to the hint before the
 * whole entry is decided, so giving up leaves Python a clean slate. */

#ifndef LOGPIPE_LEVELS_H
#define LOGPIPE_LEVELS_H

#define LV_END (-1)
#define LV_MAXW 31
#define LV_JSLOTS 32  /* JSON keys read from the object, flat */
#define LV_JINNER 8   /* JSON keys read from a nested object */
#define LV_JOUTER 2   /* JSON objects read nested */
#define LV_JLEVELS 64 /* the otel and bunyan tables' sizes, at most */

typedef struct {
    char s[LV_MAXW + 1];
    Py_ssize_t len;
    PyObject *level; /* a map's value (strong), NULL for a set */
} LWord;

typedef struct {
    LWord *w;
    Py_ssize_t n;
    /* The indexes of w by length, each length's in table order: idx[by_len[k] ..
     * by_len[k + 1]) are the words of k bytes, so a lookup compares only those. */
    Py_ssize_t *idx;
    Py_ssize_t by_len[LV_MAXW + 2];
} LWords;

static struct {
    int ready;
    PyObject *detect;     /* collector.level_detect.detect_level */
    PyObject *field_type; /* collector.level_field.LevelField */
    PyObject *unknown;
    PyObject *n_field, *n_candidate, *n_run; /* its attribute names */
    LWords aliases;                          /* normalize_level: lowercase spelling -> level */
    LWords words, title, keys, bracketed, cased, colon, pg, pg_levels, tag, slashed, csv,
        secondary, leading, fwords;
    uint8_t klog[128], pipe[128], marks[128], fstrip[128];
    PyObject *logcat[128], *redis[128], *redis1[128], *mongo[128], *fletters[128];
    int mongo_debug;
    PyObject *mongo_default;
    PyObject *syslog[8], *status[10];
    Py_ssize_t header, wide, window, max_fields, line_chars, learn_run, unlearn_run;
    unsigned long long calls, fallbacks;
    /* _from_json (level_detect._json_c_tables): the keys read flat from the object and
     * from a nested one; the first loop's keys as (flat, outer or -1, inner) indices,
     * the other loops' as flat indices; jouter: an outer key's nested slot or -1 */
    LWords jtop, jinner, jes_values, jtag_levels;
    LWord jcritical;
    PyObject *jfatal, *jwarn;
    int jlev[LV_JSLOTS][3], jlev_n, jouter[LV_JSLOTS], jtags, jcodes[2];
    int jotel[LV_JSLOTS], jotel_n, jprio[LV_JSLOTS], jprio_n, jstatus[LV_JSLOTS], jstatus_n,
        jes[LV_JSLOTS], jes_n;
    uint8_t jstrip[128];
    PyObject *jotel_levels[LV_JLEVELS], *jbunyan[LV_JLEVELS];
    int jotel_levels_n, jbunyan_n;
} LV;

/* ------------------------------------------------------------- the subject -- */

/* text[:n] as Python's slice or endpos would cut it; asc: bytes before the first
 * non-ASCII byte (or the end of what was checked). A read at or past asc inside the
 * subject sets *bail: the answer is Python's. */
typedef struct {
    const uint8_t *s;
    Py_ssize_t n, asc;
    int *bail;
} Subj;

static inline int at(const Subj *S, Py_ssize_t i) {
    if (i < S->n && i < S->asc) return S->s[i];
    if (i >= S->n && S->n <= S->asc) return LV_END;
    *S->bail = 1;
    return LV_END;
}

static inline int c_digit(int c) { return c >= '0' && c <= '9'; }
static inline int c_upper(int c) { return c >= 'A' && c <= 'Z'; }
static inline int c_lower(int c) { return c >= 'a' && c <= 'z'; }
static inline int c_alpha(int c) { return c_upper(c) || c_lower(c); }
static inline int c_word(int c) { return c_alpha(c) || c_digit(c) || c == '_'; } /* \w */
/* \s and str.split(): Python counts \x1c-\x1f as whitespace too */
static inline int c_space(int c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
static inline int in_class(const uint8_t *cls, int c) { return c >= 0 && c < 128 && cls[c]; }

/* (?<![\w.-]) at p */
static inline int lb_free(const Subj *S, Py_ssize_t p) {
    if (p <= 0) return 1;
    int c = at(S, p - 1);
    return !(c_word(c) || c == '.' || c == '-');
}

static int lit(const Subj *S, Py_ssize_t p, const char *w, Py_ssize_t len) {
    for (Py_ssize_t k = 0; k < len; k++)
        if (at(S, p + k) != (uint8_t)w[k]) return 0;
    return 1;
}

static int lit_ci(const Subj *S, Py_ssize_t p, const char *w, Py_ssize_t len) {
    for (Py_ssize_t k = 0; k < len; k++) {
        int c = at(S, p + k);
        if (c_upper(c)) c += 'a' - 'A';
        int d = (uint8_t)w[k];
        if (c_upper(d)) d += 'a' - 'A';
        if (c != d) return 0;
    }
    return 1;
}

/* A fixed shape at p: '9' a digit, 'A' [A-Z], 'a' [a-z], '?' [ \d], else the byte. */
static int shape(const Subj *S, Py_ssize_t p, const char *sh) {
    for (Py_ssize_t k = 0; sh[k]; k++) {
        int c = at(S, p + k);
        switch (sh[k]) {
        case '9': if (!c_digit(c)) return 0; break;
        case 'A': if (!c_upper(c)) return 0; break;
        case 'a': if (!c_lower(c)) return 0; break;
        case '?': if (c != ' ' && !c_digit(c)) return 0; break;
        default: if (c != (uint8_t)sh[k]) return 0;
        }
    }
    return 1;
}

/* The length of the run at p of bytes pred accepts, looking at most cap bytes. */
static inline Py_ssize_t run(const Subj *S, Py_ssize_t p, Py_ssize_t cap,
                             int (*pred)(int)) {
    Py_ssize_t k = 0;
    for (int c; k < cap && (c = at(S, p + k)) != LV_END && pred(c);) k++;
    return k;
}

/* the byte classes of those runs */
static int p_alpha(int c) { return c_alpha(c); }
static int p_blank(int c) { return c_space(c) && c != '\n'; }
static int p_channel(int c) { return c_word(c) || c == '-'; }
static int p_clock(int c) { return c_digit(c) || c == ':' || c == '.'; }
static int p_component(int c) { return c_upper(c) || c == '_'; }
static int p_digit(int c) { return c_digit(c); }
static int p_mnemonic(int c) { return c_upper(c) || c_digit(c) || c == '_'; }
static int p_nonspace(int c) { return !c_space(c); }
static int p_notclose(int c) { return c != ']'; }
static int p_notlower(int c) { return !c_lower(c); }
static int p_tagbrief(int c) { return !c_space(c) && c != '('; }
static int p_nottab(int c) { return c != '\t' && c != '\n'; }
static int p_sp(int c) { return c == ' '; }
static int p_space(int c) { return c_space(c); }
static int p_sqlstate(int c) { return c_upper(c) || c_digit(c); }
static int p_tagname(int c) { return !c_space(c) && c != ':'; }
static int p_upper(int c) { return c_upper(c); }
static int p_version(int c) { return c_digit(c) || c == '.'; }
static int p_word(int c) { return c_word(c); }

/* `needle in subject` from `from`: its position or -1; gives up when the subject goes
 * on past the ASCII bytes without it. */
static Py_ssize_t find(const Subj *S, Py_ssize_t from, const char *needle, Py_ssize_t k) {
    Py_ssize_t lim = S->n < S->asc ? S->n : S->asc;
    for (Py_ssize_t i = from; i + k <= lim; i++) {
        const uint8_t *p = memchr(S->s + i, needle[0], (size_t)(lim - i));
        if (p == NULL) break;
        i = p - S->s;
        if (i + k <= lim && memcmp(p, needle, (size_t)k) == 0) return i;
    }
    if (S->n > S->asc) *S->bail = 1;
    return -1;
}

/* ------------------------------------------------------------------ tables -- */

/* The first word of the table equal to s[:len] (its index), or -1. */
static Py_ssize_t lw_find(const LWords *L, const uint8_t *s, Py_ssize_t len) {
    if (len < 0 || len > LV_MAXW) return -1;
    for (Py_ssize_t j = L->by_len[len]; j < L->by_len[len + 1]; j++) {
        Py_ssize_t i = L->idx[j];
        if (memcmp(L->w[i].s, s, (size_t)len) == 0) return i;
    }
    return -1;
}

/* normalize_level(token).value for a token of letters and digits (what every group
 * the cascade names holds): lowercase, then the alias table. */
static PyObject *name_of(const uint8_t *s, Py_ssize_t len) {
    uint8_t low[LV_MAXW + 1];
    if (len > LV_MAXW) return LV.unknown;
    for (Py_ssize_t i = 0; i < len; i++) low[i] = c_upper(s[i]) ? s[i] + ('a' - 'A') : s[i];
    Py_ssize_t i = lw_find(&LV.aliases, low, len);
    return i < 0 ? LV.unknown : LV.aliases.w[i].level;
}

/* ---------------------------------------------------------------- matchers -- */
/* Each mirrors the regex of level_detect.py named in its comment; the level it names,
 * or NULL (no match). */

/* _KLOG.match(head): ([IWEF])\d{4} \d\d:\d\d:\d\d */
static PyObject *m_klog(const Subj *S) {
    int c = at(S, 0);
    if (!in_class(LV.klog, c) || !shape(S, 1, "9999 99:99:99")) return NULL;
    return name_of(S->s, 1);
}

/* _SYSLOG_PRI.match(head): <(\d{1,3})> -- more digits leave a digit where > must be */
static PyObject *m_syslog_pri(const Subj *S) {
    Py_ssize_t k = run(S, 1, 3, p_digit);
    if (at(S, 0) != '<' || k < 1 || at(S, 1 + k) != '>') return NULL;
    int v = 0;
    for (Py_ssize_t i = 0; i < k; i++) v = v * 10 + (S->s[1 + i] - '0');
    return LV.syslog[v % 8];
}

/* _SLASHED.match(head): \[[^\]]{8,40}\] (words)/\w -- the run must end at the first ] */
static PyObject *m_slashed(const Subj *S) {
    Py_ssize_t k = run(S, 1, 41, p_notclose);
    if (k < 8 || k > 40 || at(S, 1 + k) != ']' || at(S, 2 + k) != ' ') return NULL;
    Py_ssize_t p = 3 + k;
    for (Py_ssize_t i = 0; i < LV.slashed.n; i++) {
        const LWord *w = &LV.slashed.w[i];
        if (lit(S, p, w->s, w->len) && at(S, p + w->len) == '/' && c_word(at(S, p + w->len + 1)))
            return name_of(S->s + p, w->len);
    }
    return NULL;
}

/* _SYSLOG_TAG.match(text, 0, 256):
 * (?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ [^\s:]+: (words):
 * Each run is followed by a byte it cannot hold: only its maximal length can go on. */
static PyObject *m_syslog_tag(const Subj *S) {
    Py_ssize_t p;
    if (shape(S, 0, "Aaa ?9 99:99:99")) {
        p = 15;
    } else if (shape(S, 0, "9999-99-99T")) {
        Py_ssize_t k = run(S, 11, PY_SSIZE_T_MAX, p_nonspace);
        if (k < 1) return NULL;
        p = 11 + k;
    } else {
        return NULL;
    }
    if (at(S, p) != ' ') return NULL;
    Py_ssize_t k = run(S, p + 1, PY_SSIZE_T_MAX, p_nonspace);
    if (k < 1 || at(S, p + 1 + k) != ' ') return NULL;
    p += 2 + k;
    k = run(S, p, PY_SSIZE_T_MAX, p_tagname);
    if (k < 1 || at(S, p + k) != ':' || at(S, p + k + 1) != ' ') return NULL;
    p += k + 2;
    for (Py_ssize_t i = 0; i < LV.tag.n; i++) {
        const LWord *w = &LV.tag.w[i];
        if (lit(S, p, w->s, w->len) && at(S, p + w->len) == ':' && at(S, p + w->len + 1) == ' ')
            return name_of(S->s + p, w->len);
    }
    return NULL;
}

/* _LOGCAT.match(head): \d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+\d+\s+\d+ ([letters]) */
static PyObject *m_logcat(const Subj *S) {
    if (!shape(S, 0, "99-99 99:99:99.999")) return NULL;
    Py_ssize_t p = 18, k;
    if ((k = run(S, p, PY_SSIZE_T_MAX, p_space)) < 1) return NULL;
    p += k;
    if ((k = run(S, p, PY_SSIZE_T_MAX, p_digit)) < 1) return NULL;
    p += k;
    if ((k = run(S, p, PY_SSIZE_T_MAX, p_space)) < 1) return NULL;
    p += k;
    if ((k = run(S, p, PY_SSIZE_T_MAX, p_digit)) < 1) return NULL;
    p += k;
    int c = at(S, p + 1);
    if (at(S, p) != ' ' || c < 0 || LV.logcat[c] == NULL || at(S, p + 2) != ' ') return NULL;
    return LV.logcat[c];
}

/* _REDIS from the day on: \d\d [A-Z][a-z][a-z](?: \d{4})? \d\d:\d\d:\d\d
 * (?:\.\d{1,6})? ([marks]) ; each optional group tried with, then without (a longer
 * fraction leaves a digit where the space must be). The marker's position, or -1. */
static Py_ssize_t redis_mark(const Subj *S, Py_ssize_t p) {
    if (at(S, p) == ' ' && in_class(LV.marks, at(S, p + 1)) && at(S, p + 2) == ' ') return p + 1;
    return -1;
}

static Py_ssize_t redis_time(const Subj *S, Py_ssize_t p) {
    if (!shape(S, p, " 99:99:99")) return -1;
    p += 9;
    if (at(S, p) == '.') {
        Py_ssize_t k = run(S, p + 1, 6, p_digit), m;
        if (k >= 1 && (m = redis_mark(S, p + 1 + k)) >= 0) return m;
    }
    return redis_mark(S, p);
}

static Py_ssize_t redis_day(const Subj *S, Py_ssize_t p) {
    if (!shape(S, p, "99 Aaa")) return -1;
    p += 6;
    Py_ssize_t m;
    if (shape(S, p, " 9999") && (m = redis_time(S, p + 5)) >= 0) return m;
    return redis_time(S, p);
}

/* _REDIS.match(head): (?P<pid>\d{1,10}:[A-Z] |\[\d{1,10}\] )?<redis_day>; a marker its
 * table lacks is Python's (a KeyError there). */
static PyObject *m_redis(const Subj *S) {
    Py_ssize_t p = -1, k;
    if (c_digit(at(S, 0))) {
        k = run(S, 0, 10, p_digit);
        if (at(S, k) == ':' && c_upper(at(S, k + 1)) && at(S, k + 2) == ' ') p = k + 3;
    } else if (at(S, 0) == '[') {
        k = run(S, 1, 10, p_digit);
        if (k >= 1 && at(S, 1 + k) == ']' && at(S, 2 + k) == ' ') p = k + 3;
    }
    int pid = 1;
    Py_ssize_t m = p < 0 ? -1 : redis_day(S, p);
    if (m < 0) {
        pid = 0;
        m = redis_day(S, 0);
    }
    if (m < 0) return NULL;
    PyObject *lvl = (pid ? LV.redis : LV.redis1)[S->s[m]];
    if (lvl == NULL) *S->bail = 1;
    return lvl;
}

/* _MONGO's end: ' +[A-Z][A-Z_]{1,15} +\[' */
static int mongo_end(const Subj *S, Py_ssize_t p) {
    Py_ssize_t k = run(S, p, PY_SSIZE_T_MAX, p_sp);
    if (k < 1 || !c_upper(at(S, p + k))) return 0;
    p += k + 1;
    k = run(S, p, 16, p_component);
    if (k < 1 || k > 15) return 0;
    p += k;
    Py_ssize_t s = run(S, p, PY_SSIZE_T_MAX, p_sp);
    return s >= 1 && at(S, p + s) == '[';
}

/* _MONGO.match(head): \d{4}-\d\d-\d\dT[\d:.]{8,15}(?:[+-]\d{4}|Z) ([keys]|D[1-5]?) +... */
static PyObject *m_mongo(const Subj *S) {
    if (!shape(S, 0, "9999-99-99T")) return NULL;
    Py_ssize_t k = run(S, 11, 16, p_clock);
    if (k < 8 || k > 15) return NULL;
    Py_ssize_t p = 11 + k;
    int c = at(S, p);
    if ((c == '+' || c == '-') && shape(S, p + 1, "9999")) p += 5;
    else if (c == 'Z') p += 1;
    else return NULL;
    if (at(S, p) != ' ') return NULL;
    p++;
    c = at(S, p);
    if (c >= 0 && LV.mongo[c] != NULL && mongo_end(S, p + 1)) return LV.mongo[c];
    if (c >= 0 && c == LV.mongo_debug) {
        int d = at(S, p + 1);
        if (d >= '1' && d <= '5' && mongo_end(S, p + 2)) return LV.mongo_default;
        if (mongo_end(S, p + 1)) return LV.mongo[c] ? LV.mongo[c] : LV.mongo_default;
    }
    return NULL;
}

/* _LOGCAT_BRIEF.match(head): ([letters])/[^\s(]+\s*\(\s*\d+\) */
static PyObject *m_logcat_brief(const Subj *S) {
    int c = at(S, 0);
    if (c < 0 || LV.logcat[c] == NULL || at(S, 1) != '/') return NULL;
    Py_ssize_t p = 2, k = run(S, p, PY_SSIZE_T_MAX, p_tagbrief);
    if (k < 1) return NULL;
    p += k;
    p += run(S, p, PY_SSIZE_T_MAX, p_space);
    if (at(S, p) != '(') return NULL;
    p++;
    p += run(S, p, PY_SSIZE_T_MAX, p_space);
    if ((k = run(S, p, PY_SSIZE_T_MAX, p_digit)) < 1 || at(S, p + k) != ')') return NULL;
    return LV.logcat[c];
}

/* _TABBED.match(head): [^\t\n]{8,40}\t([A-Za-z]{3,8})\t -- runs end at the next tab */
static PyObject *m_tabbed(const Subj *S) {
    Py_ssize_t k = run(S, 0, 41, p_nottab);
    if (k < 8 || k > 40 || at(S, k) != '\t') return NULL;
    Py_ssize_t m = run(S, k + 1, 9, p_alpha);
    if (m < 3 || m > 8 || at(S, k + 1 + m) != '\t') return NULL;
    return name_of(S->s + k + 1, m);
}

/* _MONOLOG.match(head): \[[^\]]{10,40}\] [\w-]{1,40}\.([A-Z]{4,9}): */
static PyObject *m_monolog(const Subj *S) {
    if (at(S, 0) != '[') return NULL;
    Py_ssize_t k = run(S, 1, 41, p_notclose);
    if (k < 10 || k > 40 || at(S, 1 + k) != ']' || at(S, 2 + k) != ' ') return NULL;
    Py_ssize_t p = 3 + k, j = run(S, p, 41, p_channel);
    if (j < 1 || j > 40 || at(S, p + j) != '.') return NULL;
    p += j + 1;
    Py_ssize_t m = run(S, p, 10, p_upper);
    if (m < 4 || m > 9 || at(S, p + m) != ':' || at(S, p + m + 1) != ' ') return NULL;
    return name_of(S->s + p, m);
}

/* ----------------------------------------------------------------- _HEADER -- */

enum { H_NONE, H_LF, H_BR, H_WD, H_AL, H_PL, H_PG, H_TC };

typedef struct {
    int kind;
    Py_ssize_t end, word, wlen; /* m.end(), the named group's start and length */
} HMatch;

/* lf's rest at q: "?(?:keys)"?[=:]\s*"?(?P<lf>[A-Za-z]+) -- each optional quote is
 * taken when there (without it the next item would face the quote and fail) */
static int lf_at(const Subj *S, Py_ssize_t q, HMatch *m) {
    if (at(S, q) == '"') q++;
    for (Py_ssize_t i = 0; i < LV.keys.n; i++) {
        const LWord *w = &LV.keys.w[i];
        if (!lit(S, q, w->s, w->len)) continue;
        Py_ssize_t p = q + w->len;
        if (at(S, p) == '"') p++;
        int c = at(S, p);
        if (c != '=' && c != ':') continue;
        p++;
        p += run(S, p, PY_SSIZE_T_MAX, p_space);
        if (at(S, p) == '"') p++;
        Py_ssize_t k = run(S, p, PY_SSIZE_T_MAX, p_alpha);
        if (k < 1) continue;
        *m = (HMatch){H_LF, p + k, p, k};
        return 1;
    }
    return 0;
}

/* br's word at q, then [\]>]: the (?i:) words in order, then the cased ones */
static int br_word(const Subj *S, Py_ssize_t q, HMatch *m) {
    for (int cased = 0; cased < 2; cased++) {
        const LWords *L = cased ? &LV.cased : &LV.bracketed;
        for (Py_ssize_t i = 0; i < L->n; i++) {
            const LWord *w = &L->w[i];
            if (!(cased ? lit(S, q, w->s, w->len) : lit_ci(S, q, w->s, w->len))) continue;
            int c = at(S, q + w->len);
            if (c != ']' && c != '>') continue;
            *m = (HMatch){H_BR, q + w->len + 1, q, w->len};
            return 1;
        }
    }
    return 0;
}

/* wd / _WORD_AT at p (lookbehind checked by the caller): (WORDS)(?![\w-]). A word
 * followed by no \w is the whole \w run at p. The word, or NULL. */
static const LWord *word_at(const Subj *S, Py_ssize_t p) {
    Py_ssize_t k = run(S, p, LV_MAXW + 1, p_word);
    if (k < 1 || k > LV_MAXW || at(S, p + k) == '-') return NULL;
    Py_ssize_t i = lw_find(&LV.words, S->s + p, k);
    return i < 0 ? NULL : &LV.words.w[i];
}

/* _HEADER.match(head, p): its alternatives in their order */
static int header_at(const Subj *S, Py_ssize_t p, HMatch *m) {
    int c = at(S, p);
    if (c == LV_END) return 0;
    /* lf: (?:^|[\s,{]) */
    if (p == 0 && lf_at(S, 0, m)) return 1;
    if ((c_space(c) || c == ',' || c == '{') && lf_at(S, p + 1, m)) return 1;
    if (c == '[' || c == '<') { /* br: [\[<](?:\w*:)?(words)[\]>] */
        Py_ssize_t k = run(S, p + 1, PY_SSIZE_T_MAX, p_word);
        if (at(S, p + 1 + k) == ':' && br_word(S, p + 2 + k, m)) return 1;
        return br_word(S, p + 1, m);
    }
    if (c == '|') { /* pl: \| ([letters]) \| */
        if (at(S, p + 1) == ' ' && in_class(LV.pipe, at(S, p + 2)) && at(S, p + 3) == ' ' &&
            at(S, p + 4) == '|') {
            *m = (HMatch){H_PL, p + 5, p + 2, 1};
            return 1;
        }
        return 0;
    }
    if (!c_upper(c) || !lb_free(S, p)) return 0; /* every other word starts uppercase */
    const LWord *w = word_at(S, p);
    if (w != NULL) {
        *m = (HMatch){H_WD, p + w->len, p, w->len};
        return 1;
    }
    for (Py_ssize_t i = 0; i < LV.colon.n; i++) { /* al: (ALERT|EMERG): */
        const LWord *w = &LV.colon.w[i];
        if (lit(S, p, w->s, w->len) && at(S, p + w->len) == ':') {
            *m = (HMatch){H_AL, p + w->len + 1, p, w->len};
            return 1;
        }
    }
    for (Py_ssize_t i = 0; i < LV.pg.n; i++) { /* pg: (LOG|DEBUG[1-5]):__ */
        const LWord *w = &LV.pg.w[i];
        if (lit(S, p, w->s, w->len) && lit(S, p + w->len, ":  ", 3)) {
            *m = (HMatch){H_PG, p + w->len + 3, p, w->len};
            return 1;
        }
    }
    for (Py_ssize_t i = 0; i < LV.title.n; i++) { /* tc: (words)(?=[\s:,\]|]) */
        const LWord *w = &LV.title.w[i];
        if (!lit(S, p, w->s, w->len)) continue;
        int a = at(S, p + w->len);
        if (c_space(a) || a == ':' || a == ',' || a == ']' || a == '|') {
            *m = (HMatch){H_TC, p + w->len, p, w->len};
            return 1;
        }
    }
    return 0;
}

/* _header_level(head, hint): the earliest match naming a level, each search going on
 * at the last match's end; a Title-case word only before any prose. */
static PyObject *header_level(const Subj *S, Py_ssize_t *hint0) {
    Py_ssize_t pos = 0;
    while (pos < S->n) {
        HMatch m;
        Py_ssize_t p = pos;
        for (; p < S->n; p++) {
            if (header_at(S, p, &m)) break;
            if (*S->bail) return NULL;
        }
        if (p >= S->n) return NULL;
        pos = m.end;
        if (m.kind == H_TC && run(S, 0, p, p_notlower) < p) continue; /* _prose_before */
        const uint8_t *word = S->s + m.word;
        Py_ssize_t i = lw_find(&LV.pg_levels, word, m.wlen);
        PyObject *found = i >= 0 ? LV.pg_levels.w[i].level : NULL;
        if (found == NULL || PyUnicode_GET_LENGTH(found) == 0) /* `or`: "" is falsy */
            found = name_of(word, m.kind == H_PG && m.wlen > 5 ? 5 : m.wlen);
        if (found != LV.unknown) {
            *hint0 = m.kind == H_WD ? m.word : -1;
            return found;
        }
    }
    return NULL;
}

/* _PG_SECONDARY.search(head): (?<![\w.-])(?:words):__ */
static int m_secondary(const Subj *S) {
    for (Py_ssize_t p = 0; p < S->n; p++) {
        if (at(S, p) == LV_END) return 0;
        if (!lb_free(S, p)) continue;
        for (Py_ssize_t i = 0; i < LV.secondary.n; i++) {
            const LWord *w = &LV.secondary.w[i];
            if (lit(S, p, w->s, w->len) && lit(S, p + w->len, ":  ", 3)) return 1;
        }
    }
    return 0;
}

/* _LEADING.match(head): (words)(?::| -) */
static PyObject *m_leading(const Subj *S) {
    for (Py_ssize_t i = 0; i < LV.leading.n; i++) {
        const LWord *w = &LV.leading.w[i];
        if (!lit(S, 0, w->s, w->len)) continue;
        Py_ssize_t p = w->len;
        if (at(S, p) == ':') p += 1;
        else if (at(S, p) == ' ' && at(S, p + 1) == '-') p += 2;
        else continue;
        if (at(S, p) == ' ') return name_of(S->s, w->len);
    }
    return NULL;
}

/* _ACCESS.search(window): HTTP/[\d.]+" (\d{3}) */
static PyObject *m_access(const Subj *S) {
    for (Py_ssize_t p = find(S, 0, "HTTP/", 5); p >= 0; p = find(S, p + 1, "HTTP/", 5)) {
        Py_ssize_t q = p + 5, k = run(S, q, PY_SSIZE_T_MAX, p_version);
        if (k >= 1 && lit(S, q + k, "\" ", 2) && shape(S, q + k + 2, "999 "))
            return LV.status[S->s[q + k + 2] - '0'];
    }
    return NULL;
}

/* _CLF.search(window): \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
 * (?:[^"\\]|\\.)*" (\d{3})  -- the quoted part can only end at its first unescaped
 * quote: an earlier stop faces a backslash, not a quote. */
static PyObject *m_clf(const Subj *S) {
    for (Py_ssize_t p = find(S, 0, "[", 1); p >= 0; p = find(S, p + 1, "[", 1)) {
        if (!shape(S, p, "[99/Aaa/9999:99:99:99 ")) continue;
        int c = at(S, p + 22);
        if ((c != '+' && c != '-') || !shape(S, p + 23, "9999] \"")) continue;
        Py_ssize_t q = p + 30;
        for (;;) {
            c = at(S, q);
            if (c == LV_END || c == '"') break;
            if (c == '\\') {
                int e = at(S, q + 1);
                if (e == LV_END || e == '\n') break;
                q += 2;
            } else {
                q++;
            }
        }
        if (at(S, q) == '"' && shape(S, q + 1, " 999 ")) return LV.status[S->s[q + 2] - '0'];
    }
    return NULL;
}

/* _CISCO's end at p: -([0-7])-[A-Z0-9_]{1,30}(?::|\s) */
static PyObject *cisco_end(const Subj *S, Py_ssize_t p) {
    int d = at(S, p + 1);
    if (at(S, p) != '-' || d < '0' || d > '7' || at(S, p + 2) != '-') return NULL;
    Py_ssize_t k = run(S, p + 3, 31, p_mnemonic);
    int c = at(S, p + 3 + k);
    if (k < 1 || k > 30 || (c != ':' && !c_space(c))) return NULL;
    return LV.syslog[d - '0'];
}

/* _CISCO.search(head): %[A-Z][A-Z0-9_]{1,20}(?:-[A-Za-z]{1,20})?<cisco_end> */
static PyObject *m_cisco(const Subj *S) {
    for (Py_ssize_t p = find(S, 0, "%", 1); p >= 0; p = find(S, p + 1, "%", 1)) {
        if (!c_upper(at(S, p + 1))) continue;
        Py_ssize_t k = run(S, p + 2, 21, p_mnemonic);
        if (k < 1 || k > 20) continue;
        Py_ssize_t q = p + 2 + k;
        PyObject *lvl;
        if (at(S, q) == '-') {
            Py_ssize_t j = run(S, q + 1, 21, p_alpha);
            if (j >= 1 && j <= 20 && (lvl = cisco_end(S, q + 1 + j)) != NULL) return lvl;
        }
        if ((lvl = cisco_end(S, q)) != NULL) return lvl;
    }
    return NULL;
}

/* _HAPROXY.search(window): ( -?\d+/){4}\+?-?\d+ (\d{3}) */
static PyObject *m_haproxy(const Subj *S) {
    for (Py_ssize_t p = find(S, 0, " ", 1); p >= 0; p = find(S, p + 1, " ", 1)) {
        Py_ssize_t q = p + 1, k;
        int i = 0;
        for (; i < 4; i++) {
            if (at(S, q) == '-') q++;
            if ((k = run(S, q, PY_SSIZE_T_MAX, p_digit)) < 1 || at(S, q + k) != '/') break;
            q += k + 1;
        }
        if (i < 4) continue;
        if (at(S, q) == '+') q++;
        if (at(S, q) == '-') q++;
        if ((k = run(S, q, PY_SSIZE_T_MAX, p_digit)) < 1) continue;
        q += k;
        if (shape(S, q, " 999 ")) return LV.status[S->s[q + 1] - '0'];
    }
    return NULL;
}

/* _PG_CSV.search(window): ,(words),[0-9A-Z]{5}, ; the word's level (_CSV_LEVELS) */
static PyObject *m_pg_csv(const Subj *S) {
    for (Py_ssize_t p = find(S, 0, ",", 1); p >= 0; p = find(S, p + 1, ",", 1)) {
        for (Py_ssize_t i = 0; i < LV.csv.n; i++) {
            const LWord *w = &LV.csv.w[i];
            if (!lit(S, p + 1, w->s, w->len)) continue;
            Py_ssize_t q = p + 1 + w->len;
            if (at(S, q) != ',' ||
                run(S, q + 1, 5, p_sqlstate) != 5 || at(S, q + 6) != ',')
                continue;
            return w->level;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------- JSON -- */
/* _from_json(line): orjson.loads, then the keys in their order. The line is read by a
 * strict RFC 8259 scanner (what orjson accepts: no NaN, comments, trailing commas,
 * leading zeros or control characters in strings; whitespace only space, tab, CR, LF;
 * nothing after the value but whitespace) that keeps the members the keys name: the
 * last of duplicates (a dict keeps the last value), one nested object for dotted keys
 * ("log.level" as {"log":{"level":..}}). Where orjson's answer or a value's meaning is
 * not certain here -- a backslash in a key or a value that counts, a non-ASCII level
 * word, an int of more than 18 digits where it counts, a float that may overflow,
 * nesting past LV_JDEPTH, a \u surrogate -- Python decides. */

#define LV_JDEPTH 64

enum { JV_ABSENT, JV_NULL, JV_STR, JV_INT, JV_BIGINT, JV_FLOAT, JV_BOOL, JV_LIST, JV_DICT };

typedef struct {
    int type;
    Py_ssize_t s, len; /* a string's content (between its quotes) */
    int esc, wide;     /* a backslash in it; a byte >= 0x80 */
    long long iv;      /* an int of at most 18 digits */
} JVal;

typedef struct {
    const uint8_t *t;
    Py_ssize_t n;
    int unsure;
    JVal top[LV_JSLOTS], nested[LV_JOUTER][LV_JINNER];
    int tag_state; /* the last "tags" list: 0 no level word, 1 one (tag), -1 unsure */
    PyObject *tag;
} JScan;

static inline int jc(const JScan *J, Py_ssize_t p) { return p < J->n ? J->t[p] : LV_END; }

static Py_ssize_t j_ws(const JScan *J, Py_ssize_t p) {
    while (p < J->n && (J->t[p] == ' ' || J->t[p] == '\t' || J->t[p] == '\r' || J->t[p] == '\n'))
        p++;
    return p;
}

static int j_hex(int c) {
    return c_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* the length of a well-formed UTF-8 sequence at p (no overlong form, no surrogate), or 0 */
static int j_utf8(const JScan *J, Py_ssize_t p) {
    int c = J->t[p], k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (k == 0 || c > 0xF4 || p + k > J->n) return 0;
    for (int i = 1; i < k; i++)
        if ((J->t[p + i] & 0xC0) != 0x80) return 0;
    int d = J->t[p + 1];
    if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d >= 0xA0) || (c == 0xF0 && d < 0x90) ||
        (c == 0xF4 && d >= 0x90))
        return 0;
    return k;
}

/* a string at p (its opening quote): the position past it, or -1 */
static Py_ssize_t j_string(JScan *J, Py_ssize_t p, JVal *v) {
    *v = (JVal){JV_STR, p + 1, 0, 0, 0, 0};
    for (p++;;) {
        p += ascii_clean_run(J->t + p, J->n - p); /* p <= n: each step below checks */
        int c = jc(J, p);
        if (c == LV_END || c < 0x20) return -1;
        if (c == '"') break;
        if (c == '\\') {
            v->esc = 1;
            c = jc(J, p + 1);
            if (c == 'u') {
                int u = 0;
                for (int i = 2; i < 6; i++) {
                    int h = j_hex(jc(J, p + i));
                    if (h < 0) return -1;
                    u = u * 16 + h;
                }
                if (u >= 0xD800 && u <= 0xDFFF) J->unsure = 1; /* surrogate pairs: Python */
                p += 6;
            } else if (c != LV_END && strchr("\"\\/bfnrt", c) != NULL) {
                p += 2;
            } else {
                return -1;
            }
        } else if (c >= 0x80) {
            int k = j_utf8(J, p);
            if (k == 0) { /* not from a str: Python's (it raises) */
                J->unsure = 1;
                return -1;
            }
            v->wide = 1;
            p += k;
        } else {
            p++;
        }
    }
    v->len = p - v->s;
    return p + 1;
}

/* a number at p: int (at most 18 digits: its value), a longer int (orjson makes it an
 * int or a float: neither counts as a level), a float (one that may overflow to an
 * error: unsure) */
static Py_ssize_t j_number(JScan *J, Py_ssize_t p, JVal *v) {
    int neg = jc(J, p) == '-';
    Py_ssize_t d = p + neg, q = d;
    if (jc(J, q) == '0') {
        q++;
    } else {
        if (!c_digit(jc(J, q))) return -1;
        while (c_digit(jc(J, q))) q++;
    }
    Py_ssize_t idig = q - d, edig = 0;
    int fl = 0;
    if (jc(J, q) == '.') {
        Py_ssize_t f = ++q;
        while (c_digit(jc(J, q))) q++;
        if (q == f) return -1;
        fl = 1;
    }
    if (jc(J, q) == 'e' || jc(J, q) == 'E') {
        q++;
        if (jc(J, q) == '+' || jc(J, q) == '-') q++;
        Py_ssize_t e = q;
        while (c_digit(jc(J, q))) q++;
        if ((edig = q - e) == 0) return -1;
        fl = 1;
    }
    if (idig > 200 || edig > 2) J->unsure = 1;
    *v = (JVal){fl ? JV_FLOAT : idig > 18 ? JV_BIGINT : JV_INT, 0, 0, 0, 0, 0};
    if (v->type == JV_INT) {
        for (Py_ssize_t i = d; i < q; i++) v->iv = v->iv * 10 + (J->t[i] - '0');
        if (neg) v->iv = -v->iv;
    }
    return q;
}

static int j_lit(const JScan *J, Py_ssize_t p, const char *w) {
    size_t k = strlen(w);
    return p + (Py_ssize_t)k <= J->n && memcmp(J->t + p, w, k) == 0;
}

/* roles of a value: kept members (the object), kept members (a nested object of the
 * keys' outer slot), the tags list */
enum { JR_NONE, JR_TOP, JR_NESTED, JR_TAGS };

static Py_ssize_t j_value(JScan *J, Py_ssize_t p, int depth, JVal *v, int role, int slot);

static Py_ssize_t j_object(JScan *J, Py_ssize_t p, int depth, int role, int slot) {
    p = j_ws(J, p + 1);
    if (jc(J, p) == '}') return p + 1;
    for (;;) {
        JVal k, val;
        if (jc(J, p) != '"' || (p = j_string(J, p, &k)) < 0) return -1;
        p = j_ws(J, p);
        if (jc(J, p) != ':') return -1;
        p = j_ws(J, p + 1);
        Py_ssize_t idx = -1;
        int child = JR_NONE, cslot = -1;
        if (role == JR_TOP || role == JR_NESTED) {
            if (k.esc) J->unsure = 1; /* it may spell a key */
            else if (!k.wide)
                idx = lw_find(role == JR_TOP ? &LV.jtop : &LV.jinner, J->t + k.s, k.len);
        }
        if (role == JR_TOP && idx >= 0) {
            if ((cslot = LV.jouter[idx]) >= 0) {
                child = JR_NESTED;
                for (int i = 0; i < LV_JINNER; i++) J->nested[cslot][i].type = JV_ABSENT;
            } else if (idx == LV.jtags) {
                child = JR_TAGS;
                J->tag_state = 0;
            }
        }
        if ((p = j_value(J, p, depth + 1, &val, child, cslot)) < 0) return -1;
        if (idx >= 0) (role == JR_TOP ? J->top : J->nested[slot])[idx] = val;
        p = j_ws(J, p);
        if (jc(J, p) == '}') return p + 1;
        if (jc(J, p) != ',') return -1;
        p = j_ws(J, p + 1);
    }
}

/* tags: the first str that is one of the tag words decides (an escaped one before it:
 * unsure) */
static void j_tag(JScan *J, const JVal *v) {
    if (J->tag_state != 0 || v->type != JV_STR || v->wide) return;
    if (v->esc) {
        J->tag_state = -1;
        return;
    }
    Py_ssize_t i = lw_find(&LV.jtag_levels, J->t + v->s, v->len);
    if (i >= 0) {
        J->tag_state = 1;
        J->tag = LV.jtag_levels.w[i].level;
    }
}

static Py_ssize_t j_array(JScan *J, Py_ssize_t p, int depth, int role) {
    p = j_ws(J, p + 1);
    if (jc(J, p) == ']') return p + 1;
    for (;;) {
        JVal v;
        if ((p = j_value(J, p, depth + 1, &v, JR_NONE, -1)) < 0) return -1;
        if (role == JR_TAGS) j_tag(J, &v);
        p = j_ws(J, p);
        if (jc(J, p) == ']') return p + 1;
        if (jc(J, p) != ',') return -1;
        p = j_ws(J, p + 1);
    }
}

static Py_ssize_t j_value(JScan *J, Py_ssize_t p, int depth, JVal *v, int role, int slot) {
    int c = jc(J, p);
    *v = (JVal){JV_ABSENT, 0, 0, 0, 0, 0};
    if (depth > LV_JDEPTH) {
        J->unsure = 1;
        return -1;
    }
    switch (c) {
    case '{':
        v->type = JV_DICT;
        return j_object(J, p, depth, role == JR_TOP || role == JR_NESTED ? role : JR_NONE,
                        slot);
    case '[':
        v->type = JV_LIST;
        return j_array(J, p, depth, role);
    case '"': return j_string(J, p, v);
    case 't': v->type = JV_BOOL; return j_lit(J, p, "true") ? p + 4 : -1;
    case 'f': v->type = JV_BOOL; return j_lit(J, p, "false") ? p + 5 : -1;
    case 'n': v->type = JV_NULL; return j_lit(J, p, "null") ? p + 4 : -1;
    default: return c == '-' || c_digit(c) ? j_number(J, p, v) : -1;
    }
}

/* normalize_level(str) on ASCII: strip (whitespace, then "[]<>():"), lower, the alias
 * table, else a syslog digit string. A stripped character at either end: unsure. */
static PyObject *j_word(JScan *J, const uint8_t *s, Py_ssize_t len) {
    if (len > 0 && (LV.jstrip[s[0]] || LV.jstrip[s[len - 1]])) {
        J->unsure = 1;
        return NULL;
    }
    if (len <= LV_MAXW) {
        uint8_t low[LV_MAXW + 1];
        for (Py_ssize_t i = 0; i < len; i++) low[i] = c_upper(s[i]) ? s[i] + ('a' - 'A') : s[i];
        Py_ssize_t i = lw_find(&LV.aliases, low, len);
        if (i >= 0) return LV.aliases.w[i].level;
    }
    long long v = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        if (!c_digit(s[i])) return LV.unknown;
        if (v < 100) v = v * 10 + (s[i] - '0');
    }
    return len > 0 && v < 8 ? LV.syslog[v] : LV.unknown;
}

/* normalize_level(value), or bunyan_level for an int >= 10 (the first loop's rule) */
static PyObject *j_level_of(JScan *J, const JVal *v, int bunyan) {
    if (v->type == JV_STR) {
        if (v->esc || v->wide) {
            J->unsure = 1;
            return NULL;
        }
        return j_word(J, J->t + v->s, v->len);
    }
    if (v->type != JV_INT) return LV.unknown; /* bool, float, long int, list, dict */
    if (bunyan && v->iv >= 10) return v->iv - 10 < LV.jbunyan_n ? LV.jbunyan[v->iv - 10] : LV.unknown;
    return v->iv >= 0 && v->iv < 8 ? LV.syslog[v->iv] : LV.unknown;
}

static int j_is(const JScan *J, const JVal *v, const char *w, Py_ssize_t len) {
    return v->type == JV_STR && !v->esc && v->len == len && memcmp(J->t + v->s, w, (size_t)len) == 0;
}

/* _es_deprecation(obj): any(obj.get(key) in _ES_DEPRECATION ...); a list or a dict
 * there raises (unhashable): Python's */
static int j_es(JScan *J) {
    for (int i = 0; i < LV.jes_n; i++) {
        const JVal *v = &J->top[LV.jes[i]];
        if (v->type == JV_LIST || v->type == JV_DICT || (v->type == JV_STR && v->esc)) {
            J->unsure = 1;
            return 0;
        }
        if (v->type == JV_STR && lw_find(&LV.jes_values, J->t + v->s, v->len) >= 0) return 1;
    }
    return 0;
}

/* the loops of _from_json over the kept members: the level, or NULL (None) */
static PyObject *j_decide(JScan *J) {
    static const JVal absent = {JV_ABSENT, 0, 0, 0, 0, 0};
    for (int i = 0; i < LV.jlev_n; i++) {
        const int *k = LV.jlev[i]; /* flat key, outer key or -1, inner key */
        const JVal *v = &J->top[k[0]];
        if ((v->type == JV_ABSENT || v->type == JV_NULL) && k[1] >= 0) {
            const JVal *o = &J->top[k[1]];
            v = o->type == JV_DICT ? &J->nested[LV.jouter[k[1]]][k[2]] : &absent;
        }
        if (v->type == JV_ABSENT || v->type == JV_NULL) continue;
        PyObject *lv = j_level_of(J, v, 1);
        if (lv == NULL) return NULL;
        if (j_is(J, v, LV.jcritical.s, LV.jcritical.len) &&
            PyUnicode_Compare(lv, LV.jfatal) == 0) {
            int dep = j_es(J);
            if (J->unsure) return NULL;
            if (dep) lv = LV.jwarn;
        }
        if (lv != LV.unknown) return lv;
    }
    for (int i = 0; i < LV.jotel_n; i++) {
        const JVal *v = &J->top[LV.jotel[i]];
        if (v->type == JV_INT && v->iv >= 0 && v->iv < LV.jotel_levels_n &&
            LV.jotel_levels[v->iv] != LV.unknown)
            return LV.jotel_levels[v->iv];
    }
    for (int i = 0; i < LV.jprio_n; i++) {
        const JVal *v = &J->top[LV.jprio[i]];
        if (v->type != JV_STR) continue;
        PyObject *lv = j_level_of(J, v, 0);
        if (lv == NULL) return NULL;
        if (lv != LV.unknown) return lv;
    }
    for (int i = 0; i < LV.jstatus_n; i++) {
        const JVal *v = &J->top[LV.jstatus[i]];
        if (v->type == JV_INT && v->iv >= LV.jcodes[0] && v->iv <= LV.jcodes[1])
            return LV.status[v->iv / 100];
    }
    if (J->top[LV.jtags].type == JV_LIST && J->tag_state != 0) {
        if (J->tag_state < 0) J->unsure = 1;
        return J->tag_state > 0 ? J->tag : NULL;
    }
    return NULL;
}

/* _from_json on the entry's first line: 1 a level (*out), 0 None (the cascade goes
 * on), -1 only Python can tell */
static int json_level(const uint8_t *t, Py_ssize_t n, PyObject **out) {
    if (n >= 65536) return -1; /* text[:65536] may reach past the first line */
    const uint8_t *nl = memchr(t, '\n', (size_t)n);
    JScan J;
    J.t = t;
    J.n = nl != NULL ? nl - t : n;
    J.unsure = 0;
    J.tag_state = 0;
    J.tag = NULL;
    for (int i = 0; i < LV.jtop.n; i++) J.top[i].type = JV_ABSENT;
    JVal v;
    Py_ssize_t p = j_value(&J, 0, 0, &v, JR_TOP, -1);
    if (J.unsure) return -1;
    if (p < 0 || j_ws(&J, p) != J.n || v.type != JV_DICT) return 0; /* not a dict: None */
    *out = j_decide(&J);
    if (J.unsure) return -1;
    return *out != NULL;
}

/* -------------------------------------------------------------- the cascade -- */

typedef struct {
    const uint8_t *t;
    Py_ssize_t n, asc; /* asc == n: all ASCII */
    int bail;
    Py_ssize_t hint0; /* hint[0] as the entry leaves it */
    PyObject *hint;
} Det;

static Subj subj(Det *D, Py_ssize_t k) {
    return (Subj){D->t, k < D->n ? k : D->n, D->asc, &D->bail};
}

/* the subject up to its first newline (head.find("\n"), partition) */
static Subj first_line(Subj S) {
    Py_ssize_t lim = S.n < S.asc ? S.n : S.asc;
    const uint8_t *nl = memchr(S.s, '\n', (size_t)lim);
    if (nl != NULL) S.n = nl - S.s;
    return S;
}

/* len(text) > k (characters) */
static int longer_than(const Det *D, Py_ssize_t k) {
    if (D->asc > k || D->asc == D->n) return D->n > k;
    Py_ssize_t chars = 0;
    for (Py_ssize_t i = 0; i < D->n; i++) chars += (D->t[i] & 0xC0) != 0x80;
    return chars > k;
}

/* _wide_header(text, hint) */
static PyObject *wide_header(Det *D) {
    Subj L = first_line(subj(D, LV.wide));
    L.n = run(&L, 0, PY_SSIZE_T_MAX, p_notlower); /* _WORD_AT.search(line, 0, end) */
    for (Py_ssize_t p = 0; p < L.n && !D->bail; p++) {
        const LWord *w = lb_free(&L, p) ? word_at(&L, p) : NULL;
        if (w != NULL) {
            D->hint0 = p;
            return w->level;
        }
    }
    return NULL;
}

/* _detect(text, hint): the level, or NULL when D->bail (Python decides) */
static PyObject *detect(Det *D) {
    Subj H = subj(D, LV.header);
    int first = at(&H, 0);
    PyObject *lvl = NULL;
    if (first == LV_END) {
        D->bail = 1;
        return NULL;
    }
    if (first == '{') { /* _from_json; None: the cascade goes on with the same text */
        int r = json_level(D->t, D->n, &lvl);
        if (r < 0) {
            D->bail = 1;
            return NULL;
        }
        if (r > 0) return lvl;
    }
    if (in_class(LV.klog, first)) lvl = m_klog(&H);
    else if (first == '<') lvl = m_syslog_pri(&H);
    else if (first == '[') lvl = m_slashed(&H);
    if (lvl != NULL) return lvl;
    if (c_upper(first) || c_digit(first)) {
        Subj W = subj(D, LV.wide);
        if ((lvl = m_syslog_tag(&W)) != NULL) return lvl;
    }
    Subj L = first_line(H);
    if (c_digit(first) || first == '[') {
        if (first != '[' && (lvl = m_logcat(&L)) != NULL) return lvl;
        if ((lvl = m_redis(&L)) != NULL || (lvl = m_mongo(&L)) != NULL) return lvl;
    } else if (LV.logcat[first] != NULL && at(&L, 1) == '/') {
        if ((lvl = m_logcat_brief(&L)) != NULL) return lvl;
    }
    if (find(&L, 0, "\t", 1) >= 0) {
        if ((lvl = m_tabbed(&L)) != NULL && lvl != LV.unknown) return lvl;
    } else if (first == '[') {
        if ((lvl = m_monolog(&L)) != NULL && lvl != LV.unknown) return lvl;
    }
    if ((lvl = header_level(&L, &D->hint0)) != NULL) return lvl;
    if (D->bail) return NULL;
    if (find(&L, 0, ":  ", 3) >= 0 && m_secondary(&L))
        return PyList_GET_SIZE(D->hint) > 1 ? PyList_GET_ITEM(D->hint, 1) : LV.unknown;
    if (longer_than(D, LV.header) && (lvl = wide_header(D)) != NULL) return lvl;
    D->hint0 = -1;
    if ((lvl = m_leading(&L)) != NULL) return lvl;
    Subj W = subj(D, LV.window);
    if (find(&W, 0, "HTTP/", 5) >= 0 && (lvl = m_access(&W)) != NULL) return lvl;
    if (find(&W, 0, "] \"", 3) >= 0 && (lvl = m_clf(&W)) != NULL) return lvl;
    if (find(&L, 0, "%", 1) >= 0 && (lvl = m_cisco(&L)) != NULL) return lvl;
    if (find(&W, 0, "/", 1) >= 0 && (lvl = m_haproxy(&W)) != NULL) return lvl;
    if (find(&W, 0, ",", 1) >= 0 && (lvl = m_pg_csv(&W)) != NULL) return lvl;
    return LV.unknown;
}

/* ------------------------------------------------------------- LevelField -- */

typedef struct {
    Py_ssize_t s, len;
} Tok;

/* _fields(text): the first max_fields whitespace-separated fields of text[:192]'s
 * first line */
static int fields(Det *D, Tok *out) {
    Subj S = subj(D, LV.line_chars);
    int nt = 0;
    Py_ssize_t i = 0;
    while (nt < LV.max_fields) {
        i += run(&S, i, PY_SSIZE_T_MAX, p_blank);
        int c = at(&S, i);
        if (c == LV_END || c == '\n') break;
        Py_ssize_t k = run(&S, i, PY_SSIZE_T_MAX, p_nonspace);
        out[nt++] = (Tok){i, k};
        i += k;
    }
    return nt;
}

/* token_level(token, letters) */
static PyObject *token_level(const uint8_t *t, Tok tok, int letters) {
    Py_ssize_t a = tok.s, b = tok.s + tok.len;
    while (a < b && LV.fstrip[t[a]]) a++;
    while (b > a && LV.fstrip[t[b - 1]]) b--;
    Py_ssize_t i = lw_find(&LV.fwords, t + a, b - a);
    if (i >= 0) return LV.fwords.w[i].level;
    if (letters && b - a == 1 && t[a] < 128) return LV.fletters[t[a]];
    return NULL;
}

/* _header_before(fields, i) */
static int header_before(const uint8_t *t, const Tok *f, int i) {
    int digit = 0;
    for (int j = 0; j < i; j++) {
        int lower = 1;
        for (Py_ssize_t k = 0; k < f[j].len; k++) {
            uint8_t c = t[f[j].s + k];
            digit |= c_digit(c);
            lower &= c_lower(c);
        }
        if (lower && f[j].len > 0) return 0; /* f.isalpha() and f.islower() */
    }
    return digit;
}

/* _first_level_field(text) */
static int first_level_field(const uint8_t *t, const Tok *f, int nt) {
    for (int i = 0; i < nt; i++) {
        if (token_level(t, f[i], 0) != NULL) return i;
        if (token_level(t, f[i], 1) != NULL && header_before(t, f, i)) return i;
    }
    return -1;
}

/* A LevelField's three ints, read once and written back only where they changed. */
typedef struct {
    PyObject *obj;
    Py_ssize_t v[3], was[3]; /* field, candidate, run */
} Field;

static int field_read(Field *F) {
    PyObject *names[3] = {LV.n_field, LV.n_candidate, LV.n_run};
    for (int i = 0; i < 3; i++) {
        PyObject *v = PyObject_GetAttr(F->obj, names[i]);
        if (v == NULL) return -1;
        F->v[i] = PyLong_CheckExact(v) ? PyLong_AsSsize_t(v) : -2;
        Py_DECREF(v);
        if (F->v[i] == -1 && PyErr_Occurred()) return -1;
        if (F->v[i] < -1) return 0; /* not what LevelField keeps: Python's */
        F->was[i] = F->v[i];
    }
    return 1;
}

static int field_write(Field *F) {
    PyObject *names[3] = {LV.n_field, LV.n_candidate, LV.n_run};
    for (int i = 0; i < 3; i++) {
        if (F->v[i] == F->was[i]) continue;
        PyObject *v = PyLong_FromSsize_t(F->v[i]);
        int r = v == NULL ? -1 : PyObject_SetAttr(F->obj, names[i], v);
        Py_XDECREF(v);
        if (r < 0) return -1;
    }
    return 0;
}

/* ----------------------------------------------------------- detect_level -- */

static Py_ssize_t ascii_prefix(const uint8_t *t, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, t + i, 8);
        if (w & 0x8080808080808080ULL) break;
    }
    while (i < n && t[i] < 0x80) i++;
    return i;
}

/* detect_level(text, hint) for a non-empty text: 1 decided (*out: a new reference;
 * hint[0] and the LevelField as Python leaves them; hint[1] is the caller's), 0 only
 * Python can say (nothing changed), -1 error. */
static int level_of(const uint8_t *t, Py_ssize_t n, PyObject *hint, PyObject **out) {
    PyObject *h0 = PyList_GET_ITEM(hint, 0);
    if (!PyLong_CheckExact(h0)) return 0;
    Py_ssize_t h = PyLong_AsSsize_t(h0);
    if (h == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    Det D = {t, n, 0, 0, h, hint};
    PyObject *found = NULL;
    /* the column hint: _WORD_AT.match(text, hint[0]) and no newline before it; only
     * the bytes up to just past the word need to be ASCII */
    if (h >= 0) {
        Py_ssize_t need = h + LV_MAXW + 2;
        D.asc = ascii_prefix(t, n < need ? n : need);
        Subj T = subj(&D, n);
        const LWord *w = lb_free(&T, h) ? word_at(&T, h) : NULL;
        if (w != NULL && memchr(t, '\n', (size_t)h) == NULL) found = w->level;
        if (D.bail) return 0;
    }
    if (found == NULL && D.asc < n && D.asc < LV.window) /* the cascade reads this far */
        D.asc += ascii_prefix(t + D.asc, (n < LV.window ? n : LV.window) - D.asc);
    Field F = {NULL, {-1, -1, 0}, {-1, -1, 0}};
    if (found == NULL) {
        if (PyList_GET_SIZE(hint) > 2 && PyList_GET_ITEM(hint, 2) != Py_None) {
            F.obj = PyList_GET_ITEM(hint, 2);
            if (Py_TYPE(F.obj) != (PyTypeObject *)LV.field_type) return 0;
            int r = field_read(&F);
            if (r <= 0) return r;
        }
        Tok f[16];
        if (F.obj != NULL && F.v[0] >= 0) { /* LevelField.apply, then _detect */
            int nt = fields(&D, f);
            found = F.v[0] < nt ? token_level(t, f[F.v[0]], 1) : NULL;
            if (found != NULL) {
                F.v[2] = 0;
            } else if (++F.v[2] >= LV.unlearn_run) {
                F.v[0] = -1;
                F.v[2] = 0;
            }
            if (found == NULL) found = detect(&D);
        } else {
            found = detect(&D);
            if (F.obj != NULL && found != NULL && !D.bail) { /* LevelField.observe */
                if (!PyUnicode_Check(found)) return 0;
                Py_ssize_t fi = -1;
                if (found == LV.unknown || PyUnicode_Compare(found, LV.unknown) == 0)
                    fi = first_level_field(t, f, fields(&D, f));
                if (fi < 0 || fi != F.v[1]) {
                    F.v[1] = fi;
                    F.v[2] = fi >= 0;
                } else if (++F.v[2] >= LV.learn_run) {
                    F.v[0] = fi;
                    F.v[1] = -1;
                    F.v[2] = 0;
                }
            }
        }
    }
    if (D.bail || found == NULL || !PyUnicode_Check(found)) return 0;
    if (D.hint0 != h) {
        PyObject *v = PyLong_FromSsize_t(D.hint0);
        if (v == NULL || PyList_SetItem(hint, 0, v) < 0) return -1;
    }
    if (F.obj != NULL && field_write(&F) < 0) return -1;
    *out = Py_NewRef(found);
    return 1;
}

/* The level of an entry (hint: the stream's list, at least one item) as `detect`
 * gives it: the C detector where it can tell and detect is level_detect.detect_level,
 * else detect(text, hint) itself. A new reference, or NULL (error set). */
static PyObject *entry_level(PyObject *detect_fn, const char *text, Py_ssize_t tlen,
                             PyObject *hint) {
    if (tlen == 0 && LV.ready) return Py_NewRef(LV.unknown);
    if (LV.ready && detect_fn == LV.detect) {
        PyObject *lvl = NULL;
        LV.calls++;
        int r = level_of((const uint8_t *)text, tlen, hint, &lvl);
        if (r != 0) return r < 0 ? NULL : lvl;
        LV.fallbacks++;
    }
    PyObject *str = PyUnicode_DecodeUTF8(text, tlen, NULL);
    if (str == NULL) return NULL;
    PyObject *lvl = PyObject_CallFunctionObjArgs(detect_fn, str, hint, NULL);
    Py_DECREF(str);
    return lvl;
}

/* ------------------------------------------------------------ init_levels -- */

static void lw_free(LWords *L) {
    for (Py_ssize_t i = 0; i < L->n; i++) Py_XDECREF(L->w[i].level);
    PyMem_Free(L->w);
    PyMem_Free(L->idx);
    L->w = NULL;
    L->idx = NULL;
    L->n = 0;
    memset(L->by_len, 0, sizeof L->by_len);
}

/* idx and by_len of a loaded table: a counting sort by length, stable. */
static int lw_index(LWords *L) {
    L->idx = PyMem_Calloc(L->n ? (size_t)L->n : 1, sizeof(Py_ssize_t));
    if (L->idx == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t fill[LV_MAXW + 1] = {0};
    for (Py_ssize_t i = 0; i < L->n; i++) L->by_len[L->w[i].len + 1]++;
    for (int k = 0; k <= LV_MAXW; k++) L->by_len[k + 1] += L->by_len[k];
    for (Py_ssize_t i = 0; i < L->n; i++) {
        Py_ssize_t k = L->w[i].len;
        L->idx[L->by_len[k] + fill[k]++] = i;
    }
    return 0;
}

static int ascii_key(PyObject *k, const char **s, Py_ssize_t *len, Py_ssize_t max) {
    if (!PyUnicode_Check(k) || !PyUnicode_IS_ASCII(k) || PyUnicode_GET_LENGTH(k) > max) {
        PyErr_Format(PyExc_ValueError, "init_levels(): %R is no ASCII word of at most %zd "
                     "characters", k, max);
        return -1;
    }
    *s = PyUnicode_AsUTF8AndSize(k, len);
    return *s == NULL ? -1 : 0;
}

/* a level name as the tables hold it: `unknown` itself where equal, for pointer tests */
static PyObject *level_ref(PyObject *v) {
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "init_levels(): level %R is no str", v);
        return NULL;
    }
    return Py_NewRef(PyUnicode_Compare(v, LV.unknown) == 0 ? LV.unknown : v);
}

/* a tuple of words (a set) or a dict word -> level name (a map) */
static int lw_load(PyObject *tables, const char *key, LWords *L) {
    PyObject *obj = PyDict_GetItemString(tables, key);
    int map = obj != NULL && PyDict_Check(obj);
    if (obj == NULL || !(map || PyTuple_Check(obj))) {
        PyErr_Format(PyExc_TypeError, "init_levels(): %s is a tuple or a dict", key);
        return -1;
    }
    lw_free(L);
    Py_ssize_t n = map ? PyDict_GET_SIZE(obj) : PyTuple_GET_SIZE(obj);
    L->w = PyMem_Calloc(n ? (size_t)n : 1, sizeof(LWord));
    if (L->w == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (map) PyDict_Next(obj, &pos, &k, &v);
        else k = PyTuple_GET_ITEM(obj, i);
        const char *s;
        Py_ssize_t len;
        if (ascii_key(k, &s, &len, LV_MAXW) < 0) return -1;
        memcpy(L->w[i].s, s, (size_t)len);
        L->w[i].len = len;
        L->n = i + 1;
        if (map && (L->w[i].level = level_ref(v)) == NULL) return -1;
    }
    return lw_index(L);
}

/* a str of letters as a byte class */
static int class_load(PyObject *tables, const char *key, uint8_t *cls) {
    PyObject *obj = PyDict_GetItemString(tables, key);
    const char *s;
    Py_ssize_t len;
    if (obj == NULL || ascii_key(obj, &s, &len, 127) < 0) {
        if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "init_levels(): %s missing", key);
        return -1;
    }
    memset(cls, 0, 128);
    for (Py_ssize_t i = 0; i < len; i++) cls[(uint8_t)s[i]] = 1;
    return 0;
}

/* a dict letter -> level name as a table by byte */
static int letters_load(PyObject *tables, const char *key, PyObject **tab) {
    PyObject *obj = PyDict_GetItemString(tables, key);
    if (obj == NULL || !PyDict_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "init_levels(): %s is a dict", key);
        return -1;
    }
    for (int i = 0; i < 128; i++) Py_CLEAR(tab[i]);
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(obj, &pos, &k, &v)) {
        const char *s;
        Py_ssize_t len;
        if (ascii_key(k, &s, &len, 1) < 0) return -1;
        if (len != 1) {
            PyErr_Format(PyExc_ValueError, "init_levels(): %s keys are single letters", key);
            return -1;
        }
        if ((tab[(uint8_t)s[0]] = level_ref(v)) == NULL) return -1;
    }
    return 0;
}

/* a tuple of k level names (k == 0: of ints, into sizes) */
static int tuple_load(PyObject *tables, const char *key, Py_ssize_t k, PyObject **levels,
                      Py_ssize_t *sizes, Py_ssize_t nsizes) {
    PyObject *obj = PyDict_GetItemString(tables, key);
    Py_ssize_t want = levels ? k : nsizes;
    if (obj == NULL || !PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != want) {
        PyErr_Format(PyExc_TypeError, "init_levels(): %s is a tuple of %zd", key, want);
        return -1;
    }
    for (Py_ssize_t i = 0; i < want; i++) {
        PyObject *v = PyTuple_GET_ITEM(obj, i);
        if (levels) {
            Py_XSETREF(levels[i], level_ref(v));
            if (levels[i] == NULL) return -1;
        } else {
            sizes[i] = PyLong_AsSsize_t(v);
            if (sizes[i] == -1 && PyErr_Occurred()) return -1;
        }
    }
    return 0;
}

/* a tuple of ints (at most max) into out */
static int ints_load(PyObject *tables, const char *key, int *out, int max, int *count) {
    PyObject *obj = PyDict_GetItemString(tables, key);
    if (obj == NULL || !PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) > max) {
        PyErr_Format(PyExc_TypeError, "init_levels(): %s is a tuple of at most %d ints", key,
                     max);
        return -1;
    }
    *count = (int)PyTuple_GET_SIZE(obj);
    for (int i = 0; i < *count; i++) {
        long v = PyLong_AsLong(PyTuple_GET_ITEM(obj, i));
        if (v == -1 && PyErr_Occurred()) return -1;
        out[i] = (int)v;
    }
    return 0;
}

/* a tuple of level names (at most max) */
static int levels_load(PyObject *tables, const char *key, PyObject **out, int max, int *count) {
    PyObject *obj = PyDict_GetItemString(tables, key);
    if (obj == NULL || !PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) > max) {
        PyErr_Format(PyExc_TypeError, "init_levels(): %s is a tuple of at most %d levels", key,
                     max);
        return -1;
    }
    for (int i = 0; i < max; i++) Py_CLEAR(out[i]);
    *count = (int)PyTuple_GET_SIZE(obj);
    for (int i = 0; i < *count; i++)
        if ((out[i] = level_ref(PyTuple_GET_ITEM(obj, i))) == NULL) return -1;
    return 0;
}

static int json_load(PyObject *tables) {
    int tags, codes, n, flat[LV_JSLOTS * 3];
    if (lw_load(tables, "json_top", &LV.jtop) < 0 || lw_load(tables, "json_inner", &LV.jinner) < 0 ||
        lw_load(tables, "json_es_values", &LV.jes_values) < 0 ||
        lw_load(tables, "json_tag_levels", &LV.jtag_levels) < 0 ||
        class_load(tables, "json_strip", LV.jstrip) < 0 ||
        ints_load(tables, "json_levels", flat, LV_JSLOTS * 3, &n) < 0 ||
        ints_load(tables, "json_otel", LV.jotel, LV_JSLOTS, &LV.jotel_n) < 0 ||
        ints_load(tables, "json_priority", LV.jprio, LV_JSLOTS, &LV.jprio_n) < 0 ||
        ints_load(tables, "json_status", LV.jstatus, LV_JSLOTS, &LV.jstatus_n) < 0 ||
        ints_load(tables, "json_es", LV.jes, LV_JSLOTS, &LV.jes_n) < 0 ||
        ints_load(tables, "json_tags", &LV.jtags, 1, &tags) < 0 ||
        ints_load(tables, "json_codes", LV.jcodes, 2, &codes) < 0 ||
        levels_load(tables, "otel", LV.jotel_levels, LV_JLEVELS, &LV.jotel_levels_n) < 0 ||
        levels_load(tables, "bunyan", LV.jbunyan, LV_JLEVELS, &LV.jbunyan_n) < 0)
        return -1;
    PyObject *rule = PyDict_GetItemString(tables, "json_es_rule");
    const char *s;
    Py_ssize_t len;
    if (LV.jtop.n > LV_JSLOTS || LV.jinner.n > LV_JINNER || tags != 1 || codes != 2 || n % 3 ||
        rule == NULL || !PyTuple_Check(rule) || PyTuple_GET_SIZE(rule) != 3 ||
        ascii_key(PyTuple_GET_ITEM(rule, 0), &s, &len, LV_MAXW) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "init_levels(): json tables out of bounds");
        return -1;
    }
    memcpy(LV.jcritical.s, s, (size_t)len);
    LV.jcritical.len = len;
    Py_XSETREF(LV.jfatal, level_ref(PyTuple_GET_ITEM(rule, 1)));
    Py_XSETREF(LV.jwarn, level_ref(PyTuple_GET_ITEM(rule, 2)));
    if (LV.jfatal == NULL || LV.jwarn == NULL) return -1;
    /* every index in bounds; each outer key its nested slot */
    int slots = 0, bad = LV.jtags < 0 || LV.jtags >= LV.jtop.n;
    for (int i = 0; i < LV_JSLOTS; i++) LV.jouter[i] = -1;
    LV.jlev_n = n / 3;
    for (int i = 0; i < LV.jlev_n; i++) {
        int *k = LV.jlev[i];
        memcpy(k, flat + 3 * i, sizeof(int) * 3);
        bad |= k[0] < 0 || k[0] >= LV.jtop.n || k[1] >= LV.jtop.n ||
               (k[1] >= 0 && (k[2] < 0 || k[2] >= LV.jinner.n));
        if (!bad && k[1] >= 0 && LV.jouter[k[1]] < 0) {
            bad |= slots >= LV_JOUTER || k[1] == LV.jtags;
            LV.jouter[k[1]] = slots++;
        }
    }
    const int *lists[] = {LV.jotel, LV.jprio, LV.jstatus, LV.jes};
    const int counts[] = {LV.jotel_n, LV.jprio_n, LV.jstatus_n, LV.jes_n};
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < counts[j]; i++) bad |= lists[j][i] < 0 || lists[j][i] >= LV.jtop.n;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "init_levels(): a json key index out of bounds");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(init_levels_doc,
"init_levels(tables)\n\n"
"The C level detector's words and tables: collector.level_detect.c_tables().");

static PyObject *init_levels(PyObject *self, PyObject *tables) {
    (void)self;
    if (!PyDict_Check(tables)) {
        PyErr_SetString(PyExc_TypeError, "init_levels(tables): a dict");
        return NULL;
    }
    LV.ready = 0;
    PyObject *detect_fn = PyDict_GetItemString(tables, "detect");
    PyObject *ftype = PyDict_GetItemString(tables, "field_type");
    PyObject *unknown = PyDict_GetItemString(tables, "unknown");
    PyObject *mdebug = PyDict_GetItemString(tables, "mongo_debug");
    PyObject *mdefault = PyDict_GetItemString(tables, "mongo_default");
    if (detect_fn == NULL || !PyCallable_Check(detect_fn) || ftype == NULL ||
        !PyType_Check(ftype) || unknown == NULL || !PyUnicode_Check(unknown) ||
        mdebug == NULL || !PyUnicode_Check(mdebug) || PyUnicode_GET_LENGTH(mdebug) != 1 ||
        PyUnicode_READ_CHAR(mdebug, 0) >= 128 || mdefault == NULL) {
        PyErr_SetString(PyExc_TypeError, "init_levels(): detect, field_type, unknown, "
                        "mongo_debug (a letter) and mongo_default are needed");
        return NULL;
    }
    Py_XSETREF(LV.detect, Py_NewRef(detect_fn));
    Py_XSETREF(LV.field_type, Py_NewRef(ftype));
    Py_XSETREF(LV.unknown, Py_NewRef(unknown));
    Py_XSETREF(LV.mongo_default, level_ref(mdefault));
    if (LV.mongo_default == NULL) return NULL;
    LV.mongo_debug = (int)PyUnicode_READ_CHAR(mdebug, 0);
    if (LV.n_field == NULL) {
        LV.n_field = PyUnicode_InternFromString("field");
        LV.n_candidate = PyUnicode_InternFromString("candidate");
        LV.n_run = PyUnicode_InternFromString("run");
        if (LV.n_field == NULL || LV.n_candidate == NULL || LV.n_run == NULL) return NULL;
    }
    Py_ssize_t sizes[3], fsizes[4];
    if (lw_load(tables, "aliases", &LV.aliases) < 0 || lw_load(tables, "words", &LV.words) < 0 ||
        lw_load(tables, "title", &LV.title) < 0 || lw_load(tables, "keys", &LV.keys) < 0 ||
        lw_load(tables, "bracketed", &LV.bracketed) < 0 ||
        lw_load(tables, "bracketed_cased", &LV.cased) < 0 ||
        lw_load(tables, "colon", &LV.colon) < 0 || lw_load(tables, "pg", &LV.pg) < 0 ||
        lw_load(tables, "pg_levels", &LV.pg_levels) < 0 || lw_load(tables, "tag", &LV.tag) < 0 ||
        lw_load(tables, "slashed", &LV.slashed) < 0 || lw_load(tables, "csv", &LV.csv) < 0 ||
        lw_load(tables, "secondary", &LV.secondary) < 0 ||
        lw_load(tables, "leading", &LV.leading) < 0 ||
        lw_load(tables, "field_words", &LV.fwords) < 0 ||
        class_load(tables, "klog", LV.klog) < 0 || class_load(tables, "pipe", LV.pipe) < 0 ||
        class_load(tables, "redis_marks", LV.marks) < 0 ||
        class_load(tables, "field_strip", LV.fstrip) < 0 ||
        letters_load(tables, "logcat", LV.logcat) < 0 ||
        letters_load(tables, "redis", LV.redis) < 0 ||
        letters_load(tables, "redis1", LV.redis1) < 0 ||
        letters_load(tables, "mongo", LV.mongo) < 0 ||
        letters_load(tables, "field_letters", LV.fletters) < 0 ||
        tuple_load(tables, "syslog", 8, LV.syslog, NULL, 0) < 0 ||
        tuple_load(tables, "status", 10, LV.status, NULL, 0) < 0 ||
        tuple_load(tables, "sizes", 0, NULL, sizes, 3) < 0 ||
        tuple_load(tables, "field_sizes", 0, NULL, fsizes, 4) < 0 || json_load(tables) < 0)
        return NULL;
    for (Py_ssize_t i = 0; i < LV.words.n; i++) /* _name(word), once */
        LV.words.w[i].level =
            Py_NewRef(name_of((const uint8_t *)LV.words.w[i].s, LV.words.w[i].len));
    if (fsizes[0] < 1 || fsizes[0] > 16) {
        PyErr_SetString(PyExc_ValueError, "init_levels(): at most 16 level fields");
        return NULL;
    }
    LV.header = sizes[0];
    LV.wide = sizes[1];
    LV.window = sizes[2];
    LV.max_fields = fsizes[0];
    LV.line_chars = fsizes[1];
    LV.learn_run = fsizes[2];
    LV.unlearn_run = fsizes[3];
    LV.ready = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(detect_level_doc,
"detect_level(text, hint) -> str\n\n"
"collector.level_detect.detect_level(text, hint) through the C detector, as the scan\n"
"runs it: the Python function for what the C leaves to it.");

static PyObject *detect_level_py(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !LV.ready) {
        PyErr_SetString(PyExc_TypeError, "detect_level(text, hint): str, list; init_levels first");
        return NULL;
    }
    PyObject *hint = args[1];
    Py_ssize_t n;
    const char *t = PyList_CheckExact(hint) && PyList_GET_SIZE(hint) > 0
                        ? PyUnicode_AsUTF8AndSize(args[0], &n)
                        : NULL;
    if (t == NULL) { /* lone surrogates, an unusual hint: Python's */
        PyErr_Clear();
        return PyObject_CallFunctionObjArgs(LV.detect, args[0], hint, NULL);
    }
    PyObject *lvl = entry_level(LV.detect, t, n, hint);
    if (lvl != NULL && PyList_GET_SIZE(hint) > 1 && PyList_GET_ITEM(hint, 1) != lvl &&
        PyList_SetItem(hint, 1, Py_NewRef(lvl)) < 0)
        Py_CLEAR(lvl);
    return lvl;
}

static PyObject *level_stats(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return Py_BuildValue("(KK)", LV.calls, LV.fallbacks);
}

#define LEVELS_METHODS                                                                    \
    {"init_levels", init_levels, METH_O, init_levels_doc},                                \
    {"detect_level", (PyCFunction)(void (*)(void))detect_level_py, METH_FASTCALL,         \
     detect_level_doc},                                                                   \
    {"level_stats", level_stats, METH_NOARGS,                                             \
     "level_stats() -> (entries the C detector saw, entries it left to Python)"},

#endif
