#!/bin/sh
# The nginx of the compose demo: deploy/nginx/countersign.conf as shipped, with two changes
# for the shared network namespace of compose.yaml ("the pod"):
#   - listen on every address of the pod (Docker publishes ports to the pod's own address,
#     not to its loopback), still on port 8000;
#   - ask both Countersign replicas (127.0.0.1:8080 and 127.0.0.1:8081).
# `nginx.sh render SOURCE TARGET` only writes the changed file (the test suite checks it).
set -eu

render() {
    source=$1
    target=$2
    for line in 'listen 127.0.0.1:8000' 'server 127.0.0.1:8080;'; do
        if ! grep -q "$line" "$source"; then
            echo "nginx.sh: '$line' not found in $source: update deploy/compose/nginx.sh" >&2
            exit 1
        fi
    done
    sed -e 's/listen 127\.0\.0\.1:8000/listen 8000/' \
        -e 's/^\( *\)server 127\.0\.0\.1:8080;/&\n\1server 127.0.0.1:8081;/' \
        "$source" > "$target"
}

if [ "${1:-}" = render ]; then
    render "$2" "$3"
    exit 0
fi
render /etc/countersign/nginx/countersign.conf /tmp/countersign-nginx.conf
exec nginx -c /tmp/countersign-nginx.conf -g 'daemon off;'
