#!/bin/sh
# The container's health check (Dockerfile HEALTHCHECK): healthy while tagcache-server answers
# PING on loopback. With requirepass set the answer is the NOAUTH error, which proves the same
# without the password (set REDISCLI_AUTH to get PONG instead). TAGCACHE_PORT names another
# port than 6379.
reply=$(redis-cli -h 127.0.0.1 -p "${TAGCACHE_PORT:-6379}" ping 2>&1) || { echo "$reply"; exit 1; }
case "$reply" in
    PONG | "NOAUTH "*) exit 0 ;;
    *) echo "$reply"; exit 1 ;;
esac
