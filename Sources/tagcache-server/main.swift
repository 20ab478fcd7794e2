import Dispatch
import Glibc
import TagCache

// tagcache-server [file.conf] [--directive value ...], like redis-server.
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "-v" || arguments.first == "--version" {
    print("TagCache server v=\(TagCacheVersion.version) redis_version=\(TagCacheVersion.redisVersion)")
    exit(0)
}
if arguments.first == "-h" || arguments.first == "--help" {
    print("""
    Usage: tagcache-server [/path/to/tagcache.conf] [--directive value ...]
           tagcache-server --port 7777
           tagcache-server conf/tagcache.conf --loglevel verbose
           tagcache-server -v | --version
    Every directive of conf/tagcache.conf can be given as --name value.
    """)
    exit(0)
}

let config = Config()
do {
    try ConfigFile.load(arguments: arguments, into: config)
} catch {
    let text = "\(error)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

signal(SIGPIPE, SIG_IGN)
let server = TagCacheServer(config: config)
server.log.notice("TagCache is starting oO0OoO0OoO0Oo")
server.log.notice("TagCache version=\(TagCacheVersion.version), redis_version=\(TagCacheVersion.redisVersion), bits=64, pid=\(getpid()), just started")
server.onShutdown = { exit(0) }
do {
    try server.start(handleSignals: true)
} catch {
    server.log.warning("\(error)")
    exit(1)
}
dispatchMain()
