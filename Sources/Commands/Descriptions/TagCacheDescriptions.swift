// TagCache's own commands, and the subcommands it has from Redis versions after 7.0 (as Redis
// 7.2 describes them), written by hand in the form Tests/commands/describe.py writes Redis's.
extension CommandDescription {
    static let tagAdd = CommandDescription(
        "tag.add", arity: -3,
        flags: [.write, .denyoom, .fast],
        acl: [.keyspace],
        keys: [
            KeySpec([.rw, .update], .index(1), .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        summary: "Attaches tags to a key. Returns the number of tags newly attached.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(N) where N is the number of tags given.",
        arguments: [
            .init("key", .key, keySpec: 0),
            .init("tag", .string, flags: [.multiple]),
        ])

    static let tagRem = CommandDescription(
        "tag.rem", arity: -3,
        flags: [.write, .fast],
        acl: [.keyspace],
        keys: [
            KeySpec([.rw, .update], .index(1), .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        summary: "Detaches tags from a key. Returns the number of tags removed.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(N) where N is the number of tags given.",
        arguments: [
            .init("key", .key, keySpec: 0),
            .init("tag", .string, flags: [.multiple]),
        ])

    static let tagGet = CommandDescription(
        "tag.get", arity: 2,
        flags: [.readonly, .fast],
        acl: [.keyspace],
        keys: [
            KeySpec([.ro, .access], .index(1), .range(lastKey: 0, keyStep: 1, limit: 0)),
        ],
        summary: "Returns the tags of a key.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(N) where N is the number of tags of the key.",
        arguments: [
            .init("key", .key, keySpec: 0),
        ])

    static let tagKeys = CommandDescription(
        "tag.keys", arity: 2,
        flags: [.readonly],
        acl: [.keyspace],
        summary: "Returns the keys carrying a tag.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(N) where N is the number of keys carrying the tag.",
        arguments: [
            .init("tag", .string),
        ])

    static let tagScan = CommandDescription(
        "tag.scan", arity: -3,
        flags: [.readonly],
        acl: [.keyspace],
        summary: "Incrementally iterates the keys carrying a tag.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(1) for every call. O(N) for a complete iteration, N being the number of keys carrying the tag.",
        arguments: [
            .init("tag", .string),
            .init("cursor", .integer),
            .init("pattern", .pattern, token: "MATCH", flags: [.optional]),
            .init("count", .integer, token: "COUNT", flags: [.optional]),
        ])

    static let tagCount = CommandDescription(
        "tag.count", arity: 2,
        flags: [.readonly],
        acl: [.keyspace],
        summary: "Returns the number of keys carrying a tag.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(1) per shard while no key of the database has a TTL, else O(N) with N the number of keys carrying the tag.",
        arguments: [
            .init("tag", .string),
        ])

    static let tagInvalidate = CommandDescription(
        "tag.invalidate", arity: -2,
        flags: [.write],
        acl: [.keyspace],
        summary: "Deletes every key carrying any of the tags. Returns the number of keys deleted.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(N) where N is the number of keys deleted, done in bounded steps per shard.",
        arguments: [
            .init("tag", .string, flags: [.multiple]),
        ])

    static let tagTags = CommandDescription(
        "tag.tags", arity: -1,
        flags: [.readonly],
        acl: [.keyspace],
        summary: "Returns the tags in use in the database, optionally those matching a pattern.",
        since: "1.0.0",
        group: .tags,
        complexity: "O(N) where N is the number of tags in the database.",
        arguments: [
            .init("pattern", .pattern, flags: [.optional]),
        ])

    static let clientSetinfo = CommandDescription(
        "client|setinfo", arity: 4,
        flags: [.noscript, .loading, .stale],
        acl: [.connection],
        summary: "Sets information specific to the client or connection.",
        since: "7.2.0",
        group: .connection,
        complexity: "O(1)",
        arguments: [
            .init("attr", .oneof, [
                .init("libname", .string, token: "lib-name"),
                .init("libver", .string, token: "lib-ver"),
            ]),
        ])

    static let clientNoTouch = CommandDescription(
        "client|no-touch", arity: 3,
        flags: [.noscript, .loading, .stale],
        acl: [.connection],
        summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        since: "7.2.0",
        group: .connection,
        complexity: "O(1)",
        arguments: [
            .init("enabled", .oneof, [
                .init("on", .pureToken, token: "ON"),
                .init("off", .pureToken, token: "OFF"),
            ]),
        ])
}
