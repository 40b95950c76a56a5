#!/bin/sh
# Writes the two secrets compose.yaml reads, beside it: the session key (EC P-256, PKCS#8 PEM,
# as README "Run it in production" makes it) and a client secret for the provider stand-in.
# Existing files are kept. They are listed in .gitignore: never commit them.
set -eu
cd "$(dirname "$0")"
umask 077
if [ ! -s session-key.pem ]; then
    openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out session-key.pem
fi
if [ ! -s oidc-client-secret ]; then
    openssl rand -hex 32 > oidc-client-secret
fi
# The replicas run as uid 10001 and read these through compose secrets (bind mounts).
chmod 0644 session-key.pem oidc-client-secret
echo "secrets in $(pwd): session-key.pem, oidc-client-secret"
