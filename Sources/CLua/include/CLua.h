#ifndef CLUA_H
#define CLUA_H
// Lua 5.1's C API, opened at run time from Debian's liblua5.1.so.0 (dlopen): the build needs
// no Lua headers or library, and a server without the library still runs (scripting answers
// an error saying what is missing). The declarations below are the subset TagCache uses,
// copied in shape from Lua 5.1's lua.h; each call goes through `tc_lua`, the table of
// function pointers tc_lua_open fills. The inline tc_lua_* wrappers are what Swift calls;
// Lua's own macros (lua_pop, lua_newtable, ...) are written in Swift (Sources/Lua).
//
// Lua raises errors with longjmp, which must never cross a Swift frame. So every function
// that may raise lives here in C: the trampoline that calls Swift (a Swift callback returns
// -1 to have the trampoline raise the error value it left on the stack), the sandbox's
// guards and the count hook. Swift itself uses only calls that do not raise (raw table
// access, pushes; memory errors aside).
#include <stddef.h>
#include <stdint.h>

typedef struct lua_State lua_State;
typedef double lua_Number;
typedef ptrdiff_t lua_Integer;
typedef int (*lua_CFunction)(lua_State *L);
typedef void *(*lua_Alloc)(void *ud, void *ptr, size_t osize, size_t nsize);

#define TC_LUA_IDSIZE 60
typedef struct lua_Debug {
    int event;
    const char *name;
    const char *namewhat;
    const char *what;
    const char *source;
    int currentline;
    int nups;
    int linedefined;
    int lastlinedefined;
    char short_src[TC_LUA_IDSIZE];
    int i_ci;
} lua_Debug;
typedef void (*lua_Hook)(lua_State *L, lua_Debug *ar);

enum {
    TC_LUA_REGISTRYINDEX = -10000,
    TC_LUA_GLOBALSINDEX = -10002,
    TC_LUA_MULTRET = -1,
    TC_LUA_TNONE = -1, TC_LUA_TNIL = 0, TC_LUA_TBOOLEAN = 1, TC_LUA_TLIGHTUSERDATA = 2,
    TC_LUA_TNUMBER = 3, TC_LUA_TSTRING = 4, TC_LUA_TTABLE = 5, TC_LUA_TFUNCTION = 6,
    TC_LUA_TUSERDATA = 7, TC_LUA_TTHREAD = 8,
    TC_LUA_GCSTOP = 0, TC_LUA_GCRESTART = 1, TC_LUA_GCCOLLECT = 2, TC_LUA_GCCOUNT = 3,
    TC_LUA_GCCOUNTB = 4, TC_LUA_GCSTEP = 5,
    TC_LUA_MASKCALL = 1, TC_LUA_MASKRET = 2, TC_LUA_MASKLINE = 4, TC_LUA_MASKCOUNT = 8,
};

typedef struct tc_lua_api {
    lua_State *(*newstate)(lua_Alloc f, void *ud);
    void (*close)(lua_State *L);
    int (*gettop)(lua_State *L);
    void (*settop)(lua_State *L, int idx);
    void (*pushvalue)(lua_State *L, int idx);
    void (*remove)(lua_State *L, int idx);
    void (*insert)(lua_State *L, int idx);
    void (*replace)(lua_State *L, int idx);
    int (*checkstack)(lua_State *L, int sz);
    int (*type)(lua_State *L, int idx);
    int (*isnumber)(lua_State *L, int idx);
    int (*isstring)(lua_State *L, int idx);
    lua_Number (*tonumber)(lua_State *L, int idx);
    int (*toboolean)(lua_State *L, int idx);
    const char *(*tolstring)(lua_State *L, int idx, size_t *len);
    size_t (*objlen)(lua_State *L, int idx);
    void *(*touserdata)(lua_State *L, int idx);
    const void *(*topointer)(lua_State *L, int idx);
    void (*pushnil)(lua_State *L);
    void (*pushnumber)(lua_State *L, lua_Number n);
    void (*pushlstring)(lua_State *L, const char *s, size_t l);
    void (*pushstring)(lua_State *L, const char *s);
    void (*pushcclosure)(lua_State *L, lua_CFunction fn, int n);
    void (*pushboolean)(lua_State *L, int b);
    void (*pushlightuserdata)(lua_State *L, void *p);
    void (*gettable)(lua_State *L, int idx);
    void (*getfield)(lua_State *L, int idx, const char *k);
    void (*rawget)(lua_State *L, int idx);
    void (*rawgeti)(lua_State *L, int idx, int n);
    void (*createtable)(lua_State *L, int narr, int nrec);
    int (*getmetatable)(lua_State *L, int idx);
    void (*settable)(lua_State *L, int idx);
    void (*setfield)(lua_State *L, int idx, const char *k);
    void (*rawset)(lua_State *L, int idx);
    void (*rawseti)(lua_State *L, int idx, int n);
    int (*setmetatable)(lua_State *L, int idx);
    void (*call)(lua_State *L, int nargs, int nresults);
    int (*pcall)(lua_State *L, int nargs, int nresults, int errfunc);
    int (*error)(lua_State *L);
    int (*next)(lua_State *L, int idx);
    void (*concat)(lua_State *L, int n);
    int (*gc)(lua_State *L, int what, int data);
    int (*sethook)(lua_State *L, lua_Hook func, int mask, int count);
    int (*getinfo)(lua_State *L, const char *what, lua_Debug *ar);
    int (*getstack)(lua_State *L, int level, lua_Debug *ar);
    int (*loadbuffer)(lua_State *L, const char *buff, size_t sz, const char *name);
    void (*where)(lua_State *L, int lvl);
    int (*error_format)(lua_State *L, const char *fmt, ...);
    lua_Integer (*checkinteger)(lua_State *L, int narg);
    int (*argerror)(lua_State *L, int narg, const char *extramsg);
    void (*checktype)(lua_State *L, int narg, int t);
    lua_Integer (*optinteger)(lua_State *L, int narg, lua_Integer def);
    lua_CFunction open_base, open_table, open_string, open_math, open_debug;
    /// Debian's lua-cjson and lua-bitop modules, or NULL when not installed.
    lua_CFunction open_cjson, open_bit;
} tc_lua_api;

extern tc_lua_api tc_lua;

/// Opens liblua5.1.so.0 (RTLD_GLOBAL, so Lua C modules find its symbols) and, when present,
/// the cjson and bit modules. Returns 0, or -1 with the reason in err. Call once.
int tc_lua_open(char *err, size_t errlen);

/// Whether Debian's lua-cjson / lua-bitop modules were found by tc_lua_open.
static inline int tc_lua_has_cjson(void) { return tc_lua.open_cjson != NULL; }
static inline int tc_lua_has_bit(void) { return tc_lua.open_bit != NULL; }

/// The most bytes a state may allocate while Lua code runs (0: no limit; script-heap-max).
void tc_lua_set_heap_limit(int64_t bytes);
/// lua_pcall with the heap limit in force for the Lua code it runs.
int tc_lua_pcall_limited(lua_State *L, int nargs, int nresults, int errfunc);

/// A new state with TagCache's allocator (the bytes in use are counted in *used).
lua_State *tc_lua_newstate(int64_t *used);

/// Calls from Lua into Swift: `fn(L, context, which)` returns how many results it pushed, or
/// -1 after pushing an error value, which the C side then raises. Set once, before any state
/// exists.
typedef int (*tc_lua_swift_fn)(lua_State *L, void *context, int which);
void tc_lua_set_swift(tc_lua_swift_fn fn);
/// Pushes a Lua function that calls the Swift function with (context, which).
void tc_lua_push_swift(lua_State *L, void *context, int which);

/// The Lua side of the sandbox as Redis 7.0 sets it up: see CLua.c.
/// Replaces the table at `idx` with a read-only view of it (stack: the view replaces it).
void tc_lua_push_readonly(lua_State *L, int idx);
/// Makes the globals table read-only with Redis's errors for reading an undefined global and
/// for writing any: call once after the environment is complete.
void tc_lua_protect_globals(lua_State *L);
/// Points the read-only globals at another table (the table at idx): what FUNCTION LOAD's
/// code sees is only the library API; what its functions see when called is the real globals.
void tc_lua_set_globals_source(lua_State *L, int idx);
/// Gives the table at idx a metatable whose __index raises Redis's "Script attempted to access
/// nonexistent global variable" error (the load-time `redis` table of FUNCTION LOAD).
void tc_lua_set_error_metatable(lua_State *L, int idx);
/// Installs the globals Redis replaces: `rawset` and `setmetatable` that refuse read-only
/// views, `pcall` that returns a redis.call error table's message, math.random /
/// math.randomseed on Redis's portable lrand48 (the same sequence on every platform), and the
/// fixes Redis's own Lua carries that Debian's lacks: `unpack` refusing a range too large for
/// the stack ("too many results to unpack"; Debian's crashes), `bit.tohex` with INT_MIN digits.
void tc_lua_install_guards(lua_State *L);
/// Opens the libraries Redis's scripts see: base, table, string, math, debug (removed again
/// after set-up), cjson and bit when Debian's modules are installed, cmsgpack and struct.
void tc_lua_open_libraries(lua_State *L);
/// cmsgpack and struct as Redis's scripts know them (libraries.c).
void tc_lua_open_own_libraries(lua_State *L);

/// The count hook for long scripts: every `count` instructions Lua calls `interrupt(L)`; 1
/// raises Redis's "Script killed by user with SCRIPT KILL..." error, 2 "FUNCTION LOAD timeout"
/// (as `{err=...}`), and from then on the hook runs at every line so pcall cannot keep the
/// script alive. count 0 removes the hook.
typedef int (*tc_lua_interrupt_fn)(lua_State *L);
void tc_lua_set_interrupt(lua_State *L, int count, tc_lua_interrupt_fn interrupt);

/// luaL_loadbuffer; on failure the error message is on the stack.
static inline int tc_lua_loadbuffer(lua_State *L, const char *b, size_t n, const char *name) { return tc_lua.loadbuffer(L, b, n, name); }
static inline void tc_lua_close(lua_State *L) { tc_lua.close(L); }
static inline int tc_lua_gettop(lua_State *L) { return tc_lua.gettop(L); }
static inline void tc_lua_settop(lua_State *L, int i) { tc_lua.settop(L, i); }
static inline void tc_lua_pushvalue(lua_State *L, int i) { tc_lua.pushvalue(L, i); }
static inline void tc_lua_remove(lua_State *L, int i) { tc_lua.remove(L, i); }
static inline void tc_lua_insert(lua_State *L, int i) { tc_lua.insert(L, i); }
static inline void tc_lua_replace(lua_State *L, int i) { tc_lua.replace(L, i); }
static inline int tc_lua_checkstack(lua_State *L, int n) { return tc_lua.checkstack(L, n); }
static inline int tc_lua_type(lua_State *L, int i) { return tc_lua.type(L, i); }
static inline int tc_lua_isnumber(lua_State *L, int i) { return tc_lua.isnumber(L, i); }
static inline int tc_lua_isstring(lua_State *L, int i) { return tc_lua.isstring(L, i); }
static inline double tc_lua_tonumber(lua_State *L, int i) { return tc_lua.tonumber(L, i); }
static inline int tc_lua_toboolean(lua_State *L, int i) { return tc_lua.toboolean(L, i); }
static inline const char *tc_lua_tolstring(lua_State *L, int i, size_t *n) { return tc_lua.tolstring(L, i, n); }
static inline size_t tc_lua_objlen(lua_State *L, int i) { return tc_lua.objlen(L, i); }
static inline void *tc_lua_touserdata(lua_State *L, int i) { return tc_lua.touserdata(L, i); }
static inline void tc_lua_pushnil(lua_State *L) { tc_lua.pushnil(L); }
static inline void tc_lua_pushnumber(lua_State *L, double n) { tc_lua.pushnumber(L, n); }
static inline void tc_lua_pushlstring(lua_State *L, const char *s, size_t n) { tc_lua.pushlstring(L, s, n); }
static inline void tc_lua_pushstring(lua_State *L, const char *s) { tc_lua.pushstring(L, s); }
static inline void tc_lua_pushboolean(lua_State *L, int b) { tc_lua.pushboolean(L, b); }
static inline void tc_lua_pushlightuserdata(lua_State *L, void *p) { tc_lua.pushlightuserdata(L, p); }
static inline void tc_lua_getfield(lua_State *L, int i, const char *k) { tc_lua.getfield(L, i, k); }
static inline void tc_lua_setfield(lua_State *L, int i, const char *k) { tc_lua.setfield(L, i, k); }
static inline void tc_lua_rawget(lua_State *L, int i) { tc_lua.rawget(L, i); }
static inline void tc_lua_rawgeti(lua_State *L, int i, int n) { tc_lua.rawgeti(L, i, n); }
static inline void tc_lua_rawset(lua_State *L, int i) { tc_lua.rawset(L, i); }
static inline void tc_lua_rawseti(lua_State *L, int i, int n) { tc_lua.rawseti(L, i, n); }
static inline void tc_lua_createtable(lua_State *L, int a, int r) { tc_lua.createtable(L, a, r); }
static inline int tc_lua_getmetatable(lua_State *L, int i) { return tc_lua.getmetatable(L, i); }
static inline int tc_lua_pcall(lua_State *L, int nargs, int nres, int errf) { return tc_lua.pcall(L, nargs, nres, errf); }
static inline int tc_lua_next(lua_State *L, int i) { return tc_lua.next(L, i); }
static inline int tc_lua_gc(lua_State *L, int what, int data) { return tc_lua.gc(L, what, data); }
#endif
