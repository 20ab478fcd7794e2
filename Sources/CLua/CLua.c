// Loading liblua5.1 at run time, and the parts of TagCache's Lua binding that may raise Lua
// errors (longjmp), which must not cross Swift frames: see include/CLua.h.
#include "CLua.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tc_lua_api tc_lua;

static const char *const library_names[] = {"liblua5.1.so.0", "liblua5.1.so", NULL};
static const char *const cjson_paths[] = {
    "/usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so", "/usr/lib/aarch64-linux-gnu/lua/5.1/cjson.so",
    "/usr/lib/lua/5.1/cjson.so", "/usr/local/lib/lua/5.1/cjson.so", "liblua5.1-cjson.so.0", NULL};
static const char *const bit_paths[] = {
    "/usr/lib/x86_64-linux-gnu/lua/5.1/bit.so", "/usr/lib/aarch64-linux-gnu/lua/5.1/bit.so",
    "/usr/lib/lua/5.1/bit.so", "/usr/local/lib/lua/5.1/bit.so", "liblua5.1-bitop.so.0", NULL};

static void *open_module(const char *const *paths, const char *symbol) {
    for (int i = 0; paths[i]; i++) {
        void *h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) continue;
        void *f = dlsym(h, symbol);
        if (f) return f;
        dlclose(h);
    }
    return NULL;
}

int tc_lua_open(char *err, size_t errlen) {
    void *h = NULL;
    // TAGCACHE_LUA_LIBRARY names another file (tests use a missing one).
    const char *forced = getenv("TAGCACHE_LUA_LIBRARY");
    if (forced) {
        h = dlopen(forced, RTLD_NOW | RTLD_GLOBAL);
    } else {
        for (int i = 0; library_names[i] && !h; i++) h = dlopen(library_names[i], RTLD_NOW | RTLD_GLOBAL);
    }
    if (!h) {
        snprintf(err, errlen, "%s not found (apt-get install liblua5.1-0)", forced ? forced : "liblua5.1.so.0");
        return -1;
    }
#define SYM(field, name) \
    do { \
        *(void **)&tc_lua.field = dlsym(h, name); \
        if (!tc_lua.field) { \
            snprintf(err, errlen, "liblua5.1.so.0 has no %s", name); \
            return -1; \
        } \
    } while (0)
    SYM(newstate, "lua_newstate"); SYM(close, "lua_close"); SYM(gettop, "lua_gettop");
    SYM(settop, "lua_settop"); SYM(pushvalue, "lua_pushvalue"); SYM(remove, "lua_remove");
    SYM(insert, "lua_insert"); SYM(replace, "lua_replace"); SYM(checkstack, "lua_checkstack");
    SYM(type, "lua_type"); SYM(isnumber, "lua_isnumber"); SYM(isstring, "lua_isstring");
    SYM(tonumber, "lua_tonumber"); SYM(toboolean, "lua_toboolean"); SYM(tolstring, "lua_tolstring");
    SYM(objlen, "lua_objlen"); SYM(touserdata, "lua_touserdata"); SYM(topointer, "lua_topointer");
    SYM(pushnil, "lua_pushnil"); SYM(pushnumber, "lua_pushnumber"); SYM(pushlstring, "lua_pushlstring");
    SYM(pushstring, "lua_pushstring"); SYM(pushcclosure, "lua_pushcclosure");
    SYM(pushboolean, "lua_pushboolean"); SYM(pushlightuserdata, "lua_pushlightuserdata");
    SYM(gettable, "lua_gettable"); SYM(getfield, "lua_getfield"); SYM(rawget, "lua_rawget");
    SYM(rawgeti, "lua_rawgeti"); SYM(createtable, "lua_createtable"); SYM(getmetatable, "lua_getmetatable");
    SYM(settable, "lua_settable"); SYM(setfield, "lua_setfield"); SYM(rawset, "lua_rawset");
    SYM(rawseti, "lua_rawseti"); SYM(setmetatable, "lua_setmetatable"); SYM(call, "lua_call");
    SYM(pcall, "lua_pcall"); SYM(error, "lua_error"); SYM(next, "lua_next"); SYM(concat, "lua_concat");
    SYM(gc, "lua_gc"); SYM(sethook, "lua_sethook"); SYM(getinfo, "lua_getinfo");
    SYM(getstack, "lua_getstack"); SYM(loadbuffer, "luaL_loadbuffer"); SYM(where, "luaL_where");
    SYM(error_format, "luaL_error"); SYM(checkinteger, "luaL_checkinteger"); SYM(argerror, "luaL_argerror");
    SYM(checktype, "luaL_checktype"); SYM(optinteger, "luaL_optinteger");
    SYM(open_base, "luaopen_base"); SYM(open_table, "luaopen_table"); SYM(open_string, "luaopen_string");
    SYM(open_math, "luaopen_math"); SYM(open_debug, "luaopen_debug");
#undef SYM
    tc_lua.open_cjson = (lua_CFunction)open_module(cjson_paths, "luaopen_cjson");
    tc_lua.open_bit = (lua_CFunction)open_module(bit_paths, "luaopen_bit");
    return 0;
}

// script-heap-max: a state's allocations past it fail (Lua raises "not enough memory") while
// Lua code runs under tc_lua_pcall_limited, never from Swift (a Swift callback, the hook, or
// Swift preparing a call), whose Lua calls must not raise.
static int64_t heap_limit = 0;
static int limit_active = 0;

void tc_lua_set_heap_limit(int64_t bytes) { heap_limit = bytes; }

int tc_lua_pcall_limited(lua_State *L, int nargs, int nresults, int errfunc) {
    int active = limit_active;
    limit_active = 1;
    int r = tc_lua.pcall(L, nargs, nresults, errfunc);
    limit_active = active;
    return r;
}

static void *tc_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    int64_t *used = ud;
    if (nsize == 0) {
        if (ptr) *used -= (int64_t)osize;
        free(ptr);
        return NULL;
    }
    if (heap_limit > 0 && limit_active && nsize > (ptr ? osize : 0)
        && *used + (int64_t)nsize - (ptr ? (int64_t)osize : 0) > heap_limit) {
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) *used += (int64_t)nsize - (ptr ? (int64_t)osize : 0);
    return p;
}

lua_State *tc_lua_newstate(int64_t *used) { return tc_lua.newstate(tc_alloc, used); }

#define upvalueindex(i) (TC_LUA_GLOBALSINDEX - (i))

static tc_lua_swift_fn swift_fn;

void tc_lua_set_swift(tc_lua_swift_fn fn) { swift_fn = fn; }

static int swift_trampoline(lua_State *L) {
    void *context = tc_lua.touserdata(L, upvalueindex(1));
    int which = (int)tc_lua.tonumber(L, upvalueindex(2));
    int active = limit_active;
    limit_active = 0;
    int n = swift_fn(L, context, which);
    limit_active = active;
    if (n < 0) return tc_lua.error(L);
    return n;
}

void tc_lua_push_swift(lua_State *L, void *context, int which) {
    tc_lua.pushlightuserdata(L, context);
    tc_lua.pushnumber(L, which);
    tc_lua.pushcclosure(L, swift_trampoline, 2);
}

// The registry's weak-keyed set of read-only views.
static const char *const readonly_key = "tc_readonly_views";

static int readonly_error(lua_State *L) {
    return tc_lua.error_format(L, "Attempt to modify a readonly table");
}

static int is_readonly(lua_State *L, int idx) {
    if (tc_lua.type(L, idx) != TC_LUA_TTABLE) return 0;
    tc_lua.pushvalue(L, idx);
    tc_lua.getfield(L, TC_LUA_REGISTRYINDEX, readonly_key);
    if (tc_lua.type(L, -1) != TC_LUA_TTABLE) {
        tc_lua.settop(L, -3);
        return 0;
    }
    tc_lua.insert(L, -2);
    tc_lua.rawget(L, -2);
    int found = tc_lua.toboolean(L, -1);
    tc_lua.settop(L, -3);
    return found;
}

void tc_lua_push_readonly(lua_State *L, int idx) {
    if (idx < 0 && idx > TC_LUA_REGISTRYINDEX) idx = tc_lua.gettop(L) + idx + 1;
    tc_lua.getfield(L, TC_LUA_REGISTRYINDEX, readonly_key);
    if (tc_lua.type(L, -1) != TC_LUA_TTABLE) {
        tc_lua.settop(L, -2);
        tc_lua.createtable(L, 0, 16);
        tc_lua.createtable(L, 0, 1);
        tc_lua.pushstring(L, "k");
        tc_lua.setfield(L, -2, "__mode");
        tc_lua.setmetatable(L, -2);
        tc_lua.pushvalue(L, -1);
        tc_lua.setfield(L, TC_LUA_REGISTRYINDEX, readonly_key);
    }
    tc_lua.createtable(L, 0, 0); // the view
    tc_lua.createtable(L, 0, 3); // its metatable, which getmetatable does not give out
    tc_lua.pushvalue(L, idx);
    tc_lua.setfield(L, -2, "__index");
    tc_lua.pushcclosure(L, readonly_error, 0);
    tc_lua.setfield(L, -2, "__newindex");
    tc_lua.pushboolean(L, 0);
    tc_lua.setfield(L, -2, "__metatable");
    tc_lua.setmetatable(L, -2);
    tc_lua.pushvalue(L, -1);
    tc_lua.pushboolean(L, 1);
    tc_lua.rawset(L, -4); // views[view] = true
    tc_lua.remove(L, -2); // the views set
    tc_lua.replace(L, idx);
}

// Reading an undefined global (upvalue 1: the table holding the globals).
static int global_index(lua_State *L) {
    tc_lua.pushvalue(L, 2);
    tc_lua.rawget(L, upvalueindex(1));
    if (tc_lua.type(L, -1) != TC_LUA_TNIL) return 1;
    if (!tc_lua.isstring(L, 2)) return tc_lua.error_format(L, "Second argument to luaProtectedTableError must be a string or number");
    return tc_lua.error_format(L, "Script attempted to access nonexistent global variable '%s'", tc_lua.tolstring(L, 2, NULL));
}

// Makes the metatable of the value at idx read-only where scripts can reach it: Lua's
// getmetatable then returns a read-only view of it (Redis's tables are read-only in place).
static void lock_metatable(lua_State *L, int idx) {
    if (idx < 0 && idx > TC_LUA_REGISTRYINDEX) idx = tc_lua.gettop(L) + idx + 1;
    if (!tc_lua.getmetatable(L, idx)) return;
    tc_lua.pushvalue(L, -1);
    tc_lua_push_readonly(L, -1);
    tc_lua.setfield(L, -2, "__metatable");
    tc_lua.settop(L, -2);
}

void tc_lua_protect_globals(lua_State *L) {
    tc_lua.createtable(L, 0, 64); // the real globals
    int real = tc_lua.gettop(L);
    tc_lua.pushnil(L);
    while (tc_lua.next(L, TC_LUA_GLOBALSINDEX)) {
        tc_lua.pushvalue(L, -2);
        tc_lua.insert(L, -2);
        tc_lua.rawset(L, real);
    }
    // Clear the globals table itself: every access now goes through its metatable.
    for (;;) {
        tc_lua.pushnil(L);
        if (!tc_lua.next(L, TC_LUA_GLOBALSINDEX)) break;
        tc_lua.settop(L, -2);
        tc_lua.pushnil(L);
        tc_lua.rawset(L, TC_LUA_GLOBALSINDEX);
    }
    // Library tables become read-only views; _G is the (empty, guarded) globals table.
    tc_lua.pushnil(L);
    while (tc_lua.next(L, real)) {
        if (tc_lua.type(L, -1) == TC_LUA_TTABLE) {
            tc_lua.pushvalue(L, -2);
            tc_lua.pushvalue(L, -2);
            tc_lua_push_readonly(L, -1);
            tc_lua.rawset(L, real);
        }
        tc_lua.settop(L, -2);
    }
    tc_lua.pushstring(L, "_G");
    tc_lua.pushvalue(L, TC_LUA_GLOBALSINDEX);
    tc_lua.rawset(L, real);
    // Strings' methods read through the read-only view of `string`.
    tc_lua.pushstring(L, "");
    if (tc_lua.getmetatable(L, -1)) {
        tc_lua.getfield(L, real, "string");
        tc_lua.setfield(L, -2, "__index");
        tc_lua.settop(L, -2);
    }
    lock_metatable(L, -1);
    tc_lua.settop(L, -2);
    tc_lua.pushvalue(L, real);
    tc_lua.setfield(L, TC_LUA_REGISTRYINDEX, "tc_globals");
    tc_lua.createtable(L, 0, 2);
    tc_lua.pushvalue(L, real);
    tc_lua.pushcclosure(L, global_index, 1);
    tc_lua.setfield(L, -2, "__index");
    tc_lua.pushcclosure(L, readonly_error, 0);
    tc_lua.setfield(L, -2, "__newindex");
    tc_lua.setmetatable(L, TC_LUA_GLOBALSINDEX);
    lock_metatable(L, TC_LUA_GLOBALSINDEX);
    tc_lua.pushvalue(L, TC_LUA_GLOBALSINDEX);
    tc_lua.getfield(L, TC_LUA_REGISTRYINDEX, readonly_key);
    tc_lua.pushvalue(L, -2);
    tc_lua.pushboolean(L, 1);
    tc_lua.rawset(L, -3);
    tc_lua.settop(L, real - 1);
}

static int protected_table_error(lua_State *L) {
    if (!tc_lua.isstring(L, 2)) return tc_lua.error_format(L, "Second argument to luaProtectedTableError must be a string or number");
    return tc_lua.error_format(L, "Script attempted to access nonexistent global variable '%s'", tc_lua.tolstring(L, 2, NULL));
}

void tc_lua_set_error_metatable(lua_State *L, int idx) {
    if (idx < 0 && idx > TC_LUA_REGISTRYINDEX) idx = tc_lua.gettop(L) + idx + 1;
    tc_lua.createtable(L, 0, 1);
    tc_lua.pushcclosure(L, protected_table_error, 0);
    tc_lua.setfield(L, -2, "__index");
    tc_lua.setmetatable(L, idx);
}

void tc_lua_set_globals_source(lua_State *L, int idx) {
    if (idx < 0 && idx > TC_LUA_REGISTRYINDEX) idx = tc_lua.gettop(L) + idx + 1;
    if (!tc_lua.getmetatable(L, TC_LUA_GLOBALSINDEX)) return;
    tc_lua.pushstring(L, "__index");
    tc_lua.pushvalue(L, idx);
    tc_lua.pushcclosure(L, global_index, 1);
    tc_lua.rawset(L, -3);
    tc_lua.settop(L, -2);
}

// rawset and setmetatable as Lua's, refusing the read-only tables as Redis's patched Lua does
// (upvalue 1: the original function).
static int guarded(lua_State *L) {
    if (is_readonly(L, 1)) {
        tc_lua.pushstring(L, "Attempt to modify a readonly table");
        return tc_lua.error(L);
    }
    int n = tc_lua.gettop(L);
    tc_lua.pushvalue(L, upvalueindex(1));
    tc_lua.insert(L, 1);
    tc_lua.call(L, n, TC_LUA_MULTRET);
    return tc_lua.gettop(L);
}

// pcall as Redis 7.0 defines it: an error that is a redis.call error table yields its `err`
// string, as older versions (whose errors were strings) did.
static int redis_pcall(lua_State *L) {
    int argc = tc_lua.gettop(L);
    tc_lua.pushboolean(L, 1);
    tc_lua.insert(L, 1);
    if (tc_lua.pcall(L, argc - 1, TC_LUA_MULTRET, 0)) {
        tc_lua.remove(L, 1);
        if (tc_lua.type(L, -1) == TC_LUA_TTABLE) {
            tc_lua.getfield(L, -1, "err");
            if (tc_lua.isstring(L, -1)) tc_lua.replace(L, -2);
            else tc_lua.settop(L, -2);
        }
        tc_lua.pushboolean(L, 0);
        tc_lua.insert(L, 1);
    }
    return tc_lua.gettop(L);
}

// lrand48's generator (48-bit linear congruential), as Redis's rand.c computes it.
static uint64_t rand48_state = 0x1234ABCD330EULL;

static int32_t rand48_next(void) {
    rand48_state = (rand48_state * 0x5DEECE66DULL + 0xB) & 0xFFFFFFFFFFFFULL;
    return (int32_t)(rand48_state >> 17);
}

#define RAND48_MAX 2147483647

static int math_random(lua_State *L) {
    lua_Number r = (lua_Number)(rand48_next() % RAND48_MAX) / (lua_Number)RAND48_MAX;
    switch (tc_lua.gettop(L)) {
    case 0:
        tc_lua.pushnumber(L, r);
        break;
    case 1: {
        int u = (int)tc_lua.checkinteger(L, 1);
        if (!(1 <= u)) return tc_lua.argerror(L, 1, "interval is empty");
        tc_lua.pushnumber(L, __builtin_floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = (int)tc_lua.checkinteger(L, 1);
        int u = (int)tc_lua.checkinteger(L, 2);
        if (!(l <= u)) return tc_lua.argerror(L, 2, "interval is empty");
        tc_lua.pushnumber(L, __builtin_floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return tc_lua.error_format(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L) {
    int32_t seed = (int32_t)tc_lua.checkinteger(L, 1);
    rand48_state = ((uint64_t)(uint32_t)seed << 16) | 0x330E;
    return 0;
}

// unpack as Redis's Lua has it: Lua 5.1.5's computes the count in int arithmetic, so
// unpack({}, -2, 2147483647) overflows and writes past the stack.
static int safe_unpack(lua_State *L) {
    tc_lua.checktype(L, 1, TC_LUA_TTABLE);
    int i = (int)tc_lua.optinteger(L, 2, 1);
    int e = tc_lua.type(L, 3) <= 0 ? (int)tc_lua.objlen(L, 1) : (int)tc_lua.checkinteger(L, 3);
    if (i > e) return 0;
    unsigned int n = (unsigned int)e - (unsigned int)i;
    if (n >= 2147483647u || !tc_lua.checkstack(L, (int)++n)) return tc_lua.error_format(L, "too many results to unpack");
    tc_lua.rawgeti(L, 1, i);
    while (i++ < e) tc_lua.rawgeti(L, 1, i);
    return (int)n;
}

// bit.tohex as LuaBitOp 1.0.3 has it: 1.0.2's negates INT_MIN digits and overruns its buffer.
static int safe_tohex(lua_State *L) {
    uint32_t b = (uint32_t)(int64_t)tc_lua.tonumber(L, 1);
    lua_Number nd = tc_lua.type(L, 2) <= 0 ? 8 : tc_lua.tonumber(L, 2);
    int32_t n = nd >= 2147483647.0 ? 2147483647 : nd <= -2147483648.0 ? -2147483647 : (int32_t)nd;
    const char *hexdigits = "0123456789abcdef";
    char buf[8];
    if (n < 0) { n = -n; hexdigits = "0123456789ABCDEF"; }
    if (n > 8) n = 8;
    for (int i = (int)n; --i >= 0;) { buf[i] = hexdigits[b & 15]; b >>= 4; }
    tc_lua.pushlstring(L, buf, (size_t)n);
    return 1;
}

// loadstring and load refusing precompiled chunks, as Redis's Lua does: malformed bytecode
// can read and write memory at will (CVE-2015-4335). They answer nil and a message, so
// calling the result fails with "attempt to call a nil value".
static int refuse_binary(lua_State *L, const char *chunk, size_t n, const char *name) {
    if (n > 0 && chunk[0] == 27) {
        tc_lua.pushnil(L);
        tc_lua.pushstring(L, "binary code loading is not allowed");
        return 2;
    }
    if (tc_lua.loadbuffer(L, chunk, n, name) != 0) {
        tc_lua.pushnil(L);
        tc_lua.insert(L, -2);
        return 2;
    }
    return 1;
}

static int safe_loadstring(lua_State *L) {
    size_t n = 0;
    const char *s = tc_lua.tolstring(L, 1, &n);
    if (!s) return tc_lua.argerror(L, 1, "string expected");
    const char *name = tc_lua.type(L, 2) == TC_LUA_TSTRING ? tc_lua.tolstring(L, 2, NULL) : s;
    return refuse_binary(L, s, n, name);
}

// load(f [, name]): the pieces f returns, joined, then loaded as loadstring would.
static int safe_load(lua_State *L) {
    tc_lua.checktype(L, 1, TC_LUA_TFUNCTION);
    const char *name = tc_lua.type(L, 2) == TC_LUA_TSTRING ? tc_lua.tolstring(L, 2, NULL) : "=(load)";
    int base = tc_lua.gettop(L);
    int pieces = 0;
    for (;;) {
        tc_lua.pushvalue(L, 1);
        tc_lua.call(L, 0, 1);
        if (tc_lua.type(L, -1) == TC_LUA_TNIL) {
            tc_lua.settop(L, -2);
            break;
        }
        if (tc_lua.type(L, -1) != TC_LUA_TSTRING) return tc_lua.error_format(L, "reader function must return a string");
        size_t len = 0;
        tc_lua.tolstring(L, -1, &len);
        if (len == 0) {
            tc_lua.settop(L, -2);
            break;
        }
        pieces++;
        if (pieces > 1) {
            tc_lua.concat(L, 2);
            pieces = 1;
        }
    }
    size_t n = 0;
    const char *chunk = pieces ? tc_lua.tolstring(L, base + 1, &n) : "";
    return refuse_binary(L, chunk, n, name);
}

void tc_lua_install_guards(lua_State *L) {
    tc_lua.pushcclosure(L, safe_loadstring, 0);
    tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, "loadstring");
    tc_lua.pushcclosure(L, safe_load, 0);
    tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, "load");
    tc_lua.pushcclosure(L, safe_unpack, 0);
    tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, "unpack");
    tc_lua.getfield(L, TC_LUA_GLOBALSINDEX, "bit");
    if (tc_lua.type(L, -1) == TC_LUA_TTABLE) {
        tc_lua.pushcclosure(L, safe_tohex, 0);
        tc_lua.setfield(L, -2, "tohex");
    }
    tc_lua.settop(L, -2);
    static const char *const names[] = {"rawset", "setmetatable", NULL};
    for (int i = 0; names[i]; i++) {
        tc_lua.getfield(L, TC_LUA_GLOBALSINDEX, names[i]);
        tc_lua.pushcclosure(L, guarded, 1);
        tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, names[i]);
    }
    tc_lua.pushcclosure(L, redis_pcall, 0);
    tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, "pcall");
    tc_lua.getfield(L, TC_LUA_GLOBALSINDEX, "math");
    tc_lua.pushcclosure(L, math_random, 0);
    tc_lua.setfield(L, -2, "random");
    tc_lua.pushcclosure(L, math_randomseed, 0);
    tc_lua.setfield(L, -2, "randomseed");
    tc_lua.settop(L, -2);
}

static void open_library(lua_State *L, lua_CFunction open, const char *name) {
    tc_lua.pushcclosure(L, open, 0);
    tc_lua.pushstring(L, name);
    tc_lua.call(L, 1, 0);
}

// A C module's table under a global of its name (some builds register none themselves).
static void open_module_as_global(lua_State *L, lua_CFunction open, const char *name) {
    tc_lua.pushcclosure(L, open, 0);
    tc_lua.pushstring(L, name);
    tc_lua.call(L, 1, 1);
    tc_lua.setfield(L, TC_LUA_GLOBALSINDEX, name);
}

void tc_lua_open_libraries(lua_State *L) {
    open_library(L, tc_lua.open_base, "");
    open_library(L, tc_lua.open_table, "table");
    open_library(L, tc_lua.open_string, "string");
    open_library(L, tc_lua.open_math, "math");
    open_library(L, tc_lua.open_debug, "debug");
    if (tc_lua.open_cjson) open_module_as_global(L, tc_lua.open_cjson, "cjson");
    if (tc_lua.open_bit) open_module_as_global(L, tc_lua.open_bit, "bit");
    tc_lua_open_own_libraries(L);
    tc_lua.settop(L, 0);
}

static tc_lua_interrupt_fn interrupt_fn;

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    int active = limit_active;
    limit_active = 0;
    int stop = interrupt_fn ? interrupt_fn(L) : 0;
    limit_active = active;
    if (!stop) return;
    // Keep interrupting at every line, so a pcall in the script cannot swallow the kill.
    tc_lua.sethook(L, count_hook, TC_LUA_MASKLINE, 0);
    tc_lua.createtable(L, 0, 1);
    tc_lua.pushstring(L, stop == 2 ? "ERR FUNCTION LOAD timeout" : "ERR Script killed by user with SCRIPT KILL...");
    tc_lua.setfield(L, -2, "err");
    tc_lua.error(L);
}

void tc_lua_set_interrupt(lua_State *L, int count, tc_lua_interrupt_fn interrupt) {
    interrupt_fn = interrupt;
    if (count > 0) tc_lua.sethook(L, count_hook, TC_LUA_MASKCOUNT, count);
    else tc_lua.sethook(L, NULL, 0, 0);
}
