#!/bin/sh
# Rebuild the vendored Twilio Voice JavaScript SDK (the browser softphone, docs/dialing.md):
# fetch @twilio/voice-sdk from the npm registry with npm's own client, check the tarball
# against the registry's integrity hash, and copy its prebuilt browser bundle and licence
# into static/ (no CDN: pages load nothing from outside). Usage, from the repository root:
#   scripts/vendor_twilio_voice_sdk.sh [VERSION]     (make vendor-softphone)
set -eu
VERSION="${1:-2.18.5}"
DEST="static/telephony/vendor/twilio-voice-sdk"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || { echo "npm is needed (apt-get install npm)" >&2; exit 1; }
EXPECTED="$(npm view "@twilio/voice-sdk@$VERSION" dist.integrity)"
(cd "$WORK" && npm pack --silent "@twilio/voice-sdk@$VERSION" >/dev/null)
TARBALL="$WORK/twilio-voice-sdk-$VERSION.tgz"
ACTUAL="sha512-$(openssl dgst -sha512 -binary "$TARBALL" | openssl base64 -A)"
if [ "$ACTUAL" != "$EXPECTED" ]; then
    echo "integrity mismatch: registry says $EXPECTED, tarball is $ACTUAL" >&2
    exit 1
fi
tar -xzf "$TARBALL" -C "$WORK" package/dist/twilio.min.js package/LICENSE.md
mkdir -p "$DEST"
cp "$WORK/package/dist/twilio.min.js" "$DEST/twilio.min.js"
cp "$WORK/package/LICENSE.md" "$DEST/LICENSE.md"
printf '@twilio/voice-sdk %s\nintegrity %s\nfrom https://registry.npmjs.org/@twilio/voice-sdk (dist/twilio.min.js, LICENSE.md)\nrebuild: scripts/vendor_twilio_voice_sdk.sh %s\n' \
    "$VERSION" "$EXPECTED" "$VERSION" > "$DEST/VERSION"
echo "vendored @twilio/voice-sdk $VERSION into $DEST"
