// The library product: `import TagCache` gives a Swift program the server, its configuration
// and the store, e.g. to start TagCache in-process on an ephemeral port in a test suite:
//
//     let config = Config()
//     _ = config.set("port", "0", atStartup: true)
//     let server = TagCacheServer(config: config)
//     let port = try server.start()
@_exported import Server
@_exported import Store
