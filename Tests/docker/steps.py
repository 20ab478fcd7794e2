#!/usr/bin/env python3
"""docker/Dockerfile's steps without a Docker engine (Tests/run.sh, suite docker).

Reads the Dockerfile and .dockerignore and repeats what `docker build` and `docker run` would
do, on this machine's Swift toolchain:
  - the build stage: copies what its COPY lines copy, from the build context as .dockerignore
    filters it, into an empty root (WORKDIR inside it), and runs its RUN lines there with sh -c;
  - the runtime stage: lays out its COPY destinations (the build stage's output included) in a
    second root, checks the binary is stripped and needs only libraries of the base image;
  - runs ENTRYPOINT + CMD from that root (plus --port, a free one) and checks PING, then the
    HEALTHCHECK command: healthy while the server runs (with and without requirepass), not
    healthy once it has stopped.
Commands that only make sense inside the image (the runtime stage's apt-get and useradd) are
not run, and the build stage may only run scripts of docker/ (they run on this machine); the
host's sh and redis-cli stand in for the image's.

    python3 Tests/docker/steps.py WORK_DIR

WORK_DIR/scratch keeps the swift build between runs (docker/build.sh reads
TAGCACHE_SCRATCH_PATH), so a run after a small change rebuilds only what changed; both roots
are made afresh every run. Prints one line per check and ends with
"docker steps: N passed, M failed"; exits 1 on any failure.
"""
import json
import os
import posixpath
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What a binary in debian:bookworm-slim finds without installing anything.
BASE_IMAGE_LIBRARIES = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                        "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libpthread.so.0", "libdl.so.2",
                        "librt.so.1"}
IMAGE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}")
        for line in str(detail).strip().splitlines()[-15:]:
            print(f"      {line}")
    return ok


def finish():
    print(f"docker steps: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


# ---- Dockerfile --------------------------------------------------------------------------

def instructions(text):
    """(KEYWORD, arguments) per instruction: continuation lines joined, comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def stages(text):
    """[{name, base, steps}] in order; ARG defaults substituted into FROM."""
    args, result = {}, []
    for keyword, rest in instructions(text):
        if keyword == "ARG" and not result:
            name, _, value = rest.partition("=")
            args[name] = value
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(result))
            result.append({"name": name, "base": base, "steps": []})
        elif result:
            result[-1]["steps"].append((keyword, rest))
    return result


def exec_form(text):
    """An instruction's command as argv: its JSON array, or sh -c for the shell form."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return ["/bin/sh", "-c", text]


def copy_args(rest):
    """(flags, sources, destination) of a COPY."""
    words = json.loads(rest) if rest.strip().startswith("[") else rest.split()
    flags = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words[:-1], words[-1]


# ---- the build context ---------------------------------------------------------------------

def ignore_rules():
    """.dockerignore as (negated, regex, pattern), in order: the last match decides."""
    rules = []
    path = os.path.join(ROOT, ".dockerignore")
    if not os.path.exists(path):
        return rules
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = posixpath.normpath(line[1:].strip() if negated else line).lstrip("/")
        rx, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                rx, i = rx + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                rx, i = rx + ".*", i + 2
            elif pattern[i] == "*":
                rx, i = rx + "[^/]*", i + 1
            elif pattern[i] == "?":
                rx, i = rx + "[^/]", i + 1
            else:
                rx, i = rx + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(rx + r"\Z"), pattern))
    return rules


def excluded(rules, rel):
    """Docker's rule: a pattern matching the path or one of its parent directories applies."""
    parts = rel.split("/")
    candidates = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    result = False
    for negated, rx, _ in rules:
        if any(rx.match(c) for c in candidates):
            result = not negated
    return result


def context_files():
    """Every file of the build context (relative paths), after .dockerignore."""
    rules = ignore_rules()
    files = set()
    for directory, dirs, names in os.walk(ROOT):
        rel_dir = os.path.relpath(directory, ROOT)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        # Skip an excluded directory unless an exception could re-include something inside it.
        dirs[:] = [d for d in dirs if not excluded(rules, rel_dir + d) or any(
            negated and (p.startswith(rel_dir + d + "/") or p.startswith("**")) for negated, _, p in rules)]
        for n in names:
            if not excluded(rules, rel_dir + n):
                files.add(rel_dir + n)
    return files


def place(sources, dest, workdir, root, lookup):
    """Copies sources into root as COPY does (dest relative to workdir); returns missing sources.
    lookup(src) gives [(relative path inside src, host file)] for one source."""
    missing = []
    target = posixpath.join(workdir, dest)
    into_directory = dest.endswith("/") or len(sources) > 1
    for src in sources:
        entries = lookup(src)
        if not entries:
            missing.append(src)
        for inner, host in entries:
            if inner == "":
                name = posixpath.basename(src) if into_directory else ""
                path = posixpath.join(target, name) if name else target
            else:
                path = posixpath.join(target, inner)
            out = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(out), exist_ok=True)
            # copy2 keeps modification times, so an unchanged tree rebuilds nothing.
            shutil.copy2(host, out)
    return missing


def context_lookup(files):
    def lookup(src):
        src = posixpath.normpath(src).lstrip("/")
        if src in files:
            return [("", os.path.join(ROOT, src))]
        prefix = "" if src == "." else src + "/"
        return [(f[len(prefix):], os.path.join(ROOT, f)) for f in sorted(files) if f.startswith(prefix)]
    return lookup


def root_lookup(root):
    def lookup(src):
        host = os.path.join(root, src.lstrip("/"))
        if os.path.isfile(host):
            return [("", host)]
        found = []
        for directory, _, names in os.walk(host):
            for n in names:
                p = os.path.join(directory, n)
                found.append((os.path.relpath(p, host), p))
        return found
    return lookup


# ---- running what the image would run -------------------------------------------------------

def image_argv(argv, root):
    """argv with the image's files mapped into root; other programs come from the host."""
    out = []
    for i, word in enumerate(argv):
        if word.startswith("/") and os.path.exists(os.path.join(root, word.lstrip("/"))):
            word = os.path.join(root, word.lstrip("/"))
        elif i == 0 and "/" not in word:
            for d in IMAGE_PATH:
                p = os.path.join(root, d.lstrip("/"), word)
                if os.path.exists(p):
                    word = p
                    break
        out.append(word)
    return out


def free_port():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def redis_cli(port, *args):
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True, text=True,
                       timeout=10)
    return r.stdout.strip()


def main():
    if len(sys.argv) != 2:
        print("usage: python3 Tests/docker/steps.py WORK_DIR", file=sys.stderr)
        sys.exit(2)
    work = os.path.abspath(sys.argv[1])
    dockerfile = open(os.path.join(ROOT, "docker", "Dockerfile")).read()
    all_stages = stages(dockerfile)
    if not check("Dockerfile has a build stage and a runtime stage", len(all_stages) == 2, all_stages):
        finish()
    build, runtime = all_stages
    build_root = os.path.join(work, "build-root")
    runtime_root = os.path.join(work, "runtime-root")
    for d in (build_root, runtime_root):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    scratch = os.path.join(work, "scratch")
    files = context_files()

    # ---- build stage
    print(f"-- build stage ({build['base']}; here: {subprocess.run(['swift', '--version'], capture_output=True, text=True).stdout.splitlines()[0]})")
    workdir = "/"
    for keyword, rest in build["steps"]:
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, rest)
            os.makedirs(os.path.join(build_root, workdir.lstrip("/")), exist_ok=True)
        elif keyword == "COPY":
            flags, sources, dest = copy_args(rest)
            missing = place(sources, dest, workdir, build_root, context_lookup(files))
            check(f"COPY {rest}", not missing and "from" not in flags,
                  f"not in the build context (missing, or left out by .dockerignore): {missing}")
        elif keyword == "RUN":
            # The line runs on this machine, not in a throwaway container: only a script of
            # docker/ (relative paths, so it writes inside the build root) is run.
            if not check(f"RUN {rest}: runs a script of docker/", re.fullmatch(r"sh docker/[\w.-]+\.sh( [\w./-]+)*", rest),
                         "the build stage's work belongs in docker/build.sh, which this check runs as it is"):
                finish()
            argv = exec_form(rest)
            t = time.time()
            env = dict(os.environ, TAGCACHE_SCRATCH_PATH=scratch)
            r = subprocess.run(argv, cwd=os.path.join(build_root, workdir.lstrip("/")), env=env,
                               capture_output=True, text=True, timeout=1200)
            log = os.path.join(work, "build.log")
            with open(log, "w") as f:
                f.write(r.stdout + r.stderr)
            if not check(f"RUN {rest} ({time.time() - t:.0f}s)", r.returncode == 0,
                         f"exit {r.returncode}; log: {log}\n{(r.stdout + r.stderr)[-3000:]}"):
                finish()
        elif keyword not in ("ENV", "ARG", "LABEL", "SHELL"):
            check(f"build stage {keyword}: known to this check", False, "teach Tests/docker/steps.py what it does")

    # ---- runtime stage
    print(f"-- runtime stage ({runtime['base']})")
    workdir, user, exposed, entrypoint, cmd, health = "/", "", [], [], [], None
    for keyword, rest in runtime["steps"]:
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, rest)
        elif keyword == "COPY":
            flags, sources, dest = copy_args(rest)
            if flags.get("from") == build["name"]:
                missing = place(sources, dest, workdir, runtime_root, root_lookup(build_root))
                check(f"COPY {rest}", not missing, f"the build stage made no {missing}")
            else:
                missing = place(sources, dest, workdir, runtime_root, context_lookup(files))
                check(f"COPY {rest}", not missing and "from" not in flags,
                      f"not in the build context (missing, or left out by .dockerignore): {missing}")
        elif keyword == "USER":
            user = rest
        elif keyword == "EXPOSE":
            exposed += [p.split("/")[0] for p in rest.split()]
        elif keyword == "ENTRYPOINT":
            entrypoint = exec_form(rest)
        elif keyword == "CMD":
            cmd = exec_form(rest)
        elif keyword == "HEALTHCHECK":
            words = rest.split()
            while words and words[0].startswith("--"):
                words.pop(0)
            health = exec_form(rest[rest.index("CMD") + 3:]) if words and words[0] == "CMD" else None
    check(f"USER {user}: not root", user != "" and user.split(":")[0] not in ("root", "0"))
    if not check("HEALTHCHECK CMD given", health is not None):
        finish()
    # The health check's redis-cli comes from redis-tools, which only an apt-get line installs.
    script = " ".join(open(a).read() for a in image_argv(health, runtime_root) if os.path.isfile(a) and a.startswith(runtime_root))
    installs = " ".join(rest for keyword, rest in runtime["steps"] if keyword == "RUN")
    if "redis-cli" in script or "redis-cli" in " ".join(health):
        check("the runtime stage installs redis-tools (the health check runs redis-cli)", "redis-tools" in installs)
    # Scripting opens Lua 5.1 at run time: without it EVAL answers "scripting is unavailable".
    check("the runtime stage installs liblua5.1-0 (scripting)", "liblua5.1-0" in installs)
    check("ENTRYPOINT given in exec form", bool(entrypoint))

    binary = image_argv(entrypoint[:1], runtime_root)[0]
    if not check(f"ENTRYPOINT's program is in the image ({entrypoint[0]})", binary.startswith(runtime_root), binary):
        finish()
    if shutil.which("readelf"):
        sections = subprocess.run(["readelf", "-S", binary], capture_output=True, text=True).stdout
        check("the binary is stripped (no .symtab)", ".symtab" not in sections)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libraries = {line.split()[0].split("/")[-1] for line in ldd.splitlines() if line.strip()}
    check("the binary needs only libraries debian:bookworm-slim has (no Swift runtime)",
          libraries <= BASE_IMAGE_LIBRARIES and "not found" not in ldd, ldd)

    argv = image_argv(entrypoint + cmd, runtime_root)
    conf = next((a for a in argv if a.endswith(".conf")), None)
    conf_port = None
    if conf:
        for line in open(conf):
            words = line.split()
            if len(words) == 2 and words[0] == "port":
                conf_port = words[1]
    check(f"EXPOSE {' '.join(exposed)} is the configured port ({conf_port})", conf_port in exposed)

    # ---- docker run
    port = free_port()
    print(f"-- docker run: {' '.join(entrypoint + cmd)} --port {port}")
    log_path = os.path.join(work, "server.log")
    log = open(log_path, "w")
    server = subprocess.Popen(argv + ["--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        ready = False
        while time.time() < deadline and server.poll() is None:
            if "Ready to accept connections" in open(log_path).read():
                ready = True
                break
            time.sleep(0.1)
        if not check("the server starts with the image's configuration", ready, open(log_path).read()):
            finish()
        check("PING answers PONG", redis_cli(port, "PING") == "PONG")
        bind = redis_cli(port, "CONFIG", "GET", "bind").splitlines()
        check("it listens on every interface (bind 0.0.0.0)", bind[-1:] == ["0.0.0.0"], bind)
        hc = image_argv(health, runtime_root)
        env = dict(os.environ, TAGCACHE_PORT=str(port))
        r = subprocess.run(hc, env=env, capture_output=True, text=True, timeout=10)
        check(f"HEALTHCHECK {' '.join(health)}: healthy", r.returncode == 0, r.stdout + r.stderr)
        redis_cli(port, "CONFIG", "SET", "requirepass", "s3cret")
        r = subprocess.run(hc, env=env, capture_output=True, text=True, timeout=10)
        check("HEALTHCHECK: healthy with requirepass set (NOAUTH)", r.returncode == 0, r.stdout + r.stderr)
        redis_cli(port, "-a", "s3cret", "--no-auth-warning", "CONFIG", "SET", "requirepass", "")
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        check("SIGTERM (docker stop) stops it with exit 0", rc == 0, f"exit {rc}")
        r = subprocess.run(hc, env=env, capture_output=True, text=True, timeout=10)
        check("HEALTHCHECK: unhealthy once it has stopped", r.returncode != 0, r.stdout + r.stderr)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
    finish()


if __name__ == "__main__":
    main()
