/* A serialized SLS LogGroupList to hour-file JSON lines, in C, without the interpreter lock.
 *
 * `render(buffer)` reads the protobuf wire format of `wire/logs.proto` directly and writes
 * the bytes `render.render_list_python()` writes for it (that Python renderer is the
 * reference; tests/unit/test_aliyun_log_native.py checks the two agree byte for byte):
 * `__time__`, `__topic__`, `__source__`, `__time_ns_part__` when non-zero, `__tag__:<key>`
 * per tag, then the log's contents, a later key replacing an earlier one's value in place;
 * strings escaped as `json.dumps(..., ensure_ascii=False)` does, UTF-8 that is not valid
 * decoded as Python's "replace" error handler does (one U+FFFD per maximal ill-formed
 * subpart). It handles the wire subset a LogGroupList is written in: known fields with
 * their own wire types, unknown fields of wire types 0, 1, 2 and 5 (skipped, as upb skips
 * them). Anything else (a truncated or corrupt body, groups, a known field with another
 * wire type, a Time above 32 bits) makes it answer None without reading past the buffer,
 * and the caller renders with the Python reference, which decides between output and a
 * clean error. The work runs between Py_BEGIN/END_ALLOW_THREADS on a pinned buffer view
 * and private malloc'd memory, so renders in several threads use several cores.
 * Returns `(bytes, number of LogGroups)` or None.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { RC_OK = 0, RC_FALLBACK = 1, RC_NOMEM = 2 };

typedef struct {
    const uint8_t *p;
    size_t n;
} Span;

typedef struct {
    uint8_t *d;
    size_t len, cap;
} Buf;

typedef struct {
    Span key, value;
} Pair;

typedef struct {
    Pair *items;
    size_t len, cap;
} Pairs;

/* One entry of a log rendered by the dict rules (keys repeated or shadowing). */
typedef struct {
    Span key;
    int is_int;
    uint64_t num;
    Span str;
} Entry;

typedef struct {
    Buf out;         /* the JSON lines */
    Buf shared;      /* the current LogGroup's ,"__topic__":...,"__source__":... */
    Buf tag_json;    /* the current LogGroup's ,"__tag__:k":"v"... */
    Pairs tags;      /* the current LogGroup's tags (keys valid UTF-8) */
    Span *tag_keys;  /* "__tag__:" + key of each tag, made when a slow line needs them */
    size_t tag_keys_cap;
    Pairs contents;  /* the current log's contents (keys valid UTF-8) */
    Span *plain_sig; /* content keys of the last log found plain in this LogGroup */
    size_t plain_len, plain_cap;
    int plain_valid;
    Entry *entries;
    size_t entries_cap;
    void **arena;    /* replacement copies of strings that were not UTF-8 */
    size_t arena_len, arena_cap;
} Ctx;

static const Span RESERVED[4] = {
    {(const uint8_t *)"__time__", 8},
    {(const uint8_t *)"__topic__", 9},
    {(const uint8_t *)"__source__", 10},
    {(const uint8_t *)"__time_ns_part__", 16},
};
static const uint8_t TAG_PREFIX[] = "__tag__:";
#define TAG_PREFIX_LEN 8

static const char HEX[] = "0123456789abcdef";
/* 0: copied as is; 1: an ASCII byte JSON escapes; 2: a byte of a multi-byte sequence. */
static uint8_t CLASS[256];

/* -- buffers ------------------------------------------------------------------------ */

static int __attribute__((noinline)) reserve_more(Buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    uint8_t *d = realloc(b->d, cap);
    if (d == NULL)
        return -1;
    b->d = d;
    b->cap = cap;
    return 0;
}

static inline int reserve(Buf *b, size_t extra)
{
    return b->cap - b->len >= extra ? 0 : reserve_more(b, extra);
}

static int put(Buf *b, const void *p, size_t n)
{
    if (reserve(b, n))
        return -1;
    memcpy(b->d + b->len, p, n);
    b->len += n;
    return 0;
}

#define PUT_LIT(b, s) put((b), (s), sizeof(s) - 1)

/* Write v in decimal at o (at most 20 bytes); returns the end. */
static inline uint8_t *uint_to(uint8_t *o, uint64_t v)
{
    uint8_t tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(o, tmp + i, sizeof(tmp) - i);
    return o + sizeof(tmp) - i;
}

static int put_uint(Buf *b, uint64_t v)
{
    if (reserve(b, 20))
        return -1;
    b->len = (size_t)(uint_to(b->d + b->len, v) - b->d);
    return 0;
}

static int grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return -1;
        n *= 2;
    }
    void *p = realloc(*items, n * size);
    if (p == NULL)
        return -1;
    *items = p;
    *cap = n;
    return 0;
}

static int push_pair(Pairs *v, Span key, Span value)
{
    if (grow((void **)&v->items, &v->cap, v->len + 1, sizeof(Pair)))
        return -1;
    v->items[v->len].key = key;
    v->items[v->len].value = value;
    v->len++;
    return 0;
}

static uint8_t *arena_alloc(Ctx *c, size_t n)
{
    if (grow((void **)&c->arena, &c->arena_cap, c->arena_len + 1, sizeof(void *)))
        return NULL;
    uint8_t *p = malloc(n ? n : 1);
    if (p != NULL)
        c->arena[c->arena_len++] = p;
    return p;
}

static void ctx_free(Ctx *c)
{
    free(c->out.d);
    free(c->shared.d);
    free(c->tag_json.d);
    free(c->tags.items);
    free(c->tag_keys);
    free(c->contents.items);
    free(c->plain_sig);
    free(c->entries);
    for (size_t i = 0; i < c->arena_len; i++)
        free(c->arena[i]);
    free(c->arena);
}

/* -- UTF-8 and JSON strings --------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at p (1 to 4 bytes), or minus the length
 * of its maximal ill-formed subpart, which one U+FFFD replaces. */
static int utf8_step(const uint8_t *p, size_t n)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    int need;
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return -1;
    if (c < 0xE0) {
        need = 1;
    } else if (c < 0xF0) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c < 0xF5) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return -1;
    }
    for (int k = 1; k <= need; k++) {
        if ((size_t)k >= n || p[k] < lo || p[k] > hi)
            return -k;
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/* Make *s valid UTF-8 (a replaced copy in the arena when it is not), as a key must be
 * before it is compared with other keys. */
static int normalize(Ctx *c, Span *s)
{
    size_t i = 0, bad = 0;
    while (i < s->n) {
        if (s->p[i] < 0x80) {
            i++;
            continue;
        }
        int step = utf8_step(s->p + i, s->n - i);
        if (step < 0) {
            bad = 1;
            break;
        }
        i += (size_t)step;
    }
    if (!bad)
        return 0;
    if (s->n > SIZE_MAX / 3)
        return -1;
    uint8_t *copy = arena_alloc(c, 3 * s->n), *o = copy;
    if (copy == NULL)
        return -1;
    for (i = 0; i < s->n;) {
        int step = s->p[i] < 0x80 ? 1 : utf8_step(s->p + i, s->n - i);
        if (step > 0) {
            memcpy(o, s->p + i, (size_t)step);
            o += step;
            i += (size_t)step;
        } else {
            *o++ = 0xEF;
            *o++ = 0xBF;
            *o++ = 0xBD;
            i += (size_t)-step;
        }
    }
    s->p = copy;
    s->n = (size_t)(o - copy);
    return 0;
}

/* Write the JSON escaping of p[0:n] at o, without quotes, as Python's encode_basestring
 * does it; there must be room for 6 * n bytes. Returns the end of what was written. */
static uint8_t *escape_to(uint8_t *o, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && CLASS[p[run]] == 0)
            run++;
        if (run > i) {
            memcpy(o, p + i, run - i);
            o += run - i;
            i = run;
            if (i == n)
                break;
        }
        uint8_t ch = p[i];
        if (ch < 0x80) {
            *o++ = '\\';
            switch (ch) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = (uint8_t)HEX[ch >> 4];
                *o++ = (uint8_t)HEX[ch & 15];
            }
            i++;
            continue;
        }
        int step = utf8_step(p + i, n - i);
        if (step > 0) {
            memcpy(o, p + i, (size_t)step);
            o += step;
            i += (size_t)step;
        } else {
            *o++ = 0xEF;
            *o++ = 0xBF;
            *o++ = 0xBD;
            i += (size_t)-step;
        }
    }
    return o;
}

/* Room for a string of n bytes once escaped and quoted; 0 when that overflows. */
static inline size_t escaped_room(size_t n)
{
    return n > (SIZE_MAX / 8) ? 0 : 6 * n + 2;
}

static int put_escaped(Buf *b, const uint8_t *p, size_t n)
{
    size_t room = escaped_room(n);
    if (room == 0 || reserve(b, room))
        return -1;
    b->len = (size_t)(escape_to(b->d + b->len, p, n) - b->d);
    return 0;
}

static int put_string(Buf *b, Span s)
{
    return PUT_LIT(b, "\"") || put_escaped(b, s.p, s.n) || PUT_LIT(b, "\"");
}

static int same(Span a, Span b)
{
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* -- the wire format ---------------------------------------------------------------- */

typedef struct {
    uint32_t number;
    int type;
    uint64_t num; /* wire types 0 and 5 */
    Span data;    /* wire type 2 */
} Field;

static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    if (p < end && *p < 0x80) {
        *out = *p;
        *pp = p + 1;
        return 0;
    }
    for (int shift = 0; shift <= 63; shift += 7) {
        if (p >= end)
            return -1;
        uint8_t byte = *p++;
        if (shift == 63 && byte > 1)
            return -1;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* The next field at *pp; -1 for anything outside the subset described at the top. */
static inline int next_field(const uint8_t **pp, const uint8_t *end, Field *f)
{
    uint64_t tag, len;
    if (read_varint(pp, end, &tag) || tag > 0xFFFFFFFFu || (tag >> 3) == 0)
        return -1;
    f->number = (uint32_t)(tag >> 3);
    f->type = (int)(tag & 7);
    switch (f->type) {
    case 0:
        return read_varint(pp, end, &f->num);
    case 1:
        if (end - *pp < 8)
            return -1;
        *pp += 8;
        return 0;
    case 2:
        if (read_varint(pp, end, &len) || len > (uint64_t)(end - *pp))
            return -1;
        f->data.p = *pp;
        f->data.n = (size_t)len;
        *pp += len;
        return 0;
    case 5:
        if (end - *pp < 4)
            return -1;
        f->num = (uint32_t)(*pp)[0] | (uint32_t)(*pp)[1] << 8 | (uint32_t)(*pp)[2] << 16
                 | (uint32_t)(*pp)[3] << 24;
        *pp += 4;
        return 0;
    default:
        return -1;
    }
}

/* A Content or a LogTag: Key = 1, Value = 2, both strings; missing ones are "". */
static int parse_pair(Span msg, Span *key, Span *value)
{
    const uint8_t *p = msg.p, *end = msg.p + msg.n;
    Field f;
    key->p = value->p = (const uint8_t *)"";
    key->n = value->n = 0;
    while (p < end) {
        if (next_field(&p, end, &f))
            return RC_FALLBACK;
        if (f.number == 1 || f.number == 2) {
            if (f.type != 2)
                return RC_FALLBACK;
            *(f.number == 1 ? key : value) = f.data;
        }
    }
    return RC_OK;
}

/* -- rendering ---------------------------------------------------------------------- */

static int is_fixed(const Ctx *c, Span key)
{
    for (int i = 0; i < 4; i++)
        if (same(key, RESERVED[i]))
            return 1;
    if (key.n >= TAG_PREFIX_LEN && memcmp(key.p, TAG_PREFIX, TAG_PREFIX_LEN) == 0) {
        Span rest = {key.p + TAG_PREFIX_LEN, key.n - TAG_PREFIX_LEN};
        for (size_t i = 0; i < c->tags.len; i++)
            if (same(rest, c->tags.items[i].key))
                return 1;
    }
    return 0;
}

/* True when no content key repeats or names a fixed key (the line needs no dict rules).
 * Logs of one LogGroup usually share their keys: the last plain list is kept. */
static int plain_keys(Ctx *c, int *plain)
{
    Pairs *v = &c->contents;
    if (c->plain_valid && c->plain_len == v->len) {
        size_t i = 0;
        while (i < v->len && same(v->items[i].key, c->plain_sig[i]))
            i++;
        if (i == v->len) {
            *plain = 1;
            return 0;
        }
    }
    for (size_t i = 0; i < v->len; i++) {
        if (is_fixed(c, v->items[i].key)) {
            *plain = 0;
            return 0;
        }
        for (size_t j = 0; j < i; j++)
            if (same(v->items[i].key, v->items[j].key)) {
                *plain = 0;
                return 0;
            }
    }
    if (grow((void **)&c->plain_sig, &c->plain_cap, v->len, sizeof(Span)))
        return -1;
    for (size_t i = 0; i < v->len; i++)
        c->plain_sig[i] = v->items[i].key;
    c->plain_len = v->len;
    c->plain_valid = 1;
    *plain = 1;
    return 0;
}

static int add_entry(Ctx *c, size_t *n, Span key, int is_int, uint64_t num, Span str)
{
    size_t i = 0;
    while (i < *n && !same(c->entries[i].key, key))
        i++;
    if (i == *n) {
        if (grow((void **)&c->entries, &c->entries_cap, *n + 1, sizeof(Entry)))
            return -1;
        c->entries[i].key = key;
        (*n)++;
    }
    c->entries[i].is_int = is_int;
    c->entries[i].num = num;
    c->entries[i].str = str;
    return 0;
}

/* One log by the dict rules of the SDK's flattening: keys in first-seen order, the
 * last value of a key kept. */
static int slow_line(Ctx *c, uint32_t time, uint32_t ns, Span topic, Span source)
{
    static const Span none = {(const uint8_t *)"", 0};
    size_t n = 0;
    for (size_t i = 0; i < c->tags.len; i++) {
        if (c->tag_keys[i].p == NULL) {
            Span k = c->tags.items[i].key;
            uint8_t *full = arena_alloc(c, TAG_PREFIX_LEN + k.n);
            if (full == NULL)
                return -1;
            memcpy(full, TAG_PREFIX, TAG_PREFIX_LEN);
            memcpy(full + TAG_PREFIX_LEN, k.p, k.n);
            c->tag_keys[i].p = full;
            c->tag_keys[i].n = TAG_PREFIX_LEN + k.n;
        }
    }
    if (add_entry(c, &n, RESERVED[0], 1, time, none) || add_entry(c, &n, RESERVED[1], 0, 0, topic)
        || add_entry(c, &n, RESERVED[2], 0, 0, source))
        return -1;
    if (ns && add_entry(c, &n, RESERVED[3], 1, ns, none))
        return -1;
    for (size_t i = 0; i < c->tags.len; i++)
        if (add_entry(c, &n, c->tag_keys[i], 0, 0, c->tags.items[i].value))
            return -1;
    for (size_t i = 0; i < c->contents.len; i++)
        if (add_entry(c, &n, c->contents.items[i].key, 0, 0, c->contents.items[i].value))
            return -1;
    Buf *o = &c->out;
    if (PUT_LIT(o, "{"))
        return -1;
    for (size_t i = 0; i < n; i++) {
        Entry *e = &c->entries[i];
        if ((i && PUT_LIT(o, ",")) || put_string(o, e->key) || PUT_LIT(o, ":"))
            return -1;
        if (e->is_int ? put_uint(o, e->num) : put_string(o, e->str))
            return -1;
    }
    return PUT_LIT(o, "}\n");
}

static int render_log(Ctx *c, Span msg, int tags_unique, Span topic, Span source)
{
    const uint8_t *p = msg.p, *end = msg.p + msg.n;
    uint32_t time = 0, ns = 0;
    Field f;
    int rc, plain;
    c->contents.len = 0;
    while (p < end) {
        if (next_field(&p, end, &f))
            return RC_FALLBACK;
        if (f.number == 1) {
            if (f.type != 0 || f.num > 0xFFFFFFFFu)
                return RC_FALLBACK;
            time = (uint32_t)f.num;
        } else if (f.number == 2) {
            Span key, value;
            if (f.type != 2)
                return RC_FALLBACK;
            if ((rc = parse_pair(f.data, &key, &value)) != RC_OK)
                return rc;
            if (normalize(c, &key) || push_pair(&c->contents, key, value))
                return RC_NOMEM;
        } else if (f.number == 4) {
            if (f.type != 5)
                return RC_FALLBACK;
            ns = (uint32_t)f.num;
        }
    }
    if (!tags_unique) {
        plain = 0;
    } else if (plain_keys(c, &plain)) {
        return RC_NOMEM;
    }
    if (!plain)
        return slow_line(c, time, ns, topic, source) ? RC_NOMEM : RC_OK;
    /* One reservation for the whole line, then plain stores. */
    size_t room = 64 + c->shared.len + c->tag_json.len;
    for (size_t i = 0; i < c->contents.len; i++) {
        size_t k = escaped_room(c->contents.items[i].key.n);
        size_t v = escaped_room(c->contents.items[i].value.n);
        if (k == 0 || v == 0 || room > SIZE_MAX / 2 - k - v)
            return RC_NOMEM;
        room += k + v + 2;
    }
    if (reserve(&c->out, room))
        return RC_NOMEM;
    uint8_t *o = c->out.d + c->out.len;
    memcpy(o, "{\"__time__\":", 12);
    o += 12;
    o = uint_to(o, time);
    memcpy(o, c->shared.d, c->shared.len);
    o += c->shared.len;
    if (ns) {
        memcpy(o, ",\"__time_ns_part__\":", 20);
        o += 20;
        o = uint_to(o, ns);
    }
    memcpy(o, c->tag_json.d, c->tag_json.len);
    o += c->tag_json.len;
    for (size_t i = 0; i < c->contents.len; i++) {
        Pair *pr = &c->contents.items[i];
        *o++ = ',';
        *o++ = '"';
        o = escape_to(o, pr->key.p, pr->key.n);
        *o++ = '"';
        *o++ = ':';
        *o++ = '"';
        o = escape_to(o, pr->value.p, pr->value.n);
        *o++ = '"';
    }
    *o++ = '}';
    *o++ = '\n';
    c->out.len = (size_t)(o - c->out.d);
    return RC_OK;
}

static int render_group(Ctx *c, Span msg)
{
    static const Span empty = {(const uint8_t *)"", 0};
    const uint8_t *p = msg.p, *end = msg.p + msg.n;
    Span topic = empty, source = empty;
    Field f;
    int rc;
    /* First pass: topic, source and tags may follow the logs on the wire. */
    c->tags.len = 0;
    while (p < end) {
        if (next_field(&p, end, &f))
            return RC_FALLBACK;
        if (f.number >= 1 && f.number <= 6 && f.type != 2)
            return RC_FALLBACK;
        if (f.number == 3) {
            topic = f.data;
        } else if (f.number == 4) {
            source = f.data;
        } else if (f.number == 6) {
            Span key, value;
            if ((rc = parse_pair(f.data, &key, &value)) != RC_OK)
                return rc;
            if (normalize(c, &key) || push_pair(&c->tags, key, value))
                return RC_NOMEM;
        }
    }
    int tags_unique = 1;
    for (size_t i = 0; i < c->tags.len && tags_unique; i++)
        for (size_t j = 0; j < i; j++)
            if (same(c->tags.items[i].key, c->tags.items[j].key)) {
                tags_unique = 0;
                break;
            }
    c->shared.len = c->tag_json.len = 0;
    if (PUT_LIT(&c->shared, ",\"__topic__\":") || put_string(&c->shared, topic)
        || PUT_LIT(&c->shared, ",\"__source__\":") || put_string(&c->shared, source))
        return RC_NOMEM;
    for (size_t i = 0; i < c->tags.len; i++) {
        Pair *t = &c->tags.items[i];
        if (PUT_LIT(&c->tag_json, ",\"__tag__:") || put_escaped(&c->tag_json, t->key.p, t->key.n)
            || PUT_LIT(&c->tag_json, "\":") || put_string(&c->tag_json, t->value))
            return RC_NOMEM;
    }
    /* Made by the first slow line of the LogGroup that needs them. */
    if (grow((void **)&c->tag_keys, &c->tag_keys_cap, c->tags.len + 1, sizeof(Span)))
        return RC_NOMEM;
    memset(c->tag_keys, 0, c->tag_keys_cap * sizeof(Span));
    c->plain_valid = 0;
    /* Second pass: the logs, in order. */
    p = msg.p;
    while (p < end) {
        if (next_field(&p, end, &f))
            return RC_FALLBACK; /* not reached: the first pass read the same bytes */
        if (f.number == 1 && (rc = render_log(c, f.data, tags_unique, topic, source)) != RC_OK)
            return rc;
    }
    return RC_OK;
}

static int render_list(Ctx *c, const uint8_t *data, size_t n, Py_ssize_t *groups)
{
    const uint8_t *p = data, *end = data + n;
    Field f;
    int rc;
    /* JSON lines are usually 1.5-2.5 times the protobuf's size. */
    if (reserve(&c->out, n < SIZE_MAX / 4 ? 2 * n + 4096 : n))
        return RC_NOMEM;
    *groups = 0;
    while (p < end) {
        if (next_field(&p, end, &f))
            return RC_FALLBACK;
        if (f.number == 1) {
            if (f.type != 2)
                return RC_FALLBACK;
            if ((rc = render_group(c, f.data)) != RC_OK)
                return rc;
            (*groups)++;
        }
    }
    return RC_OK;
}

static PyObject *py_render(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    Ctx c;
    Py_ssize_t groups = 0;
    int rc;
    (void)module;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    memset(&c, 0, sizeof(c));
    Py_BEGIN_ALLOW_THREADS
    rc = render_list(&c, (const uint8_t *)view.buf, (size_t)view.len, &groups);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *result = NULL;
    if (rc == RC_NOMEM) {
        PyErr_NoMemory();
    } else if (rc == RC_FALLBACK) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *lines = PyBytes_FromStringAndSize((const char *)c.out.d, (Py_ssize_t)c.out.len);
        if (lines != NULL) {
            result = Py_BuildValue("(Nn)", lines, groups);
        }
    }
    ctx_free(&c);
    return result;
}

static PyMethodDef methods[] = {
    {"render", py_render, METH_O,
     "render(buffer) -> (bytes, groups) or None: the JSON lines of a serialized "
     "LogGroupList, or None when the Python renderer must decide (see the module source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_jsonlines",
    "SLS LogGroupList to JSON lines in C, off the interpreter lock (backends/aliyun_log).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__jsonlines(void)
{
    for (int ch = 0; ch < 256; ch++)
        CLASS[ch] = ch >= 0x80 ? 2 : (ch < 0x20 || ch == '"' || ch == '\\') ? 1 : 0;
    return PyModule_Create(&module_def);
}
