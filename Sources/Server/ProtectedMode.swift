/// Redis 7.0's protected mode: while it is on and the default user has no password, only
/// clients connecting from 127.0.0.1 or ::1 are served; any other peer gets Redis's DENIED text
/// and is closed (Redis's clientAcceptHandler). Redis 7.0 compares the peer's address with
/// those two strings and does not look at `bind`, so 127.0.0.2 is refused too.
enum ProtectedMode {
    /// Whether a client from `peer` (the address as inet_ntop writes it) is refused.
    static func refuses(enabled: Bool, passwordSet: Bool, peer: String) -> Bool {
        enabled && !passwordSet && peer != "127.0.0.1" && peer != "::1"
    }

    /// Redis 7.0.15's reply, byte for byte (its "Setup a an" included).
    static let denied =
        "-DENIED Redis is running in protected mode because protected mode is enabled and no " +
        "password is set for the default user. In this mode connections are only accepted from " +
        "the loopback interface. If you want to connect from external computers to Redis you " +
        "may adopt one of the following solutions: 1) Just disable protected mode sending the " +
        "command 'CONFIG SET protected-mode no' from the loopback interface by connecting to " +
        "Redis from the same host the server is running, however MAKE SURE Redis is not " +
        "publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change " +
        "permanent. 2) Alternatively you can just disable the protected mode by editing the " +
        "Redis configuration file, and setting the protected mode option to 'no', and then " +
        "restarting the server. 3) If you started the server manually just for testing, restart " +
        "it with the '--protected-mode no' option. 4) Setup a an authentication password for " +
        "the default user. NOTE: You only need to do one of the above things in order for the " +
        "server to start accepting connections from the outside." +
        "\r\n"
}
