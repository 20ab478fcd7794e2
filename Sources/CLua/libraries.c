// The two Lua libraries Redis's scripts get that Debian does not package: cmsgpack
// (MessagePack) and struct (binary packing), written for TagCache to behave as the ones Redis
// 7.0 embeds: the same encodings, results and error messages. They raise Lua errors, so they
// live in C like the rest of the binding's raising code (CLua.h).
#include "CLua.h"
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

// ---- output: pieces pushed on the Lua stack and joined, as luaL_Buffer does -------------------

typedef struct piecebuf {
    lua_State *L;
    int pieces;
    char local[256];
    size_t used;
} piecebuf;

static void pb_flush(piecebuf *b) {
    if (b->used == 0) return;
    tc_lua.pushlstring(b->L, b->local, b->used);
    b->used = 0;
    if (++b->pieces > 16) {
        tc_lua.concat(b->L, b->pieces);
        b->pieces = 1;
    }
}

static void pb_add(piecebuf *b, const void *p, size_t n) {
    if (n > sizeof b->local - b->used) {
        pb_flush(b);
        if (n > sizeof b->local) {
            tc_lua.pushlstring(b->L, p, n);
            if (++b->pieces > 16) {
                tc_lua.concat(b->L, b->pieces);
                b->pieces = 1;
            }
            return;
        }
    }
    memcpy(b->local + b->used, p, n);
    b->used += n;
}

static void pb_result(piecebuf *b) {
    pb_flush(b);
    if (b->pieces == 0) tc_lua.pushlstring(b->L, "", 0);
    else if (b->pieces > 1) tc_lua.concat(b->L, b->pieces);
}

// luaL_checklstring / luaL_checknumber, with their messages.
static const char *lib_checkstring(lua_State *L, int arg, size_t *len) {
    const char *s = tc_lua.tolstring(L, arg, len);
    if (!s) {
        char msg[80];
        int t = tc_lua.type(L, arg);
        static const char *const names[] = {"nil", "boolean", "userdata", "number", "string", "table", "function", "userdata", "thread"};
        snprintf(msg, sizeof msg, "string expected, got %s", t < 0 ? "no value" : names[t]);
        tc_lua.argerror(L, arg, msg);
    }
    return s;
}

static double lib_checknumber(lua_State *L, int arg) {
    double d = tc_lua.tonumber(L, arg);
    if (d == 0 && !tc_lua.isnumber(L, arg)) {
        char msg[80];
        int t = tc_lua.type(L, arg);
        static const char *const names[] = {"nil", "boolean", "userdata", "number", "string", "table", "function", "userdata", "thread"};
        snprintf(msg, sizeof msg, "number expected, got %s", t < 0 ? "no value" : names[t]);
        tc_lua.argerror(L, arg, msg);
    }
    return d;
}

// ---- cmsgpack ----------------------------------------------------------------------------------

#define MP_MAX_NESTING 16

// pack's output, in memory of its own: the tables being encoded sit on top of the Lua stack,
// which must not move under them. Encoding raises no Lua error (raw reads only); if pushing
// the result does (out of memory), the buffer is freed by the next pack.
typedef struct mbuf {
    unsigned char *b;
    size_t len, cap;
} mbuf;

static unsigned char *mp_pending = NULL;

static void mb_add(mbuf *m, const void *p, size_t n) {
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < m->len + n) cap *= 2;
        unsigned char *nb = realloc(m->b, cap);
        if (!nb) abort();
        m->b = nb;
        m->cap = cap;
    }
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

static void mp_header(mbuf *b, unsigned char first, uint64_t n, int bytes) {
    unsigned char h[9];
    h[0] = first;
    for (int i = 0; i < bytes; i++) h[1 + i] = (unsigned char)(n >> (8 * (bytes - 1 - i)));
    mb_add(b, h, 1 + (size_t)bytes);
}

static void mp_encode_int(mbuf *b, int64_t n) {
    if (n >= 0) {
        if (n <= 127) mp_header(b, (unsigned char)n, 0, 0);
        else if (n <= 0xff) mp_header(b, 0xcc, (uint64_t)n, 1);
        else if (n <= 0xffff) mp_header(b, 0xcd, (uint64_t)n, 2);
        else if (n <= 0xffffffffLL) mp_header(b, 0xce, (uint64_t)n, 4);
        else mp_header(b, 0xcf, (uint64_t)n, 8);
    } else {
        if (n >= -32) mp_header(b, (unsigned char)(signed char)n, 0, 0);
        else if (n >= -128) mp_header(b, 0xd0, (uint64_t)n & 0xff, 1);
        else if (n >= -32768) mp_header(b, 0xd1, (uint64_t)n & 0xffff, 2);
        else if (n >= -2147483648LL) mp_header(b, 0xd2, (uint64_t)n & 0xffffffff, 4);
        else mp_header(b, 0xd3, (uint64_t)n, 8);
    }
}

static void mp_encode_double(mbuf *b, double d) {
    float f = (float)d;
    if (d == (double)f) {
        uint32_t u;
        memcpy(&u, &f, 4);
        mp_header(b, 0xca, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &d, 8);
        mp_header(b, 0xcb, u, 8);
    }
}

static void mp_encode_bytes(mbuf *b, const char *s, size_t len) {
    if (len < 32) mp_header(b, 0xa0 | (unsigned char)len, 0, 0);
    else if (len <= 0xff) mp_header(b, 0xd9, len, 1);
    else if (len <= 0xffff) mp_header(b, 0xda, len, 2);
    else mp_header(b, 0xdb, len & 0xffffffff, 4);
    mb_add(b, s, len);
}

static void mp_encode_count(mbuf *b, uint64_t n, unsigned char fix, unsigned char c16, unsigned char c32) {
    if (n <= 15) mp_header(b, fix | (unsigned char)n, 0, 0);
    else if (n <= 65535) mp_header(b, c16, n, 2);
    else mp_header(b, c32, n & 0xffffffff, 4);
}

// Keys 1..n exactly (n = the number of keys): the table is encoded as an array.
static int mp_is_array(lua_State *L) {
    int top = tc_lua.gettop(L);
    long count = 0;
    double max = 0;
    tc_lua.pushnil(L);
    while (tc_lua.next(L, -2)) {
        tc_lua.settop(L, -2);
        double n;
        if (tc_lua.type(L, -1) != TC_LUA_TNUMBER || (n = tc_lua.tonumber(L, -1)) <= 0 || isinf(n)
            || n > 2147483647.0 || (double)(int)n != n) {
            tc_lua.settop(L, top);
            return 0;
        }
        if (n > max) max = n;
        count++;
    }
    tc_lua.settop(L, top);
    return max == (double)count;
}

static void mp_encode_value(lua_State *L, mbuf *b, int level);

static void mp_encode_table(lua_State *L, mbuf *b, int level) {
    if (!tc_lua.checkstack(L, 3)) {
        mp_header(b, 0xc0, 0, 0);
        return;
    }
    if (mp_is_array(L)) {
        size_t len = tc_lua.objlen(L, -1);
        mp_encode_count(b, len, 0x90, 0xdc, 0xdd);
        for (size_t j = 1; j <= len; j++) {
            tc_lua.rawgeti(L, -1, (int)j);
            mp_encode_value(L, b, level + 1);
        }
        return;
    }
    uint64_t len = 0;
    tc_lua.pushnil(L);
    while (tc_lua.next(L, -2)) {
        tc_lua.settop(L, -2);
        len++;
    }
    mp_encode_count(b, len, 0x80, 0xde, 0xdf);
    tc_lua.pushnil(L);
    while (tc_lua.next(L, -2)) {
        tc_lua.pushvalue(L, -2);
        mp_encode_value(L, b, level + 1); // the key
        mp_encode_value(L, b, level + 1); // the value
    }
}

// Encodes the value on top and pops it.
static void mp_encode_value(lua_State *L, mbuf *b, int level) {
    int t = tc_lua.type(L, -1);
    if (t == TC_LUA_TTABLE && level == MP_MAX_NESTING) t = TC_LUA_TNIL;
    switch (t) {
    case TC_LUA_TSTRING: {
        size_t n;
        const char *s = tc_lua.tolstring(L, -1, &n);
        mp_encode_bytes(b, s, n);
        break;
    }
    case TC_LUA_TBOOLEAN:
        mp_header(b, tc_lua.toboolean(L, -1) ? 0xc3 : 0xc2, 0, 0);
        break;
    case TC_LUA_TNUMBER: {
        double n = tc_lua.tonumber(L, -1);
        if (!isinf(n) && n == n && n >= -9223372036854775808.0 && n < 9223372036854775808.0 && (double)(int64_t)n == n)
            mp_encode_int(b, (int64_t)n);
        else
            mp_encode_double(b, n);
        break;
    }
    case TC_LUA_TTABLE:
        mp_encode_table(L, b, level);
        break;
    default:
        mp_header(b, 0xc0, 0, 0);
    }
    tc_lua.settop(L, -2);
}

static int mp_pack(lua_State *L) {
    free(mp_pending);
    mp_pending = NULL;
    int nargs = tc_lua.gettop(L);
    if (nargs == 0) return tc_lua.argerror(L, 0, "MessagePack pack needs input.");
    if (!tc_lua.checkstack(L, nargs)) return tc_lua.argerror(L, 0, "Too many arguments for MessagePack pack.");
    mbuf b = {0};
    for (int i = 1; i <= nargs; i++) {
        tc_lua.pushvalue(L, i);
        mp_encode_value(L, &b, 0);
    }
    mp_pending = b.b;
    tc_lua.pushlstring(L, b.b ? (const char *)b.b : "", b.len);
    mp_pending = NULL;
    free(b.b);
    return 1;
}

typedef struct mp_cursor {
    const unsigned char *p;
    size_t left;
    int err; // 1: missing bytes, 2: bad format
} mp_cursor;

static uint64_t mp_read(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | p[i];
    return v;
}

static void mp_decode_value(lua_State *L, mp_cursor *c);

static void mp_decode_array(lua_State *L, mp_cursor *c, size_t len) {
    tc_lua.createtable(L, 0, 0);
    int index = 1;
    while (len--) {
        tc_lua.pushnumber(L, index++);
        mp_decode_value(L, c);
        if (c->err) return;
        tc_lua.settable(L, -3);
    }
}

static void mp_decode_map(lua_State *L, mp_cursor *c, size_t len) {
    tc_lua.createtable(L, 0, 0);
    while (len--) {
        mp_decode_value(L, c);
        if (c->err) return;
        mp_decode_value(L, c);
        if (c->err) return;
        tc_lua.settable(L, -3);
    }
}

#define NEED(n) do { if (c->left < (size_t)(n)) { c->err = 1; return; } } while (0)
#define CONSUME(n) do { c->p += (n); c->left -= (n); } while (0)

static void mp_decode_value(lua_State *L, mp_cursor *c) {
    NEED(1);
    if (!tc_lua.checkstack(L, 1))
        tc_lua.error_format(L, "stack overflow (%s)", "too many return values at once; use unpack_one or unpack_limit instead.");
    unsigned char t = c->p[0];
    switch (t) {
    case 0xcc: NEED(2); tc_lua.pushnumber(L, c->p[1]); CONSUME(2); return;
    case 0xd0: NEED(2); tc_lua.pushnumber(L, (signed char)c->p[1]); CONSUME(2); return;
    case 0xcd: NEED(3); tc_lua.pushnumber(L, (double)mp_read(c->p + 1, 2)); CONSUME(3); return;
    case 0xd1: NEED(3); tc_lua.pushnumber(L, (double)((int16_t)(c->p[1] << 8) | c->p[2])); CONSUME(3); return;
    case 0xce: NEED(5); tc_lua.pushnumber(L, (double)mp_read(c->p + 1, 4)); CONSUME(5); return;
    case 0xd2: NEED(5); tc_lua.pushnumber(L, (double)(int32_t)mp_read(c->p + 1, 4)); CONSUME(5); return;
    case 0xcf: NEED(9); tc_lua.pushnumber(L, (double)mp_read(c->p + 1, 8)); CONSUME(9); return;
    case 0xd3: NEED(9); tc_lua.pushnumber(L, (double)(int64_t)mp_read(c->p + 1, 8)); CONSUME(9); return;
    case 0xc0: tc_lua.pushnil(L); CONSUME(1); return;
    case 0xc3: tc_lua.pushboolean(L, 1); CONSUME(1); return;
    case 0xc2: tc_lua.pushboolean(L, 0); CONSUME(1); return;
    case 0xca: {
        NEED(5);
        uint32_t u = (uint32_t)mp_read(c->p + 1, 4);
        float f;
        memcpy(&f, &u, 4);
        tc_lua.pushnumber(L, f);
        CONSUME(5);
        return;
    }
    case 0xcb: {
        NEED(9);
        uint64_t u = mp_read(c->p + 1, 8);
        double d;
        memcpy(&d, &u, 8);
        tc_lua.pushnumber(L, d);
        CONSUME(9);
        return;
    }
    case 0xd9: case 0xda: case 0xdb: {
        int bytes = t == 0xd9 ? 1 : t == 0xda ? 2 : 4;
        NEED(1 + bytes);
        size_t l = (size_t)mp_read(c->p + 1, bytes);
        CONSUME(1 + bytes);
        NEED(l);
        tc_lua.pushlstring(L, (const char *)c->p, l);
        CONSUME(l);
        return;
    }
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
        int bytes = (t == 0xdc || t == 0xde) ? 2 : 4;
        NEED(1 + bytes);
        size_t l = (size_t)mp_read(c->p + 1, bytes);
        CONSUME(1 + bytes);
        if (t == 0xdc || t == 0xdd) mp_decode_array(L, c, l); else mp_decode_map(L, c, l);
        return;
    }
    default:
        if ((t & 0x80) == 0) { tc_lua.pushnumber(L, t); CONSUME(1); }
        else if ((t & 0xe0) == 0xe0) { tc_lua.pushnumber(L, (signed char)t); CONSUME(1); }
        else if ((t & 0xe0) == 0xa0) {
            size_t l = t & 0x1f;
            NEED(1 + l);
            tc_lua.pushlstring(L, (const char *)c->p + 1, l);
            CONSUME(1 + l);
        } else if ((t & 0xf0) == 0x90) { CONSUME(1); mp_decode_array(L, c, t & 0xf); }
        else if ((t & 0xf0) == 0x80) { CONSUME(1); mp_decode_map(L, c, t & 0xf); }
        else c->err = 2;
    }
}

static int mp_unpack_full(lua_State *L, lua_Integer limit, lua_Integer offset) {
    size_t len;
    const char *s = lib_checkstring(L, 1, &len);
    int all = !limit && !offset;
    if (offset < 0 || limit < 0)
        return tc_lua.error_format(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset, (int)len);
    if ((size_t)offset > len)
        return tc_lua.error_format(L, "Start offset %d greater than input length %d.", (int)offset, (int)len);
    if (all) limit = INT_MAX;
    mp_cursor c = {(const unsigned char *)s + offset, len - (size_t)offset, 0};
    int count = 0;
    for (; c.left > 0 && count < limit; count++) {
        mp_decode_value(L, &c);
        if (c.err == 1) return tc_lua.error_format(L, "Missing bytes in input.");
        if (c.err == 2) return tc_lua.error_format(L, "Bad data format in input.");
    }
    if (!all) {
        tc_lua.checkstack(L, 1);
        tc_lua.pushnumber(L, c.left == 0 ? -1 : (double)(len - c.left));
        tc_lua.insert(L, 2);
        count++;
    }
    return count;
}

static int mp_unpack(lua_State *L) { return mp_unpack_full(L, 0, 0); }

static int mp_unpack_one(lua_State *L) {
    lua_Integer offset = tc_lua.optinteger(L, 2, 0);
    tc_lua.settop(L, 1);
    return mp_unpack_full(L, 1, offset);
}

static int mp_unpack_limit(lua_State *L) {
    lua_Integer limit = tc_lua.checkinteger(L, 2);
    lua_Integer offset = tc_lua.optinteger(L, 3, 0);
    tc_lua.settop(L, 1);
    return mp_unpack_full(L, limit, offset);
}

static void set_functions(lua_State *L, const char *const *names, const lua_CFunction *fns) {
    for (int i = 0; names[i]; i++) {
        tc_lua.pushcclosure(L, fns[i], 0);
        tc_lua.setfield(L, -2, names[i]);
    }
}

static void open_cmsgpack(lua_State *L) {
    static const char *const names[] = {"pack", "unpack", "unpack_one", "unpack_limit", NULL};
    static const lua_CFunction fns[] = {mp_pack, mp_unpack, mp_unpack_one, mp_unpack_limit};
    tc_lua.createtable(L, 0, 8);
    set_functions(L, names, fns);
    static const char *const meta[][2] = {
        {"_NAME", "cmsgpack"}, {"_VERSION", "lua-cmsgpack 0.4.0"},
        {"_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo"},
        {"_DESCRIPTION", "MessagePack C implementation for Lua"}};
    for (int i = 0; i < 4; i++) {
        tc_lua.pushstring(L, meta[i][1]);
        tc_lua.setfield(L, -2, meta[i][0]);
    }
    tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, "cmsgpack");
}

// ---- struct ------------------------------------------------------------------------------------

#define ST_MAXINTSIZE 32
#define ST_MAXALIGN 8
#define ST_BIG 0
#define ST_LITTLE 1

typedef struct st_header {
    int endian;
    int align;
} st_header;

static int st_getnum(lua_State *L, const char **fmt, int df) {
    if (!isdigit((unsigned char)**fmt)) return df;
    int a = 0;
    do {
        if (a > (INT_MAX / 10) || a * 10 > (INT_MAX - (**fmt - '0'))) tc_lua.error_format(L, "integral size overflow");
        a = a * 10 + *((*fmt)++) - '0';
    } while (isdigit((unsigned char)**fmt));
    return a;
}

static size_t st_optsize(lua_State *L, char opt, const char **fmt) {
    switch (opt) {
    case 'B': case 'b': return 1;
    case 'H': case 'h': return sizeof(short);
    case 'L': case 'l': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'x': return 1;
    case 'c': return (size_t)st_getnum(L, fmt, 1);
    case 'i': case 'I': {
        int sz = st_getnum(L, fmt, sizeof(int));
        if (sz > ST_MAXINTSIZE) tc_lua.error_format(L, "integral size %d is larger than limit of %d", sz, ST_MAXINTSIZE);
        return (size_t)sz;
    }
    default: return 0;
    }
}

static int st_toalign(size_t len, st_header *h, int opt, size_t size) {
    if (size == 0 || opt == 'c') return 0;
    if (size > (size_t)h->align) size = (size_t)h->align;
    return (int)((size - (len & (size - 1))) & (size - 1));
}

static void st_control(lua_State *L, int opt, const char **fmt, st_header *h) {
    switch (opt) {
    case ' ': return;
    case '>': h->endian = ST_BIG; return;
    case '<': h->endian = ST_LITTLE; return;
    case '!': {
        int a = st_getnum(L, fmt, ST_MAXALIGN);
        if (!(a > 0 && (a & (a - 1)) == 0)) tc_lua.error_format(L, "alignment %d is not a power of 2", a);
        h->align = a;
        return;
    }
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "invalid format option '%c'", opt);
        tc_lua.argerror(L, 1, msg);
    }
    }
}

static void st_swap(char *b, int size, int endian) {
    if (endian == ST_LITTLE) return; // x86 and arm64 Linux: little-endian
    int i = 0;
    while (i < --size) {
        char t = b[i];
        b[i++] = b[size];
        b[size] = t;
    }
}

static int st_pack(lua_State *L) {
    size_t fl;
    const char *fmt = lib_checkstring(L, 1, &fl);
    st_header h = {ST_LITTLE, 1};
    int arg = 2;
    size_t total = 0;
    tc_lua.pushnil(L); // separates the arguments from the pieces
    piecebuf b = {.L = L};
    while (*fmt != '\0') {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        int toalign = st_toalign(total, &h, opt, size);
        total += (size_t)toalign;
        while (toalign-- > 0) pb_add(&b, "", 1);
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I': {
            double n = lib_checknumber(L, arg++);
            unsigned long value = n < 0 ? (unsigned long)(long)n : (unsigned long)n;
            char buff[ST_MAXINTSIZE];
            if (h.endian == ST_LITTLE) {
                for (size_t i = 0; i < size; i++) { buff[i] = (char)(value & 0xff); value >>= 8; }
            } else {
                for (int i = (int)size - 1; i >= 0; i--) { buff[i] = (char)(value & 0xff); value >>= 8; }
            }
            pb_add(&b, buff, size);
            break;
        }
        case 'x':
            pb_add(&b, "", 1);
            break;
        case 'f': {
            float f = (float)lib_checknumber(L, arg++);
            st_swap((char *)&f, (int)size, h.endian);
            pb_add(&b, &f, size);
            break;
        }
        case 'd': {
            double d = lib_checknumber(L, arg++);
            st_swap((char *)&d, (int)size, h.endian);
            pb_add(&b, &d, size);
            break;
        }
        case 'c': case 's': {
            size_t l;
            const char *s = lib_checkstring(L, arg++, &l);
            if (size == 0) size = l;
            if (!(l >= size)) tc_lua.argerror(L, arg, "string too short");
            pb_add(&b, s, size);
            if (opt == 's') {
                pb_add(&b, "", 1);
                size++;
            }
            break;
        }
        default:
            st_control(L, opt, &fmt, &h);
        }
        total += size;
    }
    pb_result(&b);
    return 1;
}

static double st_getinteger(const char *buff, int endian, int issigned, int size) {
    unsigned long l = 0;
    if (endian == ST_BIG) {
        for (int i = 0; i < size; i++) { l <<= 8; l |= (unsigned long)(unsigned char)buff[i]; }
    } else {
        for (int i = size - 1; i >= 0; i--) { l <<= 8; l |= (unsigned long)(unsigned char)buff[i]; }
    }
    if (!issigned) return (double)l;
    unsigned long mask = (unsigned long)(~0UL) << (size * 8 - 1);
    if (l & mask) l |= mask;
    return (double)(long)l;
}

static int st_unpack(lua_State *L) {
    st_header h = {ST_LITTLE, 1};
    size_t fl, ld;
    const char *fmt = lib_checkstring(L, 1, &fl);
    const char *data = lib_checkstring(L, 2, &ld);
    size_t pos = (size_t)tc_lua.optinteger(L, 3, 1);
    if (!(pos > 0)) tc_lua.argerror(L, 3, "offset must be 1 or greater");
    pos--;
    int n = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        pos += (size_t)st_toalign(pos, &h, opt, size);
        if (!(size <= ld && pos <= ld - size)) tc_lua.argerror(L, 2, "data string too short");
        if (!tc_lua.checkstack(L, 2)) tc_lua.error_format(L, "stack overflow (%s)", "too many results");
        switch (opt) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            tc_lua.pushnumber(L, st_getinteger(data + pos, h.endian, islower(opt), (int)size));
            n++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            memcpy(&f, data + pos, size);
            st_swap((char *)&f, sizeof f, h.endian);
            tc_lua.pushnumber(L, f);
            n++;
            break;
        }
        case 'd': {
            double d;
            memcpy(&d, data + pos, size);
            st_swap((char *)&d, sizeof d, h.endian);
            tc_lua.pushnumber(L, d);
            n++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (n == 0 || !tc_lua.isnumber(L, -1)) tc_lua.error_format(L, "format 'c0' needs a previous size");
                size = (size_t)tc_lua.tonumber(L, -1);
                tc_lua.settop(L, -2);
                n--;
                if (!(size <= ld && pos <= ld - size)) tc_lua.argerror(L, 2, "data string too short");
            }
            tc_lua.pushlstring(L, data + pos, size);
            n++;
            break;
        case 's': {
            const char *e = memchr(data + pos, '\0', ld - pos);
            if (e == NULL) tc_lua.error_format(L, "unfinished string in data");
            size = (size_t)(e - (data + pos)) + 1;
            tc_lua.pushlstring(L, data + pos, size - 1);
            n++;
            break;
        }
        default:
            st_control(L, opt, &fmt, &h);
        }
        pos += size;
    }
    tc_lua.pushnumber(L, (double)(pos + 1));
    return n + 1;
}

static int st_size(lua_State *L) {
    st_header h = {ST_LITTLE, 1};
    size_t fl;
    const char *fmt = lib_checkstring(L, 1, &fl);
    size_t pos = 0;
    while (*fmt) {
        int opt = *fmt++;
        size_t size = st_optsize(L, (char)opt, &fmt);
        pos += (size_t)st_toalign(pos, &h, opt, size);
        if (opt == 's') tc_lua.argerror(L, 1, "option 's' has no fixed size");
        else if (opt == 'c' && size == 0) tc_lua.argerror(L, 1, "option 'c0' has no fixed size");
        if (!isalnum(opt)) st_control(L, opt, &fmt, &h);
        pos += size;
    }
    tc_lua.pushnumber(L, (double)pos);
    return 1;
}

static void open_struct(lua_State *L) {
    static const char *const names[] = {"pack", "unpack", "size", NULL};
    static const lua_CFunction fns[] = {st_pack, st_unpack, st_size};
    tc_lua.createtable(L, 0, 3);
    set_functions(L, names, fns);
    tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, "struct");
}

void tc_lua_open_own_libraries(lua_State *L) {
    open_cmsgpack(L);
    open_struct(L);
}
