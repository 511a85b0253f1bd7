#!/usr/bin/env bash
# Refreshes the vendored Swagger UI behind `/docs` (crates/nexus-server/assets/swagger-ui)
# from the npm registry's `swagger-ui-dist` package. Nothing is fetched at build or run time:
# the server embeds these files. Usage: ./scripts/vendor-swagger-ui.sh [VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-5.36.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf "swagger-ui-dist-$version.tgz")
out=crates/nexus-server/assets/swagger-ui
gzip -9 -n -c "$work/package/swagger-ui-bundle.js" > "$out/swagger-ui-bundle.js.gz"
gzip -9 -n -c "$work/package/swagger-ui.css" > "$out/swagger-ui.css.gz"
cp "$work/package/LICENSE" "$work/package/NOTICE" "$work/package/swagger-ui-bundle.js.LICENSE.txt" "$out/"
echo "$version" > "$out/VERSION"
echo "vendored swagger-ui-dist $version into $out"
